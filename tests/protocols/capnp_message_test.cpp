// protocols/capnp_message.hpp: the scratch builder produces exactly
// capnp::messageToFlatArray's bytes, for one segment and many, nested or
// not, and leaves the scratch zeroed for the next message.
#define CAF_SUITE capnp_message
#include "caf/test/unit_test.hpp"

#include <capnp/serialize.h>

#include <string>

#include "protocols/capnp_message.hpp"
#include "protocols/value.capnp.h"

using namespace velocity;

namespace {

std::string reference_bytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// A Value holding a text of `chars` characters.
void fill(capnp::MessageBuilder& message, size_t chars, char c) {
  auto root = message.initRoot<wire::Value>();
  root.setString(std::string(chars, c));
}

std::string encode(size_t chars, char c) {
  message_builder builder;
  fill(builder.get(), chars, c);
  return builder.flat();
}

std::string reference(size_t chars, char c) {
  capnp::MallocMessageBuilder message;
  fill(message, chars, c);
  return reference_bytes(message);
}

}  // namespace

CAF_TEST(one segment equals messageToFlatArray) {
  std::string ours = encode(100, 'a');
  std::string theirs = reference(100, 'a');
  CAF_CHECK_EQUAL(ours, theirs);
  CAF_CHECK_EQUAL(ours.size() % 8, 0u);
}

CAF_TEST(several segments equal messageToFlatArray) {
  // Beyond the 8 KiB scratch: capnp continues in heap segments.
  message_builder builder;
  fill(builder.get(), 50'000, 'b');
  std::string ours = builder.flat();
  CAF_CHECK(builder.get().getSegmentsForOutput().size() > 1);
  std::string theirs = reference_bytes(builder.get());
  CAF_CHECK_EQUAL(ours, theirs);
  size_t predicted = message_builder::flat_bytes(builder.get());
  CAF_CHECK_EQUAL(predicted, ours.size());
}

CAF_TEST(the scratch is zeroed between messages) {
  // A large message, then a small one: the small one must not carry bytes
  // of the large one (capnp requires a zeroed first segment).
  std::string large = encode(7'000, 'x');
  std::string small = encode(10, 'y');
  std::string expected = reference(10, 'y');
  CAF_CHECK_EQUAL(small, expected);
  CAF_CHECK(large != small);
}

CAF_TEST(nested builders on one thread) {
  message_builder outer;
  fill(outer.get(), 300, 'o');
  std::string inner = encode(200, 'i');  // cannot take the scratch: heap segment
  std::string inner_expected = reference(200, 'i');
  CAF_CHECK_EQUAL(inner, inner_expected);
  std::string outer_bytes = outer.flat();
  std::string outer_expected = reference(300, 'o');
  CAF_CHECK_EQUAL(outer_bytes, outer_expected);
  std::string after = encode(50, 'z');  // the scratch is free again
  std::string after_expected = reference(50, 'z');
  CAF_CHECK_EQUAL(after, after_expected);
}
