// Document values: the JSON-like tree every other part of the system speaks.
//
// A value is null, bool, int64, float64, string, bytes, list or map. Maps are
// ordered by key (std::map), so iteration, encoding and comparison are
// deterministic. A document is an id, version, times, revision and a map of
// fields.
//
// Total order (compare): values of different kinds order by kind rank
// null < bool < number < string < bytes < list < map; ints and floats are both
// "number" and compare numerically (NaN sorts below every other number);
// strings and bytes compare bytewise; lists and maps lexicographically.
//
// Thread safety: plain values.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace velocity {

class value;

// Raw bytes, kept apart from text so JSON and schemas can tell them apart.
struct bytes_value {
  std::string data;
  friend bool operator==(const bytes_value&, const bytes_value&) = default;
};

using value_list = std::vector<value>;
using value_map = std::map<std::string, value, std::less<>>;

enum class value_kind : uint8_t { null, boolean, integer, floating, string, bytes, list, map };

std::string_view to_string(value_kind kind);

class value {
 public:
  value() = default;  // null
  value(std::nullptr_t) {}
  value(bool x) : data_(x) {}
  value(int x) : data_(int64_t{x}) {}
  value(int64_t x) : data_(x) {}
  value(uint32_t x) : data_(int64_t{x}) {}
  value(double x) : data_(x) {}
  value(const char* x) : data_(std::string{x}) {}
  value(std::string x) : data_(std::move(x)) {}
  value(std::string_view x) : data_(std::string{x}) {}
  value(bytes_value x) : data_(std::move(x)) {}
  value(value_list x) : data_(std::move(x)) {}
  value(value_map x) : data_(std::move(x)) {}

  value_kind kind() const { return static_cast<value_kind>(data_.index()); }
  bool is_null() const { return kind() == value_kind::null; }
  bool is_bool() const { return kind() == value_kind::boolean; }
  bool is_int() const { return kind() == value_kind::integer; }
  bool is_float() const { return kind() == value_kind::floating; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind() == value_kind::string; }
  bool is_bytes() const { return kind() == value_kind::bytes; }
  bool is_list() const { return kind() == value_kind::list; }
  bool is_map() const { return kind() == value_kind::map; }

  // Accessors require the matching kind (checked; a mismatch is a programmer error).
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;
  double as_number() const;  // int or float, as double
  const std::string& as_string() const;
  const bytes_value& as_bytes() const;
  const value_list& as_list() const;
  value_list& as_list();
  const value_map& as_map() const;
  value_map& as_map();

  friend bool operator==(const value& a, const value& b);

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, bytes_value, value_list,
               value_map>
      data_;
};

// Total order described at the top of this file.
std::strong_ordering compare(const value& a, const value& b);

// Field paths are dot-separated map keys: "resources.cpu". Lookup through a
// non-map or a missing key yields nullptr.
const value* find_path(const value_map& fields, std::string_view path);

// Sets the value at a dotted path, creating intermediate maps and replacing
// non-map intermediates. Returns false if the path is empty or has an empty segment.
bool set_path(value_map& fields, std::string_view path, value v);

// Removes the value at a dotted path; returns whether something was removed.
bool erase_path(value_map& fields, std::string_view path);

// RFC 7396 JSON merge patch: maps merge recursively, null removes a key, any
// other value replaces. Returns the patched map.
void merge_patch(value_map& target, const value_map& patch);

// Nesting depth: scalars are 0, a list or map is 1 + its deepest child.
size_t nesting_depth(const value& v);

struct document {
  std::string id;
  uint64_t version = 0;      // 1 on insert, +1 per change
  int64_t created_ns = 0;    // from the inserting command, never a clock
  int64_t modified_ns = 0;   // from the last changing command
  uint64_t revision = 0;     // log index of the last change in its shard
  value_map fields;

  friend bool operator==(const document&, const document&) = default;
};

}  // namespace velocity
