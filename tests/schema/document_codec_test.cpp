// The Cap'n Proto document codec: round trips of every kind, and decoding of
// truncated, flipped, unsorted, duplicate-keyed and too-deep input gives
// corruption instead of a crash.
#define CAF_SUITE document_codec
#include "caf/test/unit_test.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cmath>
#include <limits>

#include "protocols/limits.hpp"
#include "protocols/value.capnp.h"
#include "schema/document_codec.hpp"
#include "schema/json.hpp"
#include "tests/schema/value_generator.hpp"

using namespace velocity;

namespace {

document sample_document() {
  document d;
  d.id = "proc-1";
  d.version = 7;
  d.created_ns = -5;
  d.modified_ns = std::numeric_limits<int64_t>::max();
  d.revision = std::numeric_limits<uint64_t>::max();
  d.fields = value_map{
      {"null", value{}},
      {"yes", value{true}},
      {"no", value{false}},
      {"int_min", value{std::numeric_limits<int64_t>::min()}},
      {"float", value{0.1}},
      {"neg_zero", value{-0.0}},
      {"inf", value{HUGE_VAL}},
      {"text", value{std::string{"h\xc3\xa9llo\0world", 12}}},
      {"raw", value{bytes_value{std::string{"\0\xff\x01", 3}}}},
      {"list", value{value_list{value{1}, value{"x"}, value{value_list{}}, value{value_map{}}}}},
      {"map", value{value_map{{"a", value{value_map{{"b", value{value_list{value{2.5}}}}}}}}}},
      {"", value{"empty key"}},
  };
  return d;
}

// A value nested `depth` deep: single-entry maps (the costliest shape for
// Cap'n Proto's own nesting limit), alternating with lists if asked.
value nested(size_t depth, bool with_lists = false) {
  value v{"leaf"};
  for (size_t i = 0; i < depth; ++i)
    v = with_lists && i % 2 ? value{value_list{std::move(v)}} : value{value_map{{"k", std::move(v)}}};
  return v;
}

std::string flatten(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);  // owns the bytes below
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// A map value built by hand, bypassing the encoder's sorted std::map.
std::string hand_built_map(const std::vector<std::string>& keys) {
  capnp::MallocMessageBuilder message;
  auto map = message.initRoot<wire::Value>().initMap(static_cast<unsigned>(keys.size()));
  for (unsigned i = 0; i < keys.size(); ++i) {
    map[i].setKey(keys[i]);
    map[i].initValue().setInt(i);
  }
  return flatten(message);
}

bool message_has(const status& s, std::string_view needle) {
  return s.message().find(needle) != std::string::npos;
}

// The code a value gets when it arrives from the network (read_value with
// malformed, as the request and command decoders call it).
error_code received_code(const std::string& bytes) {
  kj::Array<capnp::word> copy;
  capnp::FlatArrayMessageReader reader(message_words(bytes, copy), codec_reader_options());
  auto decoded = read_value(reader.getRoot<wire::Value>(), error_code::malformed);
  return decoded.ok() ? error_code::ok : decoded.error().code();
}

error_code json_code(const value& v) {
  auto parsed = parse_json(to_json(v));
  return parsed.ok() ? error_code::ok : parsed.error().code();
}

}  // namespace

CAF_TEST(a document with every kind and nesting round trips) {
  document d = sample_document();
  std::string bytes = encode_document(d);
  CAF_CHECK_EQUAL(bytes.size(), encoded_document_bytes(d));
  auto decoded = decode_document(bytes);
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(*decoded == d);
  CAF_CHECK(std::signbit(find_path(decoded->fields, "neg_zero")->as_float()));
  CAF_CHECK(find_path(decoded->fields, "int_min")->is_int());
  CAF_CHECK_EQUAL(decoded->fields.at("text").as_string().size(), 12u);
}

CAF_TEST(random values round trip with their kinds) {
  test::value_generator gen{3};
  size_t failures = 0;
  for (int i = 0; i < 5000; ++i) {
    value v = gen.any(4);
    auto decoded = decode_value(encode_value(v));
    if (!decoded.ok() || !(*decoded == v) || decoded->kind() != v.kind()) {
      CAF_MESSAGE("round trip failed for " << test::describe(v));
      ++failures;
    }
  }
  CAF_CHECK_EQUAL(failures, 0u);
}

CAF_TEST(values nested to the limit decode and deeper ones are rejected) {
  auto ok = decode_value(encode_value(nested(limits::nesting_depth_max)));
  CAF_CHECK(ok.ok());
  if (!ok.ok()) CAF_MESSAGE(ok.error().to_string());
  CAF_CHECK(decode_value(encode_value(nested(limits::nesting_depth_max, true))).ok());
  CAF_CHECK(!decode_value(encode_value(nested(limits::nesting_depth_max + 1, true))).ok());
  auto deep = decode_value(encode_value(nested(limits::nesting_depth_max + 1)));
  CAF_REQUIRE(!deep.ok());
  CAF_CHECK_EQUAL(deep.error().code(), error_code::corruption);
  CAF_CHECK(message_has(deep.error(), "nesting"));
  document d;
  d.id = "deep";
  d.fields = value_map{{"f", nested(limits::nesting_depth_max - 1)}};
  CAF_CHECK(decode_document(encode_document(d)).ok());
  d.fields = value_map{{"f", nested(limits::nesting_depth_max)}};
  CAF_CHECK(!decode_document(encode_document(d)).ok());
}

