// Order-preserving, self-delimiting encoding of values for index keys (see
// key_encoding.hpp).
//
// Layout of one part: a tag byte, ranked like value kinds, then a body.
//   null 0x10 | false 0x20 | true 0x21
//   number 0x30 + 8 bytes ordered double + 2 bytes int tiebreak
//   string 0x40 / bytes 0x50 + escaped bytes (0x00 -> 0x00 0xff) + 0x00 0x00
//   list 0x60 + parts + 0x00 | map 0x70 + (string part key, part value)* + 0x00
// The container end byte 0x00 is below every tag, so a shorter list or map sorts
// before its extensions. String bodies end in 0x00 0x00, below the escape 0x00
// 0xff and below every other byte, so no string encoding is a prefix of another
// one and bytewise order is string order.
//
// Numbers: ints and floats share one tag so they interleave by value. The body is
// the IEEE-754 order-preserving transform of the double nearest the value, then
// the exact difference between an int and that double (ints beyond 2^53 round).
//
// Decision: values that compare equal encode to identical bytes (int 2 and float
// 2.0, -0.0 and 0.0, every NaN). A per-number kind byte would let decoding restore
// the kind, but any byte that tells equal values apart decides the order of two
// tuples or lists before their later parts are seen: (2, "b") would sort below
// (2.0, "a"), and an equality prefix for 2 would miss 2.0 (a unique index would
// accept both). So decoding yields an int whenever the number is integral and
// fits int64 (float 2.0 decodes as int 2, equal under compare()), else a float.
// NaN is all-zero bytes, below -inf.
//
// Invariants: decode accepts only canonical encodings (re-encoding a decoded part
// gives the same bytes), so every key has exactly one meaning.
//
// Thread safety: pure functions.
#include "schema/key_encoding.hpp"

#include <bit>
#include <cmath>
#include <cstdint>

#include "protocols/limits.hpp"

namespace velocity {
namespace {

constexpr uint8_t tag_end = 0x00;
constexpr uint8_t tag_null = 0x10;
constexpr uint8_t tag_false = 0x20;
constexpr uint8_t tag_true = 0x21;
constexpr uint8_t tag_number = 0x30;
constexpr uint8_t tag_string = 0x40;
constexpr uint8_t tag_bytes = 0x50;
constexpr uint8_t tag_list = 0x60;
constexpr uint8_t tag_map = 0x70;

constexpr uint8_t string_escape = 0x00;
constexpr uint8_t string_escaped_zero = 0xff;
constexpr uint8_t string_terminator = 0x00;

constexpr size_t number_body_bytes = 8 + 2;
// The tiebreak is stored biased so that negative differences sort first.
constexpr int tiebreak_bias = 0x8000;

// Maps a double's bits to an unsigned integer whose order is the numeric order:
// positives get the sign bit set, negatives are inverted. NaN maps to 0.
uint64_t ordered_bits(double d) {
  if (std::isnan(d)) return 0;
  if (d == 0) d = 0.0;  // -0.0 == 0.0 under compare(); one key for both
  auto bits = std::bit_cast<uint64_t>(d);
  constexpr uint64_t sign_bit = uint64_t{1} << 63;
  return (bits & sign_bit) ? ~bits : (bits | sign_bit);
}

double from_ordered_bits(uint64_t ordered) {
  if (ordered == 0) return std::nan("");
  constexpr uint64_t sign_bit = uint64_t{1} << 63;
  uint64_t bits = (ordered & sign_bit) ? (ordered & ~sign_bit) : ~ordered;
  return std::bit_cast<double>(bits);
}

void append_u64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(x >> shift));
}

void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    out.push_back(c);
    if (static_cast<uint8_t>(c) == string_escape) out.push_back(static_cast<char>(string_escaped_zero));
  }
  out.push_back(static_cast<char>(string_terminator));
  out.push_back(static_cast<char>(string_terminator));
}

constexpr double two_pow_63 = 9223372036854775808.0;

