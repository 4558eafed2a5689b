// Regression tests for bugs the simulator found in the core, each named after
// what went wrong, driving one core by hand.
#define CAF_SUITE raft_core_regression
#include "caf/test/unit_test.hpp"

#include "tests/raft/internals_cluster.hpp"

using namespace velocity;
using namespace velocity::raft;

namespace {

config follower_config(node_id id) {
  config cfg;
  cfg.id = id;
  return cfg;
}

// A follower of voters {1, 2, 3} holding `count` entries of term 1, stable.
durable_state follower_state(size_t count) {
  durable_state s = bootstrap_state({1, 2, 3});
  for (index_t i = 1; i <= count; ++i) s.entries.push_back(entry{1, i, entry_kind::normal, "e"});
  s.hard = hard_state{1, 2, 0};
  return s;
}

message from_leader(message_type type) {
  message m;
  m.type = type;
  m.from = 2;
  m.to = 3;
  m.term = 1;
  return m;
}

}  // namespace

CAF_TEST(a node that joined with an empty membership learns the initial voters) {
  internals::test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.start(4, durable_state{});
  CAF_REQUIRE(c.core(l).propose_conf_change({conf_change::kind::add_learner, 4}).ok());
  c.tick(5);
  CAF_REQUIRE(c.core(l).propose_conf_change({conf_change::kind::promote_learner, 4}).ok());
  c.tick(5);
  // It once counted itself as the only voter and elected itself.
  CAF_CHECK(c.core(4).conf().voters == std::vector<node_id>({1, 2, 3, 4}));
  CAF_CHECK(c.node(4).disk.snap.meta.conf.voters == std::vector<node_id>({1, 2, 3}));
  c.restart(4);
  CAF_CHECK(c.core(4).conf().voters == std::vector<node_id>({1, 2, 3, 4}));
  c.isolate(4);
  c.tick(100);
  CAF_CHECK(c.core(4).current_role() != role::leader);
}

CAF_TEST(a snapshot of an entry the follower holds does not drop acknowledged entries) {
  raft::raft core{follower_config(3), follower_state(5), 0};
  message chunk = from_leader(message_type::snapshot_chunk);
  chunk.snap_meta.index = 4;
  chunk.snap_meta.term = 1;
  chunk.snap_meta.conf.voters = {1, 2, 3};
  chunk.snap_data = "state";
  chunk.snap_total_bytes = 5;
  chunk.snap_done = true;
  core.step(chunk);
  CAF_CHECK_EQUAL(core.last_index(), 5u);
  CAF_CHECK_EQUAL(core.commit_index(), 4u);
  ready rd = core.take_ready();
  CAF_CHECK(!rd.snap.has_value());
  CAF_CHECK_EQUAL(rd.committed.size(), 4u);
  CAF_REQUIRE_EQUAL(rd.messages_after_persist.size(), 1u);
  const message& answer = rd.messages_after_persist.front();
  CAF_CHECK(answer.type == message_type::snapshot_response);
  CAF_CHECK(answer.snap_done && !answer.reject);
  CAF_CHECK_EQUAL(answer.index, 4u);
}

CAF_TEST(a snapshot of an entry the follower lacks replaces its log) {
  raft::raft core{follower_config(3), follower_state(2), 0};
  message chunk = from_leader(message_type::snapshot_chunk);
  chunk.snap_meta.index = 9;
  chunk.snap_meta.term = 1;
  chunk.snap_meta.conf.voters = {1, 2, 3};
  chunk.snap_data = "abc";
  chunk.snap_total_bytes = 6;
  core.step(chunk);
  CAF_CHECK_EQUAL(core.last_index(), 2u);
  chunk.snap_offset = 3;
  chunk.snap_data = "def";
  chunk.snap_done = true;
  core.step(chunk);
  CAF_CHECK_EQUAL(core.last_index(), 9u);
  CAF_CHECK_EQUAL(core.commit_index(), 9u);
  ready rd = core.take_ready();
  CAF_REQUIRE(rd.snap.has_value());
  CAF_CHECK(rd.snapshot_from_leader);
  CAF_CHECK_EQUAL(rd.snap->data, "abcdef");
  CAF_CHECK(rd.committed.empty());
}

CAF_TEST(a restarted node with lease reads ignores votes for one election timeout) {
  // A restart forgets when the node last heard from the leader, whose lease
  // may still count on this node not voting.
  config cfg = follower_config(3);
  cfg.lease_ticks = 3;
  raft::raft core{cfg, follower_state(2), 0};
  message vote;
  vote.type = message_type::vote;
  vote.from = 1;
  vote.to = 3;
  vote.term = 2;
  vote.index = 2;
  vote.log_term = 1;
  core.step(vote);
  CAF_CHECK_EQUAL(core.term(), 1u);
  CAF_CHECK(!core.has_ready());
  for (uint32_t i = 0; i < cfg.election_ticks; ++i) core.tick();
  core.step(vote);
  CAF_CHECK_EQUAL(core.term(), 2u);
  CAF_CHECK_EQUAL(core.hard().vote, 1u);
}
