// Commitment rules (paper 5.4.2, figure 8, and the ready contract): a
// current-term entry commits on a quorum and carries earlier entries with it;
// a previous-term entry never commits by counting replicas; the commit index
// never decreases; committed entries are applied in order, once, after they
// are durable; the leader counts its own log only after advance(); a new
// leader appends an empty entry of its term; leader completeness.
#define CAF_SUITE rules_commit
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <map>
#include <random>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

// Figure 8 (c): S1 leads term 4 holding index 2 of term 2; S5 holds index 2 of term 3.
cluster figure_8_cluster() {
  std::vector<node_id> voters{1, 2, 3, 4, 5};
  hard_state hard{3, 0, 1};
  std::vector<durable_state> states{
      state_with_log(voters, {1, 2}, hard), state_with_log(voters, {1, 2}, hard),
      state_with_log(voters, {1}, hard), state_with_log(voters, {1}, hard),
      state_with_log(voters, {1, 3}, hard)};
  config cfg = plain_config();
  cfg.append_bytes_max = 1;  // one entry per append, so index 2 travels without index 3
  return cluster{states, cfg};
}

// A random run with partitions and proposals; `observe` runs after every step.
template <class Observe>
void random_run(cluster& c, uint64_t seed, int steps, Observe observe) {
  std::mt19937_64 random{seed};
  auto n = c.ids().size();
  for (int step = 0; step < steps; ++step) {
    switch (random() % 6) {
      case 0: c.isolate(1 + random() % n); break;
      case 1: c.heal(); break;
      case 2: c.tick_all(4); break;
      default:
        if (auto lead = c.leader(); lead != no_node)
          (void) c.core(lead).propose("s" + std::to_string(step));
        else
          c.tick_all();
    }
    c.stabilize();
    observe();
  }
}

}  // namespace

