// Schema commands through state_machine::apply: invalid schemas (each answers
// its error code with a message naming the problem, leaves the "_schemas"
// document unchanged and still consumes its log index), and alterations that
// move index entries (an index redefined under the same name, an index made
// unique over duplicates, an index added by alter, drop and recreate) followed
// by list / count / claim over the changed index.
#define CAF_SUITE state_machine_schema
#include "caf/test/unit_test.hpp"

#include <map>
#include <string>

#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/state_machine.hpp"
#include "tests/storage/reference_model.hpp"

using namespace velocity;

namespace {

constexpr uint32_t shard = 7;

std::string code(const reply& r) { return std::string{to_string(r.st.code())}; }
std::string id_of(const reply& r) { return r.doc ? r.doc->id : std::string{}; }

index_range prefix_range(std::string index, std::vector<value> prefix) {
  return index_range{std::move(index), prefix, prefix};
}

// Every (key, value) of every column, for "nothing else changed" checks.
using engine_contents = std::map<std::pair<int, std::string>, std::string>;

struct fixture {
  memory_engine eng{memory_engine_options{false}};
  state_machine sm{eng, shard};
  uint64_t next_index = 1;

  fixture() {
    CAF_REQUIRE(sm.open().ok());
    CAF_REQUIRE(write(cmd::create_schema{test::jobs_schema(), 1}).ok());
  }

  reply write(const command& c) { return sm.apply(next_index++, c); }
  reply read(const command& c) { return sm.apply(0, c); }

  reply insert(std::string id, value_map fields) {
    return write(cmd::insert{"jobs", std::move(id), std::move(fields), 10});
  }

  // The stored "_schemas" document of a collection, or "<absent>".
  std::string schema_bytes(std::string_view collection) {
    std::string out;
    status st = eng.get(column::documents, keys::document_key(shard, schemas_collection, collection), out);
    if (st.code() == error_code::not_found) return "<absent>";
    CAF_REQUIRE(st.ok());
    return out;
  }

  engine_contents contents() {
    engine_contents out;
    for (size_t col = 0; col < column_count; ++col) {
      auto it = eng.scan(static_cast<column>(col), scan_options{});
      for (; it->valid(); it->next()) out[{static_cast<int>(col), std::string{it->key()}}] = std::string{it->value()};
      CAF_REQUIRE(it->error().ok());
    }
    return out;
  }

  uint64_t count_range(index_range range) {
    auto r = read(cmd::count{"jobs", std::move(range)});
    CAF_REQUIRE(r.ok());
    return r.count;
  }

  std::vector<std::string> list_ids(index_range range, bool descending = false) {
    auto r = read(cmd::list{"jobs", std::nullopt, std::move(range), 0, "", descending});
    CAF_REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const auto& d : r.docs) out.push_back(d.id);
    return out;
  }

  // Applies a schema command that must fail: checks its code and message, that
  // the collection's schema (stored and cached) is unchanged, and that the
  // command consumed its log index and wrote nothing else.
  void expect_refused(const command& c, std::string_view collection, std::string_view expected_code,
                      std::vector<std::string_view> message_parts) {
    std::string stored_before = schema_bytes(collection);
    const collection_schema* cached = sm.find_schema(collection);
    std::optional<collection_schema> cached_before;
    if (cached != nullptr) cached_before = *cached;
    engine_contents before = contents();
    uint64_t index = next_index;
    reply r = write(c);
    CAF_CHECK_EQUAL(code(r), expected_code);
    std::string message = r.st.message();
    for (std::string_view part : message_parts) {
      if (message.find(part) == std::string::npos) CAF_FAIL("message '" << message << "' lacks '" << part << "'");
    }
    CAF_CHECK(!r.schema.has_value());
    CAF_CHECK_EQUAL(schema_bytes(collection), stored_before);
    const collection_schema* cached_after = sm.find_schema(collection);
    CAF_CHECK_EQUAL(cached_after != nullptr, cached_before.has_value());
    if (cached_after != nullptr && cached_before) CAF_CHECK(*cached_after == *cached_before);
    CAF_CHECK_EQUAL(sm.applied_index(), index);
    engine_contents after = contents();
    std::string applied_key = keys::applied_key(shard);
    before.erase({static_cast<int>(column::meta), applied_key});
    std::string stored_index = after[{static_cast<int>(column::meta), applied_key}];
    CAF_CHECK_EQUAL(keys::decode_u64(stored_index).value_or(0), index);
    after.erase({static_cast<int>(column::meta), applied_key});
    CAF_CHECK(before == after);
  }
};

