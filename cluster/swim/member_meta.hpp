// A node's gossip metadata (swim::update::meta, opaque to the SWIM core):
// where to reach it and which shards it leads, as one short text
//   client=127.0.0.1:7410;peer=127.0.0.1:7411;ops=127.0.0.1:7412;led=0,3
// Keys this version does not know are skipped, so later versions may add
// some; a malformed value makes the whole text unreadable (nullopt), and the
// member is then shown without metadata. At most swim::meta_bytes_max bytes.
//
// Pure. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace velocity::swim {

struct member_meta {
  std::string client;  // host:port of the client protocol ("" unknown)
  std::string peer;    // host:port of the peer transport
  std::string ops;     // host:port of the ops HTTP endpoint ("" none)
  std::vector<uint32_t> led;  // shards whose Raft group this node leads, ascending
  friend bool operator==(const member_meta&, const member_meta&) = default;
};

std::string encode_member_meta(const member_meta& meta);
std::optional<member_meta> decode_member_meta(std::string_view text);

}  // namespace velocity::swim
