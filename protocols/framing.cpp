// Length-prefixed frames (see framing.hpp): a 4-byte little-endian length, then
// that many bytes.
//
// The decoder checks each length prefix the moment its fourth byte arrives, so
// an oversized, empty or misaligned frame fails the stream before any of its
// payload is buffered. Once failed, the decoder stays failed: the byte stream has
// lost its frame boundaries and nothing after the bad prefix can be trusted.
//
// Invariants: partial_ holds fewer than frame_header_bytes bytes, or a valid
// header followed by fewer payload bytes than it announces. frames_ holds only
// whole, checked payloads.
//
// Thread safety: a decoder belongs to one connection.
#include "protocols/framing.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "protocols/check.hpp"

namespace velocity {
namespace {

// Cap'n Proto flat-array messages are whole 8-byte words.
constexpr size_t frame_alignment_bytes = 8;

uint32_t read_length_le(std::string_view header) {
  uint32_t length = 0;
  for (size_t i = 0; i < frame_header_bytes; ++i)
    length |= static_cast<uint32_t>(static_cast<unsigned char>(header[i])) << (8 * i);
  return length;
}

status check_length(uint32_t length, size_t limit) {
  if (length == 0) return status{error_code::malformed, "frame length is zero"};
  if (length > limit)
    return status{error_code::too_large, "frame length " + std::to_string(length) +
                                             " exceeds the limit of " + std::to_string(limit) +
                                             " bytes"};
  if (length % frame_alignment_bytes != 0)
    return status{error_code::malformed, "frame length " + std::to_string(length) +
                                             " is not a multiple of 8 bytes"};
  return status{};
}

}  // namespace

void append_frame(std::string& out, std::string_view payload) {
  // A payload that cannot be described in 32 bits is a programmer error: callers
  // bound what they encode far below this.
  VELOCITY_CHECK_LE(payload.size(), size_t{UINT32_MAX});
  auto length = static_cast<uint32_t>(payload.size());
  char header[frame_header_bytes];
  for (size_t i = 0; i < frame_header_bytes; ++i)
    header[i] = static_cast<char>((length >> (8 * i)) & 0xffu);
  out.append(header, frame_header_bytes);
  out.append(payload);
}

status frame_decoder::feed(std::string_view bytes) {
  if (!failed_.ok()) return failed_;
  while (!bytes.empty()) {
    // Complete the header first; its length is checked before any payload byte.
    if (partial_.size() < frame_header_bytes) {
      size_t take = std::min(frame_header_bytes - partial_.size(), bytes.size());
      partial_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (partial_.size() < frame_header_bytes) break;
      auto checked = check_length(read_length_le(partial_), limit_);
      if (!checked.ok()) {
        failed_ = std::move(checked);
        partial_.clear();
        return failed_;
      }
    }
    size_t length = read_length_le(partial_);
    size_t missing = frame_header_bytes + length - partial_.size();
    size_t take = std::min(missing, bytes.size());
    partial_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (partial_.size() == frame_header_bytes + length) {
      frames_.push_back(partial_.substr(frame_header_bytes));
      // A fresh string: one large frame must not pin its capacity for the
      // connection's lifetime.
      partial_ = std::string{};
    }
  }
  return status{};
}

std::string frame_decoder::pop_frame() {
  VELOCITY_CHECK(!frames_.empty());
  std::string payload = std::move(frames_.front());
  frames_.pop_front();
  return payload;
}

}  // namespace velocity
