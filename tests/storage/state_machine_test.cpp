// Unit tests of the document state machine on the memory engine: every
// command's happy path and error paths, versions and times, index maintenance,
// list pagination, counts, schema changes, recovery and crash consistency.
#define CAF_SUITE state_machine
#include "caf/test/unit_test.hpp"

#include <string>

#include "protocols/limits.hpp"
#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/state_machine.hpp"
#include "tests/storage/reference_model.hpp"

using namespace velocity;

namespace {

// Copies out of a reply (CAF_CHECK_EQUAL must not hold references into temporaries).
std::string id_of(const reply& r) { return r.doc ? r.doc->id : std::string{}; }
uint64_t version_of(const reply& r) { return r.doc ? r.doc->version : 0; }

std::string code(const reply& r) { return std::string{to_string(r.st.code())}; }

index_range prefix_range(std::string index, std::vector<value> prefix) {
  return index_range{std::move(index), prefix, prefix};
}

struct fixture {
  memory_engine eng;
  state_machine sm{eng, 7};
  uint64_t next_index = 1;
  int64_t now_ns = 1000;

  fixture() {
    CAF_REQUIRE(sm.open().ok());
    auto created = write(cmd::create_schema{test::jobs_schema(), now_ns});
    CAF_REQUIRE(created.ok());
  }

  reply write(const command& c) { return sm.apply(next_index++, c); }
  reply read(const command& c) { return sm.apply(0, c); }

  reply insert(std::string id, value_map fields) {
    return write(cmd::insert{"jobs", std::move(id), std::move(fields), ++now_ns});
  }

  uint64_t count_range(index_range range) {
    auto r = read(cmd::count{"jobs", std::move(range)});
    CAF_REQUIRE(r.ok());
    return r.count;
  }

  uint64_t count_all() {
    auto r = read(cmd::count{"jobs", std::nullopt});
    CAF_REQUIRE(r.ok());
    return r.count;
  }

  std::vector<std::string> ids_of(const reply& r) {
    std::vector<std::string> out;
    for (const auto& d : r.docs) out.push_back(d.id);
    return out;
  }

