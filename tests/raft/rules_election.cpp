// Leader election rules (paper 5.2 and 5.4.1): election safety, one vote per
// term (durable), the up-to-date restriction, stepping down on a higher term,
// randomized timeouts in [election_ticks, 2 * election_ticks), heartbeats.
// Pre-vote and check-quorum are off here unless a test says otherwise, so each
// test exercises the plain rule of the paper (they have their own suite).
#define CAF_SUITE rules_election
#include "caf/test/unit_test.hpp"

#include <map>
#include <set>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

message vote_request(node_id from, node_id to, term_t term, index_t last_index, term_t last_term) {
  message m;
  m.type = message_type::vote;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

// The vote_response `from` sent to `to` since the last clear_sent(), if any.
std::optional<message> vote_response(const cluster& c, node_id from, node_id to) {
  std::optional<message> found;
  for (const auto& m : c.sent())
    if (m.type == message_type::vote_response && m.from == from && m.to == to) found = m;
  return found;
}

// Ticks `id` alone (processing its readies) until it leaves the follower role.
size_t ticks_until_campaign(cluster& c, node_id id, size_t limit) {
  for (size_t ticks = 1; ticks <= limit; ++ticks) {
    c.tick(id);
    if (c.core(id).current_role() != role::follower) return ticks;
  }
  return 0;
}

// Records every leader seen; false when two leaders share a term.
bool record_leaders(cluster& c, std::map<term_t, node_id>& leaders) {
  bool ok = true;
  for (node_id id : c.ids()) {
    if (c.core(id).current_role() != role::leader) continue;
    auto [it, fresh] = leaders.emplace(c.core(id).term(), id);
    if (!fresh && it->second != id) ok = false;
  }
  return ok;
}

}  // namespace

