// Log replication rules (paper 5.3): log matching, the consistency check on
// the previous entry, backing up with fast backtracking (about one round trip
// per divergent term), truncation of conflicting entries, harmless duplicate
// and reordered appends, pipelining within inflight_messages_max and batching
// within append_bytes_max. Pre-vote and check-quorum are off: they are not
// the rule under test.
#define CAF_SUITE rules_replication
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <random>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

// Log matching (5.3): if two logs hold an entry with the same index and term,
// the logs are identical up to it. Checking the highest such index suffices.
bool logs_match(const velocity::raft::raft& a, const velocity::raft::raft& b) {
  index_t low = std::max(a.first_index(), b.first_index());
  for (index_t i = std::min(a.last_index(), b.last_index()); i >= low && i > 0; --i) {
    if (a.term_at(i) != b.term_at(i)) continue;
    for (index_t j = low; j <= i; ++j)
      if (a.entry_at(j) != b.entry_at(j)) return false;
    return true;
  }
  return true;
}

message append_to(node_id from, node_id to, term_t term, index_t prev_index, term_t prev_term,
                  std::vector<entry> entries) {
  message m;
  m.type = message_type::append;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = prev_index;
  m.log_term = prev_term;
  m.entries = std::move(entries);
  return m;
}

}  // namespace

