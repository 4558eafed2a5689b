// Helpers shared by the actor tests: engine decorators, a router over test
// shards and a way to ask it, a schema and command builders for a small
// "jobs" collection.
//
// Thread safety: counting_engine's counters are atomic; the rest are plain
// functions. ask_router needs CAF's test DSL (caf/test/dsl.hpp) included first.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unistd.h>

#include "actors/environment.hpp"
#include "actors/router_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "command/commands.hpp"
#include "schema/json.hpp"
#include "schema/schema.hpp"
#include "storage/engine.hpp"
#include "tests/storage/forwarding_engine.hpp"

namespace velocity::test {

// Counts sync() calls (fsyncs).
class counting_engine final : public forwarding_engine {
 public:
  using forwarding_engine::forwarding_engine;
  status sync() override {
    ++syncs_;
    return forwarding_engine::sync();
  }
  size_t syncs() const { return syncs_.load(); }

 private:
  std::atomic<size_t> syncs_{0};
};

// A shard that accepts requests and never answers: for timeouts.
inline shard_actor::behavior_type silent_shard(shard_actor::pointer self) {
  return {
      [=](apply_atom, const shard_request&) { return self->make_response_promise<shard_reply>(); },
      [=](schema_atom, const std::string&) { return self->make_response_promise<schema_reply>(); },
      [=](shard_info_atom) { return self->make_response_promise<shard_info>(); },
      [=](shard_handoff_atom) { return self->make_response_promise<uint64_t>(); },
      [=](shard_flush_atom) {},
      [=](raft_step_atom, const raft_messages&) {},
      [=](raft_tick_atom) {},
      [=](snap_in_atom, const snapshot_wire&) {},
  };
}

// A router over these shards, as the node starts it (real clock and ids).
inline router_control_actor spawn_test_router(caf::actor_system& sys,
                                              std::vector<shard_actor> shards) {
  router_options options;
  options.node = 7;
  options.shards = std::move(shards);
  options.env = make_real_environment(7);
  return spawn_router(sys, options);
}

// Sends one request to the router under a test coordinator fixture, runs the
// coordinator and returns the response (a CAF error fails the test).
template <class Fixture>
client_response ask_router(Fixture& fixture, const router_control_actor& router,
                           client_request request) {
  auto handle =
      fixture.self->request(router, caf::infinite, request_atom::value, std::move(request));
  fixture.run();
  client_response out;
  handle.receive([&](client_response& r) { out = std::move(r); },
                 [&](caf::error& e) {
                   CAF_FAIL("router request failed: " << fixture.sys.render(e));
                 });
  return out;
}

// jobs: a string field `state` with an index by_state.
inline collection_schema jobs_schema() {
  auto parsed = parse_json(
      R"({"collection": "jobs", "fields": {"state": {"type": "string"}},
          "indexes": [{"name": "by_state", "fields": ["state"]}]})");
  VELOCITY_CHECK(parsed.ok());
  auto schema = schema_from_value(parsed.value());
  VELOCITY_CHECK(schema.ok());
  return schema.value();
}

inline command insert_job(std::string id, std::string state = "waiting") {
  value_map fields;
  fields.emplace("state", value{std::move(state)});
  return cmd::insert{"jobs", std::move(id), std::move(fields), 1};
}

inline command get_job(std::string id) { return cmd::get{"jobs", std::move(id)}; }

// Claims the first waiting job and marks it running.
inline command claim_waiting() {
  cmd::claim c;
  c.collection = "jobs";
  c.range.index = "by_state";
  c.range.from = std::vector<value>{value{"waiting"}};
  c.range.to = std::vector<value>{value{"waiting"}};
  c.patch.emplace("state", value{"running"});
  c.time_ns = 1;
  return c;
}

// A fresh directory name unique to this process and tag.
inline std::string temp_dir(const std::string& tag) {
  return "/tmp/velocity-actor-test-" + std::to_string(::getpid()) + "-" + tag;
}

}  // namespace velocity::test
