// Partition identity through the router, with 1 and with 4 shards: in a
// collection partitioned by a field, a document is named by (partition value,
// id). A request naming the wrong partition never reads or changes another
// partition's document, wherever the two values hash, and list, count and
// claim given a partition value see only that partition (issue 8, bug 1).
#define CAF_SUITE router_partition
#define FAIL(msg) CAF_FAIL(msg)  // 0.17.6: dsl.hpp uses FAIL without defining it
#include "caf/test/dsl.hpp"

#include <set>

#include "actors/router_actor.hpp"
#include "router/placement.hpp"
#include "schema/json.hpp"
#include "storage/memory_engine.hpp"
#include "tests/actors/actor_test_support.hpp"

using namespace velocity;

namespace {

constexpr uint32_t many_shards = 4;

struct partition_fixture : test_coordinator_fixture<> {
  std::shared_ptr<memory_engine> memory = std::make_shared<memory_engine>();
  router_control_actor router;

  // Starts shard_count shards and a router, and creates `pj`: partitioned by
  // colony (default c0), with an index by_state that does not start with it.
  void start(uint32_t shard_count) {
    memory = std::make_shared<memory_engine>();  // each start is a fresh node
    std::vector<shard_actor> shards;
    for (uint32_t id = 0; id < shard_count; ++id) {
      auto shard = spawn_shard(sys, shard_options{id, memory, {}});
      CAF_REQUIRE(shard.ok());
      shards.push_back(shard.value());
    }
    router = test::spawn_test_router(sys, shards);
    auto parsed = parse_json(R"({"collection": "pj", "partition_key": "colony",
        "fields": {"colony": {"type": "string", "required": true, "default": "c0"},
                   "state": {"type": "string"}},
        "indexes": [{"name": "by_state", "fields": ["state"]}]})");
    CAF_REQUIRE(parsed.ok());
    auto schema = schema_from_value(parsed.value());
    CAF_REQUIRE(schema.ok());
    CAF_REQUIRE(ask(cmd::create_schema{schema.value(), 0}, std::nullopt).ok());
  }

  reply ask(command c, std::optional<std::string> colony) {
    client_request request;
    request.request_id = 7;
    request.level = consistency::strong;
    if (colony) request.partition = value{*colony};
    request.body = std::move(c);
    return test::ask_router(*this, router, std::move(request)).result;
  }

  reply insert(const std::string& id, const std::string& colony,
               const std::string& state = "waiting") {
    value_map fields;
    fields.emplace("colony", value{colony});
    fields.emplace("state", value{state});
    return ask(cmd::insert{"pj", id, std::move(fields), 0}, std::nullopt);
  }

  reply get(const std::string& id, const std::string& colony) {
    return ask(cmd::get{"pj", id}, colony);
  }
};

// Colonies other than c1: the first and third on c1's shard when there are
// many shards, the others not (so every test covers both cases).
std::vector<std::string> other_colonies() {
  std::vector<std::string> same;
  std::vector<std::string> other;
  for (int i = 2; i < 40; ++i) {
    std::string colony = "c" + std::to_string(i);
    bool together = shard_of(value{colony}, many_shards) == shard_of(value{"c1"}, many_shards);
    (together ? same : other).push_back(colony);
  }
  VELOCITY_CHECK(!same.empty() && !other.empty());
  return {same[0], other[0], same[1], other[1]};
}

std::string colony_of(const document& doc) {
  const value* colony = find_path(doc.fields, "colony");
  return colony != nullptr && colony->is_string() ? colony->as_string() : "";
}

// Copies out of a reply (CAF_CHECK_EQUAL must not hold references into temporaries).
std::string colony_of(const reply& r) { return r.doc ? colony_of(*r.doc) : std::string{}; }
uint64_t version_of(const reply& r) { return r.doc ? r.doc->version : 0; }

}  // namespace

CAF_TEST_FIXTURE_SCOPE(router_partition_tests, partition_fixture)

CAF_TEST(a wrong partition value never reads or changes the document of another partition) {
  for (uint32_t shard_count : {1u, many_shards}) {
    CAF_MESSAGE("shards: " << shard_count);
    start(shard_count);
    CAF_REQUIRE(insert("solo", "c1").ok());
    for (const std::string& wrong : other_colonies()) {
      CAF_MESSAGE("partition " << wrong);
      CAF_CHECK(get("solo", wrong).st.code() == error_code::not_found);
      value_map patch;
      patch.emplace("state", value{"stolen"});
      cmd::update update{"pj", "solo", patch, std::nullopt, 0};
      CAF_CHECK(ask(update, wrong).st.code() == error_code::not_found);
      cmd::compare_and_swap cas{"pj", "solo", uint64_t{1}, {}, patch, true, 0};
      CAF_CHECK(ask(cas, wrong).st.code() == error_code::not_found);
      auto erased = ask(cmd::erase{"pj", "solo", std::nullopt, 0}, wrong);
      CAF_CHECK(erased.st.code() == error_code::not_found);
      value_map fields;
      fields.emplace("colony", value{wrong});
      CAF_CHECK(ask(cmd::replace{"pj", "solo", fields, std::nullopt, 0}, std::nullopt).st.code() ==
                error_code::not_found);
    }
    auto kept = get("solo", "c1");
    CAF_REQUIRE(kept.ok());
    CAF_CHECK_EQUAL(version_of(kept), 1u);
    CAF_CHECK_EQUAL(colony_of(kept), "c1");
    CAF_CHECK(ask(cmd::get{"pj", "solo"}, std::nullopt).st.code() == error_code::invalid_argument);
  }
}

