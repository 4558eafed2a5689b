// JSON conversion: round trips of every kind, and one test per class of bad
// input, each checking the error code and that the message names the problem.
#define CAF_SUITE json
#include "caf/test/unit_test.hpp"

#include <cmath>
#include <limits>

#include "schema/json.hpp"
#include "tests/schema/value_generator.hpp"

using namespace velocity;

namespace {

bool round_trips(const value& v) {
  auto parsed = parse_json(to_json(v));
  if (!parsed.ok()) {
    CAF_MESSAGE(to_json(v) << " -> " << parsed.error().to_string());
    return false;
  }
  bool same = *parsed == v && parsed->kind() == v.kind();
  if (!same) CAF_MESSAGE("changed in round trip: " << to_json(v));
  return same;
}

// Parses text and checks the error code and a phrase of the message.
bool rejects(std::string_view text, error_code code, std::string_view phrase,
             const json_limits& lim = {}) {
  auto parsed = parse_json(text, lim);
  if (parsed.ok()) {
    CAF_MESSAGE("accepted: " << std::string{text.substr(0, 60)});
    return false;
  }
  std::string message = parsed.error().message();
  bool ok = parsed.error().code() == code && message.find(phrase) != std::string::npos;
  if (!ok) CAF_MESSAGE("for " << std::string{text.substr(0, 60)} << ": " << parsed.error().to_string());
  return ok;
}

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

CAF_TEST(scalars round trip with their kinds) {
  constexpr auto int_min = std::numeric_limits<int64_t>::min();
  constexpr auto int_max = std::numeric_limits<int64_t>::max();
  for (const value& v : {value{}, value{true}, value{false}, value{0}, value{int_min}, value{int_max},
                         value{0.1}, value{1e300}, value{-1e300}, value{-0.0}, value{2.0},
                         value{5e-324}, value{std::numeric_limits<double>::max()}})
    CAF_CHECK(round_trips(v));
  CAF_CHECK(std::signbit(parse_json(to_json(value{-0.0}))->as_float()));
  CAF_CHECK_EQUAL(to_json(value{2.0}), "2.0");
  CAF_CHECK_EQUAL(to_json(value{0.1}), "0.1");
  CAF_CHECK_EQUAL(to_json(value{1e300}), "1e+300");
  CAF_CHECK_EQUAL(to_json(value{int_min}), "-9223372036854775808");
}

CAF_TEST(nan and infinities print as null) {
  CAF_CHECK_EQUAL(to_json(value{std::nan("")}), "null");
  CAF_CHECK_EQUAL(to_json(value{-HUGE_VAL}), "null");
}

CAF_TEST(strings with unicode escapes and control characters round trip) {
  std::string s = "qu\"ote\\ \n\t\r\b\f \x01\x1f caf\xc3\xa9 \xf0\x9f\x98\x80";
  s.push_back('\0');
  CAF_CHECK(round_trips(value{s}));
  CAF_CHECK_EQUAL(to_json(value{std::string{"a\"\n\x01"}}), "\"a\\\"\\n\\u0001\"");
  auto parsed = parse_json("\"\\u00e9\\ud83d\\ude00\"");
  CAF_REQUIRE(parsed.ok());
  CAF_CHECK_EQUAL(parsed->as_string(), "\xc3\xa9\xf0\x9f\x98\x80");
  // Invalid UTF-8 in a value still prints valid JSON.
  CAF_CHECK_EQUAL(to_json(value{std::string{"a\xff"}}), "\"a\\ufffd\"");
}

CAF_TEST(bytes round trip as base64 objects) {
  for (std::string data : {std::string{}, std::string{"f"}, std::string{"fo"}, std::string{"foo"},
                           std::string{"\0\xff\x10", 3}, std::string(100, '\xab')})
    CAF_CHECK(round_trips(value{bytes_value{data}}));
  CAF_CHECK_EQUAL(to_json(value{bytes_value{"fo"}}), "{\"$bytes\":\"Zm8=\"}");
  // Other shapes stay maps.
  auto map = parse_json("{\"$bytes\":5}");
  CAF_REQUIRE(map.ok());
  CAF_CHECK(map->is_map());
  auto two = parse_json("{\"$bytes\":\"\",\"x\":1}");
  CAF_REQUIRE(two.ok());
  CAF_CHECK(two->is_map());
}

CAF_TEST(random nested values round trip) {
  test::value_generator gen{17};
  size_t failures = 0;
  for (int i = 0; i < 3000; ++i) {
    value v = gen.any(4);
    // The generator makes NaN, infinities (printed as null) and invalid UTF-8
    // (printed as U+FFFD), so the first trip may change v; after it the text
    // and the value are fixed points.
    auto first = parse_json(to_json(v));
    if (!first.ok()) {
      ++failures;
      continue;
    }
    std::string json = to_json(*first);
    auto second = parse_json(json);
    if (!second.ok() || !(*second == *first) || to_json(*second) != json) ++failures;
  }
  CAF_CHECK_EQUAL(failures, 0u);
}

CAF_TEST(integers at the int64 edges stay ints and beyond them are rejected) {
  auto max = parse_json("9223372036854775807");
  CAF_REQUIRE(max.ok());
  CAF_CHECK(max->is_int());
  auto min = parse_json("-9223372036854775808");
  CAF_REQUIRE(min.ok());
  CAF_CHECK_EQUAL(min->as_int(), std::numeric_limits<int64_t>::min());
  CAF_CHECK(rejects("9223372036854775808", error_code::malformed, "number out of range"));
  CAF_CHECK(rejects("[-9223372036854775809]", error_code::malformed, "number out of range"));
  CAF_CHECK(rejects("{\"a\":123456789012345678901234567890}", error_code::malformed,
                    "number out of range"));
}

CAF_TEST(floats that overflow are rejected) {
  CAF_CHECK(rejects("[1e400]", error_code::malformed, "number out of range: \"1e400\""));
  CAF_CHECK(rejects("-1.5e999", error_code::malformed, "number out of range"));
  CAF_CHECK(rejects("[01]", error_code::malformed, "malformed JSON number"));
}

CAF_TEST(truncated input is rejected) {
  CAF_CHECK(rejects("[1,2", error_code::malformed, "truncated"));
  CAF_CHECK(rejects("{\"a\":", error_code::malformed, "truncated"));
  CAF_CHECK(rejects("\"abc", error_code::malformed, "truncated"));
  CAF_CHECK(rejects("tru", error_code::malformed, "literal"));
}

CAF_TEST(trailing garbage is rejected) {
  CAF_CHECK(rejects("[1] x", error_code::malformed, "trailing garbage"));
  CAF_CHECK(rejects("1 2", error_code::malformed, "trailing garbage"));
  CAF_CHECK(rejects("{} {}", error_code::malformed, "trailing garbage after the JSON value at byte 3"));
}

CAF_TEST(empty input is rejected) {
  CAF_CHECK(rejects("", error_code::malformed, "empty"));
  CAF_CHECK(rejects("  \n", error_code::malformed, "empty"));
}

CAF_TEST(invalid utf8 is rejected) {
  CAF_CHECK(rejects("\"a\xff\"", error_code::malformed, "UTF-8"));
  CAF_CHECK(rejects("[\"\xc0\xaf\"]", error_code::malformed, "UTF-8"));
  CAF_CHECK(rejects("\"\\ud800\"", error_code::malformed, "surrogate"));
}

CAF_TEST(nesting deeper than the limit is rejected) {
  CAF_CHECK(parse_json(nested_arrays(64)).ok());
  CAF_CHECK(rejects(nested_arrays(65), error_code::too_large, "nesting deeper than 64"));
  CAF_CHECK(rejects(nested_arrays(1000), error_code::too_large, "nesting deeper than 64"));
  json_limits shallow;
  shallow.nesting_depth_max = 2;
  CAF_CHECK(parse_json("{\"a\":[1]}", shallow).ok());
  CAF_CHECK(rejects("{\"a\":[[1]]}", error_code::too_large, "nesting deeper than 2", shallow));
}

CAF_TEST(text and strings larger than the limits are rejected) {
  json_limits small;
  small.text_bytes_max = 10;
  small.string_bytes_max = 4;
  CAF_CHECK(rejects("[1,2,3,4,5,6]", error_code::too_large, "JSON text of 13 bytes", small));
  CAF_CHECK(rejects("\"abcde\"", error_code::too_large, "JSON string of 5 bytes", small));
  small.text_bytes_max = 100;
  CAF_CHECK(rejects("{\"abcde\":1}", error_code::too_large, "JSON string of 5 bytes", small));
  CAF_CHECK(rejects("{\"$bytes\":\"Zm9vYmE=\"}", error_code::too_large, "JSON string of 5 bytes", small));
  CAF_CHECK(parse_json("\"abcd\"", small).ok());
}

// The Cap'n Proto decoder's bound (limits::values_per_document_max) with the
// same code, so the CLI and the wire agree (docs/protocol.md, "Bad bodies").
CAF_TEST(more list elements and map entries than one document can hold are too_large) {
  auto zeros = [](size_t n) {
    std::string text = "[";
    for (size_t i = 0; i < n; ++i) text += i == 0 ? "0" : ",0";
    return text + "]";
  };
  CAF_CHECK(parse_json(zeros(limits::values_per_document_max)).ok());
  CAF_CHECK(rejects(zeros(limits::values_per_document_max + 1), error_code::too_large,
                    "more than 65536 values"));
  json_limits few;
  few.values_max = 3;
  CAF_CHECK(parse_json("{\"a\":[1],\"b\":2}", few).ok());
  CAF_CHECK(rejects("{\"a\":[1,2],\"b\":2}", error_code::too_large, "more than 3 values", few));
  auto doc = document_from_json("{\"id\":\"d\",\"fields\":{\"a\":[1,2],\"b\":2}}", few);
  CAF_REQUIRE(!doc.ok());
  CAF_CHECK(doc.error().code() == error_code::too_large);
}

CAF_TEST(duplicate object keys are rejected) {
  CAF_CHECK(rejects("{\"a\":1,\"b\":2,\"a\":3}", error_code::malformed, "duplicate object key \"a\""));
  CAF_CHECK(rejects("[{\"x\":{\"k\":1,\"k\":1}}]", error_code::malformed, "duplicate object key \"k\""));
}

CAF_TEST(bad base64 in bytes is rejected) {
  CAF_CHECK(rejects("{\"$bytes\":\"Zm8\"}", error_code::malformed, "base64"));
  CAF_CHECK(rejects("{\"$bytes\":\"Zm8*\"}", error_code::malformed, "unexpected character at offset 3"));
  CAF_CHECK(rejects("{\"$bytes\":\"Zm9=\"}", error_code::malformed, "non-zero padding bits"));
  CAF_CHECK(rejects("{\"$bytes\":\"Z===\"}", error_code::malformed, "base64"));
  CAF_CHECK(rejects("{\"$bytes\":\"=AAA\"}", error_code::malformed, "base64"));
}

CAF_TEST(documents round trip through json) {
  document d;
  d.id = "job-\"7\"";
  d.version = std::numeric_limits<uint64_t>::max();
  d.created_ns = -1;
  d.modified_ns = 1700000000000000000;
  d.revision = 42;
  d.fields = value_map{{"state", value{"waiting"}}, {"cpu", value{1.5}}, {"blob", value{bytes_value{"x"}}},
                       {"tags", value{value_list{value{"a"}, value{int64_t{3}}}}}};
  auto parsed = document_from_json(document_to_json(d));
  CAF_REQUIRE(parsed.ok());
  CAF_CHECK(*parsed == d);
  auto minimal = document_from_json("{\"id\":\"x\"}");
  CAF_REQUIRE(minimal.ok());
  CAF_CHECK_EQUAL(minimal->version, 0u);
  CAF_CHECK(minimal->fields.empty());
}

CAF_TEST(documents with unknown keys missing ids or bad members are rejected) {
  auto check = [](std::string_view text, std::string_view phrase) {
    auto parsed = document_from_json(text);
    if (parsed.ok()) return false;
    std::string message = parsed.error().message();
    return parsed.error().code() == error_code::malformed && message.find(phrase) != std::string::npos;
  };
  CAF_CHECK(check("{\"id\":\"x\",\"colour\":1}", "unknown document key \"colour\""));
  CAF_CHECK(check("{\"version\":1}", "no id"));
  CAF_CHECK(check("{\"id\":1}", "id must be a string"));
  CAF_CHECK(check("{\"id\":\"x\",\"version\":-1}", "version must be a non-negative integer"));
  CAF_CHECK(check("{\"id\":\"x\",\"fields\":[]}", "fields must be an object"));
  CAF_CHECK(check("{\"id\":\"x\",\"id\":\"y\"}", "duplicate object key \"id\""));
  CAF_CHECK(check("[]", "must be a JSON object"));
}