CAF_TEST(empty short and odd sized input is corruption) {
  for (std::string_view bad : {std::string_view{}, std::string_view{"abc"},
                               std::string_view{"0123456789"}}) {
    auto decoded = decode_document(bad);
    CAF_REQUIRE(!decoded.ok());
    CAF_CHECK_EQUAL(decoded.error().code(), error_code::corruption);
  }
  auto empty = decode_value("");
  CAF_REQUIRE(!empty.ok());
  CAF_CHECK(message_has(empty.error(), "empty"));
  auto odd = decode_value("0123456789");
  CAF_REQUIRE(!odd.ok());
  CAF_CHECK(message_has(odd.error(), "multiple of 8"));
}

CAF_TEST(unaligned input decodes like aligned input) {
  std::string bytes = encode_document(sample_document());
  std::string shifted = " " + bytes;
  auto decoded = decode_document(std::string_view{shifted}.substr(1));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(*decoded == sample_document());
}

CAF_TEST(every truncation of a valid encoding is an error and never a crash) {
  std::string bytes = encode_document(sample_document());
  size_t errors = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decode_document(std::string_view{bytes}.substr(0, n));
    if (!decoded.ok()) {
      ++errors;
      CAF_CHECK_EQUAL(decoded.error().code(), error_code::corruption);
    }
  }
  // Every strict prefix is shorter than the segment its header announces.
  CAF_CHECK_EQUAL(errors, bytes.size());
  auto trailing = decode_document(bytes + std::string(8, '\0'));
  CAF_REQUIRE(!trailing.ok());
  CAF_CHECK(message_has(trailing.error(), "after the message"));
}

CAF_TEST(random byte flips never crash the decoder) {
  test::value_generator gen{2024};
  document d = sample_document();
  std::string original = encode_document(d);
  size_t errors = 0;
  size_t values = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = original;
    size_t flips = 1 + gen.below(4);
    for (size_t f = 0; f < flips; ++f)
      bytes[gen.below(bytes.size())] ^= static_cast<char>(1 + gen.below(255));
    auto decoded = decode_document(bytes);
    if (decoded.ok()) {
      ++values;
    } else {
      ++errors;
      CAF_CHECK_EQUAL(decoded.error().code(), error_code::corruption);
    }
  }
  CAF_MESSAGE(errors << " errors, " << values << " values");
  CAF_CHECK(errors > 0);
  CAF_CHECK_EQUAL(errors + values, 20000u);
}

CAF_TEST(unsorted map keys are rejected) {
  auto decoded = decode_value(hand_built_map({"b", "a"}));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK_EQUAL(decoded.error().code(), error_code::corruption);
  CAF_CHECK(message_has(decoded.error(), "ascending at \"a\""));
  auto sorted = decode_value(hand_built_map({"a", "b"}));
  CAF_CHECK(sorted.ok());
  if (!sorted.ok()) CAF_MESSAGE(sorted.error().to_string());
}

CAF_TEST(duplicate map keys are rejected) {
  auto decoded = decode_value(hand_built_map({"a", "k", "k"}));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK_EQUAL(decoded.error().code(), error_code::corruption);
  CAF_CHECK(message_has(decoded.error(), "\"k\""));
}

CAF_TEST(duplicate document field names are rejected) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::Document>();
  root.setId("d");
  auto fields = root.initFields(2);
  fields[0].setKey("x");
  fields[1].setKey("x");
  auto decoded = decode_document(flatten(message));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(message_has(decoded.error(), "not strictly ascending"));
}

// docs/protocol.md, "Limits": a readable value beyond a limit is too_large,
// whether it arrives as Cap'n Proto or as JSON (the CLI); bytes that cannot
// be read as a value are malformed; stored bytes are corruption either way.
// (Regression: the wire answered malformed where the CLI answered too_large.)
CAF_TEST(received values beyond a limit are too_large like the same JSON and stored ones corruption) {
  auto deep = nested(limits::nesting_depth_max + 1);
  CAF_CHECK_EQUAL(received_code(encode_value(deep)), error_code::too_large);
  CAF_CHECK_EQUAL(json_code(deep), error_code::too_large);
  CAF_CHECK_EQUAL(decode_value(encode_value(deep)).error().code(), error_code::corruption);
  auto deep_lists = nested(limits::nesting_depth_max + 1, true);
  CAF_CHECK_EQUAL(received_code(encode_value(deep_lists)), error_code::too_large);
  CAF_CHECK_EQUAL(json_code(deep_lists), error_code::too_large);

  value_list many(limits::document_bytes_max / 16 + 1, value{});
  CAF_CHECK_EQUAL(received_code(encode_value(value{many})), error_code::too_large);
  CAF_CHECK_EQUAL(decode_value(encode_value(value{many})).error().code(), error_code::corruption);

  value long_string{std::string(limits::string_bytes_max + 1, 's')};
  CAF_CHECK_EQUAL(received_code(encode_value(long_string)), error_code::too_large);
  CAF_CHECK_EQUAL(json_code(long_string), error_code::too_large);
  value long_bytes{bytes_value{std::string(limits::string_bytes_max + 1, 'b')}};
  CAF_CHECK_EQUAL(received_code(encode_value(long_bytes)), error_code::too_large);
  CAF_CHECK_EQUAL(json_code(long_bytes), error_code::too_large);

  CAF_CHECK_EQUAL(received_code(hand_built_map({"b", "a"})), error_code::malformed);
  CAF_CHECK_EQUAL(received_code(encode_value(nested(limits::nesting_depth_max))), error_code::ok);
}
