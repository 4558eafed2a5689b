// Properties of the order-preserving key encoding: bytewise order equals value
// order, tuples are self-delimiting, decoding restores the value and its kind,
// and garbage decodes to malformed without crashing.
#define CAF_SUITE key_encoding
#include "caf/test/unit_test.hpp"

#include <cmath>
#include <cstring>

#include "protocols/limits.hpp"
#include "schema/key_encoding.hpp"
#include "tests/schema/value_generator.hpp"

using namespace velocity;

namespace {

std::string encode(const value& v) {
  std::string out;
  encode_key_part(out, v);
  return out;
}

int sign_of(std::strong_ordering c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

int sign_of_bytes(const std::string& a, const std::string& b) {
  int c = a.compare(b);  // char_traits<char>::compare orders like memcmp
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int kind_rank(const value& v) {
  if (v.is_number()) return 2;
  auto k = static_cast<int>(v.kind());
  return k < 2 ? k : k - 1;
}

// An independent exact order: the total order of value.hpp, with numbers
// compared as long double (x86-64's 64-bit mantissa holds every int64 and every
// double exactly). It guards against a mistake in compare() as much as in the
// encoding.
int reference_order(const value& a, const value& b) {
  if (kind_rank(a) != kind_rank(b)) return kind_rank(a) < kind_rank(b) ? -1 : 1;
  if (a.is_number()) {
    auto exact = [](const value& v) {
      return v.is_int() ? static_cast<long double>(v.as_int()) : static_cast<long double>(v.as_float());
    };
    long double x = exact(a);
    long double y = exact(b);
    if (std::isnan(x) || std::isnan(y)) return (std::isnan(x) ? 0 : 1) - (std::isnan(y) ? 0 : 1);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_list() || a.is_map()) {
    std::vector<value> xs;
    std::vector<value> ys;
    auto flatten = [](const value& v, std::vector<value>& out) {
      if (v.is_list()) out = v.as_list();
      else
        for (const auto& [key, item] : v.as_map()) {
          out.push_back(value{key});
          out.push_back(item);
        }
    };
    flatten(a, xs);
    flatten(b, ys);
    for (size_t i = 0; i < xs.size() && i < ys.size(); ++i)
      if (int c = reference_order(xs[i], ys[i]); c != 0) return c;
    return xs.size() < ys.size() ? -1 : (xs.size() > ys.size() ? 1 : 0);
  }
  return sign_of(compare(a, b));  // null, bool, string and bytes
}

// Pairs where value.cpp's compare() disagrees with the exact reference order.
size_t compare_disagreements = 0;

// Checks the ordering property for one pair (equal values must encode
// identically); returns false and says why on failure.
bool order_agrees(const value& a, const value& b) {
  int expected = reference_order(a, b);
  if (expected != sign_of(compare(a, b))) {
    if (compare_disagreements++ < 3)
      CAF_MESSAGE("compare() disagrees with exact order: " << test::describe(a) << " vs "
                                                          << test::describe(b));
  }
  int actual = sign_of_bytes(encode(a), encode(b));
  if (actual == expected) return true;
  CAF_MESSAGE("order mismatch: " << test::describe(a) << " vs " << test::describe(b)
                                 << " compare=" << expected << " bytes=" << actual);
  return false;
}

// The kind a number decodes to: int when integral and within int64.
value_kind decoded_kind(const value& v) {
  if (!v.is_float()) return v.kind();
  double d = v.as_float();
  bool integral = d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == std::trunc(d);
  return integral ? value_kind::integer : value_kind::floating;
}

// Equal values with the kind decoding promises, and NaN stays NaN.
bool same_value(const value& a, const value& b) {
  if (decoded_kind(a) != b.kind()) return false;
  if (a.is_float() && std::isnan(a.as_float())) return std::isnan(b.as_float());
  if (a.is_list()) {
    if (a.as_list().size() != b.as_list().size()) return false;
    for (size_t i = 0; i < a.as_list().size(); ++i)
      if (!same_value(a.as_list()[i], b.as_list()[i])) return false;
    return true;
  }
  if (a.is_map()) {
    if (a.as_map().size() != b.as_map().size()) return false;
    for (auto i = a.as_map().begin(), j = b.as_map().begin(); i != a.as_map().end(); ++i, ++j)
      if (i->first != j->first || !same_value(i->second, j->second)) return false;
    return true;
  }
  return compare(a, b) == 0;
}

}  // namespace

CAF_TEST(bytewise order of number keys equals value order for every pair of edge numbers) {
  auto edges = test::edge_numbers();
  size_t failures = 0;
  for (const auto& a : edges)
    for (const auto& b : edges)
      if (!order_agrees(a, b)) ++failures;
  CAF_CHECK_EQUAL(failures, 0u);
}

CAF_TEST(bytewise order equals value order for many random pairs of numbers) {
  test::value_generator gen{42};
  size_t failures = 0;
  for (int i = 0; i < 200000; ++i)
    if (!order_agrees(gen.number(), gen.number())) ++failures;
  CAF_CHECK_EQUAL(failures, 0u);
}

CAF_TEST(bytewise order equals value order for many random pairs of all kinds) {
  test::value_generator gen{7};
  std::vector<value> pool;
  for (int i = 0; i < 600; ++i) pool.push_back(gen.any());
  size_t failures = 0;
  size_t decided = 0;
  for (const auto& a : pool) {
    for (const auto& b : pool) {
      if (reference_order(a, b) != 0) ++decided;
      if (!order_agrees(a, b)) ++failures;
    }
  }
  CAF_CHECK_EQUAL(failures, 0u);
  CAF_CHECK(decided > pool.size() * pool.size() / 2);  // the test compared real differences
}

CAF_TEST(values that compare equal encode to identical bytes) {
  CAF_CHECK(encode(value{2}) == encode(value{2.0}));
  CAF_CHECK(encode(value{int64_t{-1} << 63}) == encode(value{-9223372036854775808.0}));
  CAF_CHECK(encode(value{value_list{value{2}, value{"b"}}}) ==
            encode(value{value_list{value{2.0}, value{"b"}}}));
  CAF_CHECK(encode(value{0.0}) == encode(value{-0.0}));
  CAF_CHECK(encode(value{std::nan("")}) == encode(value{-std::nan("")}));
  // NaN sorts below every other number, -inf included.
  CAF_CHECK(encode(value{std::nan("")}) < encode(value{-HUGE_VAL}));
}

CAF_TEST(decoding a key restores every value and ints stay ints) {
  test::value_generator gen{99};
  std::vector<value> samples = test::edge_numbers();
  for (int i = 0; i < 20000; ++i) samples.push_back(gen.any());
  size_t failures = 0;
  for (const auto& v : samples) {
    std::string key = encode(v);
    std::string_view rest = key;
    auto decoded = decode_key_part(rest);
    if (!decoded.ok() || !rest.empty() || !same_value(v, *decoded)) {
      CAF_MESSAGE("round trip failed for " << test::describe(v));
      ++failures;
    }
  }
  CAF_CHECK_EQUAL(failures, 0u);
  // Integral floats come back as equal ints; other floats stay floats.
  std::string key = encode(value{2.0}) + encode(value{2.5}) + encode(value{9223372036854775808.0});
  auto decoded = decode_key_tuple(key);
  CAF_REQUIRE(decoded.ok());
  CAF_REQUIRE_EQUAL(decoded->size(), 3u);
  CAF_CHECK((*decoded)[0].is_int());
  CAF_CHECK((*decoded)[1].is_float());
  CAF_CHECK((*decoded)[2].is_float());
}

CAF_TEST(a tuple prefix encodes to a byte prefix and sorts before its extensions) {
  test::value_generator gen{5};
  size_t failures = 0;
  for (int i = 0; i < 5000; ++i) {
    std::vector<value> parts;
    size_t n = 1 + gen.below(4);
    for (size_t j = 0; j < n; ++j) parts.push_back(gen.any(2));
    std::string whole;
    encode_key_tuple(whole, parts);
    std::vector<value> prefix_parts(parts.begin(), parts.begin() + static_cast<long>(gen.below(n)));
    std::string prefix;
    encode_key_tuple(prefix, prefix_parts);
    bool is_prefix = whole.compare(0, prefix.size(), prefix) == 0;
    auto decoded = decode_key_tuple(whole);
    bool round_trip = decoded.ok() && decoded->size() == parts.size();
    for (size_t j = 0; round_trip && j < parts.size(); ++j)
      round_trip = same_value(parts[j], (*decoded)[j]);
    // A shorter tuple of the same prefix followed by any other part sorts by that part.
    std::vector<value> other = prefix_parts;
    other.push_back(gen.any(2));
    std::string other_key;
    encode_key_tuple(other_key, other);
    int expected = reference_order(value{value_list{parts}}, value{value_list{other}});
    bool ordered = expected == 0 || sign_of_bytes(whole, other_key) == expected ||
                   parts.size() != other.size();
    if (!is_prefix || !round_trip || !ordered) ++failures;
  }
  CAF_CHECK_EQUAL(failures, 0u);
}

CAF_TEST(tuples order like lists of their parts) {
  test::value_generator gen{11};
  size_t failures = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<value> a;
    std::vector<value> b;
    for (size_t j = 0, n = 1 + gen.below(3); j < n; ++j) a.push_back(gen.any(1));
    for (size_t j = 0, n = 1 + gen.below(3); j < n; ++j) b.push_back(gen.below(2) ? gen.any(1) : a[j % a.size()]);
    std::string ka;
    std::string kb;
    encode_key_tuple(ka, a);
    encode_key_tuple(kb, b);
    int expected = reference_order(value{value_list{a}}, value{value_list{b}});
    if (sign_of_bytes(ka, kb) != expected) {
      CAF_MESSAGE("tuple mismatch: " << test::describe(value{value_list{a}}) << " vs "
                                     << test::describe(value{value_list{b}}));
      ++failures;
    }
  }
  CAF_CHECK_EQUAL(failures, 0u);
}

CAF_TEST(strings with embedded zeros order bytewise and are never prefixes of each other) {
  std::vector<std::string> ordered = {std::string{}, std::string{"\0", 1}, std::string{"\0\0", 2},
                                      std::string{"\0\xff", 2}, std::string{"\x01"}, "a",
                                      std::string{"a\0", 2}, "ab", "\xff"};
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    std::string a;
    std::string b;
    encode_key_string(a, ordered[i]);
    encode_key_string(b, ordered[i + 1]);
    CAF_CHECK(a < b);
    CAF_CHECK(b.compare(0, a.size(), a) != 0);  // a is not a prefix of b
  }
}

