// The document state machine in a collection partitioned by a field: a
// document is named by (partition value, id) inside one shard, so two
// partitions that share a shard never see, change or collide with each
// other's documents (docs/data-model.md, "Partitions").
#define CAF_SUITE state_machine_partition
#include "caf/test/unit_test.hpp"

#include <string>

#include "protocols/limits.hpp"
#include "schema/json.hpp"
#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

std::string code(const reply& r) { return std::string{to_string(r.st.code())}; }

std::string colony_of(const document& doc) {
  const value* colony = find_path(doc.fields, "colony");
  return colony != nullptr && colony->is_string() ? colony->as_string() : "";
}

// Copies out of a reply (CAF_CHECK_EQUAL must not hold references into temporaries).
std::string colony_of(const reply& r) { return r.doc ? colony_of(*r.doc) : std::string{}; }
uint64_t version_of(const reply& r) { return r.doc ? r.doc->version : 0; }

collection_schema schema_of(std::string_view json) {
  auto parsed = parse_json(json);
  VELOCITY_CHECK(parsed.ok());
  auto schema = schema_from_value(parsed.value());
  if (!schema.ok()) CAF_FAIL(schema.error().message());
  return schema.value();
}

struct fixture {
  memory_engine eng;
  state_machine sm{eng, 3};
  uint64_t next_index = 1;

