// Regression tests from the independent safety review of the core (suite
// raft_review): each drives one core by hand into a state the review showed
// to break a Raft rule, and is named after the rule.
//
// Thread safety: none (single-threaded tests).
// Invariants checked: a follower that heard from a live leader within the
// election timeout grants no non-forced vote (thesis 6.2 / 6.4.1, which leader
// leases rely on), whatever term it has moved to since, and a lease ends
// before that promise at any tick rates the clock assumption (raft.hpp)
// allows; bytes from the network
// never make the core hold an index it cannot address; no message leaves
// before the term it carries is durable.
#define CAF_SUITE raft_review
#include "caf/test/unit_test.hpp"

#include <limits>
#include <string>

#include "cluster/raft/raft.hpp"
#include "tests/raft/internals_cluster.hpp"

using namespace velocity;
using namespace velocity::raft;

namespace {

config review_config(node_id id) {
  config cfg;
  cfg.id = id;
  cfg.election_ticks = 10;
  cfg.lease_ticks = 5;  // leases rely on followers keeping their promise
  return cfg;
}

// A follower (node 3) of voters {1, 2, 3} holding two entries of term 1.
durable_state follower_state() {
  durable_state s = bootstrap_state({1, 2, 3});
  for (index_t i = 1; i <= 2; ++i) s.entries.push_back(entry{1, i, entry_kind::normal, "e"});
  s.hard = hard_state{1, 2, 0};
  return s;
}

message to_follower(message_type type, node_id from, term_t term) {
  message m;
  m.type = type;
  m.from = from;
  m.to = 3;
  m.term = term;
  return m;
}

// Node 3 after a restart's promise ran out and a fresh heartbeat from leader 2.
void follow_leader_2(raft::raft& core) {
  for (uint32_t i = 0; i < 9; ++i) core.tick();  // below the timeout: stays follower
  message hb = to_follower(message_type::heartbeat, 2, 1);
  core.step(hb);
  CAF_REQUIRE_EQUAL(core.leader_hint(), 2u);
  if (core.has_ready()) {
    core.take_ready();
    core.advance();
  }
}

// True if any ready message grants `type` (vote or pre-vote) to node 1.
bool grants(raft::raft& core, message_type type) {
  if (!core.has_ready()) return false;
  ready rd = core.take_ready();
  core.advance();
  bool granted = false;
  for (const auto* list : {&rd.messages, &rd.messages_after_persist})
    for (const auto& m : *list)
      if (m.type == type && m.to == 1 && !m.reject) granted = true;
  return granted;
}

message vote_request(message_type type, term_t term) {
  message m = to_follower(type, 1, term);
  m.index = 2;
  m.log_term = 1;
  return m;
}

}  // namespace

CAF_TEST(a stale higher term response does not free a follower from its leader promise) {
  // Node 3 acknowledged leader 2 (whose lease counts on it). A late rejected
  // pre-vote answer from node 1 at term 2 (to a pre-vote node 3 sent long
  // ago) moves it to term 2 with no leader; it must still refuse node 1's
  // votes until an election timeout passed since it heard from leader 2, or
  // node 1 wins term 2 or 3 while leader 2 still serves lease reads.
  raft::raft core{review_config(3), follower_state(), 0};
  follow_leader_2(core);
  message stale = to_follower(message_type::pre_vote_response, 1, 2);
  stale.reject = true;
  core.step(stale);
  CAF_CHECK_EQUAL(core.term(), 2u);
  core.step(vote_request(message_type::vote, 2));
  CAF_CHECK(!grants(core, message_type::vote_response));
  core.step(vote_request(message_type::pre_vote, 3));
  CAF_CHECK(!grants(core, message_type::pre_vote_response));
  core.step(vote_request(message_type::vote, 3));
  CAF_CHECK(!grants(core, message_type::vote_response));
  CAF_CHECK_EQUAL(core.hard().vote, no_node);
}

CAF_TEST(a follower released from its leader promise votes again) {
  // The promise lasts one election timeout from the leader's last message.
  raft::raft core{review_config(3), follower_state(), 0};
  follow_leader_2(core);
  message stale = to_follower(message_type::pre_vote_response, 1, 2);
  stale.reject = true;
  core.step(stale);
  for (uint32_t i = 0; i < 10; ++i) core.tick();
  // Maybe a pre-candidate by now (its pre-votes unanswered): still term 2.
  CAF_REQUIRE_EQUAL(core.term(), 2u);
  core.step(vote_request(message_type::vote, 3));
  CAF_CHECK(grants(core, message_type::vote_response));
  CAF_CHECK_EQUAL(core.hard().vote, 1u);
}

CAF_TEST(a snapshot chunk at the largest index is ignored) {
  // The log's first index (snapshot index + 1) would wrap to 0 and every
  // later lookup would index out of bounds.
  raft::raft core{review_config(3), follower_state(), 0};
  message chunk = to_follower(message_type::snapshot_chunk, 2, 1);
  chunk.snap_meta.index = std::numeric_limits<index_t>::max();
  chunk.snap_meta.term = 1;
  chunk.snap_meta.conf.voters = {1, 2, 3};
  chunk.snap_done = true;
  core.step(chunk);
  CAF_CHECK_EQUAL(core.snapshot_info().index, 0u);
  CAF_CHECK_EQUAL(core.last_index(), 2u);
}

