// Raft messages <-> Cap'n Proto bytes (protocols/raft.capnp), for the
// node-to-node transport: one RaftBatch carries the messages of one or many
// shards' Raft groups in one frame.
//
// Decoding never trusts its input (bytes from another node): the message is
// opened with the size, alignment and traversal limits of the other codecs
// (schema/document_codec.hpp, codec_reader_options), Cap'n Proto exceptions
// are caught here, enum values are range-checked and snapshot memberships
// must be raft::well_formed. Every problem is `malformed` with a message
// naming the field, except input above raft_batch_bytes_max (`too_large`).
// The core still checks each message's meaning (stale terms, misaddressed
// messages); this codec only guarantees well-formed values.
//
// Round trip: decode_raft_batch(encode_raft_batch(b)) == b for every batch
// whose memberships are well formed.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/raft/types.hpp"
#include "protocols/error.hpp"
#include "protocols/framing.hpp"

namespace velocity::raft {

// One batch travels in one frame, so it is bounded by the frame size.
inline constexpr size_t raft_batch_bytes_max = frame_bytes_max;

// The messages of one shard's Raft group, in sending order.
struct shard_messages {
  uint32_t shard = 0;
  std::vector<message> messages;
  friend bool operator==(const shard_messages&, const shard_messages&) = default;
};

// REQUIRES: every snap_meta.conf is well_formed (the core only produces such).
std::string encode_raft_batch(const std::vector<shard_messages>& groups);
status_or<std::vector<shard_messages>> decode_raft_batch(std::string_view bytes);

}  // namespace velocity::raft