  // Pages through a whole list, checking each page is at most `limit` long.
  std::vector<std::string> page_all(cmd::list c) {
    std::vector<std::string> out;
    for (int pages = 0; pages < 1000; ++pages) {
      auto r = read(c);
      CAF_REQUIRE(r.ok());
      CAF_CHECK_LESS_OR_EQUAL(r.docs.size(), c.limit);
      for (const auto& d : r.docs) out.push_back(d.id);
      if (r.next_cursor.empty()) return out;
      c.cursor = r.next_cursor;
    }
    CAF_FAIL("pagination did not end");
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(state_machine_tests, fixture)

CAF_TEST(insert stores version one with times and revision taken from the command) {
  auto r = write(cmd::insert{"jobs", "j1", {{"priority", 3}}, 4242});
  CAF_REQUIRE(r.ok());
  CAF_REQUIRE(r.doc.has_value());
  CAF_CHECK_EQUAL(r.doc->version, 1u);
  CAF_CHECK_EQUAL(r.doc->created_ns, 4242);
  CAF_CHECK_EQUAL(r.doc->modified_ns, 4242);
  CAF_CHECK_EQUAL(r.doc->revision, next_index - 1);
  CAF_CHECK(r.doc->fields.at("state") == value{"waiting"});  // default applied
  auto got = read(cmd::get{"jobs", "j1"});
  CAF_REQUIRE(got.ok());
  CAF_CHECK(*got.doc == *r.doc);
  CAF_CHECK_EQUAL(sm.applied_index(), next_index - 1);
}

CAF_TEST(get of a missing document is not_found) {
  auto r = read(cmd::get{"jobs", "nope"});
  CAF_CHECK_EQUAL(code(r), "not_found");
  std::string message = r.st.message();
  CAF_CHECK_NOT_EQUAL(message.find("jobs/nope"), std::string::npos);
}

CAF_TEST(commands on an unknown collection are unknown_collection) {
  auto r = insert("j1", {});
  CAF_CHECK_EQUAL(code(r), "ok");
  r = write(cmd::insert{"ghosts", "g1", {}, 1});
  CAF_CHECK_EQUAL(code(r), "unknown_collection");
  std::string message = r.st.message();
  CAF_CHECK_EQUAL(message, "collection 'ghosts' does not exist; create it with a schema");
  CAF_CHECK_EQUAL(code(read(cmd::get{"ghosts", "g1"})), "unknown_collection");
  CAF_CHECK_EQUAL(code(read(cmd::list{"ghosts", {}, {}, 0, "", false})), "unknown_collection");
  CAF_CHECK_EQUAL(code(read(cmd::count{"ghosts", {}})), "unknown_collection");
  CAF_CHECK_EQUAL(code(write(cmd::drop_schema{"ghosts", 1})), "unknown_collection");
}

CAF_TEST(reserved collection names are refused for user commands) {
  CAF_CHECK_EQUAL(code(write(cmd::insert{"_schemas", "x", {}, 1})), "invalid_argument");
  CAF_CHECK_EQUAL(code(read(cmd::get{"_schemas", "jobs"})), "invalid_argument");
  CAF_CHECK_EQUAL(code(write(cmd::drop_schema{"_schemas", 1})), "invalid_argument");
  auto reserved = test::jobs_schema();
  reserved.collection = "_private";
  CAF_CHECK_EQUAL(code(write(cmd::create_schema{reserved, 1})), "invalid_argument");
}

CAF_TEST(insert without an id or with an overlong id is invalid_argument) {
  CAF_CHECK_EQUAL(code(insert("", {})), "invalid_argument");
  CAF_CHECK_EQUAL(code(insert(std::string(limits::id_bytes_max + 1, 'x'), {})), "invalid_argument");
  CAF_CHECK_EQUAL(code(insert(std::string(limits::id_bytes_max, 'x'), {})), "ok");
  CAF_CHECK_EQUAL(count_all(), 1u);
}

CAF_TEST(insert of a taken id is already_exists and changes nothing) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}}).ok());
  auto r = insert("j1", {{"priority", 2}});
  CAF_CHECK_EQUAL(code(r), "already_exists");
  auto got = read(cmd::get{"jobs", "j1"});
  CAF_CHECK(got.doc->fields.at("priority") == value{1});
  CAF_CHECK_EQUAL(count_all(), 1u);
}

CAF_TEST(update merges the patch and bumps version modified time and revision) {
  CAF_REQUIRE(write(cmd::insert{"jobs", "j1", {{"priority", 1}, {"cpu", 2}}, 100}).ok());
  uint64_t index = next_index;
  auto r = write(cmd::update{"jobs", "j1", {{"priority", 5}, {"cpu", nullptr}}, std::nullopt, 200});
  CAF_REQUIRE(r.ok());
  CAF_CHECK_EQUAL(r.doc->version, 2u);
  CAF_CHECK_EQUAL(r.doc->created_ns, 100);
  CAF_CHECK_EQUAL(r.doc->modified_ns, 200);
  CAF_CHECK_EQUAL(r.doc->revision, index);
  CAF_CHECK(r.doc->fields.at("priority") == value{5});
  CAF_CHECK_EQUAL(r.doc->fields.count("cpu"), 0u);  // null removes (RFC 7396)
  auto again = write(cmd::update{"jobs", "j1", {{"cpu", 1}}, uint64_t{2}, 300});
  CAF_CHECK_EQUAL(again.doc->version, 3u);
}

CAF_TEST(replace applies defaults and replaces every field) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}, {"state", "running"}}).ok());
  auto r = write(cmd::replace{"jobs", "j1", {{"cpu", 4}}, std::nullopt, 50});
  CAF_REQUIRE(r.ok());
  CAF_CHECK_EQUAL(r.doc->version, 2u);
  CAF_CHECK_EQUAL(r.doc->fields.count("priority"), 0u);
  CAF_CHECK(r.doc->fields.at("state") == value{"waiting"});
  CAF_CHECK(r.doc->fields.at("cpu") == value{4});
}