CAF_TEST(a snapshot chunk with a malformed membership is ignored) {
  // Membership lists are searched by bisection: unsorted, duplicated, id 0
  // or a node both voter and learner would make replicas disagree on quorums.
  raft::raft core{review_config(3), follower_state(), 0};
  message chunk = to_follower(message_type::snapshot_chunk, 2, 1);
  chunk.snap_meta.index = 9;
  chunk.snap_meta.term = 1;
  chunk.snap_meta.conf.voters = {3, 1, 2};
  chunk.snap_data = std::string(1, 's');
  chunk.snap_total_bytes = 1;
  chunk.snap_done = true;
  core.step(chunk);
  CAF_CHECK_EQUAL(core.snapshot_info().index, 0u);
  chunk.snap_meta.conf.voters = {1, 2, 3};
  chunk.snap_meta.conf.learners = {3};
  core.step(chunk);
  CAF_CHECK_EQUAL(core.snapshot_info().index, 0u);
  chunk.snap_meta.conf.learners = {};
  core.step(chunk);
  CAF_CHECK_EQUAL(core.snapshot_info().index, 9u);
}

CAF_TEST(a lease ends before an acknowledging follower may vote at the allowed tick rates) {
  // raft.hpp allows tick rates differing by less than election_ticks /
  // lease_ticks (10 / 8 here). A follower's first tick after a heartbeat may
  // come at once, so its promise lasts only just over 9 of its ticks; the
  // leader's lease runs from its tick at or before the send. With the leader
  // ticking 1.2 times slower, the follower's 10th tick comes before the
  // leader's 8th: the lease must be over after 7 leader ticks.
  config base;
  base.election_ticks = 10;
  base.lease_ticks = 8;
  internals::test_cluster c{3, base};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.tick(2);
  CAF_REQUIRE(c.core(lead).read_index(1, read_mode::safe).ok());
  c.stabilize();
  CAF_REQUIRE(c.core(lead).lease_valid());
  node_id follower = lead == 1 ? 2 : 1;
  node_id other = 6 - lead - follower;
  c.isolate(lead);
  for (uint32_t i = 0; i < 10; ++i) c.core(follower).tick();
  c.stabilize();
  raft::raft& f = c.core(follower);
  message vote;
  vote.type = message_type::vote;
  vote.from = other;
  vote.to = follower;
  vote.term = f.term() + 1;
  vote.index = f.last_index();
  vote.log_term = *f.term_at(f.last_index());
  f.step(vote);
  bool voted = f.hard().vote == other;
  for (uint32_t i = 0; i < 7; ++i) c.core(lead).tick();
  c.stabilize();
  CAF_CHECK(!(voted && c.core(lead).lease_valid()));
}

CAF_TEST(no message leaves before the term it carries is durable) {
  // A lone voter with a learner elects itself within one tick; the ready that
  // makes its new term durable must hold its appends to the learner back
  // until after the persist.
  durable_state s = bootstrap_state({1});
  s.snap.meta.conf.learners = {2};
  config cfg;
  cfg.id = 1;
  cfg.election_ticks = 10;
  raft::raft core{cfg, s, 0};
  for (uint32_t i = 0; i < 2 * cfg.election_ticks && core.current_role() != role::leader; ++i)
    core.tick();
  CAF_REQUIRE(core.current_role() == role::leader);
  CAF_REQUIRE(core.has_ready());
  ready rd = core.take_ready();
  CAF_REQUIRE(rd.hard.has_value());
  CAF_CHECK_EQUAL(rd.hard->term, core.term());
  CAF_CHECK(rd.must_sync);
  CAF_CHECK(rd.messages.empty());
  bool append_held_back = false;
  for (const auto& m : rd.messages_after_persist)
    if (m.type == message_type::append && m.to == 2) append_held_back = true;
  CAF_CHECK(append_held_back);
  core.advance();
  // Once the term is durable, the leader's appends go out early again.
  auto proposed = core.propose("x");
  CAF_REQUIRE(proposed.ok());
  rd = core.take_ready();
  CAF_CHECK(!rd.hard.has_value() || rd.hard->term == core.term());
}

CAF_TEST(validate refuses a one tick lease and an election timeout that could overflow) {
  config cfg;
  cfg.id = 1;
  cfg.election_ticks = 10;
  cfg.lease_ticks = 1;
  auto one_tick = validate(cfg);
  CAF_CHECK(one_tick.code() == error_code::invalid_argument);
  cfg.lease_ticks = 2;
  CAF_CHECK(validate(cfg).ok());
  cfg.lease_ticks = 0;
  cfg.election_ticks = election_ticks_limit + 1;
  auto too_long = validate(cfg);
  CAF_CHECK(too_long.code() == error_code::invalid_argument);
  CAF_CHECK(too_long.message().find("election_ticks") != std::string::npos);
}