CAF_TEST(a candidate becomes leader once a quorum granted its vote) {
  cluster c{5, plain_config()};
  CAF_REQUIRE(ticks_until_campaign(c, 1, 100) > 0);
  CAF_CHECK(c.core(1).current_role() == role::candidate);
  c.process_ready(1);
  // Votes from 2 only: 2 of 5 is no quorum.
  c.deliver_between(1, 2);
  c.process_all();
  c.deliver_between(1, 2);
  c.process_all();
  CAF_CHECK(c.core(1).current_role() == role::candidate);
  c.deliver_between(1, 3);
  c.process_all();
  c.deliver_between(1, 3);
  c.process_all();
  CAF_CHECK(c.core(1).current_role() == role::leader);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(there is at most one leader per term across many elections) {
  cluster c{5, plain_config()};
  std::map<term_t, node_id> leaders;
  bool ok = true;
  for (int round = 0; round < 15; ++round) {
    node_id lead = c.tick_until_leader();
    CAF_REQUIRE(lead != no_node);
    ok = record_leaders(c, leaders) && ok;
    c.isolate(lead);
    for (int t = 0; t < 40; ++t) {
      c.tick_all();
      c.stabilize();
      ok = record_leaders(c, leaders) && ok;
    }
    c.heal();
    c.stabilize();
    ok = record_leaders(c, leaders) && ok;
  }
  CAF_CHECK(ok);
  CAF_CHECK(leaders.size() >= 10);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a node grants at most one vote per term) {
  cluster c{3, plain_config()};
  c.inject(vote_request(1, 3, 5, 0, 0));
  c.process_ready(3);
  auto first = vote_response(c, 3, 1);
  CAF_REQUIRE(first.has_value());
  CAF_CHECK(!first->reject);
  CAF_CHECK_EQUAL(c.core(3).hard().vote, 1u);
  c.inject(vote_request(2, 3, 5, 0, 0));
  c.process_ready(3);
  auto second = vote_response(c, 3, 2);
  CAF_CHECK(!second || second->reject);
  // The same candidate asking again (a retransmission) may get its vote again.
  CAF_CHECK_EQUAL(c.core(3).hard().vote, 1u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a vote survives a restart so a node never votes twice in a term) {
  for (auto mode : {crash_mode::keep_written, crash_mode::keep_synced}) {
    cluster c{3, plain_config()};
    c.inject(vote_request(1, 3, 5, 0, 0));
    c.process_ready(3);
    auto first = vote_response(c, 3, 1);
    CAF_REQUIRE(first.has_value());
    CAF_CHECK(!first->reject);
    c.restart(3, mode);
    CAF_CHECK_EQUAL(c.core(3).term(), 5u);
    CAF_CHECK_EQUAL(c.core(3).hard().vote, 1u);
    c.clear_sent();
    c.inject(vote_request(2, 3, 5, 0, 0));
    c.process_all();
    auto second = vote_response(c, 3, 2);
    CAF_CHECK(!second || second->reject);
  }
}

CAF_TEST(a candidate whose last log term is lower is denied the vote) {
  // Voter 3 holds terms [1, 2]; the candidate's longer log ends in term 1.
  std::vector<durable_state> states{state_with_log({1, 2, 3}, {1, 1, 1, 1, 1}, {2, 0, 0}),
                                    state_with_log({1, 2, 3}, {1}, {2, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 2}, {2, 0, 0})};
  cluster c{states, plain_config()};
  c.inject(vote_request(1, 3, 3, 5, 1));
  c.process_all();
  auto response = vote_response(c, 3, 1);
  CAF_REQUIRE(response.has_value());
  CAF_CHECK(response->reject);
  CAF_CHECK_EQUAL(c.core(3).term(), 3u);  // the term is adopted even when the vote is denied
  CAF_CHECK(c.core(3).hard().vote != 1u);
}

CAF_TEST(a candidate with the same last term but a shorter log is denied the vote) {
  std::vector<durable_state> states{state_with_log({1, 2, 3}, {1, 1}, {1, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 1, 1}, {1, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 1, 1}, {1, 0, 0})};
  cluster c{states, plain_config()};
  c.inject(vote_request(1, 3, 2, 2, 1));
  c.process_all();
  auto denied = vote_response(c, 3, 1);
  CAF_REQUIRE(denied.has_value());
  CAF_CHECK(denied->reject);
  // An equally long log is up to date.
  c.inject(vote_request(2, 3, 3, 3, 1));
  c.process_all();
  auto granted = vote_response(c, 3, 2);
  CAF_REQUIRE(granted.has_value());
  CAF_CHECK(!granted->reject);
}

CAF_TEST(a leader that sees a higher term steps down to follower) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id other = lead == 1 ? 2 : 1;
  term_t term = c.core(lead).term();
  message m;
  m.type = message_type::heartbeat_response;
  m.from = other;
  m.to = lead;
  m.term = term + 1;
  c.inject(m);
  CAF_CHECK(c.core(lead).current_role() == role::follower);
  CAF_CHECK_EQUAL(c.core(lead).term(), term + 1);
  c.process_all();
  CAF_CHECK_EQUAL(c.at(lead).disk.hard.term, term + 1);
}

CAF_TEST(a candidate that sees a leader of its term or higher steps down) {
  cluster c{3, plain_config()};
  CAF_REQUIRE(ticks_until_campaign(c, 1, 100) > 0);
  c.process_all();
  term_t term = c.core(1).term();
  message m;
  m.type = message_type::append;
  m.from = 2;
  m.to = 1;
  m.term = term;  // a leader of the same term (5.2: the candidate recognizes it)
  c.inject(m);
  CAF_CHECK(c.core(1).current_role() == role::follower);
  CAF_CHECK_EQUAL(c.core(1).leader_hint(), 2u);
  CAF_REQUIRE(ticks_until_campaign(c, 3, 100) > 0);
  c.process_all();
  m.from = 2;
  m.to = 3;
  m.term = c.core(3).term() + 2;
  c.inject(m);
  CAF_CHECK(c.core(3).current_role() == role::follower);
  CAF_CHECK_EQUAL(c.core(3).term(), m.term);
}

CAF_TEST(the election timeout lies in election_ticks to twice election_ticks) {
  std::set<size_t> seen;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    config cfg = plain_config();
    cfg.election_ticks = 10;
    cfg.random_seed = seed;
    cluster c{3, cfg};
    size_t ticks = ticks_until_campaign(c, 1, 100);
    CAF_CHECK_GREATER_OR_EQUAL(ticks, 10u);
    CAF_CHECK_LESS(ticks, 20u);
    seen.insert(ticks);
  }
  // Randomized: 40 draws from 10 values hit several of them.
  CAF_CHECK_GREATER_OR_EQUAL(seen.size(), 4u);
}

