// SWIM messages <-> Cap'n Proto bytes (protocols/gossip.capnp), for the
// node-to-node transport: one swim::message per envelope of kind `gossip`.
//
// Decoding never trusts its input (bytes from another node): the message is
// opened with the size, alignment and traversal limits of the other codecs
// (schema/document_codec.hpp, codec_reader_options), Cap'n Proto exceptions
// are caught here, enum values are range-checked, lists are counted before
// anything is built (at most updates_per_message_max updates), metadata is
// at most meta_bytes_max, and no update names member 0. Every problem is
// `malformed` with a message naming the field, except input above
// gossip_message_bytes_max (`too_large`). The core still judges each
// message's meaning (who it is from and to, stale incarnations).
//
// Round trip: decode_swim_message(encode_swim_message(m)) == m for every
// message the core produces.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cluster/swim/swim.hpp"
#include "protocols/error.hpp"
#include "protocols/framing.hpp"

namespace velocity::swim {

// One message travels in one frame (16 MiB): a push-pull of the largest
// table, 16384 members with 1 KiB of metadata each, fits.
inline constexpr size_t gossip_message_bytes_max = frame_bytes_max;

std::string encode_swim_message(const message& m);
status_or<message> decode_swim_message(std::string_view bytes);

}  // namespace velocity::swim
