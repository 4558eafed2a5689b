// Log compaction and InstallSnapshot (paper section 7): compact drops the log
// prefix; a follower whose next entry is compacted receives the snapshot in
// chunks of snapshot_chunk_bytes, then the rest of the log; lost or
// duplicated chunks recover; a stale snapshot is ignored; the follower's
// application ends equal to the leader's.
#define CAF_SUITE rules_snapshot
#include "caf/test/unit_test.hpp"

#include <set>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

// Chunks small enough that the test snapshot needs several.
constexpr size_t chunk_bytes = 16;

config chunked_config() {
  config cfg;
  cfg.snapshot_chunk_bytes = chunk_bytes;
  return cfg;
}

struct lagging_setup {
  node_id lead = no_node;
  node_id lagging = no_node;
  index_t snap_index = 0;
};

// A leader that compacted past everything `lagging` holds, and 3 entries more.
lagging_setup compact_past_follower(cluster& c) {
  lagging_setup s;
  s.lead = c.tick_until_leader();
  if (s.lead == no_node) return s;
  s.lagging = s.lead == 1 ? 2 : 1;
  c.isolate(s.lagging);
  for (int i = 0; i < 20; ++i) (void) c.propose(s.lead, "value-" + std::to_string(i));
  c.stabilize();
  if (!c.compact(s.lead).ok()) return lagging_setup{};
  c.process_all();
  s.snap_index = c.core(s.lead).snapshot_info().index;
  for (int i = 0; i < 3; ++i) (void) c.propose(s.lead, "after-" + std::to_string(i));
  c.stabilize();
  c.heal();
  return s;
}

}  // namespace