CAF_TEST(writes to a missing document are not_found) {
  CAF_CHECK_EQUAL(code(write(cmd::update{"jobs", "x", {}, std::nullopt, 1})), "not_found");
  CAF_CHECK_EQUAL(code(write(cmd::replace{"jobs", "x", {}, std::nullopt, 1})), "not_found");
  CAF_CHECK_EQUAL(code(write(cmd::erase{"jobs", "x", std::nullopt, 1})), "not_found");
  CAF_CHECK_EQUAL(code(write(cmd::compare_and_swap{"jobs", "x", uint64_t{1}, {}, {}, true, 1})), "not_found");
}

CAF_TEST(an expected version mismatch is version_conflict carrying the stored version) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}}).ok());
  CAF_REQUIRE(write(cmd::update{"jobs", "j1", {{"priority", 2}}, std::nullopt, 1}).ok());
  auto r = write(cmd::update{"jobs", "j1", {{"priority", 9}}, uint64_t{1}, 1});
  CAF_CHECK_EQUAL(code(r), "version_conflict");
  CAF_CHECK_EQUAL(r.current_version, 2u);
  std::string message = r.st.message();
  CAF_CHECK_EQUAL(message, "jobs/j1 expected version 1, stored version 2");
  CAF_CHECK_EQUAL(code(write(cmd::replace{"jobs", "j1", {}, uint64_t{3}, 1})), "version_conflict");
  CAF_CHECK_EQUAL(code(write(cmd::erase{"jobs", "j1", uint64_t{5}, 1})), "version_conflict");
  auto got = read(cmd::get{"jobs", "j1"});
  CAF_CHECK(got.doc->fields.at("priority") == value{2});
  CAF_CHECK_EQUAL(got.doc->version, 2u);
}