collection_schema named(std::string collection) {
  collection_schema s = test::jobs_schema();
  s.collection = std::move(collection);
  return s;
}

}  // namespace

CAF_TEST_FIXTURE_SCOPE(state_machine_schema_tests, fixture)

CAF_TEST(a create with an index over a list field is refused naming the index and the type) {
  collection_schema bad = named("tagged");
  bad.indexes.push_back(index_spec{"by_targets", {"targets"}, false});
  expect_refused(cmd::create_schema{bad, 1}, "tagged", "invalid_argument",
                 {"'tagged'", "by_targets", "'targets'", "type list cannot be indexed"});
  CAF_CHECK_EQUAL(schema_bytes("tagged"), "<absent>");
  CAF_CHECK_EQUAL(code(read(cmd::count{"tagged", std::nullopt})), "unknown_collection");
}

CAF_TEST(an alter with an index over a map field is refused and the old schema stays) {
  CAF_REQUIRE(insert("a", {{"priority", 1}}).ok());
  collection_schema bad = test::jobs_schema();
  bad.fields.push_back(field_spec{"meta", field_type::map, false, std::nullopt});
  bad.indexes.push_back(index_spec{"by_meta", {"meta"}, false});
  expect_refused(cmd::alter_schema{bad, 1}, "jobs", "invalid_argument", {"by_meta", "'meta'", "type map cannot be indexed"});
  CAF_CHECK_EQUAL(code(read(cmd::count{"jobs", prefix_range("by_meta", {})})), "invalid_argument");
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting"})), 1u);
}

CAF_TEST(a strict schema without fields is refused on create and on alter) {
  collection_schema empty_strict;
  empty_strict.collection = "strict_one";
  empty_strict.strict = true;
  expect_refused(cmd::create_schema{empty_strict, 1}, "strict_one", "invalid_argument",
                 {"'strict_one'", "strict schema declares no fields"});
  empty_strict.collection = "jobs";
  expect_refused(cmd::alter_schema{empty_strict, 1}, "jobs", "invalid_argument", {"strict schema declares no fields"});
  CAF_CHECK(insert("free", {{"anything", 1}}).ok());  // still the lax jobs schema
}

CAF_TEST(an alter that changes the partition key is refused naming both keys) {
  collection_schema moved = test::jobs_schema();
  for (auto& f : moved.fields) {
    if (f.path == "name") f.required = true;
  }
  moved.partition_key = "name";
  CAF_REQUIRE(validate_schema(moved).ok());  // valid on its own: only the change is wrong
  expect_refused(cmd::alter_schema{moved, 1}, "jobs", "invalid_argument",
                 {"'jobs'", "partition key from '' to 'name'"});
}

CAF_TEST(an alter of an unknown collection is unknown_collection naming it) {
  expect_refused(cmd::alter_schema{named("ghosts"), 1}, "ghosts", "unknown_collection", {"'ghosts'", "does not exist"});
  CAF_CHECK_EQUAL(schema_bytes("ghosts"), "<absent>");
}

