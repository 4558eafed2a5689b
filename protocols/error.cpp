// Names for error codes, and the compile-time check that the C++ enum and the
// Cap'n Proto ErrorCode enum agree value for value.
#include "protocols/error.hpp"

#include <array>

#include "protocols/common.capnp.h"

namespace velocity {
namespace {

constexpr std::array<std::string_view, error_code_count> error_names = {
    "ok",           "not_found",       "already_exists",     "version_conflict",
    "condition_failed", "schema_violation", "invalid_argument", "too_large",
    "unknown_collection", "unique_violation", "unavailable",   "not_leader",
    "timeout",      "invalid_consistency", "not_local",       "compacted",
    "corruption",   "io_error",        "internal",           "malformed",
    "overloaded",
};

#define VELOCITY_SAME(cpp, wire_name)                                          \
  static_assert(static_cast<uint16_t>(error_code::cpp) ==                 \
                static_cast<uint16_t>(wire::ErrorCode::wire_name), #cpp)
VELOCITY_SAME(ok, OK);
VELOCITY_SAME(not_found, NOT_FOUND);
VELOCITY_SAME(already_exists, ALREADY_EXISTS);
VELOCITY_SAME(version_conflict, VERSION_CONFLICT);
VELOCITY_SAME(condition_failed, CONDITION_FAILED);
VELOCITY_SAME(schema_violation, SCHEMA_VIOLATION);
VELOCITY_SAME(invalid_argument, INVALID_ARGUMENT);
VELOCITY_SAME(too_large, TOO_LARGE);
VELOCITY_SAME(unknown_collection, UNKNOWN_COLLECTION);
VELOCITY_SAME(unique_violation, UNIQUE_VIOLATION);
VELOCITY_SAME(unavailable, UNAVAILABLE);
VELOCITY_SAME(not_leader, NOT_LEADER);
VELOCITY_SAME(timeout, TIMEOUT);
VELOCITY_SAME(invalid_consistency, INVALID_CONSISTENCY);
VELOCITY_SAME(not_local, NOT_LOCAL);
VELOCITY_SAME(compacted, COMPACTED);
VELOCITY_SAME(corruption, CORRUPTION);
VELOCITY_SAME(io_error, IO_ERROR);
VELOCITY_SAME(internal, INTERNAL);
VELOCITY_SAME(malformed, MALFORMED);
VELOCITY_SAME(overloaded, OVERLOADED);
#undef VELOCITY_SAME

}  // namespace

std::string_view to_string(error_code code) {
  auto index = static_cast<size_t>(code);
  return index < error_names.size() ? error_names[index] : std::string_view{"unknown_error"};
}

bool from_string(std::string_view name, error_code& out) {
  for (size_t i = 0; i < error_names.size(); ++i) {
    if (error_names[i] == name) {
      out = static_cast<error_code>(i);
      return true;
    }
  }
  return false;
}

std::string status::to_string() const {
  if (ok()) return "ok";
  std::string out{velocity::to_string(code_)};
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace velocity