CAF_TEST(a schema violation stores nothing and lists every violation) {
  auto r = insert("j1", {{"priority", "high"}, {"cpu", "many"}});
  CAF_CHECK_EQUAL(code(r), "schema_violation");
  std::string message = r.st.message();
  CAF_CHECK_NOT_EQUAL(message.find("priority"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(message.find("cpu"), std::string::npos);
  CAF_CHECK_EQUAL(code(read(cmd::get{"jobs", "j1"})), "not_found");
  CAF_CHECK_EQUAL(count_all(), 0u);
  CAF_REQUIRE(insert("j2", {{"priority", 1}}).ok());
  CAF_CHECK_EQUAL(code(write(cmd::update{"jobs", "j2", {{"priority", "x"}}, std::nullopt, 1})),
                  "schema_violation");
  CAF_CHECK_EQUAL(version_of(read(cmd::get{"jobs", "j2"})), 1u);
}

CAF_TEST(a unique index refuses duplicates and stores nothing but ignores nulls) {
  CAF_REQUIRE(insert("a", {{"name", "alice"}}).ok());
  auto r = insert("b", {{"name", "alice"}});
  CAF_CHECK_EQUAL(code(r), "unique_violation");
  std::string message = r.st.message();
  CAF_CHECK_NOT_EQUAL(message.find("by_name"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(message.find("'a'"), std::string::npos);
  CAF_CHECK_EQUAL(count_all(), 1u);
  CAF_CHECK_EQUAL(count_range(prefix_range("by_name", {"alice"})), 1u);
  CAF_CHECK(insert("c", {}).ok());  // no name: null is never a duplicate
  CAF_CHECK(insert("d", {}).ok());
  CAF_CHECK(insert("e", {{"name", "bob"}}).ok());
  CAF_CHECK_EQUAL(code(write(cmd::update{"jobs", "e", {{"name", "alice"}}, std::nullopt, 1})), "unique_violation");
  CAF_CHECK(write(cmd::update{"jobs", "a", {{"name", "alice"}, {"cpu", 1}}, std::nullopt, 1}).ok());
}

CAF_TEST(a document larger than the limit is too_large) {
  value_map fields;
  for (int i = 0; i < 12; ++i) fields["f" + std::to_string(i)] = std::string(100 * 1024, 'x');
  auto r = insert("big", fields);
  CAF_CHECK_EQUAL(code(r), "too_large");
  CAF_CHECK_EQUAL(count_all(), 0u);
}

CAF_TEST(compare and swap checks version and condition then writes) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}, {"cpu", 4}}).ok());
  filter small{{filter_condition{"cpu", filter_op::le, value{2}}}};
  auto failed = write(cmd::compare_and_swap{"jobs", "j1", std::nullopt, small, {{"cpu", 1}}, true, 1});
  CAF_CHECK_EQUAL(code(failed), "condition_failed");
  CAF_CHECK_EQUAL(failed.current_version, 1u);
  CAF_REQUIRE(failed.doc.has_value());
  CAF_CHECK(failed.doc->fields.at("cpu") == value{4});
  auto stale = write(cmd::compare_and_swap{"jobs", "j1", uint64_t{7}, {}, {{"cpu", 1}}, true, 1});
  CAF_CHECK_EQUAL(code(stale), "version_conflict");
  CAF_CHECK_EQUAL(stale.current_version, 1u);
  filter big{{filter_condition{"cpu", filter_op::ge, value{4}}}};
  auto merged = write(cmd::compare_and_swap{"jobs", "j1", uint64_t{1}, big, {{"cpu", 1}}, true, 2});
  CAF_REQUIRE(merged.ok());
  CAF_CHECK_EQUAL(merged.doc->version, 2u);
  CAF_CHECK(merged.doc->fields.at("priority") == value{1});
  auto replaced = write(cmd::compare_and_swap{"jobs", "j1", uint64_t{2}, {}, {{"cpu", 8}}, false, 3});
  CAF_REQUIRE(replaced.ok());
  CAF_CHECK_EQUAL(replaced.doc->fields.count("priority"), 0u);
  CAF_CHECK_EQUAL(replaced.doc->version, 3u);
}

CAF_TEST(certain_failure predicts the failure of a conditional write and writes nothing) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}, {"cpu", 4}}).ok());
  const uint64_t applied = sm.applied_index();
  const size_t keys = eng.key_count(column::documents) + eng.key_count(column::meta);
  auto stale = sm.certain_failure(cmd::compare_and_swap{"jobs", "j1", uint64_t{7}, {}, {{"cpu", 1}}, true, 1});
  CAF_REQUIRE(stale.has_value());
  CAF_CHECK_EQUAL(code(*stale), "version_conflict");
  CAF_CHECK_EQUAL(stale->current_version, 1u);
  filter small{{filter_condition{"cpu", filter_op::le, value{2}}}};
  auto unmatched = sm.certain_failure(cmd::compare_and_swap{"jobs", "j1", std::nullopt, small, {{"cpu", 1}}, true, 1});
  CAF_REQUIRE(unmatched.has_value());
  CAF_CHECK_EQUAL(code(*unmatched), "condition_failed");
  auto missing = sm.certain_failure(cmd::erase{"jobs", "nope", uint64_t{1}});
  CAF_REQUIRE(missing.has_value());
  CAF_CHECK_EQUAL(code(*missing), "not_found");
  auto stale_update = sm.certain_failure(cmd::update{"jobs", "j1", {{"cpu", 2}}, uint64_t{3}, 1});
  CAF_REQUIRE(stale_update.has_value());
  CAF_CHECK_EQUAL(code(*stale_update), "version_conflict");
  // What would succeed, and what is not conditional, is not predicted.
  CAF_CHECK(!sm.certain_failure(cmd::compare_and_swap{"jobs", "j1", uint64_t{1}, {}, {{"cpu", 1}}, true, 1}));
  CAF_CHECK(!sm.certain_failure(cmd::update{"jobs", "nope", {{"cpu", 2}}, std::nullopt, 1}));
  CAF_CHECK(!sm.certain_failure(cmd::insert{"jobs", "j1", {}, 1}));
  CAF_CHECK(!sm.certain_failure(cmd::get{"jobs", "j1"}));
  // Nothing was written: the predicted writes really are still possible.
  CAF_CHECK_EQUAL(sm.applied_index(), applied);
  CAF_CHECK_EQUAL(eng.key_count(column::documents) + eng.key_count(column::meta), keys);
  auto swapped = write(cmd::compare_and_swap{"jobs", "j1", uint64_t{1}, {}, {{"cpu", 1}}, true, 2});
  CAF_REQUIRE(swapped.ok());
  CAF_CHECK_EQUAL(swapped.doc->version, 2u);
}