  fixture() {
    CAF_REQUIRE(sm.open().ok());
    // pj: by colony, a unique index on name; ids: partitioned by id.
    auto pj = schema_of(R"({"collection": "pj", "partition_key": "colony",
        "fields": {"colony": {"type": "string", "required": true, "default": "c0"},
                   "state": {"type": "string"}},
        "indexes": [{"name": "by_state", "fields": ["state"]},
                    {"name": "by_name", "fields": ["name"], "unique": true}]})");
    CAF_REQUIRE(write(cmd::create_schema{pj, 1}).ok());
    CAF_REQUIRE(write(cmd::create_schema{schema_of(R"({"collection": "ids"})"), 1}).ok());
  }

  reply write(const command& c) { return sm.apply(next_index++, c); }
  reply read(const command& c) { return sm.apply(0, c); }

  reply insert(std::string id, std::string colony, std::string state = "waiting") {
    value_map fields;
    fields.emplace("colony", value{std::move(colony)});
    fields.emplace("state", value{std::move(state)});
    return write(cmd::insert{"pj", std::move(id), std::move(fields), 5});
  }

  reply get(std::string id, std::string colony) {
    cmd::get c{"pj", std::move(id)};
    c.partition = value{std::move(colony)};
    return read(c);
  }

  static value_map state_patch(std::string state) {
    value_map patch;
    patch.emplace("state", value{std::move(state)});
    return patch;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(state_machine_partition_tests, fixture)

CAF_TEST(one id exists once per partition on one shard) {
  CAF_REQUIRE(insert("solo", "c1").ok());
  CAF_REQUIRE(insert("solo", "c5").ok());
  auto again = insert("solo", "c5");
  CAF_CHECK_EQUAL(code(again), "already_exists");
  CAF_CHECK_EQUAL(again.current_version, 1u);
  CAF_CHECK_EQUAL(colony_of(get("solo", "c1")), "c1");
  CAF_CHECK_EQUAL(colony_of(get("solo", "c5")), "c5");
  auto listed = read(cmd::list{"pj", std::nullopt, std::nullopt, 0, "", false});
  CAF_REQUIRE_EQUAL(listed.docs.size(), 2u);
  CAF_CHECK_EQUAL(read(cmd::count{"pj", std::nullopt}).count, 2u);
}

CAF_TEST(a wrong partition value finds nothing and changes nothing) {
  CAF_REQUIRE(insert("solo", "c1").ok());
  CAF_CHECK_EQUAL(code(get("solo", "c5")), "not_found");
  cmd::update update{"pj", "solo", state_patch("stolen"), std::nullopt, 9};
  update.partition = value{"c5"};
  CAF_CHECK_EQUAL(code(write(update)), "not_found");
  cmd::compare_and_swap cas{"pj", "solo", uint64_t{1}, {}, state_patch("stolen"), true, 9};
  cas.partition = value{"c5"};
  CAF_CHECK_EQUAL(code(write(cas)), "not_found");
  cmd::erase erase{"pj", "solo", std::nullopt, 9};
  erase.partition = value{"c5"};
  CAF_CHECK_EQUAL(code(write(erase)), "not_found");
  value_map fields;
  fields.emplace("colony", value{"c5"});
  CAF_CHECK_EQUAL(code(write(cmd::replace{"pj", "solo", fields, std::nullopt, 9})), "not_found");
  auto kept = get("solo", "c1");
  CAF_REQUIRE(kept.ok());
  CAF_CHECK_EQUAL(kept.doc->version, 1u);
  CAF_CHECK_EQUAL(find_path(kept.doc->fields, "state")->as_string(), "waiting");
}

CAF_TEST(addressing a document of a partitioned collection needs its partition value) {
  CAF_REQUIRE(insert("solo", "c1").ok());
  auto missing = read(cmd::get{"pj", "solo"});
  CAF_CHECK_EQUAL(code(missing), "invalid_argument");
  CAF_CHECK_EQUAL(missing.st.message(),
                  "collection pj is partitioned by 'colony'; pass its value with get");
  CAF_CHECK_EQUAL(code(write(cmd::erase{"pj", "solo", std::nullopt, 9})), "invalid_argument");
  CAF_CHECK(get("solo", "c1").ok());  // the refused delete consumed its index only
}

CAF_TEST(the partition default names the document when the field is absent) {
  CAF_REQUIRE(write(cmd::insert{"pj", "d", value_map{}, 5}).ok());
  auto got = get("d", "c0");
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(colony_of(*got.doc), "c0");
}

CAF_TEST(a write that would change the partition value is refused) {
  CAF_REQUIRE(insert("solo", "c1").ok());
  value_map patch;
  patch.emplace("colony", value{"c2"});
  cmd::update update{"pj", "solo", patch, std::nullopt, 9};
  update.partition = value{"c1"};
  auto refused = write(update);
  CAF_CHECK_EQUAL(code(refused), "invalid_argument");
  CAF_CHECK_EQUAL(version_of(get("solo", "c1")), 1u);
  CAF_CHECK_EQUAL(code(get("solo", "c2")), "not_found");
}

CAF_TEST(list count and claim with a partition value see that partition only) {
  CAF_REQUIRE(insert("a1", "c5").ok());
  CAF_REQUIRE(insert("a2", "c5").ok());
  CAF_REQUIRE(insert("b1", "c1").ok());
  cmd::list list{"pj", std::nullopt, std::nullopt, 1, "", false};
  list.partition = value{"c1"};
  auto page = read(list);
  CAF_REQUIRE_EQUAL(page.docs.size(), 1u);
  CAF_CHECK_EQUAL(page.docs[0].id, "b1");
  CAF_CHECK(page.next_cursor.empty());
  const std::vector<value> prefix{value{"waiting"}};
  index_range waiting{"by_state", prefix, prefix};
  list.range = waiting;
  list.partition = value{"c5"};
  list.limit = 0;
  CAF_CHECK_EQUAL(read(list).docs.size(), 2u);
  cmd::count count{"pj", std::nullopt};
  count.partition = value{"c1"};
  CAF_CHECK_EQUAL(read(count).count, 1u);
  count.range = waiting;
  CAF_CHECK_EQUAL(read(count).count, 1u);
  count.partition = value{"c9"};
  CAF_CHECK_EQUAL(read(count).count, 0u);
  cmd::claim claim{"pj", waiting, {}, state_patch("running"), 9};
  claim.partition = value{"c1"};
  auto claimed = write(claim);
  CAF_REQUIRE(claimed.ok());
  CAF_REQUIRE(claimed.claimed);
  CAF_CHECK_EQUAL(claimed.doc->id, "b1");
  auto none = write(claim);
  CAF_CHECK(none.ok() && !none.claimed);
  CAF_CHECK_EQUAL(version_of(get("a1", "c5")), 1u);
}

CAF_TEST(a list given a partition value pages on past many documents of other partitions) {
  // More entries of another partition than one page may skip, in front of c1's.
  for (int i = 0; i < 10050; ++i) CAF_REQUIRE(insert("a" + std::to_string(100000 + i), "c5").ok());
  CAF_REQUIRE(insert("z", "c1").ok());
  cmd::list list{"pj", std::nullopt, std::nullopt, 10, "", false};
  list.partition = value{"c1"};
  std::vector<std::string> seen;
  int pages = 0;
  for (; pages < 10; ++pages) {
    auto page = read(list);
    CAF_REQUIRE(page.ok());
    for (const document& doc : page.docs) seen.push_back(doc.id);
    if (page.next_cursor.empty()) break;
    list.cursor = page.next_cursor;
  }
  CAF_CHECK_EQUAL(pages, 1);  // the first page stopped short, the second found z
  CAF_REQUIRE_EQUAL(seen.size(), 1u);
  CAF_CHECK_EQUAL(seen[0], "z");
}

CAF_TEST(a list page resumes after its cursor across partitions sharing an id) {
  for (const char* colony : {"c1", "c2", "c3"}) CAF_REQUIRE(insert("solo", colony).ok());
  CAF_REQUIRE(insert("alone", "c2").ok());
  cmd::list list{"pj", std::nullopt, std::nullopt, 1, "", false};
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = read(list);
    CAF_REQUIRE(page.ok());
    for (const document& doc : page.docs) seen.push_back(doc.id + "@" + colony_of(doc));
    if (page.next_cursor.empty()) break;
    list.cursor = page.next_cursor;
  }
  std::vector<std::string> expected{"alone@c2", "solo@c1", "solo@c2", "solo@c3"};
  CAF_CHECK(seen == expected);
}

