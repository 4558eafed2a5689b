#define CAF_SUITE value
#include "caf/test/unit_test.hpp"

#include "schema/value.hpp"

using namespace velocity;

CAF_TEST(kinds order null bool number string bytes list map) {
  std::vector<value> ordered = {value{},           value{false},          value{true},
                                value{-5},         value{2.5},            value{3},
                                value{"a"},        value{bytes_value{"a"}}, value{value_list{}},
                                value{value_map{}}};
  for (size_t i = 0; i + 1 < ordered.size(); ++i)
    CAF_CHECK(compare(ordered[i], ordered[i + 1]) < 0);
}

CAF_TEST(ints and floats compare numerically and exactly) {
  CAF_CHECK(compare(value{2}, value{2.0}) == 0);
  CAF_CHECK(compare(value{2}, value{2.5}) < 0);
  int64_t big = (int64_t{1} << 53) + 1;
  CAF_CHECK(compare(value{big}, value{static_cast<double>(int64_t{1} << 53)}) > 0);
}

CAF_TEST(dotted paths find set and erase nested fields) {
  value_map fields;
  CAF_CHECK(set_path(fields, "resources.cpu", value{4}));
  const value* cpu = find_path(fields, "resources.cpu");
  CAF_REQUIRE(cpu != nullptr);
  CAF_CHECK_EQUAL(cpu->as_int(), 4);
  CAF_CHECK(find_path(fields, "resources.gpu") == nullptr);
  CAF_CHECK(find_path(fields, "resources.cpu.x") == nullptr);
  CAF_CHECK(!set_path(fields, "a..b", value{1}));
  CAF_CHECK(erase_path(fields, "resources.cpu"));
  CAF_CHECK(find_path(fields, "resources.cpu") == nullptr);
}

CAF_TEST(merge patch merges maps and removes nulls) {
  value_map target{{"a", value{1}}, {"m", value{value_map{{"x", value{1}}, {"y", value{2}}}}}};
  value_map patch{{"a", value{}}, {"b", value{"new"}}, {"m", value{value_map{{"y", value{}}, {"z", value{3}}}}}};
  merge_patch(target, patch);
  CAF_CHECK(find_path(target, "a") == nullptr);
  CAF_CHECK_EQUAL(find_path(target, "b")->as_string(), "new");
  CAF_CHECK_EQUAL(find_path(target, "m.x")->as_int(), 1);
  CAF_CHECK(find_path(target, "m.y") == nullptr);
  CAF_CHECK_EQUAL(find_path(target, "m.z")->as_int(), 3);
}

CAF_TEST(nesting depth counts containers) {
  CAF_CHECK_EQUAL(nesting_depth(value{1}), 0u);
  CAF_CHECK_EQUAL(nesting_depth(value{value_list{value{value_map{}}}}), 2u);
}

CAF_TEST(ints near int64 max compare below the float 2 pow 63) {
  double two_pow_63 = 9223372036854775808.0;
  CAF_CHECK(compare(value{INT64_MAX}, value{two_pow_63}) < 0);
  CAF_CHECK(compare(value{two_pow_63}, value{INT64_MAX - 100}) > 0);
  CAF_CHECK(compare(value{INT64_MIN}, value{-two_pow_63}) == 0);
}