CAF_TEST(failure_now refuses any document write the applied state refuses and writes nothing) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}, {"cpu", 4}}).ok());
  const uint64_t applied = sm.applied_index();
  const size_t keys = eng.key_count(column::documents) + eng.key_count(column::meta);
  auto exists = sm.failure_now(cmd::insert{"jobs", "j1", {}, 1});
  CAF_REQUIRE(exists.has_value());
  CAF_CHECK_EQUAL(code(*exists), "already_exists");
  auto missing = sm.failure_now(cmd::update{"jobs", "nope", {{"cpu", 2}}, std::nullopt, 1});
  CAF_REQUIRE(missing.has_value());
  CAF_CHECK_EQUAL(code(*missing), "not_found");
  auto unknown = sm.failure_now(cmd::insert{"nothing", "x", {}, 1});
  CAF_REQUIRE(unknown.has_value());
  CAF_CHECK_EQUAL(code(*unknown), "unknown_collection");
  auto conditional = sm.failure_now(cmd::erase{"jobs", "j1", uint64_t{9}});
  CAF_REQUIRE(conditional.has_value());
  CAF_CHECK_EQUAL(code(*conditional), "version_conflict");
  // What would succeed, and what is not a document write, passes.
  CAF_CHECK(!sm.failure_now(cmd::insert{"jobs", "j2", {{"priority", 2}}, 1}));
  CAF_CHECK(!sm.failure_now(cmd::update{"jobs", "j1", {{"cpu", 2}}, std::nullopt, 1}));
  CAF_CHECK(!sm.failure_now(cmd::get{"jobs", "j1"}));
  CAF_CHECK_EQUAL(sm.applied_index(), applied);
  CAF_CHECK_EQUAL(eng.key_count(column::documents) + eng.key_count(column::meta), keys);
}

CAF_TEST(index entries follow update replace and delete) {
  CAF_REQUIRE(insert("j1", {{"priority", 1}}).ok());
  CAF_REQUIRE(insert("j2", {{"priority", 2}}).ok());
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting"})), 2u);
  CAF_REQUIRE(write(cmd::update{"jobs", "j1", {{"state", "running"}}, std::nullopt, 1}).ok());
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting"})), 1u);
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"running"})), 1u);
  CAF_REQUIRE(write(cmd::replace{"jobs", "j1", {{"priority", 1}}, std::nullopt, 1}).ok());
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"running"})), 0u);
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting", 1})), 1u);
  CAF_REQUIRE(write(cmd::erase{"jobs", "j1", uint64_t{3}, 1}).ok());
  CAF_CHECK_EQUAL(count_range(prefix_range("by_state", {"waiting"})), 1u);
  CAF_CHECK_EQUAL(count_range(index_range{"by_state", std::nullopt, std::nullopt}), 1u);
  CAF_CHECK_EQUAL(count_all(), 1u);
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 2u);  // j2 in by_state and by_name
}

