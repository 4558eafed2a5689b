// Length-prefixed frames: a 4-byte little-endian length, then that many bytes
// (one Cap'n Proto message in flat-array encoding). The decoder is incremental
// and pure: feed it whatever the socket delivered, take out whole frames.
//
// Limits are enforced on the length prefix, before any byte of the frame is
// buffered: a prefix above frame_bytes_max, a zero length, or a length that is
// not a multiple of 8 (Cap'n Proto messages are whole words) puts the decoder
// into a failed state with a malformed/too_large status; the connection owner
// then answers with an error and closes. Nothing is ever allocated from an
// unchecked length.
//
// Thread safety: a decoder belongs to one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "protocols/error.hpp"

namespace velocity {

// A frame carries one request or response; documents are at most 1 MiB, and a
// list page of many documents must still fit. 16 MiB bounds a connection's
// buffer per frame.
inline constexpr size_t frame_bytes_max = 16 << 20;
inline constexpr size_t frame_header_bytes = 4;

// Appends the 4-byte little-endian length of payload, then payload.
void append_frame(std::string& out, std::string_view payload);

class frame_decoder {
 public:
  explicit frame_decoder(size_t frame_bytes_limit = frame_bytes_max) : limit_(frame_bytes_limit) {}

  // Consumes bytes. Returns a non-ok status once the stream is unusable (then
  // every later call returns the same status); complete frames stay available.
  status feed(std::string_view bytes);

  bool has_frame() const { return !frames_.empty(); }
  // REQUIRES: has_frame(). The payload without its length prefix.
  std::string pop_frame();

  // Bytes buffered that do not form a whole frame yet (for backpressure limits).
  size_t buffered_bytes() const { return partial_.size(); }

 private:
  size_t limit_;
  std::string partial_;
  std::deque<std::string> frames_;
  status failed_;
};

}  // namespace velocity
