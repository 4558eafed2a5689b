// The router actor under the test coordinator: consistency errors, time and id
// stamping, shard choice (a document is read from the shard it was written
// to), schema changes reaching every shard, health/status/get_schema, request
// timeouts and drain.
#define CAF_SUITE router
#define FAIL(msg) CAF_FAIL(msg)  // 0.17.6: dsl.hpp uses FAIL without defining it
#include "caf/test/dsl.hpp"

#include <algorithm>
#include <set>

#include "actors/router_actor.hpp"
#include "router/ids.hpp"
#include "router/placement.hpp"
#include "storage/memory_engine.hpp"
#include "tests/actors/actor_test_support.hpp"

using namespace velocity;

namespace {

struct router_fixture : test_coordinator_fixture<> {
  std::shared_ptr<memory_engine> memory = std::make_shared<memory_engine>();
  std::vector<shard_actor> shards;
  router_control_actor router;

  void start(uint32_t shard_count) {
    for (uint32_t id = 0; id < shard_count; ++id) {
      auto shard = spawn_shard(sys, shard_options{id, memory, {}});
      CAF_REQUIRE(shard.ok());
      shards.push_back(shard.value());
    }
    router = test::spawn_test_router(sys, shards);
  }

  client_response ask(client_request request) {
    return test::ask_router(*this, router, std::move(request));
  }

  client_response ask(command c, consistency level = consistency::strong) {
    client_request request;
    request.request_id = 42;
    request.level = level;
    request.body = std::move(c);
    return ask(std::move(request));
  }

