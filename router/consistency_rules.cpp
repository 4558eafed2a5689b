// Consistency rules per operation; see router/consistency_rules.hpp.
#include "router/consistency_rules.hpp"

#include <string>
#include <type_traits>

namespace velocity {

std::string_view to_string(operation_kind op) {
  switch (op) {
    case operation_kind::insert: return "insert";
    case operation_kind::get: return "get";
    case operation_kind::update: return "update";
    case operation_kind::replace: return "replace";
    case operation_kind::erase: return "delete";
    case operation_kind::compare_and_swap: return "compare_and_swap";
    case operation_kind::list: return "list";
    case operation_kind::count: return "count";
    case operation_kind::claim: return "claim";
    case operation_kind::create_schema: return "create_schema";
    case operation_kind::alter_schema: return "alter_schema";
    case operation_kind::drop_schema: return "drop_schema";
    case operation_kind::health: return "health";
    case operation_kind::status: return "status";
    case operation_kind::get_schema: return "get_schema";
  }
  return "unknown";
}

operation_kind operation_of(const command& c) {
  // The variant's alternatives are in the same order as the first twelve kinds.
  static_assert(std::variant_size_v<command> == 12);
  static_assert(std::is_same_v<std::variant_alternative_t<5, command>, cmd::compare_and_swap>);
  static_assert(std::is_same_v<std::variant_alternative_t<11, command>, cmd::drop_schema>);
  return static_cast<operation_kind>(c.index());
}

consistency_class consistency_class_of(operation_kind op) {
  switch (op) {
    case operation_kind::get:
    case operation_kind::list:
    case operation_kind::count:
    case operation_kind::health:
    case operation_kind::status:
    case operation_kind::get_schema:
      return consistency_class::read;
    case operation_kind::insert:
    case operation_kind::update:
    case operation_kind::replace:
    case operation_kind::erase:
      return consistency_class::write;
    case operation_kind::compare_and_swap:
    case operation_kind::claim:
    case operation_kind::create_schema:
    case operation_kind::alter_schema:
    case operation_kind::drop_schema:
      return consistency_class::strong_only;
  }
  VELOCITY_CHECK(false);
  return consistency_class::strong_only;
}

status check_consistency(operation_kind op, consistency level) {
  const std::string name{to_string(op)};
  const std::string level_name{to_string(level)};
  if (level_name == "unknown") {
    // Levels arrive from the wire; decoders should map them, but never trust it.
    return {error_code::invalid_consistency,
            "unknown consistency level " + std::to_string(static_cast<int>(level)) + " for " + name};
  }
  switch (consistency_class_of(op)) {
    case consistency_class::read:
      return {};
    case consistency_class::write:
      if (level != consistency::local) return {};
      return {error_code::invalid_consistency,
              name + " cannot be local: writes cannot be local (use strong, quorum or eventual)"};
    case consistency_class::strong_only:
      if (level == consistency::strong) return {};
      return {error_code::invalid_consistency,
              name + " is always strong; " + level_name + " is not allowed"};
  }
  VELOCITY_CHECK(false);
  return {};
}

status check_consistency(const command& c, consistency level) {
  return check_consistency(operation_of(c), level);
}

}  // namespace velocity