// i - d exactly, where d is the double nearest i: |i - d| <= 1024 (half an ulp
// at 2^63), so neither the difference nor the steps overflow.
int int_minus_double(int64_t i, double d) {
  if (d >= two_pow_63) return static_cast<int>((i - INT64_MAX) - 1);  // d == 2^63
  return static_cast<int>(i - static_cast<int64_t>(d));
}

// d + tiebreak as an int64, or false if it does not fit. REQUIRES: d integral
// and within [-2^63, 2^63].
bool double_plus_int(double d, int tiebreak, int64_t& out) {
  if (d >= two_pow_63) {
    if (tiebreak >= 0) return false;
    out = INT64_MAX + (tiebreak + 1);
    return true;
  }
  return !__builtin_add_overflow(static_cast<int64_t>(d), int64_t{tiebreak}, &out);
}

void append_number(std::string& out, const value& v) {
  out.push_back(static_cast<char>(tag_number));
  double nearest = v.as_number();  // for ints: rounds to nearest, ties to even
  append_u64(out, ordered_bits(nearest));
  int tiebreak = 0;
  if (v.is_int()) tiebreak = int_minus_double(v.as_int(), nearest);
  auto biased = static_cast<uint16_t>(tiebreak + tiebreak_bias);
  out.push_back(static_cast<char>(biased >> 8));
  out.push_back(static_cast<char>(biased & 0xff));
}

status malformed(std::string message) { return status{error_code::malformed, std::move(message)}; }

uint8_t byte_at(std::string_view bytes, size_t i) { return static_cast<uint8_t>(bytes[i]); }

// Decodes an escaped string body (after the tag) and advances past its terminator.
status_or<std::string> decode_escaped(std::string_view& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    uint8_t c = byte_at(bytes, i);
    if (c != string_escape) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 1 >= bytes.size()) break;
    uint8_t next = byte_at(bytes, i + 1);
    if (next == string_terminator) {
      bytes.remove_prefix(i + 2);
      return out;
    }
    if (next != string_escaped_zero)
      return malformed("key string has an invalid escape byte after 0x00");
    out.push_back('\0');
    ++i;
  }
  return malformed("key string is not terminated");
}

status_or<value> decode_number(std::string_view& bytes) {
  if (bytes.size() < number_body_bytes) return malformed("key number is truncated");
  uint64_t ordered = 0;
  for (size_t i = 0; i < 8; ++i) ordered = (ordered << 8) | byte_at(bytes, i);
  int tiebreak = ((byte_at(bytes, 8) << 8) | byte_at(bytes, 9)) - tiebreak_bias;
  double nearest = from_ordered_bits(ordered);
  // Integral values within int64 decode as ints (see the decision above).
  int64_t exact = 0;
  bool integral = nearest >= -two_pow_63 && nearest <= two_pow_63 && nearest == std::trunc(nearest) &&
                  double_plus_int(nearest, tiebreak, exact);
  if (!integral && tiebreak != 0) return malformed("key number has a tiebreak but is not an int");
  value result = integral ? value{exact} : value{nearest};
  // Only canonical bytes decode, so a key has exactly one meaning.
  std::string canonical;
  append_number(canonical, result);
  if (std::string_view{canonical}.substr(1) != bytes.substr(0, number_body_bytes))
    return malformed("key number is not canonically encoded");
  bytes.remove_prefix(number_body_bytes);
  return result;
}

status_or<value> decode_part_at_depth(std::string_view& bytes, size_t depth);

// A container at depth d makes its value at least d + 1 deep.
bool too_deep(size_t depth) { return depth + 1 > limits::nesting_depth_max; }

status_or<value> decode_list(std::string_view& bytes, size_t depth) {
  if (too_deep(depth))
    return malformed("key nesting deeper than " + std::to_string(limits::nesting_depth_max));
  value_list items;
  while (true) {
    if (bytes.empty()) return malformed("key list is not terminated");
    if (byte_at(bytes, 0) == tag_end) {
      bytes.remove_prefix(1);
      return value{std::move(items)};
    }
    auto item = decode_part_at_depth(bytes, depth + 1);
    if (!item.ok()) return item.error();
    items.push_back(std::move(item).value());
  }
}