CAF_TEST(a create or alter of a reserved name is invalid_argument naming the reservation) {
  expect_refused(cmd::create_schema{named("_private"), 1}, "_private", "invalid_argument", {"'_private'", "reserved"});
  CAF_CHECK_EQUAL(schema_bytes("_private"), "<absent>");
  expect_refused(cmd::alter_schema{named("_schemas"), 1}, "_schemas", "invalid_argument", {"'_schemas'", "reserved"});
  expect_refused(cmd::drop_schema{"_schemas", 1}, "jobs", "invalid_argument", {"'_schemas'", "reserved"});
  CAF_CHECK(sm.find_schema("jobs") != nullptr);
}

CAF_TEST(an index redefined under the same name is rebuilt for list count and claim) {
  CAF_REQUIRE(insert("a", {{"priority", 1}, {"cpu", 4}}).ok());
  CAF_REQUIRE(insert("b", {{"priority", 2}, {"cpu", 1}}).ok());
  CAF_REQUIRE(insert("c", {{"priority", 3}, {"cpu", 2}, {"state", "done"}}).ok());
  // Same name, other fields: the old entries are erased and rebuilt in one batch.
  collection_schema by_cpu = test::jobs_schema();
  by_cpu.indexes[0].fields = {"state", "cpu"};
  reply altered = write(cmd::alter_schema{by_cpu, 2});
  CAF_REQUIRE(altered.ok());
  CAF_CHECK_EQUAL(altered.doc->version, 2u);
  CAF_CHECK(*sm.find_schema("jobs") == canonical_schema(by_cpu));
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 6u);  // 3 documents x (by_state, by_name)
  CAF_CHECK((list_ids(prefix_range("by_state", {"waiting"})) == std::vector<std::string>{"b", "a"}));
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting", 4})), 1u);
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting", 1})), 1u);
  CAF_CHECK_EQUAL(count_range(index_range{"by_state", std::nullopt, std::nullopt}), 3u);
  // A completely different first field: nothing is left under the old shape.
  collection_schema by_priority = test::jobs_schema();
  by_priority.indexes[0].fields = {"priority"};
  CAF_REQUIRE(write(cmd::alter_schema{by_priority, 3}).ok());
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting"})), 0u);
  CAF_CHECK_EQUAL(code(read(cmd::count{"jobs", prefix_range("by_state", {1, 2})})), "invalid_argument");
  CAF_CHECK((list_ids(index_range{"by_state", std::nullopt, std::nullopt}, true) ==
             std::vector<std::string>{"c", "b", "a"}));
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 6u);
  // Claim over the redefined index: lowest priority >= 2 first.
  index_range from_two{"by_state", std::vector<value>{2}, std::nullopt};
  reply claimed = write(cmd::claim{"jobs", from_two, {}, {{"priority", 0}}, 4});
  CAF_REQUIRE(claimed.claimed);
  CAF_CHECK_EQUAL(id_of(claimed), "b");
  CAF_CHECK_EQUAL(id_of(write(cmd::claim{"jobs", from_two, {}, {{"priority", 0}}, 5})), "c");
  CAF_CHECK(!write(cmd::claim{"jobs", from_two, {}, {{"priority", 0}}, 6}).claimed);
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {0})), 2u);
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 6u);
}

CAF_TEST(making an index unique over duplicates is refused and writes only the applied index) {
  CAF_REQUIRE(insert("a", {{"priority", 1}}).ok());
  CAF_REQUIRE(insert("b", {{"priority", 1}}).ok());
  CAF_REQUIRE(insert("c", {{"priority", 2}}).ok());
  collection_schema unique_state = test::jobs_schema();
  unique_state.indexes[0].unique = true;
  expect_refused(cmd::alter_schema{unique_state, 2}, "jobs", "unique_violation",
                 {"unique index 'by_state'", "[\"waiting\", 1]", "'a'", "'b'"});
  CAF_CHECK(!sm.find_schema("jobs")->indexes[0].unique);
  CAF_CHECK(insert("d", {{"priority", 1}}).ok());  // still not unique
  CAF_REQUIRE(write(cmd::update{"jobs", "b", {{"priority", 3}}, std::nullopt, 3}).ok());
  CAF_REQUIRE(write(cmd::update{"jobs", "d", {{"priority", 4}}, std::nullopt, 3}).ok());
  CAF_REQUIRE(write(cmd::alter_schema{unique_state, 4}).ok());
  CAF_CHECK(sm.find_schema("jobs")->indexes[0].unique);
  CAF_CHECK_EQUAL(code(insert("e", {{"priority", 2}})), "unique_violation");
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting"})), 4u);
}