CAF_TEST(the same id exists once per partition whatever the shard count) {
  for (uint32_t shard_count : {1u, many_shards}) {
    CAF_MESSAGE("shards: " << shard_count);
    start(shard_count);
    auto colonies = other_colonies();
    CAF_REQUIRE(insert("solo", "c1").ok());
    for (const std::string& colony : colonies) CAF_CHECK(insert("solo", colony).ok());
    auto again = insert("solo", colonies[0]);
    CAF_CHECK(again.st.code() == error_code::already_exists);
    CAF_CHECK_EQUAL(again.current_version, 1u);
    cmd::list list;
    list.collection = "pj";
    auto listed = ask(list, std::nullopt);
    CAF_REQUIRE(listed.ok());
    CAF_CHECK_EQUAL(listed.docs.size(), colonies.size() + 1);
    std::set<std::string> seen;
    for (const document& doc : listed.docs) {
      CAF_CHECK_EQUAL(doc.id, "solo");
      seen.insert(colony_of(doc));
    }
    CAF_CHECK_EQUAL(seen.size(), colonies.size() + 1);
    for (const std::string& colony : colonies) {
      auto got = get("solo", colony);
      CAF_REQUIRE(got.ok());
      CAF_CHECK_EQUAL(colony_of(got), colony);
      CAF_CHECK(ask(cmd::erase{"pj", "solo", std::nullopt, 0}, colony).ok());
    }
    auto survivor = get("solo", "c1");
    CAF_REQUIRE(survivor.ok());
    CAF_CHECK_EQUAL(colony_of(survivor), "c1");
  }
}

CAF_TEST(list count and claim given a partition value see only that partition) {
  for (uint32_t shard_count : {1u, many_shards}) {
    CAF_MESSAGE("shards: " << shard_count);
    start(shard_count);
    std::string neighbour = other_colonies()[0];  // on c1's shard
    // The neighbour's jobs sort first in by_state and by id.
    CAF_REQUIRE(insert("a1", neighbour).ok());
    CAF_REQUIRE(insert("a2", neighbour).ok());
    CAF_REQUIRE(insert("b1", "c1").ok());
    cmd::list by_id;
    by_id.collection = "pj";
    auto listed = ask(by_id, "c1");
    CAF_REQUIRE(listed.ok());
    CAF_REQUIRE_EQUAL(listed.docs.size(), 1u);
    CAF_CHECK_EQUAL(listed.docs[0].id, "b1");
    cmd::list by_state = by_id;
    by_state.range = index_range{"by_state", std::vector<value>{value{"waiting"}},
                                 std::vector<value>{value{"waiting"}}};
    by_state.limit = 1;
    listed = ask(by_state, "c1");
    CAF_REQUIRE(listed.ok());
    CAF_REQUIRE_EQUAL(listed.docs.size(), 1u);
    CAF_CHECK_EQUAL(listed.docs[0].id, "b1");
    CAF_CHECK_EQUAL(ask(cmd::count{"pj", std::nullopt}, "c1").count, 1u);
    CAF_CHECK_EQUAL(ask(cmd::count{"pj", by_state.range}, "c1").count, 1u);
    CAF_CHECK_EQUAL(ask(cmd::count{"pj", by_state.range}, neighbour).count, 2u);
    CAF_CHECK_EQUAL(ask(cmd::count{"pj", std::nullopt}, std::nullopt).count, 3u);
    cmd::claim claim;
    claim.collection = "pj";
    claim.range = *by_state.range;
    claim.patch.emplace("state", value{"running"});
    auto claimed = ask(claim, "c1");
    CAF_REQUIRE(claimed.ok());
    CAF_REQUIRE(claimed.claimed);
    CAF_CHECK_EQUAL(claimed.doc->id, "b1");
    auto none = ask(claim, "c1");
    CAF_REQUIRE(none.ok());
    CAF_CHECK(!none.claimed);
    CAF_CHECK_EQUAL(ask(cmd::count{"pj", by_state.range}, neighbour).count, 2u);  // untouched
  }
}

CAF_TEST(a write that would move a document to another partition is refused) {
  for (uint32_t shard_count : {1u, many_shards}) {
    CAF_MESSAGE("shards: " << shard_count);
    start(shard_count);
    CAF_REQUIRE(insert("solo", "c1").ok());
    value_map patch;
    patch.emplace("colony", value{"c2"});
    cmd::update update{"pj", "solo", patch, std::nullopt, 0};
    CAF_CHECK(ask(update, "c1").st.code() == error_code::invalid_argument);
    CAF_CHECK_EQUAL(version_of(get("solo", "c1")), 1u);
  }
}

CAF_TEST(a null partition field is placed and named by the default) {
  for (uint32_t shard_count : {1u, many_shards}) {
    CAF_MESSAGE("shards: " << shard_count);
    start(shard_count);
    value_map fields;
    fields.emplace("colony", value{});
    CAF_REQUIRE(ask(cmd::insert{"pj", "nil", fields, 0}, std::nullopt).ok());
    auto got = get("nil", "c0");
    CAF_REQUIRE(got.ok());
    CAF_CHECK_EQUAL(colony_of(got), "c0");
    CAF_CHECK_EQUAL(ask(cmd::count{"pj", std::nullopt}, "c0").count, 1u);
  }
}

CAF_TEST_FIXTURE_SCOPE_END()
