// Pre-vote (thesis 9.6), check-quorum and leader stickiness (thesis 6.2):
// a partitioned node does not inflate terms, pre-vote changes no durable
// state, a leader without a quorum steps down, followers with a live leader
// ignore vote requests, a stale leader steps down on a higher-term response.
// Every test runs with the default config (pre_vote and check_quorum on).
#define CAF_SUITE rules_prevote_checkquorum
#include "caf/test/unit_test.hpp"

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

message request(message_type type, node_id from, node_id to, term_t term,
                const velocity::raft::raft& candidate,
                bool force = false) {
  message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = candidate.last_index();
  m.log_term = candidate.term_at(candidate.last_index()).value_or(0);
  m.force = force;
  return m;
}

}  // namespace

CAF_TEST(a partitioned node that rejoins does not bump the term) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  term_t term = c.core(lead).term();
  node_id f = lead == 1 ? 2 : 1;
  c.isolate(f);
  for (int i = 0; i < 100; ++i) {
    c.tick(f);
    c.stabilize();
  }
  CAF_CHECK_EQUAL(c.core(f).term(), term);
  c.heal();
  c.tick_all(c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK_EQUAL(c.leader(), lead);
  for (node_id id : c.ids()) CAF_CHECK_EQUAL(c.core(id).term(), term);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(pre vote changes no term and no vote anywhere) {
  cluster c{3};
  for (int i = 0; i < 100 && c.core(1).current_role() == role::follower; ++i) c.tick(1);
  CAF_REQUIRE(c.core(1).current_role() == role::pre_candidate);
  CAF_CHECK_EQUAL(c.core(1).term(), 0u);
  hard_state before_1 = c.core(1).hard();
  hard_state before_2 = c.core(2).hard();
  c.process_all();
  CAF_CHECK_GREATER_OR_EQUAL(c.deliver_type(message_type::pre_vote), 2u);
  c.process_all();
  CAF_CHECK(c.core(2).hard() == before_2);
  CAF_CHECK(c.at(2).disk.hard == before_2);
  CAF_CHECK_EQUAL(c.core(1).hard().vote, before_1.vote);
  CAF_CHECK_EQUAL(c.core(1).term(), 0u);
  // Granted pre-votes lead to the real election of term 1.
  c.stabilize();
  CAF_CHECK_EQUAL(c.leader(), 1u);
  CAF_CHECK_EQUAL(c.core(1).term(), 1u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a leader without a quorum steps down after an election timeout) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  for (node_id id : c.ids())
    if (id != lead) c.isolate(id);
  for (uint32_t i = 0; i < 2 * c.base_config().election_ticks; ++i) {
    c.tick(lead);
    c.process_all();
  }
  CAF_CHECK(c.core(lead).current_role() != role::leader);
  CAF_CHECK_EQUAL(c.core(lead).leader_hint(), no_node);
}

CAF_TEST(a leader with a quorum keeps leading) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  term_t term = c.core(lead).term();
  node_id f = lead == 1 ? 2 : 1;
  c.isolate(f);
  for (uint32_t i = 0; i < 5 * c.base_config().election_ticks; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK(c.core(lead).current_role() == role::leader);
  CAF_CHECK_EQUAL(c.core(lead).term(), term);
}

CAF_TEST(followers that hear from a leader ignore vote requests) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  term_t term = c.core(lead).term();
  node_id f = lead == 1 ? 2 : 1;
  node_id g = 6 - lead - f;
  c.clear_sent();
  c.inject(request(message_type::vote, g, f, term + 1, c.core(g)));
  c.inject(request(message_type::pre_vote, g, f, term + 1, c.core(g)));
  c.process_all();
  CAF_CHECK_EQUAL(c.core(f).term(), term);
  CAF_CHECK(c.core(f).hard().vote != g);
  auto granted = c.count_sent([&](const message& m) {
    return (m.type == message_type::vote_response || m.type == message_type::pre_vote_response) &&
           m.from == f && !m.reject;
  });
  CAF_CHECK_EQUAL(granted, 0u);
  CAF_CHECK_EQUAL(c.core(f).leader_hint(), lead);
  // A leadership transfer (force) overrides stickiness.
  c.inject(request(message_type::vote, g, f, term + 1, c.core(g), true));
  c.process_all();
  CAF_CHECK_EQUAL(c.core(f).term(), term + 1);
  CAF_CHECK_EQUAL(c.core(f).hard().vote, g);
  c.drop([](const message&) { return true; });
}

CAF_TEST(a stale leader steps down when it hears a higher term response) {
  cluster c{3};
  node_id old = c.tick_until_leader();
  CAF_REQUIRE(old != no_node);
  term_t old_term = c.core(old).term();
  c.isolate(old);
  node_id fresh = elect_without(c, old);
  CAF_REQUIRE(fresh != no_node);
  CAF_REQUIRE(c.core(old).current_role() == role::leader);  // it has not noticed yet
  node_id third = 6 - old - fresh;
  c.heal();
  c.cut(old, fresh);  // only the third node can tell the old leader
  c.tick(old, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK(c.core(old).current_role() == role::follower);
  CAF_CHECK_GREATER(c.core(old).term(), old_term);
  CAF_CHECK_EQUAL(c.core(old).term(), c.core(third).term());
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a leader whose only live peer is a learner steps down) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.add_node(4);
  conf_change add{conf_change::kind::add_learner, 4};
  CAF_REQUIRE(c.core(lead).propose_conf_change(add).ok());
  c.stabilize();
  for (node_id id : {1, 2, 3})
    if (id != lead) c.isolate(id);
  for (uint32_t i = 0; i < 2 * c.base_config().election_ticks; ++i) {
    c.tick(lead);
    c.tick(4);
    c.stabilize();
  }
  CAF_CHECK(c.core(lead).current_role() != role::leader);
}
