// Value accessors, total order, dotted paths and merge patch (see value.hpp).
#include "schema/value.hpp"

#include <cmath>

#include "protocols/check.hpp"

namespace velocity {

std::string_view to_string(value_kind kind) {
  switch (kind) {
    case value_kind::null: return "null";
    case value_kind::boolean: return "bool";
    case value_kind::integer: return "int";
    case value_kind::floating: return "float";
    case value_kind::string: return "string";
    case value_kind::bytes: return "bytes";
    case value_kind::list: return "list";
    case value_kind::map: return "map";
  }
  return "unknown";
}

bool value::as_bool() const { VELOCITY_CHECK(is_bool()); return std::get<bool>(data_); }
int64_t value::as_int() const { VELOCITY_CHECK(is_int()); return std::get<int64_t>(data_); }
double value::as_float() const { VELOCITY_CHECK(is_float()); return std::get<double>(data_); }
double value::as_number() const {
  return is_int() ? static_cast<double>(as_int()) : as_float();
}
const std::string& value::as_string() const {
  VELOCITY_CHECK(is_string());
  return std::get<std::string>(data_);
}
const bytes_value& value::as_bytes() const {
  VELOCITY_CHECK(is_bytes());
  return std::get<bytes_value>(data_);
}
const value_list& value::as_list() const {
  VELOCITY_CHECK(is_list());
  return std::get<value_list>(data_);
}
value_list& value::as_list() {
  VELOCITY_CHECK(is_list());
  return std::get<value_list>(data_);
}
const value_map& value::as_map() const {
  VELOCITY_CHECK(is_map());
  return std::get<value_map>(data_);
}
value_map& value::as_map() {
  VELOCITY_CHECK(is_map());
  return std::get<value_map>(data_);
}

bool operator==(const value& a, const value& b) { return compare(a, b) == 0; }

namespace {

int kind_rank(value_kind kind) {
  switch (kind) {
    case value_kind::null: return 0;
    case value_kind::boolean: return 1;
    case value_kind::integer:
    case value_kind::floating: return 2;
    case value_kind::string: return 3;
    case value_kind::bytes: return 4;
    case value_kind::list: return 5;
    case value_kind::map: return 6;
  }
  return 7;
}

std::strong_ordering compare_numbers(const value& a, const value& b) {
  if (a.is_int() && b.is_int()) return a.as_int() <=> b.as_int();
  double x = a.as_number();
  double y = b.as_number();
  bool x_nan = std::isnan(x);
  bool y_nan = std::isnan(y);
  if (x_nan || y_nan) return y_nan <=> x_nan;  // NaN below everything, NaN == NaN
  if (x < y) return std::strong_ordering::less;
  if (x > y) return std::strong_ordering::greater;
  // Equal as doubles: break ties between an int and a float exactly, so that
  // 2^53+1 (int) and 2^53 (float) do not compare equal. A float equal to some
  // double of an int64 lies in [-2^63, 2^63]; 2^63 itself exceeds every int64,
  // and casting it would be undefined, so it is handled first.
  constexpr double two_pow_63 = 9223372036854775808.0;
  if (a.is_int() && b.is_float()) {
    if (y >= two_pow_63) return std::strong_ordering::less;
    return a.as_int() <=> static_cast<int64_t>(y);
  }
  if (a.is_float() && b.is_int()) {
    if (x >= two_pow_63) return std::strong_ordering::greater;
    return static_cast<int64_t>(x) <=> b.as_int();
  }
  return std::strong_ordering::equal;
}

}  // namespace

std::strong_ordering compare(const value& a, const value& b) {
  int rank_a = kind_rank(a.kind());
  int rank_b = kind_rank(b.kind());
  if (rank_a != rank_b) return rank_a <=> rank_b;
  switch (a.kind()) {
    case value_kind::null: return std::strong_ordering::equal;
    case value_kind::boolean: return a.as_bool() <=> b.as_bool();
    case value_kind::integer:
    case value_kind::floating: return compare_numbers(a, b);
    case value_kind::string: return a.as_string().compare(b.as_string()) <=> 0;
    case value_kind::bytes: return a.as_bytes().data.compare(b.as_bytes().data) <=> 0;
    case value_kind::list: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (auto c = compare(x[i], y[i]); c != 0) return c;
      }
      return x.size() <=> y.size();
    }
    case value_kind::map: {
      const auto& x = a.as_map();
      const auto& y = b.as_map();
      auto i = x.begin();
      auto j = y.begin();
      for (; i != x.end() && j != y.end(); ++i, ++j) {
        if (auto c = i->first.compare(j->first) <=> 0; c != 0) return c;
        if (auto c = compare(i->second, j->second); c != 0) return c;
      }
      return x.size() <=> y.size();
    }
  }
  return std::strong_ordering::equal;
}

namespace {

// Splits "a.b.c" into its first segment and the rest.
std::pair<std::string_view, std::string_view> split_first(std::string_view path) {
  auto dot = path.find('.');
  if (dot == std::string_view::npos) return {path, {}};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

}  // namespace

const value* find_path(const value_map& fields, std::string_view path) {
  const value_map* current = &fields;
  while (true) {
    auto [head, rest] = split_first(path);
    auto it = current->find(head);
    if (it == current->end()) return nullptr;
    if (rest.empty()) return path.find('.') == std::string_view::npos ? &it->second : nullptr;
    if (!it->second.is_map()) return nullptr;
    current = &it->second.as_map();
    path = rest;
  }
}

bool set_path(value_map& fields, std::string_view path, value v) {
  value_map* current = &fields;
  while (true) {
    auto [head, rest] = split_first(path);
    if (head.empty()) return false;
    bool last = path.find('.') == std::string_view::npos;
    if (last) {
      current->insert_or_assign(std::string{head}, std::move(v));
      return true;
    }
    if (rest.empty()) return false;  // trailing dot
    auto it = current->find(head);
    if (it == current->end()) {
      it = current->emplace(std::string{head}, value{value_map{}}).first;
    } else if (!it->second.is_map()) {
      it->second = value{value_map{}};
    }
    current = &it->second.as_map();
    path = rest;
  }
}

bool erase_path(value_map& fields, std::string_view path) {
  value_map* current = &fields;
  while (true) {
    auto [head, rest] = split_first(path);
    auto it = current->find(head);
    if (it == current->end()) return false;
    if (path.find('.') == std::string_view::npos) {
      current->erase(it);
      return true;
    }
    if (rest.empty() || !it->second.is_map()) return false;
    current = &it->second.as_map();
    path = rest;
  }
}

void merge_patch(value_map& target, const value_map& patch) {
  for (const auto& [key, patch_value] : patch) {
    if (patch_value.is_null()) {
      target.erase(key);
      continue;
    }
    if (patch_value.is_map()) {
      auto it = target.find(key);
      if (it == target.end() || !it->second.is_map()) {
        value_map fresh;
        merge_patch(fresh, patch_value.as_map());
        target.insert_or_assign(key, value{std::move(fresh)});
      } else {
        merge_patch(it->second.as_map(), patch_value.as_map());
      }
      continue;
    }
    target.insert_or_assign(key, patch_value);
  }
}

size_t nesting_depth(const value& v) {
  size_t deepest = 0;
  if (v.is_list()) {
    for (const auto& child : v.as_list()) deepest = std::max(deepest, nesting_depth(child));
    return deepest + 1;
  }
  if (v.is_map()) {
    for (const auto& [key, child] : v.as_map()) deepest = std::max(deepest, nesting_depth(child));
    return deepest + 1;
  }
  return 0;
}

}  // namespace velocity
