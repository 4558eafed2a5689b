// JSON text <-> values, for the human edges only (CLI, HTTP pages, tools).
// Parsing uses simdjson (no hand-written parser); every limit below gives a
// malformed or too_large status naming the problem and its position if known.
//
// Mapping: JSON null/bool/string/array/object map to the matching kinds;
// integers that fit int64 become int, other numbers float; integers outside
// int64 are rejected (malformed: "number out of range"), never rounded. Bytes
// have no JSON kind: they appear as {"$bytes": "<base64>"} both ways.
// Duplicate object keys are rejected. Invalid UTF-8 is rejected.
//
// Thread safety: pure functions (the parser is created per call or thread-local).
#pragma once

#include <string>
#include <string_view>

#include "protocols/error.hpp"
#include "protocols/limits.hpp"
#include "schema/value.hpp"

namespace velocity {

struct json_limits {
  size_t text_bytes_max = limits::json_text_bytes_max;
  size_t nesting_depth_max = limits::nesting_depth_max;
  size_t string_bytes_max = limits::string_bytes_max;
  size_t values_max = limits::values_per_document_max;  // list elements plus map entries
};

status_or<value> parse_json(std::string_view text, const json_limits& lim = {});

// Compact JSON with sorted keys; floats print so that they parse back to the
// same double (and always with a '.' or exponent so they stay floats);
// NaN and infinities print as null.
std::string to_json(const value& v);

// {"id":..,"version":..,"created_ns":..,"modified_ns":..,"revision":..,"fields":{..}}
std::string document_to_json(const document& d);
status_or<document> document_from_json(std::string_view text, const json_limits& lim = {});

}  // namespace velocity
