// The simulator's application as its clients and checkers see it: a key ->
// value map, the client commands entries carry, and the rule that applies a
// command to the map (the model the checkers replay the committed log
// against). The replicas themselves run the real document state machine
// (storage/state_machine.hpp, in sim_node): each kv command is a document
// command (command/commands.hpp) encoded with command/command_codec.hpp,
// exactly as the shard proposes them:
//   write  k v       -> replace of document k in collection "kv", fields {"value": v}
//   cas    k e v     -> compare_and_swap of document k, condition value == e
//                       (e absent: the field "value" does not exist), patch {"value": v}
//   noop             -> get of document "probe-<request>" (the healing probe;
//                       a read in the log changes nothing)
// The request id rides in time_ns (for writes) or the probe's id, so every
// proposal is distinct. Every replica starts with the collection's schema and
// one document per key without a "value" field (initial_dump): a key is
// absent until written, and the replace is total.
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

// The collection and field every key lives in.
inline constexpr std::string_view kv_collection = "kv";
inline constexpr std::string_view kv_value_field = "value";

struct command {
  enum class kind : uint8_t { write = 0, cas = 1, noop = 2 };
  kind type = kind::write;
  uint64_t request = 0;
  std::string key;
  std::string value;                    // write: the value; cas: the new value
  std::optional<std::string> expected;  // cas only; nullopt = key absent
};

// The document command's bytes (command/command_codec.hpp).
std::string encode_command(const command& c);
// nullopt for data that is not one of these commands (a bug in whoever wrote the entry).
std::optional<command> decode_command(std::string_view data);

// "W <request> <key> <value>", "C <request> <key> <expected|~> <new>" or
// "N <request>", for traces and reports.
std::string describe_command(const command& c);

// Applies c to the map; returns whether it took effect (a CAS may not).
bool apply_command(kv_map& map, const command& c);

// The name of key number k ("k0", "k1", ...).
std::string key_name(size_t k);

// "k1=v1 k2=v2" in key order, for reports and traces.
std::string encode_map(const kv_map& map);

// What every replica of `shard` holds before its first entry (a shard dump,
// storage/shard_dump.hpp): the schema of "kv" and one document per key
// "k0".."k<keys-1>", with no applied index.
std::string initial_dump(uint32_t shard, size_t keys);

}  // namespace velocity::sim