CAF_TEST(list pages by id in both directions without gaps or repeats) {
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) {
    std::string id = "id" + std::to_string(100 + i);
    expected.push_back(id);
    CAF_REQUIRE(insert(id, {{"priority", i % 4}}).ok());
  }
  CAF_REQUIRE(insert("other", {}).ok());
  auto up = page_all(cmd::list{"jobs", std::string{"id"}, std::nullopt, 4, "", false});
  CAF_CHECK(up == expected);
  auto down = page_all(cmd::list{"jobs", std::string{"id"}, std::nullopt, 3, "", true});
  std::reverse(expected.begin(), expected.end());
  CAF_CHECK(down == expected);
  auto exact = read(cmd::list{"jobs", std::string{"id"}, std::nullopt, 25, "", false});
  CAF_CHECK_EQUAL(exact.docs.size(), 25u);
  CAF_CHECK(exact.next_cursor.empty());
  auto everything = read(cmd::list{"jobs", std::nullopt, std::nullopt, 0, "", false});
  CAF_CHECK_EQUAL(everything.docs.size(), 26u);
}

CAF_TEST(list pages by index range in index order) {
  for (int i = 0; i < 20; ++i) {
    CAF_REQUIRE(insert("j" + std::to_string(i), {{"priority", 20 - i}}).ok());
  }
  CAF_REQUIRE(write(cmd::update{"jobs", "j3", {{"state", "done"}}, std::nullopt, 1}).ok());
  auto page = page_all(cmd::list{"jobs", std::nullopt, prefix_range("by_state", {"waiting"}), 6, "", false});
  CAF_REQUIRE_EQUAL(page.size(), 19u);
  CAF_CHECK_EQUAL(page.front(), "j19");  // priority 1 first
  CAF_CHECK_EQUAL(page.back(), "j0");
  auto down = page_all(cmd::list{"jobs", std::nullopt, prefix_range("by_state", {"waiting"}), 5, "", true});
  std::reverse(down.begin(), down.end());
  CAF_CHECK(down == page);
  index_range bounded{"by_state", std::vector<value>{"waiting", 5}, std::vector<value>{"waiting", 8}};
  auto mid = read(cmd::list{"jobs", std::nullopt, bounded, 0, "", false});
  CAF_CHECK((ids_of(mid) == std::vector<std::string>{"j15", "j14", "j13", "j12"}));
  CAF_CHECK_EQUAL(count_range(bounded), 4u);
}

CAF_TEST(a bad cursor or a limit above the maximum is invalid_argument) {
  for (int i = 0; i < 5; ++i) CAF_REQUIRE(insert("j" + std::to_string(i), {}).ok());
  auto first = read(cmd::list{"jobs", std::nullopt, std::nullopt, 2, "", false});
  CAF_REQUIRE(!first.next_cursor.empty());
  CAF_CHECK_EQUAL(code(read(cmd::list{"jobs", std::nullopt, std::nullopt, 2, "zz-not-hex", false})), "invalid_argument");
  CAF_CHECK_EQUAL(code(read(cmd::list{"jobs", std::nullopt, std::nullopt, 2, "00ff", false})), "invalid_argument");
  auto by_index = read(cmd::list{"jobs", std::nullopt, prefix_range("by_state", {"waiting"}), 2, first.next_cursor, false});
  CAF_CHECK_EQUAL(code(by_index), "invalid_argument");
  CAF_CHECK_EQUAL(code(read(cmd::list{"jobs", std::nullopt, std::nullopt, limits::list_limit_max + 1, "", false})),
                  "invalid_argument");
  auto unknown_index = read(cmd::list{"jobs", std::nullopt, prefix_range("by_nothing", {}), 2, "", false});
  CAF_CHECK_EQUAL(code(unknown_index), "invalid_argument");
}

