// Error codes and the status / status_or value types used by every pure folder.
//
// Expected failures are values, never exceptions: functions return `status` or
// `status_or<T>`, both [[nodiscard]]. Every error carries a code from the one
// enum below (mirrored in protocols/common.capnp so errors cross nodes as data)
// and a human-readable message naming the problem.
//
// Thread safety: plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "protocols/check.hpp"

namespace velocity {

// Numeric values are wire format (protocols/common.capnp ErrorCode): append only.
enum class error_code : uint16_t {
  ok = 0,
  not_found = 1,
  already_exists = 2,
  version_conflict = 3,
  condition_failed = 4,
  schema_violation = 5,
  invalid_argument = 6,
  too_large = 7,
  unknown_collection = 8,
  unique_violation = 9,
  unavailable = 10,
  not_leader = 11,
  timeout = 12,
  invalid_consistency = 13,
  not_local = 14,
  compacted = 15,
  corruption = 16,
  io_error = 17,
  internal = 18,
  malformed = 19,
  overloaded = 20,
};

inline constexpr uint16_t error_code_count = 21;

// Stable snake_case name, e.g. "version_conflict" (used by the CLI and logs).
std::string_view to_string(error_code code);

// Parses a name produced by to_string; returns false for unknown names.
bool from_string(std::string_view name, error_code& out);

class [[nodiscard]] status {
 public:
  status() = default;  // ok
  status(error_code code, std::string message) : code_(code), message_(std::move(message)) {}

  static status success() { return status{}; }

  bool ok() const { return code_ == error_code::ok; }
  error_code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "version_conflict: expected version 3, stored version 4"
  std::string to_string() const;

  // Marks a status as deliberately unused (e.g. best-effort cleanup).
  void ignore() const {}

  friend bool operator==(const status& a, const status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  error_code code_ = error_code::ok;
  std::string message_;
};

// Either a value or a non-ok status. Accessing the value of an error aborts
// (a programmer error), so check ok() first.
template <class T>
class [[nodiscard]] status_or {
 public:
  status_or(T value) : data_(std::in_place_index<1>, std::move(value)) {}  // NOLINT: implicit by design
  status_or(status error) : data_(std::in_place_index<0>, std::move(error)) {  // NOLINT
    VELOCITY_CHECK(!std::get<0>(data_).ok());
  }
  status_or(error_code code, std::string message)
      : status_or(status{code, std::move(message)}) {}

  bool ok() const { return data_.index() == 1; }

  const status& error() const {
    VELOCITY_CHECK(!ok());
    return std::get<0>(data_);
  }
  status to_status() const { return ok() ? status{} : std::get<0>(data_); }

  T& value() & {
    VELOCITY_CHECK(ok());
    return std::get<1>(data_);
  }
  const T& value() const& {
    VELOCITY_CHECK(ok());
    return std::get<1>(data_);
  }
  T&& value() && {
    VELOCITY_CHECK(ok());
    return std::get<1>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<status, T> data_;
};

}  // namespace velocity
