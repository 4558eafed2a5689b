// The replicated application of the simulator: a key -> value map, the
// client commands that entries carry, and the snapshot encoding of the map.
//
// Encodings (text, because traces print them; keys and values never contain
// spaces or newlines, the workload generates them that way):
//   entry data : "W <request> <key> <value>"            write
//                "C <request> <key> <expected|~> <new>"  compare-and-set (~ = absent)
//                "N <request>"                          no-op (the healing probe)
//   snapshot   : "<key> <value>\n" per key, in key order
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace velocity::sim {

using kv_map = std::map<std::string, std::string>;

struct command {
  enum class kind : uint8_t { write = 0, cas = 1, noop = 2 };
  kind type = kind::write;
  uint64_t request = 0;
  std::string key;
  std::string value;                    // write: the value; cas: the new value
  std::optional<std::string> expected;  // cas only; nullopt = key absent
};

std::string encode_command(const command& c);
// nullopt for data that is not a command (a bug in whoever wrote the entry).
std::optional<command> decode_command(std::string_view data);

// Applies c to the map; returns whether it took effect (a CAS may not).
bool apply_command(kv_map& map, const command& c);

std::string encode_map(const kv_map& map);
std::optional<kv_map> decode_map(std::string_view data);

}  // namespace velocity::sim
