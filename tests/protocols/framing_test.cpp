// Length-prefixed framing: frames survive any split of the byte stream, several
// frames in one chunk come out in order, and bad length prefixes (too large,
// zero, not whole words) fail the decoder for good without buffering payload.
#define CAF_SUITE framing
#include "caf/test/unit_test.hpp"

#include <string>
#include <vector>

#include "protocols/framing.hpp"

using namespace velocity;

namespace {

// A payload of `words` 8-byte words whose bytes depend on `seed`, so frames
// differ from each other and from their neighbours' boundaries.
std::string payload(size_t words, char seed) {
  std::string out(words * 8, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(seed + static_cast<char>(i * 7));
  return out;
}

std::string header(uint32_t length) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return out;
}

std::vector<std::string> drain(frame_decoder& decoder) {
  std::vector<std::string> out;
  while (decoder.has_frame()) out.push_back(decoder.pop_frame());
  return out;
}

}  // namespace

CAF_TEST(append frame writes a little endian length then the payload) {
  std::string out;
  append_frame(out, payload(33, 'a'));  // 264 bytes = 0x108
  CAF_REQUIRE_EQUAL(out.size(), 4u + 264u);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(out[0]), 0x08u);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(out[1]), 0x01u);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(out[2]), 0u);
  CAF_CHECK_EQUAL(static_cast<unsigned char>(out[3]), 0u);
  CAF_CHECK(out.substr(4) == payload(33, 'a'));
}

CAF_TEST(a stream split at every byte boundary yields the same frames) {
  std::vector<std::string> sent{payload(1, 'x'), payload(3, 'y'), payload(40, 'z')};
  std::string stream;
  for (const auto& p : sent) append_frame(stream, p);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    frame_decoder decoder;
    CAF_REQUIRE(decoder.feed(std::string_view{stream}.substr(0, cut)).ok());
    auto got = drain(decoder);
    CAF_REQUIRE(decoder.feed(std::string_view{stream}.substr(cut)).ok());
    for (auto& frame : drain(decoder)) got.push_back(std::move(frame));
    CAF_CHECK(got == sent);
    CAF_CHECK_EQUAL(decoder.buffered_bytes(), 0u);
  }
}

CAF_TEST(a stream fed one byte at a time yields each frame once it is complete) {
  std::string first = payload(2, 'a');
  std::string stream;
  append_frame(stream, first);
  append_frame(stream, payload(1, 'b'));
  frame_decoder decoder;
  for (size_t i = 0; i < stream.size(); ++i) {
    CAF_REQUIRE(decoder.feed(std::string_view{stream}.substr(i, 1)).ok());
    bool first_complete = i + 1 >= 4 + first.size();
    if (i + 1 == 4 + first.size()) {
      CAF_REQUIRE(decoder.has_frame());
      CAF_CHECK(decoder.pop_frame() == first);
      CAF_CHECK_EQUAL(decoder.buffered_bytes(), 0u);
    } else if (!first_complete) {
      CAF_CHECK(!decoder.has_frame());
      CAF_CHECK_EQUAL(decoder.buffered_bytes(), i + 1);
    }
  }
  CAF_REQUIRE(decoder.has_frame());
  CAF_CHECK(decoder.pop_frame() == payload(1, 'b'));
  CAF_CHECK(!decoder.has_frame());
}

CAF_TEST(several frames in one chunk come out in order) {
  std::string stream;
  std::vector<std::string> sent;
  for (int i = 0; i < 10; ++i) {
    sent.push_back(payload(static_cast<size_t>(i + 1), static_cast<char>('a' + i)));
    append_frame(stream, sent.back());
  }
  // Plus half of an eleventh frame, which must stay buffered.
  std::string partial;
  append_frame(partial, payload(4, 'q'));
  stream += partial.substr(0, 20);
  frame_decoder decoder;
  CAF_REQUIRE(decoder.feed(stream).ok());
  CAF_CHECK(drain(decoder) == sent);
  CAF_CHECK_EQUAL(decoder.buffered_bytes(), 20u);
  CAF_REQUIRE(decoder.feed(std::string_view{partial}.substr(20)).ok());
  CAF_REQUIRE(decoder.has_frame());
  CAF_CHECK(decoder.pop_frame() == payload(4, 'q'));
}

CAF_TEST(a frame exactly at the limit is accepted) {
  frame_decoder decoder{64};
  std::string stream;
  append_frame(stream, payload(8, 'l'));
  CAF_REQUIRE(decoder.feed(stream).ok());
  CAF_REQUIRE(decoder.has_frame());
  CAF_CHECK_EQUAL(decoder.pop_frame().size(), 64u);
}

CAF_TEST(a length prefix above the limit fails with too large before any payload) {
  frame_decoder decoder{64};
  auto st = decoder.feed(header(72));
  CAF_CHECK(st.code() == error_code::too_large);
  std::string message = st.message();
  CAF_CHECK_EQUAL(message, "frame length 72 exceeds the limit of 64 bytes");
  CAF_CHECK_EQUAL(decoder.buffered_bytes(), 0u);
  CAF_CHECK(!decoder.has_frame());
}

CAF_TEST(the default limit rejects a prefix of four gigabytes) {
  frame_decoder decoder;
  auto st = decoder.feed(header(0xfffffff8u));
  CAF_CHECK(st.code() == error_code::too_large);
  CAF_CHECK_EQUAL(decoder.buffered_bytes(), 0u);
  frame_decoder just_over;
  auto over = just_over.feed(header(static_cast<uint32_t>(frame_bytes_max + 8)));
  CAF_CHECK(over.code() == error_code::too_large);
}

CAF_TEST(a zero length prefix is malformed) {
  frame_decoder decoder;
  auto st = decoder.feed(header(0));
  CAF_CHECK(st.code() == error_code::malformed);
  std::string message = st.message();
  CAF_CHECK_EQUAL(message, "frame length is zero");
}

CAF_TEST(a length that is not a multiple of eight is malformed) {
  for (uint32_t length : {1u, 7u, 9u, 15u, 1001u}) {
    frame_decoder decoder;
    auto st = decoder.feed(header(length) + std::string(length, 'x'));
    CAF_CHECK(st.code() == error_code::malformed);
    CAF_CHECK(!decoder.has_frame());
  }
}

CAF_TEST(a failed decoder keeps failing and keeps frames decoded before the failure) {
  std::string stream;
  append_frame(stream, payload(1, 'g'));
  stream += header(3);
  frame_decoder decoder;
  auto st = decoder.feed(stream);
  CAF_REQUIRE(st.code() == error_code::malformed);
  // The good frame before the bad prefix is still available.
  CAF_REQUIRE(decoder.has_frame());
  CAF_CHECK(decoder.pop_frame() == payload(1, 'g'));
  // Later input, even a valid frame, gets the same status and is not decoded.
  std::string good;
  append_frame(good, payload(1, 'h'));
  auto again = decoder.feed(good);
  CAF_CHECK(again == st);
  CAF_CHECK(!decoder.has_frame());
  auto empty_feed = decoder.feed({});
  CAF_CHECK(empty_feed == st);
}

CAF_TEST(feeding nothing is harmless) {
  frame_decoder decoder;
  CAF_CHECK(decoder.feed({}).ok());
  CAF_CHECK(!decoder.has_frame());
  CAF_CHECK_EQUAL(decoder.buffered_bytes(), 0u);
}
