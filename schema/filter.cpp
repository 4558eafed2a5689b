// Field predicates for claim and compare-and-swap (see filter.hpp): evaluation,
// validation and the JSON-form value conversion.
//
// Decisions beyond the header:
// - A field holding null is present: $exists true matches it, $eq null matches
//   it. Only $contains_or_empty treats null like absent (as documented).
// - $eq_ci folds ASCII letters only; other bytes (UTF-8 included) must match exactly.
// - The JSON form is a map, so one (path, operator) pair can appear only once;
//   validate_filter rejects a repeated pair so every valid filter has a JSON form.
// - filter_from_value orders conditions by path, then by operator name (the map
//   order), so filter_from_value(filter_to_value(f)) == f for filters in that order.
//
// Thread safety: pure functions, no shared state.
#include "schema/filter.hpp"

#include <array>
#include <cmath>
#include <set>
#include <utility>

#include "protocols/limits.hpp"

namespace velocity {

namespace {

constexpr std::array<filter_op, 11> all_ops = {
    filter_op::eq, filter_op::ne,       filter_op::lt,       filter_op::le,
    filter_op::gt, filter_op::ge,       filter_op::in,       filter_op::contains,
    filter_op::contains_or_empty,       filter_op::eq_ci,    filter_op::exists};

bool op_from_string(std::string_view name, filter_op& out) {
  for (filter_op op : all_ops) {
    if (to_string(op) == name) {
      out = op;
      return true;
    }
  }
  return false;
}

// Kind classes for ordered comparison: ints and floats are both numbers.
int comparison_class(const value& v) {
  return v.is_int() ? static_cast<int>(value_kind::floating) : static_cast<int>(v.kind());
}

char fold_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ascii_case_folded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (fold_ascii(a[i]) != fold_ascii(b[i])) return false;
  return true;
}

bool list_contains(const value_list& list, const value& operand) {
  for (const value& element : list)
    if (compare(element, operand) == 0) return true;
  return false;
}

bool is_nan(const value& v) { return v.is_float() && std::isnan(v.as_float()); }

bool ordered_holds(filter_op op, const value* field, const value& operand) {
  if (field == nullptr || comparison_class(*field) != comparison_class(operand)) return false;
  // NaN sorts below every number in the value order, but "NaN <= 4" must not
  // make a job with a NaN cpu eligible: NaN satisfies no ordered comparison.
  if (is_nan(*field) || is_nan(operand)) return false;
  auto order = compare(*field, operand);
  switch (op) {
    case filter_op::lt: return order < 0;
    case filter_op::le: return order <= 0;
    case filter_op::gt: return order > 0;
    case filter_op::ge: return order >= 0;
    default: break;
  }
  VELOCITY_CHECK(false && "ordered_holds called with a non-ordering operator");
  return false;
}

bool condition_holds(const filter_condition& c, const value_map& fields) {
  const value* field = find_path(fields, c.path);
  switch (c.op) {
    case filter_op::eq: return field != nullptr && compare(*field, c.operand) == 0;
    case filter_op::ne: return field == nullptr || compare(*field, c.operand) != 0;
    case filter_op::lt:
    case filter_op::le:
    case filter_op::gt:
    case filter_op::ge: return ordered_holds(c.op, field, c.operand);
    case filter_op::in:
      return field != nullptr && c.operand.is_list() && list_contains(c.operand.as_list(), *field);
    case filter_op::contains:
      return field != nullptr && field->is_list() && list_contains(field->as_list(), c.operand);
    case filter_op::contains_or_empty:
      if (field == nullptr || field->is_null()) return true;
      return field->is_list() &&
             (field->as_list().empty() || list_contains(field->as_list(), c.operand));
    case filter_op::eq_ci:
      return field != nullptr && field->is_string() && c.operand.is_string() &&
             equal_ascii_case_folded(field->as_string(), c.operand.as_string());
    case filter_op::exists:
      return c.operand.is_bool() && (field != nullptr) == c.operand.as_bool();
  }
  return false;
}

// Empty paths, empty segments ("a..b") and overlong segments can never name a field.
std::string path_problem(std::string_view path) {
  if (path.empty()) return "empty field path";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('.', start);
    if (end == std::string_view::npos) end = path.size();
    size_t segment_bytes = end - start;
    if (segment_bytes == 0) return "field path '" + std::string{path} + "' has an empty segment";
    if (segment_bytes > limits::field_name_bytes_max)
      return "field path '" + std::string{path} + "' has a segment longer than " +
             std::to_string(limits::field_name_bytes_max) + " bytes";
    start = end + 1;
  }
  return {};
}

