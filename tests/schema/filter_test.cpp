// Tests for field filters (schema/filter.hpp): every operator in a matching and a
// non-matching case, operand validation, limits and the JSON-form round trip.
#define CAF_SUITE filter
#include "caf/test/unit_test.hpp"

#include <cmath>

#include <string>

#include "protocols/limits.hpp"
#include "schema/filter.hpp"

using namespace velocity;

namespace {

filter one(std::string path, filter_op op, value operand) {
  return filter{{filter_condition{std::move(path), op, std::move(operand)}}};
}

// A job-like document: nested resources, a list of targets, a name.
value_map job() {
  return value_map{{"state", value{"waiting"}},
                   {"cpu", value{4}},
                   {"load", value{0.5}},
                   {"name", value{"Alice"}},
                   {"targets", value{value_list{value{"worker-1"}, value{"worker-7"}}}},
                   {"none", value{}},
                   {"empty", value{value_list{}}},
                   {"resources", value{value_map{{"gpu", value{2}}}}}};
}

bool holds(std::string path, filter_op op, value operand) {
  return matches(one(std::move(path), op, std::move(operand)), job());
}

}  // namespace

CAF_TEST(an empty filter matches every document) {
  CAF_CHECK(matches(filter{}, job()));
  CAF_CHECK(matches(filter{}, value_map{}));
}

CAF_TEST(eq matches an equal value and not a different or absent one) {
  CAF_CHECK(holds("state", filter_op::eq, value{"waiting"}));
  CAF_CHECK(holds("cpu", filter_op::eq, value{4.0}));
  CAF_CHECK(holds("resources.gpu", filter_op::eq, value{2}));
  CAF_CHECK(!holds("state", filter_op::eq, value{"running"}));
  CAF_CHECK(!holds("missing", filter_op::eq, value{}));
}

CAF_TEST(ne matches a different or absent value and not an equal one) {
  CAF_CHECK(holds("state", filter_op::ne, value{"running"}));
  CAF_CHECK(holds("missing", filter_op::ne, value{"x"}));
  CAF_CHECK(!holds("state", filter_op::ne, value{"waiting"}));
}

CAF_TEST(lt holds for smaller values of the same kind only) {
  CAF_CHECK(holds("cpu", filter_op::lt, value{5}));
  CAF_CHECK(holds("load", filter_op::lt, value{1}));
  CAF_CHECK(!holds("cpu", filter_op::lt, value{4}));
  CAF_CHECK(!holds("cpu", filter_op::lt, value{"zzz"}));
  CAF_CHECK(!holds("missing", filter_op::lt, value{5}));
}

CAF_TEST(le holds for smaller or equal values) {
  CAF_CHECK(holds("cpu", filter_op::le, value{4}));
  CAF_CHECK(holds("cpu", filter_op::le, value{4.5}));
  CAF_CHECK(!holds("cpu", filter_op::le, value{3}));
  CAF_CHECK(!holds("missing", filter_op::le, value{3}));
}

CAF_TEST(gt holds for larger values of the same kind only) {
  CAF_CHECK(holds("cpu", filter_op::gt, value{3}));
  CAF_CHECK(holds("state", filter_op::gt, value{"running"}));
  CAF_CHECK(!holds("cpu", filter_op::gt, value{4}));
  CAF_CHECK(!holds("state", filter_op::gt, value{1}));
}

CAF_TEST(ge holds for larger or equal values) {
  CAF_CHECK(holds("cpu", filter_op::ge, value{4}));
  CAF_CHECK(holds("load", filter_op::ge, value{0}));
  CAF_CHECK(!holds("cpu", filter_op::ge, value{4.01}));
  CAF_CHECK(!holds("missing", filter_op::ge, value{0}));
}

CAF_TEST(in matches when the value equals one element of the list) {
  CAF_CHECK(holds("state", filter_op::in, value{value_list{value{"running"}, value{"waiting"}}}));
  CAF_CHECK(!holds("state", filter_op::in, value{value_list{value{"running"}, value{"failed"}}}));
  CAF_CHECK(!holds("state", filter_op::in, value{value_list{}}));
  CAF_CHECK(!holds("missing", filter_op::in, value{value_list{value{}}}));
}

CAF_TEST(contains matches a list holding the operand) {
  CAF_CHECK(holds("targets", filter_op::contains, value{"worker-7"}));
  CAF_CHECK(!holds("targets", filter_op::contains, value{"worker-9"}));
  CAF_CHECK(!holds("state", filter_op::contains, value{"waiting"}));
  CAF_CHECK(!holds("missing", filter_op::contains, value{"worker-7"}));
  CAF_CHECK(!holds("empty", filter_op::contains, value{"worker-7"}));
}

CAF_TEST(contains_or_empty matches absent null empty or containing lists) {
  CAF_CHECK(holds("targets", filter_op::contains_or_empty, value{"worker-7"}));
  CAF_CHECK(holds("missing", filter_op::contains_or_empty, value{"worker-7"}));
  CAF_CHECK(holds("none", filter_op::contains_or_empty, value{"worker-7"}));
  CAF_CHECK(holds("empty", filter_op::contains_or_empty, value{"worker-7"}));
  CAF_CHECK(!holds("targets", filter_op::contains_or_empty, value{"worker-9"}));
  CAF_CHECK(!holds("state", filter_op::contains_or_empty, value{"waiting"}));
}