CAF_TEST(prefix successor bounds every extension of the prefix) {
  CAF_CHECK_EQUAL(prefix_successor("ab"), "ac");
  CAF_CHECK_EQUAL(prefix_successor(std::string{"a\xff\xff"}), "b");
  CAF_CHECK_EQUAL(prefix_successor(std::string{"\xff\xff"}), "");
  CAF_CHECK_EQUAL(prefix_successor(""), "");
  std::string prefix{"k\x00\xfe", 3};
  std::string successor = prefix_successor(prefix);
  CAF_CHECK(prefix < successor);
  CAF_CHECK(prefix + std::string(8, '\xff') < successor);
}

CAF_TEST(decoding garbage returns malformed and never crashes) {
  test::value_generator gen{1234};
  size_t errors = 0;
  for (int i = 0; i < 50000; ++i) {
    std::string key = encode(gen.any());
    // Flip, truncate, or fill with random bytes.
    switch (gen.below(3)) {
      case 0: key[gen.below(key.size())] = static_cast<char>(gen.next_u64()); break;
      case 1: key.resize(gen.below(key.size())); break;
      default:
        for (auto& c : key) c = static_cast<char>(gen.next_u64());
    }
    auto decoded = decode_key_tuple(key);
    if (!decoded.ok()) {
      ++errors;
      if (decoded.error().code() != error_code::malformed) {
        CAF_FAIL("unexpected error code for garbage");
      }
      continue;
    }
    // Whatever decodes must re-encode to the same bytes (canonical).
    std::string again;
    encode_key_tuple(again, *decoded);
    CAF_CHECK(again == key);
  }
  CAF_CHECK(errors > 10000);
  std::string_view bad{"\x30\x01", 2};
  auto truncated = decode_key_part(bad);
  CAF_REQUIRE(!truncated.ok());
  std::string message = truncated.error().message();
  CAF_CHECK(message.find("truncated") != std::string::npos);
  CAF_CHECK_EQUAL(bad.size(), 2u);  // not advanced on error
}

CAF_TEST(decoding rejects nesting deeper than the limit) {
  std::string key(limits::nesting_depth_max + 1, '\x60');
  key.append(limits::nesting_depth_max + 1, '\0');
  auto decoded = decode_key_tuple(key);
  CAF_REQUIRE(!decoded.ok());
  std::string message = decoded.error().message();
  CAF_CHECK(message.find("nesting deeper than 64") != std::string::npos);
  std::string ok_key(limits::nesting_depth_max, '\x60');
  ok_key.append(limits::nesting_depth_max, '\0');
  CAF_CHECK(decode_key_tuple(ok_key).ok());
}
