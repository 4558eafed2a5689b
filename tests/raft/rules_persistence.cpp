// Persistent state (paper figure 2: currentTerm, votedFor, log[]) and the
// ready contract's durability promises: they survive restart, a vote is only
// promised after it is durable, must_sync covers every change of term, vote
// or log, and nodes restarted from what a sync covered continue correctly.
#define CAF_SUITE rules_persistence
#include "caf/test/unit_test.hpp"

#include <map>
#include <random>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

// True when every node's application state is a prefix of the longest one.
bool apps_agree(cluster& c) {
  std::vector<std::string> longest;
  for (node_id id : c.ids())
    if (c.at(id).app.size() > longest.size()) longest = c.at(id).app;
  for (node_id id : c.ids()) {
    const auto& app = c.at(id).app;
    if (!std::equal(app.begin(), app.end(), longest.begin())) return false;
  }
  return true;
}

}  // namespace

CAF_TEST(term vote and log survive a restart) {
  for (auto mode : {crash_mode::keep_written, crash_mode::keep_synced}) {
    cluster c{3};
    node_id lead = c.tick_until_leader();
    CAF_REQUIRE(lead != no_node);
    for (int i = 0; i < 3; ++i) CAF_REQUIRE(c.propose(lead, "v" + std::to_string(i)).index != 0);
    c.stabilize();
    for (node_id id : c.ids()) {
      term_t term = c.core(id).term();
      node_id vote = c.core(id).hard().vote;
      auto log = log_of(c.core(id));
      c.restart(id, mode);
      CAF_CHECK_EQUAL(c.core(id).term(), term);
      CAF_CHECK_EQUAL(c.core(id).hard().vote, vote);
      CAF_CHECK(log_of(c.core(id)) == log);
      CAF_CHECK(c.core(id).current_role() == role::follower);
    }
    CAF_CHECK_EQUAL(c.violations_text(), "");
  }
}

CAF_TEST(a vote response is only sent after the vote is persisted) {
  cluster c{3, plain_config()};
  message m;
  m.type = message_type::vote;
  m.from = 1;
  m.to = 3;
  m.term = 4;
  c.inject(m);
  ready rd = c.take(3);
  bool in_messages = false;
  for (const auto& sent : rd.messages) in_messages = in_messages || sent.type == message_type::vote_response;
  bool after_persist = false;
  for (const auto& sent : rd.messages_after_persist)
    after_persist = after_persist || (sent.type == message_type::vote_response && !sent.reject);
  CAF_CHECK(!in_messages);
  CAF_CHECK(after_persist);
  CAF_REQUIRE(rd.hard.has_value());
  CAF_CHECK_EQUAL(rd.hard->term, 4u);
  CAF_CHECK_EQUAL(rd.hard->vote, 1u);
  CAF_CHECK(rd.must_sync);
  c.finish(3, rd);
}

CAF_TEST(a candidate asks for votes only after persisting its term and self vote) {
  cluster c{3, plain_config()};
  for (int i = 0; i < 100 && c.core(1).current_role() == role::follower; ++i) c.tick(1);
  CAF_REQUIRE(c.core(1).current_role() == role::candidate);
  ready rd = c.take(1);
  size_t requests = 0;
  for (const auto& m : rd.messages_after_persist) requests += m.type == message_type::vote;
  CAF_CHECK_EQUAL(requests, 2u);
  CAF_REQUIRE(rd.hard.has_value());
  CAF_CHECK_EQUAL(rd.hard->vote, 1u);
  CAF_CHECK(rd.must_sync);
  c.send(rd.messages);
  c.finish(1, rd);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a restarted node continues correctly) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  for (int i = 0; i < 5; ++i) CAF_REQUIRE(c.propose(lead, "a" + std::to_string(i)).index != 0);
  c.stabilize();
  c.restart(f, crash_mode::keep_synced);
  for (int i = 0; i < 5; ++i) CAF_REQUIRE(c.propose(lead, "b" + std::to_string(i)).index != 0);
  c.stabilize();
  c.tick_all(c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK(log_of(c.core(f)) == log_of(c.core(lead)));
  CAF_CHECK_EQUAL(c.at(f).app, c.at(lead).app);
  // The leader itself restarts: a new election, nothing committed is lost.
  auto committed = c.at(lead).app;
  c.restart(lead, crash_mode::keep_synced);
  node_id next = c.tick_until_leader();
  CAF_REQUIRE(next != no_node);
  CAF_REQUIRE(c.propose(next, "c").index != 0);
  c.stabilize();
  c.tick_all(c.base_config().heartbeat_ticks);
  c.stabilize();
  committed.push_back("c");
  for (node_id id : c.ids()) CAF_CHECK_EQUAL(c.at(id).app, committed);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(must_sync covers every change of term vote or log in a run with crashes) {
  cluster c{5};
  std::mt19937_64 random{21};
  std::map<index_t, entry> committed;
  bool safe = true;
  for (int step = 0; step < 300; ++step) {
    switch (random() % 8) {
      case 0: c.isolate(1 + random() % 5); break;
      case 1: c.heal(); break;
      case 2: c.restart(1 + random() % 5, crash_mode::keep_synced); break;
      case 3: c.tick_all(4); break;
      default:
        if (auto lead = c.leader(); lead != no_node)
          (void) c.core(lead).propose("s" + std::to_string(step));
        else
          c.tick_all();
    }
    c.stabilize();
    for (node_id id : c.ids())
      for (const auto& e : c.at(id).applied) {
        auto [it, fresh] = committed.emplace(e.index, e);
        safe = safe && (fresh || it->second == e);
      }
    safe = safe && apps_agree(c);
  }
  CAF_CHECK(safe);  // state machine safety across crashes that lose unsynced writes
  CAF_CHECK_GREATER(committed.size(), 10u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a leader that crashes before persisting its own entry loses nothing committed) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  auto id = c.propose(lead, "x");
  CAF_REQUIRE(id.index != 0);
  ready rd = c.take(lead);
  c.send(rd.messages);  // replicated in parallel with the leader's own write...
  c.deliver_all();
  c.process_all();
  c.deliver_all();      // ...and acknowledged by both followers
  c.restart(lead, crash_mode::keep_synced);  // the leader's write never happened
  CAF_CHECK_LESS(c.core(lead).last_index(), id.index);
  node_id next = c.tick_until_leader();
  CAF_REQUIRE(next != no_node);
  CAF_CHECK(next != lead);
  c.tick_all(c.base_config().heartbeat_ticks);
  c.stabilize();
  for (node_id n : c.ids()) {
    CAF_CHECK(c.core(n).entry_at(id.index).has_value());
    CAF_CHECK_EQUAL(c.at(n).app, std::vector<std::string>{"x"});
  }
  CAF_CHECK_EQUAL(c.violations_text(), "");
}