CAF_TEST(eq_ci compares strings under ASCII case folding only) {
  CAF_CHECK(holds("name", filter_op::eq_ci, value{"aLICE"}));
  CAF_CHECK(!holds("name", filter_op::eq_ci, value{"Alicia"}));
  CAF_CHECK(!holds("cpu", filter_op::eq_ci, value{"4"}));
  CAF_CHECK(!holds("missing", filter_op::eq_ci, value{"alice"}));
  // Non-ASCII letters are not folded: U+00C9 and U+00E9 differ.
  CAF_CHECK(!matches(one("n", filter_op::eq_ci, value{"\xc3\xa9"}),
                     value_map{{"n", value{"\xc3\x89"}}}));
}

CAF_TEST(exists true matches present fields including null ones) {
  CAF_CHECK(holds("state", filter_op::exists, value{true}));
  CAF_CHECK(holds("none", filter_op::exists, value{true}));
  CAF_CHECK(!holds("missing", filter_op::exists, value{true}));
}

CAF_TEST(exists false matches absent fields only) {
  CAF_CHECK(holds("missing", filter_op::exists, value{false}));
  CAF_CHECK(holds("resources.cpu", filter_op::exists, value{false}));
  CAF_CHECK(!holds("state", filter_op::exists, value{false}));
}

CAF_TEST(all conditions of a filter must hold) {
  filter f{{filter_condition{"state", filter_op::eq, value{"waiting"}},
            filter_condition{"cpu", filter_op::le, value{4}}}};
  CAF_CHECK(matches(f, job()));
  f.conditions.push_back(filter_condition{"cpu", filter_op::gt, value{4}});
  CAF_CHECK(!matches(f, job()));
}

CAF_TEST(validate filter accepts well shaped operands) {
  filter f{{filter_condition{"a", filter_op::in, value{value_list{}}},
            filter_condition{"b", filter_op::exists, value{false}},
            filter_condition{"c", filter_op::eq_ci, value{"x"}},
            filter_condition{"d.e", filter_op::contains, value{value_map{}}}}};
  CAF_CHECK(validate_filter(f).ok());
}

CAF_TEST(validate filter rejects in without a list) {
  auto s = validate_filter(one("tags", filter_op::in, value{"a"}));
  CAF_CHECK(s.code() == error_code::invalid_argument);
  std::string message = s.message();
  CAF_CHECK(message.find("tags $in") != std::string::npos);
  CAF_CHECK(message.find("list") != std::string::npos);
}

CAF_TEST(validate filter rejects exists without a bool) {
  auto s = validate_filter(one("x", filter_op::exists, value{1}));
  CAF_CHECK(s.code() == error_code::invalid_argument);
  std::string message = s.message();
  CAF_CHECK(message.find("x $exists") != std::string::npos);
}

CAF_TEST(validate filter rejects eq_ci without a string) {
  auto s = validate_filter(one("name", filter_op::eq_ci, value{1}));
  CAF_CHECK(s.code() == error_code::invalid_argument);
  std::string message = s.message();
  CAF_CHECK(message.find("name $eq_ci") != std::string::npos);
}

CAF_TEST(validate filter rejects bad paths) {
  for (std::string path : {std::string{}, std::string{"a..b"}, std::string{".a"},
                           std::string(limits::field_name_bytes_max + 1, 'x')}) {
    auto s = validate_filter(one(path, filter_op::eq, value{1}));
    CAF_CHECK(s.code() == error_code::invalid_argument);
  }
  CAF_CHECK(validate_filter(one(std::string(limits::field_name_bytes_max, 'x'), filter_op::eq,
                                value{1}))
                .ok());
}

CAF_TEST(validate filter rejects more conditions than the limit) {
  filter f;
  for (size_t i = 0; i < limits::filter_conditions_max; ++i)
    f.conditions.push_back(filter_condition{"f" + std::to_string(i), filter_op::eq, value{1}});
  CAF_CHECK(validate_filter(f).ok());
  f.conditions.push_back(filter_condition{"extra", filter_op::eq, value{1}});
  auto s = validate_filter(f);
  CAF_CHECK(s.code() == error_code::invalid_argument);
  std::string message = s.message();
  CAF_CHECK(message.find("conditions") != std::string::npos);
}

CAF_TEST(validate filter rejects a repeated path and operator pair) {
  filter f{{filter_condition{"s", filter_op::ne, value{"a"}},
            filter_condition{"s", filter_op::ne, value{"b"}}}};
  auto s = validate_filter(f);
  CAF_CHECK(s.code() == error_code::invalid_argument);
  std::string message = s.message();
  CAF_CHECK(message.find("s $ne: repeated") != std::string::npos);
}

