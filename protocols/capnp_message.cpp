// Implements capnp_message.hpp.
#include "protocols/capnp_message.hpp"

#include <cstdint>
#include <cstring>

namespace velocity {

namespace {

// 8 KiB, capnp's suggested first segment: larger messages continue in heap
// segments, so nothing is limited by it.
constexpr size_t scratch_words = 1024;

struct scratch {
  capnp::word words[scratch_words];  // zero: thread_local storage starts zeroed
  bool in_use = false;
};

scratch& thread_scratch() {
  thread_local scratch buffer{};
  return buffer;
}

void put_u32_le(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// The segment table: (segment count - 1), one size per segment, all uint32
// little endian, padded to a whole word.
size_t table_words(size_t segments) { return (segments + 2) / 2; }

}  // namespace

message_builder::message_builder() {
  scratch& s = thread_scratch();
  if (!s.in_use) {
    s.in_use = true;
    holds_scratch_ = true;
    message_.emplace(kj::arrayPtr(s.words, scratch_words));
  } else {
    message_.emplace();
  }
}

message_builder::~message_builder() {
  message_.reset();  // zeroes the scratch words the message used
  if (holds_scratch_) thread_scratch().in_use = false;
}

size_t message_builder::flat_bytes(capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  size_t words = table_words(segments.size());
  for (const auto& segment : segments) words += segment.size();
  return words * sizeof(capnp::word);
}

std::string message_builder::to_flat_string(capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  size_t words = table_words(segments.size());
  for (const auto& segment : segments) words += segment.size();
  std::string out(words * sizeof(capnp::word), '\0');
  char* p = out.data();
  put_u32_le(p, static_cast<uint32_t>(segments.size() - 1));
  for (size_t i = 0; i < segments.size(); ++i)
    put_u32_le(p + 4 * (i + 1), static_cast<uint32_t>(segments[i].size()));
  p += table_words(segments.size()) * sizeof(capnp::word);
  for (const auto& segment : segments) {
    const auto bytes = segment.asBytes();
    std::memcpy(p, bytes.begin(), bytes.size());
    p += bytes.size();
  }
  return out;
}

}  // namespace velocity