CAF_TEST(logs that share an entry index and term are identical up to it) {
  cluster c{5, plain_config()};
  std::mt19937_64 random{7};
  bool matching = true;
  for (int step = 0; step < 300; ++step) {
    switch (random() % 6) {
      case 0: c.isolate(1 + random() % 5); break;
      case 1: c.heal(); break;
      case 2: c.tick_all(3); break;
      default:
        if (auto lead = c.leader(); lead != no_node)
          (void) c.core(lead).propose("v" + std::to_string(step));
        else
          c.tick_all();
    }
    c.stabilize();
    for (node_id a = 1; a <= 5; ++a)
      for (node_id b = a + 1; b <= 5; ++b) matching = logs_match(c.core(a), c.core(b)) && matching;
  }
  CAF_CHECK(matching);
  c.heal();
  CAF_REQUIRE(c.tick_until_leader() != no_node);
  CAF_CHECK_GREATER(c.core(c.leader()).commit_index(), 20u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a follower rejects an append whose previous entry does not match) {
  std::vector<durable_state> states(3, state_with_log({1, 2, 3}, {1, 1}, {2, 0, 0}));
  cluster c{states, plain_config()};
  // Missing previous entry (index 3 does not exist).
  c.inject(append_to(1, 2, 2, 3, 2, {}));
  c.process_all();
  auto missing = last_sent(c, message_type::append_response, 2);
  CAF_REQUIRE(missing.has_value());
  CAF_CHECK(missing->reject);
  CAF_CHECK_EQUAL(missing->index, 3u);
  // Previous entry present with another term.
  c.clear_sent();
  c.inject(append_to(1, 2, 2, 2, 2, {}));
  c.process_all();
  auto mismatch = last_sent(c, message_type::append_response, 2);
  CAF_REQUIRE(mismatch.has_value());
  CAF_CHECK(mismatch->reject);
  CAF_CHECK_LESS_OR_EQUAL(mismatch->reject_hint, 2u);
  CAF_CHECK_EQUAL(c.core(2).last_index(), 2u);
  CAF_CHECK_EQUAL(c.at(2).disk.entries.size(), 2u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(conflicting entries are truncated and replaced by the leader entries) {
  std::vector<durable_state> states(3, state_with_log({1, 2, 3}, {1, 1, 1}, {1, 0, 0}));
  cluster c{states, plain_config()};
  entry replacement{2, 2, entry_kind::normal, "new"};
  c.inject(append_to(1, 2, 2, 1, 1, {replacement}));
  c.process_all();
  CAF_CHECK_EQUAL(c.core(2).last_index(), 2u);
  CAF_CHECK(c.core(2).entry_at(2) == replacement);
  CAF_CHECK(!c.core(2).entry_at(3).has_value());
  CAF_REQUIRE_EQUAL(c.at(2).disk.entries.size(), 2u);
  CAF_CHECK(c.at(2).disk.entries.back() == replacement);
  auto ack = last_sent(c, message_type::append_response, 2);
  CAF_REQUIRE(ack.has_value());
  CAF_CHECK(!ack->reject);
  CAF_CHECK_EQUAL(ack->index, 2u);
}

CAF_TEST(a diverged follower converges to the leader log) {
  // Figure 7 in small: 2 holds extra entries of a term the leader never saw,
  // 3 is missing entries.
  std::vector<durable_state> states{state_with_log({1, 2, 3}, {1, 1, 4, 4, 5, 5, 6}, {6, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 1, 4, 4, 4, 4, 4, 4}, {6, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 1, 4, 4}, {6, 0, 0})};
  cluster c{states, plain_config()};
  CAF_REQUIRE(elect(c, 1));
  auto leader_log = log_of(c.core(1));
  for (node_id id : {2, 3}) {
    CAF_CHECK(log_of(c.core(id)) == leader_log);
    CAF_CHECK(c.at(id).disk.entries == leader_log);
  }
  CAF_CHECK_EQUAL(c.core(2).commit_index(), c.core(1).last_index());
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(fast backtracking needs about one round trip per divergent term not per entry) {
  std::vector<term_t> leader_terms{1, 1};
  std::vector<term_t> follower_terms{1, 1};
  leader_terms.resize(52, 3);
  follower_terms.resize(62, 2);
  std::vector<durable_state> states{state_with_log({1, 2, 3}, leader_terms, {3, 0, 0}),
                                    state_with_log({1, 2, 3}, follower_terms, {3, 0, 0}),
                                    state_with_log({1, 2, 3}, leader_terms, {3, 0, 0})};
  cluster c{states, plain_config()};
  CAF_REQUIRE(elect(c, 1));
  auto rejects = c.count_sent([](const message& m) {
    return m.type == message_type::append_response && m.from == 2 && m.reject;
  });
  CAF_CHECK_GREATER_OR_EQUAL(rejects, 1u);
  CAF_CHECK_LESS_OR_EQUAL(rejects, 3u);
  CAF_CHECK(log_of(c.core(2)) == log_of(c.core(1)));
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(duplicate and reordered appends are harmless) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  std::vector<message> appends;
  for (int i = 0; i < 4; ++i) {
    CAF_REQUIRE(c.propose(lead, "x" + std::to_string(i)).index != 0);
    c.process_ready(lead);
    auto taken = c.take_messages([f](const message& m) { return m.to == f; });
    appends.insert(appends.end(), taken.begin(), taken.end());
  }
  CAF_REQUIRE_GREATER_OR_EQUAL(appends.size(), 1u);
  std::reverse(appends.begin(), appends.end());
  for (const auto& m : appends) c.inject(m);
  for (const auto& m : appends) c.inject(m);
  c.stabilize();
  index_t last = c.core(lead).last_index();
  CAF_CHECK_EQUAL(c.core(f).last_index(), last);
  // A stale append of an older prefix, arriving late, truncates nothing.
  for (const auto& m : appends) c.inject(m);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(f).last_index(), last);
  CAF_CHECK(log_of(c.core(f)) == log_of(c.core(lead)));
  CAF_CHECK_EQUAL(c.at(f).app, c.at(lead).app);
  CAF_CHECK_EQUAL(c.at(f).app.size(), 4u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a replicating leader pipelines appends without waiting for acks) {
  cluster c{3, plain_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  c.clear_sent();
  for (int i = 0; i < 5; ++i) {
    CAF_REQUIRE(c.propose(lead, "p" + std::to_string(i)).index != 0);
    c.process_ready(lead);
  }
  auto appends = c.count_sent([f](const message& m) {
    return m.type == message_type::append && m.to == f && !m.entries.empty();
  });
  CAF_CHECK_EQUAL(appends, 5u);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(f).last_index(), c.core(lead).last_index());
}

CAF_TEST(a leader keeps at most inflight_messages_max appends unacknowledged) {
  config cfg = plain_config();
  cfg.inflight_messages_max = 3;
  cluster c{3, cfg};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  c.clear_sent();
  for (int i = 0; i < 10; ++i) {
    CAF_REQUIRE(c.propose(lead, "p" + std::to_string(i)).index != 0);
    c.process_ready(lead);
  }
  auto appends = c.count_sent([f](const message& m) {
    return m.type == message_type::append && m.to == f && !m.entries.empty();
  });
  CAF_CHECK_GREATER_OR_EQUAL(appends, 2u);
  CAF_CHECK_LESS_OR_EQUAL(appends, 3u);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(f).last_index(), c.core(lead).last_index());
  CAF_CHECK_EQUAL(c.at(f).app.size(), 10u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(append messages respect append_bytes_max) {
  config cfg = plain_config();
  cfg.append_bytes_max = 100;  // make_log entries count 28 to 29 bytes: 3 per append
  std::vector<term_t> terms(20, 1);
  std::vector<durable_state> states{state_with_log({1, 2, 3}, terms, {1, 0, 0}),
                                    state_with_log({1, 2, 3}, {}, {1, 0, 0}),
                                    state_with_log({1, 2, 3}, terms, {1, 0, 0})};
  cluster c{states, cfg};
  CAF_REQUIRE(elect(c, 1));
  size_t batch_max = 0;
  bool within = true;
  for (const auto& m : c.sent()) {
    if (m.type != message_type::append || m.to != 2) continue;
    size_t bytes = 0;
    for (const auto& e : m.entries) bytes += entry_bytes(e);
    if (m.entries.size() > 1 && bytes > cfg.append_bytes_max) within = false;
    batch_max = std::max(batch_max, m.entries.size());
  }
  CAF_CHECK(within);
  CAF_CHECK_GREATER_OR_EQUAL(batch_max, 2u);
  CAF_CHECK_EQUAL(c.core(2).last_index(), 21u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a follower commits at most up to the last entry the append verified) {
  // Figure 2, AppendEntries rule 5: commitIndex = min(leaderCommit, index of
  // last new entry). The follower's entries after index 2 are unverified.
  std::vector<durable_state> states(3, state_with_log({1, 2, 3}, {1, 1, 2, 2, 2}, {2, 0, 0}));
  cluster c{states, plain_config()};
  message m = append_to(1, 2, 3, 2, 1, {});
  m.commit = 5;
  c.inject(m);
  c.process_all();
  CAF_CHECK_EQUAL(c.core(2).commit_index(), 2u);
  CAF_CHECK_EQUAL(c.at(2).applied_index, 2u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(heartbeats never commit a follower entry the leader has not matched) {
  // 2 holds a longer log of an older term; the leader commits its own index 5
  // with 3 while appends to 2 are lost, then heartbeats reach 2.
  std::vector<durable_state> states{state_with_log({1, 2, 3}, {1, 1, 3, 3, 3}, {3, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 1, 2, 2, 2, 2, 2}, {3, 0, 0}),
                                    state_with_log({1, 2, 3}, {1, 1, 3, 3, 3}, {3, 0, 0})};
  cluster c{states, plain_config()};
  for (int i = 0; i < 100 && c.core(1).current_role() == role::follower; ++i) c.tick(1);
  c.stabilize_only([](const message& m) { return !(m.type == message_type::append && m.to == 2); });
  CAF_REQUIRE(c.core(1).current_role() == role::leader);
  CAF_REQUIRE_EQUAL(c.core(1).commit_index(), 6u);
  for (int i = 0; i < 3; ++i) {
    c.tick(1, c.base_config().heartbeat_ticks);
    c.stabilize_only(
        [](const message& m) { return !(m.type == message_type::append && m.to == 2); });
  }
  bool stale_applied = false;
  for (const auto& e : c.at(2).applied) stale_applied = stale_applied || e.term == 2;
  CAF_CHECK(!stale_applied);
  CAF_CHECK_LESS_OR_EQUAL(c.core(2).commit_index(), 2u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a follower that lost more appends than the inflight window catches up after healing) {
  config cfg = plain_config();
  cfg.inflight_messages_max = 4;
  cluster c{3, cfg};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  c.isolate(f);
  for (int i = 0; i < 30; ++i) {
    CAF_REQUIRE(c.propose(lead, "lost" + std::to_string(i)).index != 0);
    c.stabilize();
  }
  c.heal();
  for (uint32_t i = 0; i < cfg.election_ticks && c.core(f).last_index() < c.core(lead).last_index();
       ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK_EQUAL(c.core(f).last_index(), c.core(lead).last_index());
  CAF_CHECK_EQUAL(c.at(f).app.size(), 30u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}