CAF_TEST(a stale log index is refused and a failed write still consumes its index) {
  CAF_REQUIRE(insert("j1", {}).ok());
  uint64_t applied = sm.applied_index();
  auto stale = sm.apply(applied, cmd::insert{"jobs", "j2", {}, 1});
  CAF_CHECK_EQUAL(code(stale), "invalid_argument");
  CAF_CHECK_EQUAL(code(read(cmd::get{"jobs", "j2"})), "not_found");
  CAF_CHECK_EQUAL(sm.applied_index(), applied);
  auto failed = insert("j1", {});
  CAF_CHECK_EQUAL(code(failed), "already_exists");
  CAF_CHECK_EQUAL(sm.applied_index(), applied + 1);
  std::string stored;
  CAF_REQUIRE(eng.get(column::meta, keys::applied_key(7), stored).ok());
  CAF_CHECK_EQUAL(keys::decode_u64(stored).value_or(0), applied + 1);
  auto read_reply = sm.apply(1, cmd::get{"jobs", "j1"});  // reads ignore the index
  CAF_CHECK(read_reply.ok());
  CAF_CHECK_EQUAL(sm.applied_index(), applied + 1);
}

CAF_TEST(create schema of an existing collection is already_exists) {
  CAF_CHECK_EQUAL(code(write(cmd::create_schema{test::jobs_schema(), 1})), "already_exists");
}

CAF_TEST(alter schema backfills an added index and refuses a unique index over duplicates) {
  CAF_REQUIRE(insert("a", {{"cpu", 2}}).ok());
  CAF_REQUIRE(insert("b", {{"cpu", 2}}).ok());
  CAF_REQUIRE(insert("c", {{"cpu", 1}}).ok());
  auto with_cpu = test::jobs_schema();
  with_cpu.indexes.push_back(index_spec{"by_cpu", {"cpu"}, true});
  auto refused = write(cmd::alter_schema{with_cpu, 1});
  CAF_CHECK_EQUAL(code(refused), "unique_violation");
  CAF_CHECK_EQUAL(sm.find_schema("jobs")->indexes.size(), 2u);
  with_cpu.indexes.back().unique = false;
  auto altered = write(cmd::alter_schema{with_cpu, 1});
  CAF_REQUIRE(altered.ok());
  CAF_CHECK_EQUAL(count_range(prefix_range("by_cpu", {2})), 2u);
  auto listed = read(cmd::list{"jobs", std::nullopt, index_range{"by_cpu", {}, {}}, 0, "", false});
  CAF_CHECK((ids_of(listed) == std::vector<std::string>{"c", "a", "b"}));
  auto without_state = with_cpu;
  without_state.indexes.erase(without_state.indexes.begin());
  CAF_REQUIRE(write(cmd::alter_schema{without_state, 1}).ok());
  CAF_CHECK_EQUAL(code(read(cmd::count{"jobs", prefix_range("by_state", {})})), "invalid_argument");
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 6u);  // by_name and by_cpu; by_state is gone
}

CAF_TEST(drop schema removes documents index entries counter and schema) {
  CAF_REQUIRE(insert("a", {{"name", "x"}}).ok());
  CAF_REQUIRE(insert("b", {}).ok());
  CAF_REQUIRE(write(cmd::drop_schema{"jobs", 1}).ok());
  CAF_CHECK(sm.find_schema("jobs") == nullptr);
  CAF_CHECK_EQUAL(code(read(cmd::get{"jobs", "a"})), "unknown_collection");
  CAF_CHECK_EQUAL(eng.key_count(column::documents), 0u);
  CAF_CHECK_EQUAL(eng.key_count(column::indexes), 0u);
  CAF_CHECK_EQUAL(eng.key_count(column::meta), 1u);  // only the applied index
  CAF_REQUIRE(write(cmd::create_schema{test::jobs_schema(), 1}).ok());
  CAF_CHECK_EQUAL(count_all(), 0u);
}