CAF_TEST(randomized timeouts differ across nodes of one cluster) {
  config cfg = plain_config();
  cluster c{5, cfg};
  std::set<size_t> seen;
  for (node_id id = 1; id <= 5; ++id) seen.insert(ticks_until_campaign(c, id, 100));
  CAF_CHECK(!seen.count(0));
  CAF_CHECK_GREATER_OR_EQUAL(seen.size(), 2u);
}

CAF_TEST(a split vote resolves in a later term) {
  cluster c{4, plain_config()};
  CAF_REQUIRE(ticks_until_campaign(c, 1, 100) > 0);
  CAF_REQUIRE(ticks_until_campaign(c, 2, 100) > 0);
  c.process_all();
  // 3 hears 1 first, 4 hears 2 first: 2 votes each, quorum is 3.
  c.deliver([](const message& m) { return m.from == 1 && m.to == 3; });
  c.deliver([](const message& m) { return m.from == 2 && m.to == 4; });
  c.stabilize();
  CAF_CHECK_EQUAL(c.leader(), no_node);
  CAF_CHECK(c.core(1).current_role() == role::candidate);
  CAF_CHECK(c.core(2).current_role() == role::candidate);
  node_id lead = c.tick_until_leader();
  CAF_CHECK(lead != no_node);
  CAF_CHECK_GREATER(c.core(lead).term(), 1u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a leader sends a heartbeat every heartbeat_ticks) {
  config cfg = plain_config();
  cfg.heartbeat_ticks = 3;
  cfg.election_ticks = 20;
  cluster c{3, cfg};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id other = lead == 1 ? 2 : 1;
  c.clear_sent();
  auto heartbeats_to_other = [&] {
    return c.count_sent([&](const message& m) {
      return m.type == message_type::heartbeat && m.from == lead && m.to == other;
    });
  };
  c.tick(lead, 2);
  c.process_ready(lead);
  CAF_CHECK_EQUAL(heartbeats_to_other(), 0u);
  c.tick(lead, 1);
  c.process_ready(lead);
  CAF_CHECK_EQUAL(heartbeats_to_other(), 1u);
  for (int i = 0; i < 6; ++i) {
    c.tick(lead, 1);
    c.process_ready(lead);
  }
  CAF_CHECK_EQUAL(heartbeats_to_other(), 3u);
  c.drop([](const message&) { return true; });
}

CAF_TEST(a retransmitted vote request from the granted candidate is granted again) {
  cluster c{3, plain_config()};
  c.inject(vote_request(1, 3, 5, 0, 0));
  c.process_ready(3);
  c.clear_sent();
  c.inject(vote_request(1, 3, 5, 0, 0));
  c.process_all();
  auto again = vote_response(c, 3, 1);
  CAF_REQUIRE(again.has_value());
  CAF_CHECK(!again->reject);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(granting a vote restarts the election timer) {
  // Same seed, same timeouts: cluster a measures node 3's timeout, cluster b
  // grants a vote one tick before it and must then wait a full timeout.
  cluster a{3, plain_config()};
  size_t timeout = ticks_until_campaign(a, 3, 100);
  CAF_REQUIRE_GREATER(timeout, 1u);
  cluster b{3, plain_config()};
  b.tick(3, timeout - 1);
  b.inject(vote_request(1, 3, 5, 0, 0));
  b.process_all();
  CAF_REQUIRE_EQUAL(b.core(3).hard().vote, 1u);
  size_t waited = ticks_until_campaign(b, 3, 100);
  CAF_CHECK_GREATER_OR_EQUAL(waited, b.base_config().election_ticks);
}

CAF_TEST(an append from the leader restarts the election timer) {
  cluster a{3, plain_config()};
  size_t timeout = ticks_until_campaign(a, 3, 100);
  CAF_REQUIRE_GREATER(timeout, 1u);
  cluster b{3, plain_config()};
  b.tick(3, timeout - 1);
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 3;
  m.term = 1;
  b.inject(m);
  b.process_all();
  CAF_REQUIRE_EQUAL(b.core(3).leader_hint(), 1u);
  size_t waited = ticks_until_campaign(b, 3, 100);
  CAF_CHECK_GREATER_OR_EQUAL(waited, b.base_config().election_ticks);
}
