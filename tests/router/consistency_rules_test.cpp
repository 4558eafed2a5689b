// The consistency rules table: every operation against every level, and the
// messages that name the problem.
#define CAF_SUITE consistency_rules
#include "caf/test/unit_test.hpp"

#include <string>
#include <vector>

#include "router/consistency_rules.hpp"

using namespace velocity;

namespace {

const std::vector<consistency> all_levels = {consistency::strong, consistency::quorum,
                                             consistency::eventual, consistency::local};

// The expected table, written out independently of the implementation.
bool allowed(operation_kind op, consistency level) {
  switch (op) {
    case operation_kind::get:
    case operation_kind::list:
    case operation_kind::count:
    case operation_kind::health:
    case operation_kind::status:
    case operation_kind::get_schema:
      return true;
    case operation_kind::insert:
    case operation_kind::update:
    case operation_kind::replace:
    case operation_kind::erase:
      return level != consistency::local;
    default:
      return level == consistency::strong;
  }
}

std::string message_of(const status& st) { return st.message(); }

}  // namespace

CAF_TEST(every operation accepts exactly the levels of the table) {
  size_t checked = 0;
  for (int op_number = 0; op_number <= static_cast<int>(operation_kind::get_schema); ++op_number) {
    auto op = static_cast<operation_kind>(op_number);
    for (auto level : all_levels) {
      status st = check_consistency(op, level);
      CAF_CHECK_EQUAL(st.ok(), allowed(op, level));
      if (!st.ok()) CAF_CHECK(st.code() == error_code::invalid_consistency);
      ++checked;
    }
  }
  CAF_CHECK_EQUAL(checked, 15u * 4u);
}

CAF_TEST(a local write is refused with a message saying writes cannot be local) {
  status st = check_consistency(operation_kind::insert, consistency::local);
  std::string message = message_of(st);
  CAF_CHECK(st.code() == error_code::invalid_consistency);
  CAF_CHECK(message.find("writes cannot be local") != std::string::npos);
  CAF_CHECK(message.find("insert") != std::string::npos);
  std::string erase_message = message_of(check_consistency(operation_kind::erase, consistency::local));
  CAF_CHECK(erase_message.find("delete") != std::string::npos);
}

CAF_TEST(compare and swap claim and schema changes are always strong) {
  status st = check_consistency(operation_kind::compare_and_swap, consistency::eventual);
  std::string message = message_of(st);
  CAF_CHECK(st.code() == error_code::invalid_consistency);
  CAF_CHECK(message.find("compare_and_swap is always strong") != std::string::npos);
  CAF_CHECK(message.find("eventual") != std::string::npos);
  CAF_CHECK(!check_consistency(operation_kind::claim, consistency::quorum).ok());
  CAF_CHECK(!check_consistency(operation_kind::alter_schema, consistency::local).ok());
  CAF_CHECK(check_consistency(operation_kind::create_schema, consistency::strong).ok());
}

CAF_TEST(commands map to their operation kinds) {
  CAF_CHECK(operation_of(command{cmd::insert{}}) == operation_kind::insert);
  CAF_CHECK(operation_of(command{cmd::erase{}}) == operation_kind::erase);
  CAF_CHECK(operation_of(command{cmd::compare_and_swap{}}) == operation_kind::compare_and_swap);
  CAF_CHECK(operation_of(command{cmd::claim{}}) == operation_kind::claim);
  CAF_CHECK(operation_of(command{cmd::drop_schema{}}) == operation_kind::drop_schema);
  CAF_CHECK(!check_consistency(command{cmd::update{}}, consistency::local).ok());
  CAF_CHECK(check_consistency(command{cmd::get{}}, consistency::local).ok());
  CAF_CHECK_EQUAL(std::string{to_string(operation_kind::erase)}, "delete");
}

CAF_TEST(an unknown level from the wire is refused even for reads) {
  status st = check_consistency(operation_kind::get, static_cast<consistency>(9));
  CAF_CHECK(st.code() == error_code::invalid_consistency);
  std::string message = message_of(st);
  CAF_CHECK(message.find("unknown consistency level 9") != std::string::npos);
}