CAF_TEST(a second state machine on the same engine recovers index schemas and documents) {
  CAF_REQUIRE(insert("a", {{"priority", 1}}).ok());
  CAF_REQUIRE(write(cmd::update{"jobs", "a", {{"priority", 2}}, std::nullopt, 9}).ok());
  state_machine again{eng, 7};
  CAF_REQUIRE(again.open().ok());
  CAF_CHECK_EQUAL(again.applied_index(), sm.applied_index());
  CAF_REQUIRE(again.find_schema("jobs") != nullptr);
  CAF_CHECK(*again.find_schema("jobs") == *sm.find_schema("jobs"));
  CAF_CHECK(again.apply(0, cmd::get{"jobs", "a"}) == sm.apply(0, cmd::get{"jobs", "a"}));
  state_machine other_shard{eng, 8};
  CAF_REQUIRE(other_shard.open().ok());
  CAF_CHECK_EQUAL(other_shard.applied_index(), 0u);
  CAF_CHECK(other_shard.find_schema("jobs") == nullptr);
}

CAF_TEST(after a crash the applied index and the data agree) {
  CAF_REQUIRE(insert("a", {{"priority", 1}}).ok());
  CAF_REQUIRE(eng.sync().ok());
  uint64_t durable = sm.applied_index();
  CAF_REQUIRE(insert("b", {{"priority", 2}}).ok());
  CAF_REQUIRE(write(cmd::update{"jobs", "a", {{"priority", 3}}, std::nullopt, 1}).ok());
  eng.simulate_crash();
  state_machine recovered{eng, 7};
  CAF_REQUIRE(recovered.open().ok());
  CAF_CHECK_EQUAL(recovered.applied_index(), durable);
  CAF_CHECK_EQUAL(code(recovered.apply(0, cmd::get{"jobs", "b"})), "not_found");
  CAF_CHECK(recovered.apply(0, cmd::get{"jobs", "a"}).doc->fields.at("priority") == value{1});
  auto counted = recovered.apply(0, cmd::count{"jobs", std::nullopt});
  CAF_CHECK_EQUAL(counted.count, 1u);
  // Replay of the lost entries applies them again exactly.
  auto replayed = recovered.apply(durable + 1, cmd::insert{"jobs", "b", {{"priority", 2}}, 5});
  CAF_CHECK(replayed.ok());
}

CAF_TEST(claim takes the first matching document in index order) {
  CAF_REQUIRE(insert("low", {{"priority", 1}, {"cpu", 8}}).ok());
  CAF_REQUIRE(insert("mid", {{"priority", 2}, {"cpu", 2}}).ok());
  CAF_REQUIRE(insert("high", {{"priority", 3}, {"cpu", 1}}).ok());
  filter small{{filter_condition{"cpu", filter_op::le, value{2}}}};
  cmd::claim c{"jobs", prefix_range("by_state", {"waiting"}), small, {{"state", "running"}}, 77};
  auto first = write(c);
  CAF_REQUIRE(first.ok());
  CAF_CHECK(first.claimed);
  CAF_CHECK_EQUAL(first.doc->id, "mid");
  CAF_CHECK_EQUAL(first.doc->version, 2u);
  CAF_CHECK_EQUAL(first.doc->modified_ns, 77);
  CAF_CHECK_EQUAL(id_of(write(c)), "high");
  auto none = write(c);
  CAF_CHECK(none.ok());
  CAF_CHECK(!none.claimed);
  CAF_CHECK(!none.doc.has_value());
  uint64_t before = sm.applied_index();
  cmd::claim sticky{"jobs", prefix_range("by_state", {"waiting"}), {}, {{"cpu", 9}}, 78};
  auto refused = write(sticky);
  CAF_CHECK_EQUAL(code(refused), "invalid_argument");
  CAF_CHECK_EQUAL(sm.applied_index(), before + 1);
  CAF_CHECK_EQUAL(version_of(read(cmd::get{"jobs", "low"})), 1u);
  cmd::claim bad_index{"jobs", prefix_range("by_nothing", {}), {}, {{"state", "x"}}, 79};
  CAF_CHECK_EQUAL(code(write(bad_index)), "invalid_argument");
}

CAF_TEST_FIXTURE_SCOPE_END()