status_or<value> decode_map(std::string_view& bytes, size_t depth) {
  if (too_deep(depth))
    return malformed("key nesting deeper than " + std::to_string(limits::nesting_depth_max));
  value_map entries;
  while (true) {
    if (bytes.empty()) return malformed("key map is not terminated");
    if (byte_at(bytes, 0) == tag_end) {
      bytes.remove_prefix(1);
      return value{std::move(entries)};
    }
    if (byte_at(bytes, 0) != tag_string) return malformed("key map entry does not start with a string key");
    bytes.remove_prefix(1);
    auto key = decode_escaped(bytes);
    if (!key.ok()) return key.error();
    if (!entries.empty() && entries.rbegin()->first >= *key)
      return malformed("key map keys are not strictly ascending at \"" + *key + "\"");
    auto item = decode_part_at_depth(bytes, depth + 1);
    if (!item.ok()) return item.error();
    entries.emplace_hint(entries.end(), std::move(key).value(), std::move(item).value());
  }
}

status_or<value> decode_part_at_depth(std::string_view& bytes, size_t depth) {
  if (bytes.empty()) return malformed("key part is missing");
  uint8_t tag = byte_at(bytes, 0);
  bytes.remove_prefix(1);
  switch (tag) {
    case tag_null: return value{};
    case tag_false: return value{false};
    case tag_true: return value{true};
    case tag_number: return decode_number(bytes);
    case tag_string: {
      auto s = decode_escaped(bytes);
      if (!s.ok()) return s.error();
      return value{std::move(s).value()};
    }
    case tag_bytes: {
      auto s = decode_escaped(bytes);
      if (!s.ok()) return s.error();
      return value{bytes_value{std::move(s).value()}};
    }
    case tag_list: return decode_list(bytes, depth);
    case tag_map: return decode_map(bytes, depth);
    default: break;
  }
  return malformed("key part has an unknown tag byte " + std::to_string(tag));
}

}  // namespace

void encode_key_part(std::string& out, const value& v) {
  switch (v.kind()) {
    case value_kind::null: out.push_back(static_cast<char>(tag_null)); return;
    case value_kind::boolean:
      out.push_back(static_cast<char>(v.as_bool() ? tag_true : tag_false));
      return;
    case value_kind::integer:
    case value_kind::floating: append_number(out, v); return;
    case value_kind::string:
      out.push_back(static_cast<char>(tag_string));
      append_escaped(out, v.as_string());
      return;
    case value_kind::bytes:
      out.push_back(static_cast<char>(tag_bytes));
      append_escaped(out, v.as_bytes().data);
      return;
    case value_kind::list:
      out.push_back(static_cast<char>(tag_list));
      for (const auto& item : v.as_list()) encode_key_part(out, item);
      out.push_back(static_cast<char>(tag_end));
      return;
    case value_kind::map:
      out.push_back(static_cast<char>(tag_map));
      for (const auto& [key, item] : v.as_map()) {
        out.push_back(static_cast<char>(tag_string));
        append_escaped(out, key);
        encode_key_part(out, item);
      }
      out.push_back(static_cast<char>(tag_end));
      return;
  }
}

void encode_key_tuple(std::string& out, const std::vector<value>& parts) {
  for (const auto& part : parts) encode_key_part(out, part);
}

status_or<value> decode_key_part(std::string_view& bytes) {
  std::string_view rest = bytes;
  auto result = decode_part_at_depth(rest, 0);
  if (result.ok()) bytes = rest;  // advance only on success
  return result;
}

status_or<std::vector<value>> decode_key_tuple(std::string_view bytes) {
  std::vector<value> parts;
  while (!bytes.empty()) {
    auto part = decode_key_part(bytes);
    if (!part.ok()) return part.error();
    parts.push_back(std::move(part).value());
  }
  return parts;
}

void encode_key_string(std::string& out, std::string_view s) { append_escaped(out, s); }

std::string prefix_successor(std::string_view prefix) {
  std::string out{prefix};
  while (!out.empty() && static_cast<uint8_t>(out.back()) == 0xff) out.pop_back();
  if (!out.empty()) out.back() = static_cast<char>(static_cast<uint8_t>(out.back()) + 1);
  return out;
}

}  // namespace velocity