CAF_TEST(a unique index names the holder in another partition) {
  value_map fields;
  fields.emplace("colony", value{"c1"});
  fields.emplace("name", value{"n"});
  CAF_REQUIRE(write(cmd::insert{"pj", "solo", fields, 5}).ok());
  fields["colony"] = value{"c2"};
  auto clash = write(cmd::insert{"pj", "solo", fields, 5});
  CAF_CHECK_EQUAL(code(clash), "unique_violation");
  CAF_CHECK(clash.st.message().find("document 'solo'") != std::string::npos);
  // The holder itself may be rewritten (its own entry is no duplicate).
  cmd::update update{"pj", "solo", state_patch("running"), std::nullopt, 9};
  update.partition = value{"c1"};
  CAF_CHECK(write(update).ok());
}

CAF_TEST(ids never contain a NUL byte and partition values have a size limit) {
  CAF_CHECK_EQUAL(code(insert(std::string("a\0b", 3), "c1")), "invalid_argument");
  std::string huge(limits::partition_value_bytes_max, 'x');
  CAF_CHECK_EQUAL(code(insert("big", huge)), "too_large");
  cmd::list list{"pj", std::string("a\0", 2), std::nullopt, 0, "", false};
  CAF_CHECK_EQUAL(code(read(list)), "invalid_argument");
}

CAF_TEST(in a collection partitioned by id the partition value is the id) {
  CAF_REQUIRE(write(cmd::insert{"ids", "x", value_map{}, 5}).ok());
  CAF_REQUIRE(write(cmd::insert{"ids", "y", value_map{}, 5}).ok());
  cmd::get get{"ids", "x"};
  CAF_CHECK(read(get).ok());
  get.partition = value{"x"};
  CAF_CHECK(read(get).ok());
  get.partition = value{"y"};
  CAF_CHECK_EQUAL(code(read(get)), "invalid_argument");
  cmd::count count{"ids", std::nullopt};
  count.partition = value{"y"};
  CAF_CHECK_EQUAL(read(count).count, 1u);
  count.partition = value{int64_t{3}};
  CAF_CHECK_EQUAL(read(count).count, 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
