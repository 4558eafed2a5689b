// Field predicates for claim and compare-and-swap: a conjunction of conditions,
// each on one dotted field path, evaluated against a document's fields.
//
// JSON form (the human edge), one key per path, MongoDB-like:
//   {"cpu": {"$le": 4}, "state": "waiting", "name": {"$eq_ci": "Alice"},
//    "targets": {"$contains_or_empty": "worker-7"}, "tags": {"$in": ["a", "b"]}}
// A bare value means $eq. Several operators on one path are all required.
//
// Semantics (compare() order from value.hpp; a missing field is "absent"):
//   eq / ne        equal / not equal (absent is not equal to anything)
//   lt le gt ge    ordered comparison; false when absent or kinds differ
//                  (numbers compare across int and float)
//   in             the field's value equals one element of the operand list
//   contains       the field is a list containing the operand
//   contains_or_empty  the field is absent, null, an empty list, or a list
//                  containing the operand
//   eq_ci          both are strings equal under ASCII case folding
//   exists         operand true: field present; false: absent
//
// Thread safety: pure.
#pragma once

#include <string>
#include <vector>

#include "protocols/error.hpp"
#include "schema/value.hpp"

namespace velocity {

enum class filter_op : uint8_t { eq, ne, lt, le, gt, ge, in, contains, contains_or_empty, eq_ci, exists };

std::string_view to_string(filter_op op);  // "$eq", "$le", ...

struct filter_condition {
  std::string path;
  filter_op op = filter_op::eq;
  value operand;
  friend bool operator==(const filter_condition&, const filter_condition&) = default;
};

struct filter {
  std::vector<filter_condition> conditions;  // all must hold; empty matches everything
  bool empty() const { return conditions.empty(); }
  friend bool operator==(const filter&, const filter&) = default;
};

// Checks operand shapes (in takes a list; exists takes a bool; eq_ci a string)
// and limits; invalid_argument naming the path and operator otherwise.
status validate_filter(const filter& f);

bool matches(const filter& f, const value_map& fields);

// From the JSON-form value above. invalid_argument on unknown operators or bad shapes.
status_or<filter> filter_from_value(const value& v);
value filter_to_value(const filter& f);

}  // namespace velocity
