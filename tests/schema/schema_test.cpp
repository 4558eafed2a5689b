// Tests for collection schemas (schema/schema.hpp): every schema rule rejected with
// a message naming the problem, every document rule in a passing and a failing
// case, defaults, index values, the value form round trip and schema changes.
#define CAF_SUITE schema
#include "caf/test/unit_test.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include "protocols/limits.hpp"
#include "schema/json.hpp"
#include "schema/schema.hpp"

using namespace velocity;

namespace {

field_spec field(std::string path, field_type type, bool required = false,
                 std::optional<value> default_value = std::nullopt) {
  return field_spec{std::move(path), type, required, std::move(default_value)};
}

// The ColonyOS-like jobs collection, as configs/schemas/jobs.json declares it.
collection_schema jobs_schema() {
  collection_schema s;
  s.collection = "jobs";
  s.fields = {field("colony", field_type::string, true),
              field("cpu", field_type::integer, false, value{1}),
              field("executor_type", field_type::string, true),
              field("name", field_type::string),
              field("priority_time", field_type::timestamp, true),
              field("state", field_type::string, true, value{"waiting"}),
              field("targets", field_type::list, false, value{value_list{}})};
  s.indexes = {index_spec{"by_state", {"colony", "executor_type", "state", "priority_time"}, false}};
  s.partition_key = "colony";
  return s;
}

value_map valid_job() {
  return value_map{{"colony", value{"c1"}},
                   {"executor_type", value{"gpu"}},
                   {"state", value{"waiting"}},
                   {"priority_time", value{int64_t{1700000000000000000}}}};
}

// The invalid_argument message of validate_schema, or "" when it passed.
std::string schema_problem(const collection_schema& s) {
  auto st = validate_schema(s);
  if (st.ok()) return {};
  CAF_CHECK(st.code() == error_code::invalid_argument);
  return st.message();
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

collection_schema with_fields(std::vector<field_spec> fields) {
  collection_schema s;
  s.collection = "c";
  s.fields = std::move(fields);
  return s;
}

// Single-field schema and the violations of a one-field document against it.
std::vector<violation> check_one(field_type type, value v, bool required = false) {
  return validate_document(with_fields({field("f", type, required)}), value_map{{"f", std::move(v)}});
}

value nested_lists(size_t depth) {
  value v{1};
  for (size_t i = 0; i < depth; ++i) v = value{value_list{v}};
  return v;
}

}  // namespace

// ---- names and types ----

CAF_TEST(collection names accept letters digits underscore dot and dash) {
  CAF_CHECK(validate_collection_name("jobs").ok());
  CAF_CHECK(validate_collection_name("Jobs_v2.archive-1").ok());
  CAF_CHECK(validate_collection_name(std::string(limits::collection_name_bytes_max, 'a')).ok());
}

CAF_TEST(collection names reject empty overlong and odd characters) {
  CAF_CHECK(validate_collection_name("").code() == error_code::invalid_argument);
  CAF_CHECK(!validate_collection_name(std::string(limits::collection_name_bytes_max + 1, 'a')).ok());
  auto s = validate_collection_name("jobs/x");
  std::string message = s.message();
  CAF_CHECK(mentions(message, "'jobs/x'"));
  CAF_CHECK(!validate_collection_name("a b").ok());
}

CAF_TEST(collection names starting with underscore are reserved unless system) {
  auto s = validate_collection_name("_schemas");
  std::string message = s.message();
  CAF_CHECK(mentions(message, "reserved"));
  CAF_CHECK(validate_collection_name("_schemas", true).ok());
}

CAF_TEST(field types have their json names) {
  CAF_CHECK_EQUAL(std::string{to_string(field_type::integer)}, "int");
  CAF_CHECK_EQUAL(std::string{to_string(field_type::floating)}, "float");
  CAF_CHECK_EQUAL(std::string{to_string(field_type::boolean)}, "bool");
  CAF_CHECK_EQUAL(std::string{to_string(field_type::timestamp)}, "timestamp");
}

CAF_TEST(find index returns the named index or null) {
  auto s = jobs_schema();
  CAF_REQUIRE(s.find_index("by_state") != nullptr);
  CAF_CHECK_EQUAL(s.find_index("by_state")->fields.size(), 4u);
  CAF_CHECK(s.find_index("by_name") == nullptr);
}

// ---- validate_schema ----

CAF_TEST(the jobs schema and an empty schemaless schema are valid) {
  CAF_CHECK_EQUAL(schema_problem(jobs_schema()), "");
  CAF_CHECK_EQUAL(schema_problem(with_fields({})), "");
}

CAF_TEST(schema rejects a bad collection name) {
  auto s = jobs_schema();
  s.collection = "bad name";
  CAF_CHECK(mentions(schema_problem(s), "collection name 'bad name'"));
  s.collection = "_jobs";
  CAF_CHECK(mentions(schema_problem(s), "reserved"));
}

CAF_TEST(schema rejects empty paths and empty or overlong segments) {
  std::string long_segment(limits::field_name_bytes_max + 1, 'x');
  auto problem = schema_problem(with_fields({field("", field_type::any), field("a..b", field_type::any),
                                             field("ok." + long_segment, field_type::any)}));
  CAF_CHECK(mentions(problem, "field '': empty path"));
  CAF_CHECK(mentions(problem, "field 'a..b': empty segment"));
  CAF_CHECK(mentions(problem, "longer than"));
  CAF_CHECK_EQUAL(
      schema_problem(with_fields({field(std::string(limits::field_name_bytes_max, 'x'), field_type::any)})),
      "");
}

CAF_TEST(schema rejects a field declared twice) {
  auto problem = schema_problem(with_fields({field("a", field_type::string), field("a", field_type::integer)}));
  CAF_CHECK(mentions(problem, "field 'a': declared more than once"));
}

CAF_TEST(schema rejects a nested path under a scalar parent) {
  auto problem = schema_problem(with_fields({field("a", field_type::string), field("a.b", field_type::integer)}));
  CAF_CHECK(mentions(problem, "field 'a.b': nested under 'a' of type string"));
  CAF_CHECK_EQUAL(schema_problem(with_fields({field("a", field_type::map), field("a.b", field_type::integer)})), "");
  CAF_CHECK_EQUAL(schema_problem(with_fields({field("a", field_type::any), field("a.b.c", field_type::integer)})), "");
}

CAF_TEST(schema rejects a default of the wrong type or null) {
  auto problem = schema_problem(with_fields({field("cpu", field_type::integer, false, value{"four"}),
                                             field("n", field_type::string, false, value{})}));
  CAF_CHECK(mentions(problem, "field 'cpu': default has type string, declared int"));
  CAF_CHECK(mentions(problem, "field 'n': default must not be null"));
}

CAF_TEST(schema accepts an int default for a float and required with default) {
  CAF_CHECK_EQUAL(schema_problem(with_fields({field("load", field_type::floating, false, value{1}),
                                              field("state", field_type::string, true, value{"waiting"})})),
                  "");
}

CAF_TEST(schema rejects a default nested too deeply) {
  auto problem = schema_problem(
      with_fields({field("l", field_type::list, false, nested_lists(limits::nesting_depth_max + 1))}));
  CAF_CHECK(mentions(problem, "field 'l': default nested deeper"));
}

CAF_TEST(schema rejects more fields than the limit) {
  std::vector<field_spec> fields;
  for (size_t i = 0; i <= limits::schema_fields_max; ++i)
    fields.push_back(field("f" + std::to_string(i), field_type::any));
  CAF_CHECK(mentions(schema_problem(with_fields(fields)), "fields, at most"));
  fields.pop_back();
  CAF_CHECK_EQUAL(schema_problem(with_fields(fields)), "");
}

CAF_TEST(schema rejects bad index names) {
  auto s = jobs_schema();
  s.indexes.push_back(index_spec{"", {"name"}, false});
  s.indexes.push_back(index_spec{"by name", {"name"}, false});
  s.indexes.push_back(index_spec{std::string(limits::index_name_bytes_max + 1, 'i'), {"name"}, false});
  auto problem = schema_problem(s);
  CAF_CHECK(mentions(problem, "index '': name must be 1.."));
  CAF_CHECK(mentions(problem, "index 'by name': name may only use"));
  CAF_CHECK(mentions(problem, "bytes"));
}

CAF_TEST(schema rejects duplicate index names) {
  auto s = jobs_schema();
  s.indexes.push_back(index_spec{"by_state", {"name"}, true});
  CAF_CHECK(mentions(schema_problem(s), "index 'by_state': name declared more than once"));
}

CAF_TEST(schema rejects an index with no fields or too many) {
  auto s = jobs_schema();
  s.indexes.push_back(index_spec{"empty", {}, false});
  std::vector<std::string> many;
  for (size_t i = 0; i <= limits::index_fields_max; ++i) many.push_back("f" + std::to_string(i));
  s.indexes.push_back(index_spec{"wide", many, false});
  auto problem = schema_problem(s);
  CAF_CHECK(mentions(problem, "index 'empty': 0 fields"));
  CAF_CHECK(mentions(problem, "index 'wide': 9 fields"));
  many.pop_back();
  s.indexes = {index_spec{"wide", many, false}};
  CAF_CHECK_EQUAL(schema_problem(s), "");
}

CAF_TEST(schema rejects a field repeated in one index) {
  auto s = jobs_schema();
  s.indexes.push_back(index_spec{"twice", {"name", "state", "name"}, false});
  CAF_CHECK(mentions(schema_problem(s), "index 'twice': field 'name': repeated"));
}

CAF_TEST(schema rejects indexing list and map fields but allows bytes and undeclared) {
  auto s = with_fields({field("tags", field_type::list), field("meta", field_type::map),
                        field("raw", field_type::bytes)});
  s.indexes = {index_spec{"by_tags", {"tags"}, false}, index_spec{"by_meta", {"meta"}, false}};
  auto problem = schema_problem(s);
  CAF_CHECK(mentions(problem, "index 'by_tags': field 'tags': type list cannot be indexed"));
  CAF_CHECK(mentions(problem, "index 'by_meta': field 'meta': type map cannot be indexed"));
  s.indexes = {index_spec{"by_raw", {"raw", "undeclared", "meta.inner"}, true}};
  CAF_CHECK_EQUAL(schema_problem(s), "");
}

CAF_TEST(schema rejects an index path under a scalar field) {
  auto s = with_fields({field("name", field_type::string)});
  s.indexes = {index_spec{"by_x", {"name.first"}, false}};
  CAF_CHECK(mentions(schema_problem(s), "index 'by_x': field 'name.first': nested under 'name'"));
}

CAF_TEST(schema rejects more indexes than the limit) {
  auto s = with_fields({});
  for (size_t i = 0; i <= limits::indexes_per_collection_max; ++i)
    s.indexes.push_back(index_spec{"i" + std::to_string(i), {"f"}, false});
  CAF_CHECK(mentions(schema_problem(s), "indexes, at most"));
  s.indexes.pop_back();
  CAF_CHECK_EQUAL(schema_problem(s), "");
}

CAF_TEST(schema rejects an undeclared partition key) {
  auto s = jobs_schema();
  s.partition_key = "tenant";
  CAF_CHECK(mentions(schema_problem(s), "partition key 'tenant': not a declared field"));
}

CAF_TEST(schema rejects an optional partition key) {
  auto s = jobs_schema();
  s.partition_key = "name";
  CAF_CHECK(mentions(schema_problem(s), "partition key 'name': must be required"));
}

CAF_TEST(schema rejects a partition key that is not string or int) {
  auto s = jobs_schema();
  s.partition_key = "priority_time";
  CAF_CHECK(mentions(schema_problem(s), "partition key 'priority_time': must be of type string or int"));
  s.fields.push_back(field("shard", field_type::integer, true));
  s.partition_key = "shard";
  CAF_CHECK_EQUAL(schema_problem(s), "");
  s.partition_key = "";
  CAF_CHECK_EQUAL(schema_problem(s), "");
}

CAF_TEST(schema rejects strict without declared fields) {
  auto s = with_fields({});
  s.strict = true;
  CAF_CHECK(mentions(schema_problem(s), "strict schema declares no fields"));
}

CAF_TEST(schema reports every problem in one message) {
  auto s = jobs_schema();
  s.collection = "";
  s.fields.push_back(field("colony", field_type::integer));
  s.indexes.push_back(index_spec{"by_state", {}, false});
  s.partition_key = "missing";
  auto problem = schema_problem(s);
  CAF_CHECK(mentions(problem, "collection name ''"));
  CAF_CHECK(mentions(problem, "field 'colony': declared more than once"));
  CAF_CHECK(mentions(problem, "index 'by_state': name declared more than once"));
  CAF_CHECK(mentions(problem, "index 'by_state': 0 fields"));
  CAF_CHECK(mentions(problem, "partition key 'missing'"));
  CAF_CHECK(mentions(problem, "; "));
}

// ---- validate_document ----

CAF_TEST(a valid document has no violations) {
  CAF_CHECK(validate_document(jobs_schema(), valid_job()).empty());
  CAF_CHECK(validate_document(with_fields({}), value_map{{"anything", value{1}}}).empty());
}

CAF_TEST(a missing required field is a required violation) {
  auto doc = valid_job();
  doc.erase("colony");
  auto v = validate_document(jobs_schema(), doc);
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK(v[0] == (violation{"colony", "required", "missing required field"}));
}

CAF_TEST(null counts as absent so it breaks required fields only) {
  auto doc = valid_job();
  doc["name"] = value{};
  CAF_CHECK(validate_document(jobs_schema(), doc).empty());
  doc["colony"] = value{};
  auto v = validate_document(jobs_schema(), doc);
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK_EQUAL(v[0].rule, "required");
  CAF_CHECK_EQUAL(v[0].message, "required field is null");
}

CAF_TEST(a nested required field must be present) {
  auto s = with_fields({field("resources", field_type::map), field("resources.cpu", field_type::integer, true)});
  CAF_CHECK(validate_document(s, value_map{{"resources", value{value_map{{"cpu", value{2}}}}}}).empty());
  auto v = validate_document(s, value_map{{"resources", value{value_map{}}}});
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK_EQUAL(v[0].path, "resources.cpu");
  CAF_CHECK_EQUAL(v[0].rule, "required");
}

CAF_TEST(a value of the wrong type is a type violation naming both types) {
  auto doc = valid_job();
  doc["cpu"] = value{"four"};
  auto v = validate_document(jobs_schema(), doc);
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK(v[0] == (violation{"cpu", "type", "expected int, got string"}));
}

CAF_TEST(string int bool bytes list and map types accept only their kind) {
  CAF_CHECK(check_one(field_type::string, value{"s"}).empty());
  CAF_CHECK(!check_one(field_type::string, value{bytes_value{"s"}}).empty());
  CAF_CHECK(check_one(field_type::integer, value{1}).empty());
  CAF_CHECK(!check_one(field_type::integer, value{1.0}).empty());
  CAF_CHECK(check_one(field_type::boolean, value{false}).empty());
  CAF_CHECK(!check_one(field_type::boolean, value{0}).empty());
  CAF_CHECK(check_one(field_type::bytes, value{bytes_value{"\x01"}}).empty());
  CAF_CHECK(!check_one(field_type::bytes, value{"\x01"}).empty());
  CAF_CHECK(check_one(field_type::list, value{value_list{}}).empty());
  CAF_CHECK(!check_one(field_type::list, value{value_map{}}).empty());
  CAF_CHECK(check_one(field_type::map, value{value_map{}}).empty());
  CAF_CHECK(!check_one(field_type::map, value{value_list{}}).empty());
}

CAF_TEST(float fields accept ints and floats but not strings) {
  CAF_CHECK(check_one(field_type::floating, value{2.5}).empty());
  CAF_CHECK(check_one(field_type::floating, value{2}).empty());
  auto v = check_one(field_type::floating, value{"2.5"});
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK_EQUAL(v[0].message, "expected float, got string");
}

CAF_TEST(timestamp fields take int nanoseconds only) {
  CAF_CHECK(check_one(field_type::timestamp, value{int64_t{1700000000000000000}}).empty());
  auto v = check_one(field_type::timestamp, value{"2024-01-01T00:00:00Z"});
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK_EQUAL(v[0].message, "expected timestamp, got string");
  CAF_CHECK(!check_one(field_type::timestamp, value{1.5}).empty());
}

CAF_TEST(any fields accept every kind) {
  for (value x : {value{}, value{true}, value{1}, value{1.5}, value{"s"}, value{bytes_value{"b"}},
                  value{value_list{}}, value{value_map{}}})
    CAF_CHECK(check_one(field_type::any, x).empty());
}

CAF_TEST(strict schemas reject undeclared top level fields) {
  auto s = jobs_schema();
  s.strict = true;
  auto doc = valid_job();
  CAF_CHECK(validate_document(s, doc).empty());
  doc["owner"] = value{"bob"};
  auto v = validate_document(s, doc);
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK_EQUAL(v[0].path, "owner");
  CAF_CHECK_EQUAL(v[0].rule, "unknown_field");
}

CAF_TEST(non strict schemas accept undeclared fields) {
  auto doc = valid_job();
  doc["owner"] = value{"bob"};
  CAF_CHECK(validate_document(jobs_schema(), doc).empty());
}

CAF_TEST(strict schemas know the top segment of nested declared paths) {
  auto s = with_fields({field("resources.cpu", field_type::integer)});
  s.strict = true;
  value_map doc{{"resources", value{value_map{{"cpu", value{2}}, {"gpu", value{1}}}}}};
  CAF_CHECK(validate_document(s, doc).empty());
}

CAF_TEST(values nested beyond the depth limit are too deep) {
  auto s = with_fields({});
  CAF_CHECK(validate_document(s, value_map{{"ok", nested_lists(limits::nesting_depth_max - 1)}}).empty());
  auto v = validate_document(s, value_map{{"deep", nested_lists(limits::nesting_depth_max)}});
  CAF_REQUIRE_EQUAL(v.size(), 1u);
  CAF_CHECK_EQUAL(v[0].path, "deep");
  CAF_CHECK_EQUAL(v[0].rule, "too_deep");
}

CAF_TEST(a document with several problems reports all of them) {
  auto s = jobs_schema();
  s.strict = true;
  value_map doc{{"colony", value{7}},
                {"cpu", value{"x"}},
                {"state", value{"waiting"}},
                {"priority_time", value{1}},
                {"extra", value{true}}};
  auto v = validate_document(s, doc);
  CAF_REQUIRE_EQUAL(v.size(), 4u);
  CAF_CHECK(v[0] == (violation{"colony", "type", "expected string, got int"}));
  CAF_CHECK(v[1] == (violation{"cpu", "type", "expected int, got string"}));
  CAF_CHECK(v[2] == (violation{"executor_type", "required", "missing required field"}));
  CAF_CHECK_EQUAL(v[3].rule, "unknown_field");
  auto st = violations_to_status(v);
  CAF_CHECK(st.code() == error_code::schema_violation);
  std::string message = st.message();
  CAF_CHECK_EQUAL(message,
                  "colony: expected string, got int; cpu: expected int, got string; "
                  "executor_type: missing required field; extra: field not declared in the strict schema");
}

CAF_TEST(no violations make an ok status) {
  CAF_CHECK(violations_to_status({}).ok());
}

// ---- defaults and index values ----

CAF_TEST(apply defaults fills absent and null fields only) {
  auto doc = valid_job();
  doc.erase("state");
  doc["cpu"] = value{};
  apply_defaults(jobs_schema(), doc);
  CAF_CHECK(doc["state"] == value{"waiting"});
  CAF_CHECK(doc["cpu"] == value{1});
  CAF_CHECK(doc["targets"] == value{value_list{}});
  CAF_CHECK(doc.count("name") == 0);
  doc["state"] = value{"running"};
  apply_defaults(jobs_schema(), doc);
  CAF_CHECK(doc["state"] == value{"running"});
}

CAF_TEST(apply defaults fills nested paths) {
  auto s = with_fields({field("resources.cpu", field_type::integer, false, value{2})});
  value_map empty;
  apply_defaults(s, empty);
  CAF_CHECK(empty == (value_map{{"resources", value{value_map{{"cpu", value{2}}}}}}));
  value_map partial{{"resources", value{value_map{{"gpu", value{1}}}}}};
  apply_defaults(s, partial);
  CAF_CHECK(*find_path(partial, "resources.cpu") == value{2});
  CAF_CHECK(*find_path(partial, "resources.gpu") == value{1});
}

CAF_TEST(apply defaults never overwrites a scalar ancestor) {
  auto s = with_fields({field("resources.cpu", field_type::integer, false, value{2})});
  value_map doc{{"resources", value{"none"}}};
  apply_defaults(s, doc);
  CAF_CHECK(doc == (value_map{{"resources", value{"none"}}}));
}

CAF_TEST(index values follow the index order with null for absent fields) {
  auto doc = valid_job();
  doc.erase("executor_type");
  auto values = index_values(*jobs_schema().find_index("by_state"), doc);
  CAF_REQUIRE_EQUAL(values.size(), 4u);
  CAF_CHECK(values[0] == value{"c1"});
  CAF_CHECK(values[1].is_null());
  CAF_CHECK(values[2] == value{"waiting"});
  CAF_CHECK(values[3] == value{int64_t{1700000000000000000}});
  auto nested = index_values(index_spec{"n", {"r.cpu"}, false},
                             value_map{{"r", value{value_map{{"cpu", value{3}}}}}});
  CAF_CHECK(nested.at(0) == value{3});
}

// ---- value form ----

CAF_TEST(schema to value and back round trips exactly) {
  auto s = jobs_schema();
  s.strict = true;
  s.indexes.push_back(index_spec{"by_name", {"name"}, true});
  s.fields.insert(s.fields.begin() + 2, field("data", field_type::bytes, false, value{bytes_value{"\x00\x01"}}));
  auto back = schema_from_value(schema_to_value(s));
  CAF_REQUIRE(back.ok());
  CAF_CHECK(*back == s);
  auto plain = schema_from_value(schema_to_value(with_fields({})));
  CAF_REQUIRE(plain.ok());
  CAF_CHECK(*plain == with_fields({}));
}

CAF_TEST(schema from value reads the documented form and sorts fields) {
  value v{value_map{
      {"collection", value{"jobs"}},
      {"fields", value{value_map{{"state", value{value_map{{"type", value{"string"}}, {"default", value{"waiting"}}}}},
                                 {"colony", value{value_map{{"type", value{"string"}}, {"required", value{true}}}}},
                                 {"resources.cpu", value{value_map{{"type", value{"int"}}}}}}}},
      {"indexes", value{value_list{value{value_map{
                      {"name", value{"by_state"}},
                      {"fields", value{value_list{value{"colony"}, value{"state"}}}}}}}}},
      {"partition_key", value{"colony"}}}};
  auto s = schema_from_value(v);
  CAF_REQUIRE(s.ok());
  CAF_REQUIRE_EQUAL(s->fields.size(), 3u);
  CAF_CHECK_EQUAL(s->fields[0].path, "colony");
  CAF_CHECK_EQUAL(s->fields[1].path, "resources.cpu");
  CAF_CHECK(s->fields[2].default_value == value{"waiting"});
  CAF_CHECK(!s->strict);
  CAF_CHECK(!s->indexes.at(0).unique);
  CAF_CHECK_EQUAL(s->partition_key, "colony");
}

CAF_TEST(schema from value rejects unknown keys naming them) {
  value v = schema_to_value(jobs_schema());
  v.as_map()["colection"] = value{"typo"};
  v.as_map()["fields"].as_map()["cpu"].as_map()["requred"] = value{true};
  v.as_map()["indexes"].as_list()[0].as_map()["uniq"] = value{true};
  auto s = schema_from_value(v);
  CAF_REQUIRE(!s.ok());
  CAF_CHECK(s.error().code() == error_code::invalid_argument);
  std::string message = s.error().message();
  CAF_CHECK(mentions(message, "unknown key 'colection'"));
  CAF_CHECK(mentions(message, "field 'cpu': unknown key 'requred'"));
  CAF_CHECK(mentions(message, "index #0: unknown key 'uniq'"));
}

CAF_TEST(schema from value rejects unknown types and wrong shapes) {
  value v = schema_to_value(jobs_schema());
  v.as_map()["fields"].as_map()["cpu"].as_map()["type"] = value{"integer"};
  v.as_map()["strict"] = value{"yes"};
  auto s = schema_from_value(v);
  CAF_REQUIRE(!s.ok());
  std::string message = s.error().message();
  CAF_CHECK(mentions(message, "field 'cpu': unknown type"));
  CAF_CHECK(mentions(message, "'strict' must be a bool"));
  CAF_CHECK(!schema_from_value(value{"jobs"}).ok());
  CAF_CHECK(!schema_from_value(value{value_map{}}).ok());
}

CAF_TEST(schema from value validates the schema) {
  value v = schema_to_value(jobs_schema());
  v.as_map()["partition_key"] = value{"name"};
  auto s = schema_from_value(v);
  CAF_REQUIRE(!s.ok());
  std::string message = s.error().message();
  CAF_CHECK(mentions(message, "partition key 'name': must be required"));
}

namespace {

value spec(std::string type, bool required = false, std::optional<value> default_value = std::nullopt) {
  value_map m{{"type", value{std::move(type)}}};
  if (required) m.emplace("required", value{true});
  if (default_value) m.emplace("default", std::move(*default_value));
  return value{std::move(m)};
}

}  // namespace

// The value parse_json gives for configs/schemas/jobs.json, written out by hand.
CAF_TEST(the jobs example schema parses into the expected schema) {
  value v{value_map{
      {"collection", value{"jobs"}},
      {"fields", value{value_map{{"colony", spec("string", true)},
                                 {"executor_type", spec("string", true)},
                                 {"state", spec("string", true, value{"waiting"})},
                                 {"priority_time", spec("timestamp", true)},
                                 {"cpu", spec("int", false, value{1})},
                                 {"targets", spec("list", false, value{value_list{}})},
                                 {"name", spec("string")}}}},
      {"indexes", value{value_list{value{value_map{
                      {"name", value{"by_state"}},
                      {"fields", value{value_list{value{"colony"}, value{"executor_type"},
                                                  value{"state"}, value{"priority_time"}}}}}}}}},
      {"partition_key", value{"colony"}},
      {"strict", value{false}}}};
  auto s = schema_from_value(v);
  CAF_REQUIRE(s.ok());
  CAF_CHECK(*s == jobs_schema());
}

CAF_TEST(the jobs example file parses into the expected schema) {
  std::ifstream in{std::string{VELOCITY_SOURCE_DIR} + "/configs/schemas/jobs.json"};
  CAF_REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parse_json(text.str());
  CAF_REQUIRE(parsed.ok());
  auto s = schema_from_value(*parsed);
  CAF_REQUIRE(s.ok());
  CAF_CHECK(*s == jobs_schema());
}

// ---- schema changes ----

CAF_TEST(schema changes may alter fields and indexes) {
  auto after = jobs_schema();
  after.fields.push_back(field("zone", field_type::string));
  after.indexes.push_back(index_spec{"by_zone", {"zone"}, false});
  after.strict = true;
  CAF_CHECK(validate_schema_change(jobs_schema(), after).ok());
}

CAF_TEST(schema changes may not rename the collection) {
  auto after = jobs_schema();
  after.collection = "tasks";
  auto s = validate_schema_change(jobs_schema(), after);
  CAF_CHECK(s.code() == error_code::invalid_argument);
  std::string message = s.message();
  CAF_CHECK(mentions(message, "'jobs' to 'tasks'"));
}

CAF_TEST(schema changes may not alter the partition key) {
  auto after = jobs_schema();
  after.partition_key = "";
  auto s = validate_schema_change(jobs_schema(), after);
  std::string message = s.message();
  CAF_CHECK(mentions(message, "partition key"));
}

CAF_TEST(schema changes must leave a valid schema) {
  auto after = jobs_schema();
  after.indexes.push_back(index_spec{"by_state", {"name"}, false});
  CAF_CHECK(!validate_schema_change(jobs_schema(), after).ok());
}