// The operand shape each operator needs; empty when it is fine.
std::string operand_problem(const filter_condition& c) {
  std::string where = c.path + " " + std::string{to_string(c.op)} + ": ";
  if (nesting_depth(c.operand) > limits::nesting_depth_max)
    return where + "operand nested deeper than " + std::to_string(limits::nesting_depth_max);
  switch (c.op) {
    case filter_op::in:
      if (!c.operand.is_list()) return where + "operand must be a list, got " +
                                       std::string{to_string(c.operand.kind())};
      break;
    case filter_op::exists:
      if (!c.operand.is_bool()) return where + "operand must be a bool, got " +
                                       std::string{to_string(c.operand.kind())};
      break;
    case filter_op::eq_ci:
      if (!c.operand.is_string()) return where + "operand must be a string, got " +
                                        std::string{to_string(c.operand.kind())};
      break;
    default: break;
  }
  return {};
}

void append_problem(std::string& message, const std::string& problem) {
  if (problem.empty()) return;
  if (!message.empty()) message += "; ";
  message += problem;
}

// A map is an operator map when it is non-empty and every key starts with '$'.
// Returns false for a literal operand; sets `mixed` when some keys do and some do not.
bool is_operator_map(const value& v, bool& mixed) {
  mixed = false;
  if (!v.is_map() || v.as_map().empty()) return false;
  size_t dollar_keys = 0;
  for (const auto& [key, unused] : v.as_map())
    if (!key.empty() && key.front() == '$') ++dollar_keys;
  mixed = dollar_keys != 0 && dollar_keys != v.as_map().size();
  return dollar_keys == v.as_map().size();
}

status parse_operator_map(const std::string& path, const value_map& ops, filter& out) {
  for (const auto& [name, operand] : ops) {
    filter_op op = filter_op::eq;
    if (!op_from_string(name, op))
      return {error_code::invalid_argument,
              "filter: unknown operator '" + name + "' on path '" + path + "'"};
    out.conditions.push_back(filter_condition{path, op, operand});
  }
  return {};
}

}  // namespace

std::string_view to_string(filter_op op) {
  switch (op) {
    case filter_op::eq: return "$eq";
    case filter_op::ne: return "$ne";
    case filter_op::lt: return "$lt";
    case filter_op::le: return "$le";
    case filter_op::gt: return "$gt";
    case filter_op::ge: return "$ge";
    case filter_op::in: return "$in";
    case filter_op::contains: return "$contains";
    case filter_op::contains_or_empty: return "$contains_or_empty";
    case filter_op::eq_ci: return "$eq_ci";
    case filter_op::exists: return "$exists";
  }
  return "$unknown";
}

status validate_filter(const filter& f) {
  if (f.conditions.size() > limits::filter_conditions_max)
    return {error_code::invalid_argument,
            "filter: " + std::to_string(f.conditions.size()) + " conditions, at most " +
                std::to_string(limits::filter_conditions_max) + " allowed"};
  std::string message;
  std::set<std::pair<std::string_view, filter_op>> seen;
  for (const filter_condition& c : f.conditions) {
    append_problem(message, path_problem(c.path));
    append_problem(message, operand_problem(c));
    if (!seen.emplace(c.path, c.op).second)
      append_problem(message, c.path + " " + std::string{to_string(c.op)} + ": repeated condition");
  }
  if (message.empty()) return {};
  return {error_code::invalid_argument, "filter: " + message};
}

bool matches(const filter& f, const value_map& fields) {
  for (const filter_condition& c : f.conditions)
    if (!condition_holds(c, fields)) return false;
  return true;
}

status_or<filter> filter_from_value(const value& v) {
  if (!v.is_map())
    return status{error_code::invalid_argument,
                  "filter: must be a map of field paths, got " + std::string{to_string(v.kind())}};
  filter out;
  for (const auto& [path, spec] : v.as_map()) {
    bool mixed = false;
    if (is_operator_map(spec, mixed)) {
      if (auto s = parse_operator_map(path, spec.as_map(), out); !s.ok()) return s;
    } else if (mixed) {
      return status{error_code::invalid_argument,
                    "filter: path '" + path + "' mixes '$' operators with literal keys"};
    } else {
      out.conditions.push_back(filter_condition{path, filter_op::eq, spec});
    }
  }
  if (auto s = validate_filter(out); !s.ok()) return s;
  return out;
}

value filter_to_value(const filter& f) {
  // Group by path; a lone $eq whose operand would not read as an operator map
  // stays a bare value, everything else becomes an operator map.
  std::map<std::string, value_map, std::less<>> by_path;
  for (const filter_condition& c : f.conditions)
    by_path[c.path].insert_or_assign(std::string{to_string(c.op)}, c.operand);
  value_map out;
  for (auto& [path, ops] : by_path) {
    auto eq = ops.find(to_string(filter_op::eq));
    bool mixed = false;
    bool bare = ops.size() == 1 && eq != ops.end() && !is_operator_map(eq->second, mixed) && !mixed;
    if (bare)
      out.emplace(path, std::move(eq->second));
    else
      out.emplace(path, value{std::move(ops)});
  }
  return value{std::move(out)};
}

}  // namespace velocity