CAF_TEST(validate filter reports every problem) {
  filter f{{filter_condition{"a", filter_op::in, value{1}},
            filter_condition{"b", filter_op::exists, value{"yes"}}}};
  auto s = validate_filter(f);
  std::string message = s.message();
  CAF_CHECK(message.find("a $in") != std::string::npos);
  CAF_CHECK(message.find("b $exists") != std::string::npos);
}

CAF_TEST(filter from value reads bare values as eq and operator maps) {
  value v{value_map{
      {"cpu", value{value_map{{"$le", value{4}}, {"$gt", value{0}}}}},
      {"state", value{"waiting"}},
      {"resources.gpu", value{value_map{{"$exists", value{true}}}}},
      {"meta", value{value_map{{"k", value{1}}}}}}};
  auto f = filter_from_value(v);
  CAF_REQUIRE(f.ok());
  filter expected{{filter_condition{"cpu", filter_op::gt, value{0}},
                   filter_condition{"cpu", filter_op::le, value{4}},
                   filter_condition{"meta", filter_op::eq, value{value_map{{"k", value{1}}}}},
                   filter_condition{"resources.gpu", filter_op::exists, value{true}},
                   filter_condition{"state", filter_op::eq, value{"waiting"}}}};
  CAF_CHECK(*f == expected);
  CAF_CHECK(matches(*f, value_map{{"cpu", value{2}},
                                  {"state", value{"waiting"}},
                                  {"meta", value{value_map{{"k", value{1}}}}},
                                  {"resources", value{value_map{{"gpu", value{1}}}}}}));
}

CAF_TEST(filter from value treats a dotted key as one path) {
  auto f = filter_from_value(value{value_map{{"resources.cpu", value{4}}}});
  CAF_REQUIRE(f.ok());
  CAF_REQUIRE_EQUAL(f->conditions.size(), 1u);
  CAF_CHECK_EQUAL(f->conditions[0].path, "resources.cpu");
  CAF_CHECK(matches(*f, value_map{{"resources", value{value_map{{"cpu", value{4}}}}}}));
}

CAF_TEST(filter from value rejects an unknown operator naming it) {
  auto f = filter_from_value(value{value_map{{"cpu", value{value_map{{"$lte", value{4}}}}}}});
  CAF_REQUIRE(!f.ok());
  CAF_CHECK(f.error().code() == error_code::invalid_argument);
  std::string message = f.error().message();
  CAF_CHECK(message.find("$lte") != std::string::npos);
  CAF_CHECK(message.find("cpu") != std::string::npos);
}

CAF_TEST(filter from value rejects a non map and mixed operator maps) {
  auto not_map = filter_from_value(value{value_list{}});
  CAF_CHECK(!not_map.ok());
  auto mixed = filter_from_value(
      value{value_map{{"a", value{value_map{{"$eq", value{1}}, {"b", value{2}}}}}}});
  CAF_REQUIRE(!mixed.ok());
  std::string message = mixed.error().message();
  CAF_CHECK(message.find("'a'") != std::string::npos);
}

CAF_TEST(filter from value rejects bad operand shapes) {
  auto f = filter_from_value(value{value_map{{"tags", value{value_map{{"$in", value{"a"}}}}}}});
  CAF_REQUIRE(!f.ok());
  CAF_CHECK(f.error().code() == error_code::invalid_argument);
}

CAF_TEST(filter to value and back round trips) {
  filter f{{filter_condition{"cpu", filter_op::gt, value{0}},
            filter_condition{"cpu", filter_op::le, value{4}},
            filter_condition{"literal", filter_op::eq, value{value_map{{"$odd", value{1}}}}},
            filter_condition{"name", filter_op::eq_ci, value{"alice"}},
            filter_condition{"nothing", filter_op::eq, value{}},
            filter_condition{"resources.gpu", filter_op::exists, value{false}},
            filter_condition{"state", filter_op::eq, value{"waiting"}},
            filter_condition{"tags", filter_op::in, value{value_list{value{"a"}, value{"b"}}}},
            filter_condition{"targets", filter_op::contains_or_empty, value{"w"}}}};
  value v = filter_to_value(f);
  auto back = filter_from_value(v);
  CAF_REQUIRE(back.ok());
  CAF_CHECK(*back == f);
  CAF_CHECK(filter_to_value(*back) == v);
  // A lone $eq with a plain operand is written bare.
  CAF_CHECK(*find_path(v.as_map(), "state") == value{"waiting"});
}

CAF_TEST(operator names are dollar prefixed) {
  CAF_CHECK_EQUAL(std::string{to_string(filter_op::le)}, "$le");
  CAF_CHECK_EQUAL(std::string{to_string(filter_op::contains_or_empty)}, "$contains_or_empty");
}

CAF_TEST(a NaN field satisfies no ordered comparison) {
  value_map fields{{"cpu", value{std::nan("")}}};
  for (auto op : {filter_op::lt, filter_op::le, filter_op::gt, filter_op::ge}) {
    CAF_CHECK(!matches(one("cpu", op, value{4}), fields));
  }
  CAF_CHECK(!matches(one("cpu", filter_op::ge, value{std::nan("")}), value_map{{"cpu", value{1}}}));
}