CAF_TEST(an index added by alter serves list count and claim including later writes) {
  CAF_REQUIRE(insert("a", {{"priority", 1}, {"cpu", 4}}).ok());
  CAF_REQUIRE(insert("b", {{"priority", 2}, {"cpu", 1}}).ok());
  collection_schema with_cpu = test::jobs_schema();
  with_cpu.indexes.push_back(index_spec{"by_cpu", {"cpu", "priority"}, false});
  CAF_REQUIRE(write(cmd::alter_schema{with_cpu, 2}).ok());
  CAF_REQUIRE(insert("c", {{"priority", 3}, {"cpu", 2}}).ok());
  CAF_REQUIRE(insert("d", {{"priority", 0}}).ok());  // no cpu: null sorts first
  index_range all_cpu{"by_cpu", std::nullopt, std::nullopt};
  CAF_CHECK((list_ids(all_cpu) == std::vector<std::string>{"d", "b", "c", "a"}));
  index_range small{"by_cpu", std::vector<value>{1}, std::vector<value>{2}};
  CAF_CHECK_EQUAL(count_range(small), 2u);
  CAF_CHECK_EQUAL(id_of(write(cmd::claim{"jobs", small, {}, {{"cpu", 8}}, 3})), "b");
  CAF_CHECK_EQUAL(id_of(write(cmd::claim{"jobs", small, {}, {{"cpu", 8}}, 4})), "c");
  CAF_CHECK(!write(cmd::claim{"jobs", small, {}, {{"cpu", 8}}, 5}).claimed);
  CAF_CHECK((list_ids(all_cpu) == std::vector<std::string>{"d", "a", "b", "c"}));
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 12u);  // 4 documents x 3 indexes (nulls included)
}

CAF_TEST(a dropped and recreated collection starts empty and claims its new jobs) {
  CAF_REQUIRE(insert("a", {{"priority", 5}}).ok());
  CAF_REQUIRE(insert("b", {{"priority", 6}}).ok());
  index_range waiting = prefix_range("by_state", {"waiting"});
  CAF_CHECK_EQUAL(id_of(write(cmd::claim{"jobs", waiting, {}, {{"state", "running"}}, 2})), "a");
  CAF_REQUIRE(write(cmd::drop_schema{"jobs", 3}).ok());
  CAF_CHECK_EQUAL(schema_bytes("jobs"), "<absent>");
  expect_refused(cmd::alter_schema{test::jobs_schema(), 4}, "jobs", "unknown_collection", {"'jobs'"});
  reply recreated = write(cmd::create_schema{test::jobs_schema(), 5});
  CAF_REQUIRE(recreated.ok());
  CAF_CHECK_EQUAL(recreated.doc->version, 1u);  // a new schema document, not version 2
  CAF_CHECK_EQUAL(recreated.doc->created_ns, 5);
  CAF_CHECK_EQUAL(code(read(cmd::get{"jobs", "b"})), "not_found");
  CAF_REQUIRE(insert("z", {{"priority", 9}}).ok());
  CAF_REQUIRE(insert("y", {{"priority", 1}}).ok());  // sorts before the old claim position
  CAF_CHECK_EQUAL(id_of(write(cmd::claim{"jobs", waiting, {}, {{"state", "running"}}, 6})), "y");
  CAF_CHECK_EQUAL(id_of(write(cmd::claim{"jobs", waiting, {}, {{"state", "running"}}, 7})), "z");
  CAF_CHECK_EQUAL(read(cmd::count{"jobs", std::nullopt}).count, 2u);
}

CAF_TEST_FIXTURE_SCOPE_END()