  uint64_t applied_index(const shard_actor& shard) {
    auto handle = self->request(shard, caf::infinite, shard_info_atom::value);
    run();
    uint64_t out = 0;
    handle.receive([&](const shard_info& info) { out = info.applied_index; },
                   [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(router_tests, router_fixture)

CAF_TEST(writes at local consistency are rejected) {
  start(1);
  auto r = ask(test::insert_job("a"), consistency::local);
  CAF_CHECK(r.result.st.code() == error_code::invalid_consistency);
  CAF_CHECK_EQUAL(r.request_id, 42u);
  CAF_CHECK_EQUAL(applied_index(shards[0]), 0u);  // never reached the shard
}

CAF_TEST(claim and schema changes require strong consistency) {
  start(1);
  auto claim = ask(test::claim_waiting(), consistency::eventual);
  CAF_CHECK(claim.result.st.code() == error_code::invalid_consistency);
  auto schema = ask(cmd::create_schema{test::jobs_schema(), 0}, consistency::quorum);
  CAF_CHECK(schema.result.st.code() == error_code::invalid_consistency);
  auto local_read = ask(test::get_job("a"), consistency::local);
  CAF_CHECK(local_read.result.st.code() == error_code::unknown_collection);
}

CAF_TEST(schema changes reach every shard and inserts get ids and times) {
  start(4);
  auto created = ask(cmd::create_schema{test::jobs_schema(), 0});
  CAF_REQUIRE(created.result.ok());
  // Log index 1 of every shard is its leader's empty entry, 2 the schema.
  for (auto& shard : shards) CAF_CHECK_EQUAL(applied_index(shard), 2u);
  auto inserted = ask(test::insert_job(""));
  CAF_REQUIRE(inserted.result.ok());
  CAF_CHECK_EQUAL(inserted.result.doc->id.size(), generated_id_chars);
  CAF_CHECK(inserted.result.doc->created_ns > 1);  // stamped from the clock, not the command
}

CAF_TEST(a document is read back from the shard it was written to) {
  start(4);
  CAF_REQUIRE(ask(cmd::create_schema{test::jobs_schema(), 0}).result.ok());
  std::set<uint32_t> used;
  for (int i = 0; i < 32; ++i) {
    auto id = "doc" + std::to_string(i);
    CAF_REQUIRE(ask(test::insert_job(id)).result.ok());
    auto got = ask(test::get_job(id));
    CAF_CHECK(got.result.ok());
    used.insert(shard_of(value{id}, 4));
  }
  CAF_CHECK_EQUAL(used.size(), 4u);  // 32 ids spread over all 4 shards
  uint64_t writes = 0;
  // Minus the leader's empty entry and the schema.
  for (auto& shard : shards) writes += applied_index(shard) - 2;
  CAF_CHECK_EQUAL(writes, 32u);
}

CAF_TEST(list count and claim span every shard) {
  start(4);
  CAF_REQUIRE(ask(cmd::create_schema{test::jobs_schema(), 0}).result.ok());
  constexpr int documents = 30;
  for (int i = 0; i < documents; ++i)
    CAF_REQUIRE(ask(test::insert_job("doc" + std::to_string(100 + i))).result.ok());
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = ask(cmd::list{"jobs", std::nullopt, std::nullopt, 7, cursor, false});
    CAF_REQUIRE(r.result.ok());
    for (auto& d : r.result.docs) ids.push_back(d.id);
    cursor = r.result.next_cursor;
    if (cursor.empty()) break;
  }
  CAF_REQUIRE_EQUAL(ids.size(), static_cast<size_t>(documents));
  for (int i = 0; i < documents; ++i) CAF_CHECK_EQUAL(ids[i], "doc" + std::to_string(100 + i));
  auto counted = ask(cmd::count{"jobs", std::nullopt});
  CAF_CHECK_EQUAL(counted.result.count, static_cast<uint64_t>(documents));
  auto claimed = ask(test::claim_waiting());
  CAF_REQUIRE(claimed.result.ok());
  CAF_CHECK(claimed.result.claimed);
}

CAF_TEST(a collection partitioned by a field routes by that field) {
  start(4);
  auto schema = test::jobs_schema();
  schema.fields.push_back({"colony", field_type::string, true, std::nullopt});
  std::sort(schema.fields.begin(), schema.fields.end(),
            [](const field_spec& a, const field_spec& b) { return a.path < b.path; });
  schema.partition_key = "colony";
  CAF_REQUIRE(ask(cmd::create_schema{schema, 0}).result.ok());
  value_map fields;
  fields.emplace("colony", value{"c1"});
  fields.emplace("state", value{"waiting"});
  CAF_REQUIRE(ask(cmd::insert{"jobs", "j1", fields, 0}).result.ok());
  auto stored_on = shard_of(value{"c1"}, 4);
  // The leader's empty entry, the schema, the document.
  CAF_CHECK_EQUAL(applied_index(shards[stored_on]), 3u);
  client_request get;
  get.body = test::get_job("j1");
  get.partition = value{"c1"};
  CAF_CHECK(ask(get).result.ok());
  auto without = ask(test::get_job("j1"));
  CAF_CHECK(without.result.st.code() == error_code::invalid_argument);
}

CAF_TEST(health status and get_schema are answered by the router) {
  start(2);
  client_request health;
  health.body = health_request{};
  CAF_CHECK(ask(health).result.ok());
  client_request status;
  status.body = status_request{};
  auto text = ask(status).text;
  CAF_CHECK(text.find("\"node_id\":7,") != std::string::npos);
  CAF_CHECK(text.find("\"shards\":2") != std::string::npos);
  client_request schema;
  schema.body = get_schema_request{"jobs"};
  CAF_CHECK(ask(schema).result.st.code() == error_code::unknown_collection);
  CAF_REQUIRE(ask(cmd::create_schema{test::jobs_schema(), 0}).result.ok());
  auto found = ask(schema);
  CAF_REQUIRE(found.result.schema.has_value());
  CAF_CHECK_EQUAL(found.result.schema->collection, "jobs");
}

CAF_TEST(a shard that does not answer gives a timeout error) {
  shards.push_back(sys.spawn(test::silent_shard));
  router = test::spawn_test_router(sys, shards);
  client_request request;
  request.timeout_ms = 250;
  request.body = test::get_job("a");
  auto handle = self->request(router, caf::infinite, request_atom::value, request);
  sched.run();
  advance_time(std::chrono::milliseconds{250});
  sched.run();
  client_response out;
  handle.receive([&](client_response& r) { out = std::move(r); },
                 [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
  CAF_CHECK(out.result.st.code() == error_code::timeout);
}

CAF_TEST(a draining router refuses new requests) {
  start(1);
  auto drained = self->request(router, caf::infinite, drain_atom::value);
  run();
  drained.receive([](uint64_t) {}, [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
  auto r = ask(test::get_job("a"));
  CAF_CHECK(r.result.st.code() == error_code::unavailable);
}

CAF_TEST_FIXTURE_SCOPE_END()