CAF_TEST(a current term entry commits on a quorum and earlier entries commit with it) {
  std::vector<node_id> voters{1, 2, 3, 4, 5};
  std::vector<durable_state> states{
      state_with_log(voters, {1, 1, 1}, {1, 0, 0}), state_with_log(voters, {}, {1, 0, 0}),
      state_with_log(voters, {}, {1, 0, 0}), state_with_log(voters, {}, {1, 0, 0}),
      state_with_log(voters, {}, {1, 0, 0})};
  cluster c{states, plain_config()};
  c.isolate(4);
  c.isolate(5);
  CAF_REQUIRE(elect(c, 1));
  CAF_CHECK_EQUAL(c.core(1).commit_index(), 4u);  // 1..3 of term 1 with the term-2 no-op
  c.tick(1, c.base_config().heartbeat_ticks);  // the commit may travel with a heartbeat
  c.stabilize();
  CAF_CHECK_EQUAL(c.at(2).applied_index, 4u);
  c.isolate(3);
  auto id = c.propose(1, "x");
  CAF_REQUIRE_EQUAL(id.index, 5u);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(1).commit_index(), 4u);  // 2 of 5 is no quorum
  c.heal();
  c.isolate(2);
  c.isolate(3);
  c.stabilize();
  c.tick(1, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(1).commit_index(), 5u);  // 1, 4, 5
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a leader never commits a previous term entry by counting replicas) {
  cluster c = figure_8_cluster();
  c.isolate(5);  // figure 8 (c): S5 is down while S1 leads term 4
  for (int i = 0; i < 100 && c.core(1).current_role() == role::follower; ++i) c.tick(1);
  // Everything flows except the leader's term-4 entry (index 3): appends lose
  // their entries from index 3 on (a valid, shorter append).
  for (int round = 0; round < 100; ++round) {
    c.process_all();
    auto batch = c.take_messages([](const message&) { return true; });
    if (batch.empty()) break;
    for (auto& m : batch) {
      std::erase_if(m.entries, [](const entry& e) { return e.index >= 3; });
      c.inject(m);
    }
  }
  CAF_REQUIRE(c.core(1).current_role() == role::leader);
  CAF_REQUIRE_EQUAL(c.core(1).term(), 4u);
  CAF_CHECK(c.core(1).term_at(2) == std::optional<term_t>{2});
  for (node_id id : {2, 3, 4}) CAF_CHECK(c.core(id).term_at(2) == std::optional<term_t>{2});
  // Index 2 is on all of S1..S4, yet of term 2: it must not commit.
  for (node_id id : c.ids()) CAF_CHECK_EQUAL(c.core(id).commit_index(), 1u);
  // Figure 8 (d): S5 wins term 5 and overwrites index 2; nothing committed is lost.
  c.heal();
  c.isolate(1);
  CAF_REQUIRE(elect(c, 5));
  for (node_id id : {2, 3, 4}) CAF_CHECK(c.core(id).term_at(2) == std::optional<term_t>{3});
  for (node_id id : c.ids())
    for (const auto& e : c.at(id).applied) CAF_CHECK(!(e.index == 2 && e.term == 2));
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a previous term entry commits once an entry of the leader term reaches a quorum) {
  cluster c = figure_8_cluster();
  CAF_REQUIRE(elect(c, 1));
  CAF_CHECK_EQUAL(c.core(1).commit_index(), 3u);  // figure 8 (e)
  c.tick(1, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK_EQUAL(c.at(3).applied_index, 3u);
  CAF_CHECK(c.core(3).term_at(2) == std::optional<term_t>{2});
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(the commit index never decreases) {
  cluster c{5, plain_config()};
  std::map<node_id, index_t> last;
  bool monotonic = true;
  random_run(c, 11, 300, [&] {
    for (node_id id : c.ids()) {
      if (c.core(id).commit_index() < last[id]) monotonic = false;
      last[id] = c.core(id).commit_index();
    }
  });
  CAF_CHECK(monotonic);
  CAF_CHECK_GREATER(last[1], 10u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(committed entries are applied in order exactly once and only when durable) {
  cluster c{5, plain_config()};
  random_run(c, 12, 300, [] {});
  c.heal();
  CAF_REQUIRE(c.tick_until_leader() != no_node);
  node_id lead = c.leader();
  (void) c.core(lead).propose("final");
  c.stabilize();
  c.tick_all(c.base_config().heartbeat_ticks);
  c.stabilize();
  for (node_id id : c.ids()) {
    const auto& applied = c.at(id).applied;
    bool in_order = true;
    for (size_t i = 0; i < applied.size(); ++i) in_order = in_order && applied[i].index == i + 1;
    CAF_CHECK(in_order);
    CAF_CHECK_EQUAL(c.at(id).applied_index, c.core(lead).commit_index());
    CAF_CHECK_EQUAL(c.at(id).app, c.at(lead).app);
  }
  // The ordering and durability checks of every ready are the harness's.
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(the leader counts its own log for commit only after advance) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  c.isolate(6 - lead - f);  // the third node
  auto id = c.propose(lead, "x");
  CAF_REQUIRE(id.index != 0);
  ready rd = c.take(lead);
  CAF_CHECK_EQUAL(rd.entries.size(), 1u);
  CAF_CHECK(rd.committed.empty());
  // The leader's append goes out before its own write (persist in parallel).
  bool append_before_persist = false;
  for (const auto& m : rd.messages)
    append_before_persist = append_before_persist || (m.type == message_type::append && m.to == f);
  CAF_CHECK(append_before_persist);
  c.send(rd.messages);
  c.deliver(to_node(f));
  ready follower_rd = c.take(f);
  bool ack_after_persist = false;
  for (const auto& m : follower_rd.messages_after_persist)
    ack_after_persist = ack_after_persist || m.type == message_type::append_response;
  CAF_CHECK(ack_after_persist);
  c.send(follower_rd.messages);
  c.finish(f, follower_rd);
  c.deliver(to_node(lead));
  // f holds it durably, the leader not yet: 1 of 3 is no quorum.
  CAF_CHECK_LESS(c.core(lead).commit_index(), id.index);
  c.finish(lead, rd);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(lead).commit_index(), id.index);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a single node commits its entry only after advance) {
  cluster c{1, plain_config()};
  CAF_REQUIRE_EQUAL(c.tick_until_leader(), 1u);
  auto id = c.propose(1, "x");
  CAF_REQUIRE(id.index != 0);
  ready rd = c.take(1);
  CAF_CHECK_EQUAL(rd.entries.size(), 1u);
  CAF_CHECK(rd.committed.empty());
  CAF_CHECK_LESS(c.core(1).commit_index(), id.index);
  c.finish(1, rd);
  c.process_all();
  CAF_CHECK_EQUAL(c.core(1).commit_index(), id.index);
  CAF_REQUIRE_EQUAL(c.at(1).app.size(), 1u);
  CAF_CHECK_EQUAL(c.at(1).app.back(), "x");
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a new leader appends an empty entry of its term and commits it) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  auto last = c.core(lead).entry_at(c.core(lead).last_index());
  CAF_REQUIRE(last.has_value());
  CAF_CHECK_EQUAL(last->term, c.core(lead).term());
  CAF_CHECK(last->data.empty());
  CAF_CHECK(last->kind == entry_kind::normal);
  CAF_CHECK_EQUAL(c.core(lead).commit_index(), last->index);
}

CAF_TEST(every new leader holds every committed entry) {
  cluster c{5, plain_config()};
  // Index -> the highest term any node had when the entry was first seen
  // committed: the entry committed in that term or earlier, so every leader
  // of a higher term must hold it (an isolated stale leader need not).
  std::map<index_t, std::pair<entry, term_t>> committed;
  bool complete = true;
  size_t leaders_checked = 0;
  random_run(c, 13, 400, [&] {
    term_t top = 0;
    for (node_id id : c.ids()) top = std::max(top, c.core(id).term());
    for (node_id id : c.ids())
      for (const auto& e : c.at(id).applied) committed.emplace(e.index, std::pair{e, top});
    for (node_id id : c.ids()) {
      if (c.core(id).current_role() != role::leader) continue;
      ++leaders_checked;
      for (const auto& [index, seen] : committed)
        if (c.core(id).term() > seen.second &&
            c.core(id).entry_at(index) != std::optional<entry>{seen.first})
          complete = false;
    }
  });
  CAF_CHECK(complete);
  CAF_CHECK_GREATER(committed.size(), 10u);
  CAF_CHECK_GREATER(leaders_checked, 10u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

// types.hpp, "early": a leader whose next write is syncing applies an entry
// as soon as a follower acknowledges it (its own copy was made durable by an
// earlier ready), and the entry is never delivered again.
CAF_TEST(a leader applies acknowledged entries early while its next write syncs) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.stabilize();
  raft::raft& core = c.core(lead);
  CAF_REQUIRE(core.propose("a").ok());
  ready first = c.take(lead);
  c.send(first.messages);
  c.finish(lead, first);  // "a" is durable at the leader
  index_t a_index = core.last_index();
  CAF_REQUIRE(core.propose("b").ok());
  ready second = c.take(lead);  // outstanding: "b" syncing at the leader
  c.send(second.messages);
  CAF_CHECK(!core.has_early());
  // The followers store "a" (and "b") and acknowledge.
  auto to_followers = [&](const message& m) { return m.to != lead; };
  while (c.deliver(to_followers) > 0)
    for (node_id id : c.ids())
      if (id != lead) while (c.process_ready(id)) {}
  c.deliver([&](const message& m) { return m.to == lead; });
  // The followers alone are a quorum for "b" too, but the leader applies
  // only what its own disk holds: "b" waits for its sync.
  CAF_CHECK(core.commit_index() > a_index);
  CAF_REQUIRE(core.has_early());
  ready early = core.take_early();
  CAF_REQUIRE_EQUAL(early.committed.size(), 1u);
  CAF_CHECK_EQUAL(early.committed.front().data, "a");
  CAF_CHECK(early.entries.empty());
  CAF_CHECK(!early.hard.has_value());
  CAF_CHECK(early.messages_after_persist.empty());
  c.apply(lead, early);
  CAF_CHECK(!core.has_early());
  c.finish(lead, second);
  c.stabilize();
  c.tick(lead, 3);  // heartbeats carry the commit index to the followers
  c.stabilize();
  auto violations = c.violations();
  CAF_CHECK(violations.empty());
  for (node_id id : c.ids()) {
    const auto& app = c.at(id).app;
    CAF_CHECK_EQUAL(std::count(app.begin(), app.end(), "a"), 1);
    CAF_CHECK_EQUAL(std::count(app.begin(), app.end(), "b"), 1);
  }
}


CAF_TEST(a follower tells the leader before persisting that it knows an entry is committed) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE_NOT_EQUAL(lead, no_node);
  c.stabilize();
  auto id = c.propose(lead, "x");
  c.clear_sent();
  c.stabilize();
  CAF_REQUIRE_GREATER_OR_EQUAL(c.core(lead).commit_index(), id.index);
  // Each follower learned the commit from the leader's next append and said
  // so in a commit notice, a message the ready contract lets leave before
  // its persist (the harness flags any other message sent early).
  for (node_id f : c.ids()) {
    if (f == lead) continue;
    CAF_CHECK_EQUAL(c.count_sent([&](const message& m) {
      return m.type == message_type::commit_notice && m.from == f && m.to == lead &&
             m.commit >= id.index;
    }), 1u);
  }
  // A quorum (here every voter) knows it: known_committed reaches the entry.
  CAF_CHECK_GREATER_OR_EQUAL(c.core(lead).known_committed(), id.index);
  CAF_CHECK_EQUAL(c.core(lead == 1 ? 2 : 1).known_committed(), 0u);  // not a leader
  CAF_CHECK_EQUAL(c.violations_text(), "");
}