CAF_TEST(compact drops the log prefix and persists the snapshot) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  for (int i = 0; i < 10; ++i) CAF_REQUIRE(c.propose(lead, "v" + std::to_string(i)).index != 0);
  c.stabilize();
  index_t applied = c.at(lead).applied_index;
  term_t term = *c.core(lead).term_at(applied);
  CAF_REQUIRE(c.compact(lead).ok());
  ready rd = c.take(lead);
  CAF_REQUIRE(rd.snap.has_value());
  CAF_CHECK(!rd.snapshot_from_leader);
  CAF_CHECK_EQUAL(rd.snap->meta.index, applied);
  CAF_CHECK_EQUAL(rd.snap->meta.term, term);
  CAF_CHECK(rd.snap->meta.conf == c.core(lead).conf());
  c.finish(lead, rd);
  CAF_CHECK_EQUAL(c.core(lead).first_index(), applied + 1);
  CAF_CHECK(!c.core(lead).entry_at(applied).has_value());
  CAF_CHECK(c.core(lead).term_at(applied) == std::optional<term_t>{term});
  CAF_CHECK(c.at(lead).disk.entries.empty());
  CAF_CHECK_EQUAL(c.at(lead).disk.snap.meta.index, applied);
  // Not above the current snapshot, not beyond the applied index.
  auto again = c.core(lead).compact(applied, "x");
  CAF_CHECK(again.code() == error_code::invalid_argument);
  auto beyond = c.core(lead).compact(applied + 5, "x");
  CAF_CHECK(beyond.code() == error_code::invalid_argument);
  // A restart from the compacted disk keeps the application state.
  auto app = c.at(lead).app;
  c.restart(lead);
  CAF_CHECK_EQUAL(c.at(lead).app, app);
  CAF_CHECK_EQUAL(c.core(lead).first_index(), applied + 1);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a far behind follower gets the snapshot in chunks and then the rest of the log) {
  cluster c{3, chunked_config()};
  auto s = compact_past_follower(c);
  CAF_REQUIRE(s.lead != no_node);
  c.clear_sent();
  for (uint32_t i = 0; i < c.base_config().election_ticks && c.at(s.lagging).app.size() < 23; ++i) {
    c.tick(s.lead);
    c.stabilize();
  }
  size_t chunks = 0;
  size_t done = 0;
  bool small = true;
  uint64_t total = 0;
  for (const auto& m : c.sent()) {
    if (m.type != message_type::snapshot_chunk || m.to != s.lagging) continue;
    ++chunks;
    done += m.snap_done;
    small = small && m.snap_data.size() <= chunk_bytes;
    total = m.snap_total_bytes;
    CAF_CHECK_EQUAL(m.snap_meta.index, s.snap_index);
  }
  CAF_CHECK(small);
  CAF_CHECK_GREATER(total, 2 * chunk_bytes);
  CAF_CHECK_GREATER_OR_EQUAL(chunks, (total + chunk_bytes - 1) / chunk_bytes);
  CAF_CHECK_EQUAL(done, 1u);
  CAF_CHECK_EQUAL(c.core(s.lagging).snapshot_info().index, s.snap_index);
  CAF_CHECK_EQUAL(c.at(s.lagging).disk.snap.meta.index, s.snap_index);
  CAF_CHECK_EQUAL(c.core(s.lagging).last_index(), c.core(s.lead).last_index());
  CAF_CHECK_EQUAL(c.at(s.lagging).app, c.at(s.lead).app);
  CAF_CHECK_EQUAL(c.at(s.lagging).app.size(), 23u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(lost and duplicated snapshot chunks recover) {
  cluster c{3, chunked_config()};
  auto s = compact_past_follower(c);
  CAF_REQUIRE(s.lead != no_node);
  std::set<uint64_t> dropped_offsets;
  for (int round = 0; round < 400 && c.at(s.lagging).app != c.at(s.lead).app; ++round) {
    if (round % 5 == 0) c.tick(s.lead);
    c.process_all();
    for (const auto& m : c.take_messages(of_type(message_type::snapshot_chunk))) {
      // Each chunk after the first is lost once; every other one arrives twice.
      if (m.snap_offset > 0 && dropped_offsets.insert(m.snap_offset).second) continue;
      c.inject(m);
      c.inject(m);
    }
    c.deliver_all();
  }
  CAF_CHECK(!dropped_offsets.empty());
  CAF_CHECK_EQUAL(c.at(s.lagging).app, c.at(s.lead).app);
  CAF_CHECK_EQUAL(c.core(s.lagging).snapshot_info().index, s.snap_index);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a stale snapshot is ignored) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  for (int i = 0; i < 10; ++i) CAF_REQUIRE(c.propose(lead, "v" + std::to_string(i)).index != 0);
  c.stabilize();
  c.tick_all(c.base_config().heartbeat_ticks);
  c.stabilize();
  index_t first = c.core(f).first_index();
  index_t last = c.core(f).last_index();
  auto app = c.at(f).app;
  CAF_REQUIRE_GREATER(c.core(f).commit_index(), 5u);
  message m;
  m.type = message_type::snapshot_chunk;
  m.from = lead;
  m.to = f;
  m.term = c.core(lead).term();
  m.snap_meta.index = 3;
  m.snap_meta.term = *c.core(lead).term_at(3);
  m.snap_meta.conf = c.core(lead).conf();
  m.snap_data = encode_app({"stale"});
  m.snap_total_bytes = m.snap_data.size();
  m.snap_done = true;
  c.inject(m);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(f).first_index(), first);
  CAF_CHECK_EQUAL(c.core(f).last_index(), last);
  CAF_CHECK_EQUAL(c.core(f).snapshot_info().index, 0u);
  CAF_CHECK_EQUAL(c.at(f).disk.snap.meta.index, 0u);
  CAF_CHECK_EQUAL(c.at(f).app, app);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a follower restarted after installing a snapshot keeps the leader state) {
  cluster c{3, chunked_config()};
  auto s = compact_past_follower(c);
  CAF_REQUIRE(s.lead != no_node);
  for (uint32_t i = 0; i < c.base_config().election_ticks && c.at(s.lagging).app.size() < 23; ++i) {
    c.tick(s.lead);
    c.stabilize();
  }
  CAF_REQUIRE_EQUAL(c.at(s.lagging).app, c.at(s.lead).app);
  c.restart(s.lagging, crash_mode::keep_synced);
  CAF_CHECK_EQUAL(c.core(s.lagging).snapshot_info().index, s.snap_index);
  c.tick(s.lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK_EQUAL(c.at(s.lagging).app, c.at(s.lead).app);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a snapshot carries the membership to a learner that joins through it) {
  cluster c{3, chunked_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.add_node(4);
  c.isolate(4);
  conf_change add{conf_change::kind::add_learner, 4};
  CAF_REQUIRE(c.core(lead).propose_conf_change(add).ok());
  for (int i = 0; i < 5; ++i) CAF_REQUIRE(c.propose(lead, "v" + std::to_string(i)).index != 0);
  c.stabilize();
  CAF_REQUIRE(c.compact(lead).ok());
  c.stabilize();
  CAF_REQUIRE(c.core(lead).snapshot_info().conf.is_learner(4));
  c.heal();
  for (uint32_t i = 0; i < c.base_config().election_ticks && c.at(4).app.size() < 5; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK(c.core(4).conf() == c.core(lead).conf());
  CAF_CHECK(c.at(4).disk.snap.meta.conf.is_learner(4));
  CAF_CHECK_EQUAL(c.at(4).app, c.at(lead).app);
  // Promoted, it can lead.
  conf_change promote{conf_change::kind::promote_learner, 4};
  CAF_REQUIRE(c.core(lead).propose_conf_change(promote).ok());
  c.stabilize();
  CAF_REQUIRE(c.core(lead).transfer_leadership(4).ok());
  c.stabilize();
  CAF_CHECK_EQUAL(c.leader(), 4u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a snapshot of entries the follower already holds keeps the log after it) {
  // 2 holds 25 entries but knows no commit; a snapshot at 21 covers a prefix
  // of its log: it commits that prefix instead of replacing the log.
  std::vector<term_t> terms(25, 1);
  std::vector<durable_state> states(3, state_with_log({1, 2, 3}, terms, {1, 0, 0}));
  cluster c{states, plain_config()};
  std::vector<std::string> app;
  for (const auto& e : make_log(terms))
    if (e.index <= 21) app.push_back(e.data);
  message m;
  m.type = message_type::snapshot_chunk;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.snap_meta.index = 21;
  m.snap_meta.term = 1;
  m.snap_meta.conf = c.core(1).conf();
  m.snap_data = encode_app(app);
  m.snap_total_bytes = m.snap_data.size();
  m.snap_done = true;
  c.inject(m);
  c.process_all();
  CAF_CHECK_EQUAL(c.core(2).last_index(), 25u);
  CAF_CHECK_GREATER_OR_EQUAL(c.core(2).commit_index(), 21u);
  CAF_CHECK_EQUAL(c.at(2).app, app);
  auto ack = last_sent(c, message_type::snapshot_response, 2);
  CAF_REQUIRE(ack.has_value());
  CAF_CHECK(!ack->reject);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}
