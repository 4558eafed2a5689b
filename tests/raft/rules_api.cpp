// The core's public surface: errors of propose (not_leader with the leader in
// the message and leader_hint(), overloaded), validate() of configs, and
// malformed input (misaddressed, non-member responses, non-contiguous
// entries, index overflow, a snapshot chunk beyond its total) that must never
// crash and never change state.
#define CAF_SUITE rules_api
#include "caf/test/unit_test.hpp"

#include <limits>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

constexpr index_t index_max = std::numeric_limits<index_t>::max();

// The state a malformed message must leave alone.
struct fingerprint {
  hard_state hard;
  role current = role::follower;
  node_id leader = no_node;
  index_t first = 0;
  index_t last = 0;
  index_t commit = 0;
  membership conf;
  snapshot_meta snap;
  friend bool operator==(const fingerprint&, const fingerprint&) = default;
};

fingerprint fingerprint_of(const velocity::raft::raft& core) {
  return {core.hard(),        core.current_role(), core.leader_hint(), core.first_index(),
          core.last_index(), core.commit_index(), core.conf(),        core.snapshot_info()};
}

struct running {
  cluster c{3};
  node_id lead = no_node;
  node_id f = no_node;
  running() {
    lead = c.tick_until_leader();
    f = lead == 1 ? 2 : 1;
  }
  message from_leader(message_type type) {
    message m;
    m.type = type;
    m.from = lead;
    m.to = f;
    m.term = c.core(lead).term();
    m.index = c.core(f).last_index();
    m.log_term = c.core(f).term_at(m.index).value_or(0);
    return m;
  }
  // Steps `m` into `target` and handles the readies; true if nothing changed.
  bool unchanged_after(node_id target, const message& m) {
    auto before = fingerprint_of(c.core(target));
    c.core(target).step(m);
    c.process_all();
    c.drop([](const message&) { return true; });
    return fingerprint_of(c.core(target)) == before;
  }
};

bool invalid_naming(const config& cfg, const std::string& field) {
  auto result = validate(cfg);
  std::string text = result.message();
  return result.code() == error_code::invalid_argument && text.find(field) != std::string::npos;
}

}  // namespace

CAF_TEST(propose on a follower is not_leader naming the leader) {
  running r;
  CAF_REQUIRE(r.lead != no_node);
  auto refused = r.c.core(r.f).propose("x");
  CAF_REQUIRE(!refused.ok());
  CAF_CHECK(refused.error().code() == error_code::not_leader);
  std::string text = refused.error().message();
  CAF_CHECK(text.find("leader is " + std::to_string(r.lead)) != std::string::npos);
  CAF_CHECK_EQUAL(r.c.core(r.f).leader_hint(), r.lead);
}

CAF_TEST(propose without a known leader is not_leader with leader 0) {
  cluster c{3};
  auto refused = c.core(1).propose("x");
  CAF_REQUIRE(!refused.ok());
  CAF_CHECK(refused.error().code() == error_code::not_leader);
  std::string text = refused.error().message();
  CAF_CHECK(text.find("leader is 0") != std::string::npos);
  CAF_CHECK_EQUAL(c.core(1).leader_hint(), no_node);
}

CAF_TEST(proposals beyond uncommitted_bytes_max are refused as overloaded) {
  config cfg;
  cfg.uncommitted_bytes_max = 1000;
  cluster c{3, cfg};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  for (node_id id : c.ids())
    if (id != lead) c.isolate(id);
  bool overloaded = false;
  for (int i = 0; i < 100 && !overloaded; ++i) {
    auto result = c.core(lead).propose(std::string(100, 'x'));
    overloaded = !result.ok() && result.error().code() == error_code::overloaded;
  }
  CAF_CHECK(overloaded);
  c.heal();
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK(c.core(lead).propose("fits again").ok());
}

CAF_TEST(validate rejects bad configs naming the field) {
  config good;
  good.id = 1;
  CAF_CHECK(validate(good).ok());
  config cfg = good;
  cfg.id = no_node;
  CAF_CHECK(invalid_naming(cfg, "id"));
  cfg = good;
  cfg.election_ticks = 0;
  CAF_CHECK(invalid_naming(cfg, "election_ticks"));
  cfg = good;
  cfg.heartbeat_ticks = 0;
  CAF_CHECK(invalid_naming(cfg, "heartbeat_ticks"));
  cfg = good;
  cfg.heartbeat_ticks = cfg.election_ticks;
  CAF_CHECK(invalid_naming(cfg, "heartbeat_ticks"));
  cfg = good;
  cfg.lease_ticks = cfg.election_ticks;
  CAF_CHECK(invalid_naming(cfg, "lease_ticks"));
  cfg = good;
  cfg.lease_ticks = 2;
  cfg.check_quorum = false;
  CAF_CHECK(invalid_naming(cfg, "check_quorum"));
  cfg = good;
  cfg.inflight_messages_max = 0;
  CAF_CHECK(invalid_naming(cfg, "inflight_messages_max"));
  cfg = good;
  cfg.snapshot_chunk_bytes = 0;
  CAF_CHECK(invalid_naming(cfg, "snapshot_chunk_bytes"));
}

CAF_TEST(a misaddressed message changes nothing) {
  running r;
  CAF_REQUIRE(r.lead != no_node);
  message m = r.from_leader(message_type::append);
  m.to = 99;
  m.term += 1;
  m.entries = {entry{m.term, m.index + 1, entry_kind::normal, "x"}};
  CAF_CHECK(r.unchanged_after(r.f, m));
  CAF_CHECK_EQUAL(r.c.violations_text(), "");
}

CAF_TEST(responses from a non member change nothing on the leader) {
  running r;
  CAF_REQUIRE(r.lead != no_node);
  for (auto type : {message_type::append_response, message_type::heartbeat_response,
                    message_type::snapshot_response, message_type::vote_response}) {
    message m;
    m.type = type;
    m.from = 99;
    m.to = r.lead;
    m.term = r.c.core(r.lead).term();
    m.index = r.c.core(r.lead).last_index();
    CAF_CHECK(r.unchanged_after(r.lead, m));
  }
  CAF_CHECK(r.c.core(r.lead).current_role() == role::leader);
  CAF_CHECK(!r.c.core(r.lead).match_of(99).has_value());
}

CAF_TEST(an append with non contiguous entries changes nothing) {
  running r;
  CAF_REQUIRE(r.lead != no_node);
  message m = r.from_leader(message_type::append);
  term_t term = m.term;
  m.entries = {entry{term, m.index + 1, entry_kind::normal, "a"},
               entry{term, m.index + 3, entry_kind::normal, "b"}};
  CAF_CHECK(r.unchanged_after(r.f, m));
  m.entries = {entry{term, m.index + 2, entry_kind::normal, "gap after prev"}};
  CAF_CHECK(r.unchanged_after(r.f, m));
  m.entries = {entry{term + 5, m.index + 1, entry_kind::normal, "term above the message"}};
  CAF_CHECK(r.unchanged_after(r.f, m));
  CAF_CHECK_EQUAL(r.c.violations_text(), "");
}

CAF_TEST(indexes near overflow change nothing) {
  running r;
  CAF_REQUIRE(r.lead != no_node);
  message m = r.from_leader(message_type::append);
  m.index = index_max;
  m.log_term = m.term;
  m.entries = {entry{m.term, 0, entry_kind::normal, "wrapped"}};
  CAF_CHECK(r.unchanged_after(r.f, m));
  m.index = index_max - 1;
  m.entries = {entry{m.term, index_max, entry_kind::normal, "last"}};
  CAF_CHECK(r.unchanged_after(r.f, m));
  message hb = r.from_leader(message_type::heartbeat);
  hb.commit = index_max;
  r.c.core(r.f).step(hb);
  r.c.process_all();
  CAF_CHECK_LESS_OR_EQUAL(r.c.core(r.f).commit_index(), r.c.core(r.f).last_index());
  message response;
  response.type = message_type::append_response;
  response.from = r.f;
  response.to = r.lead;
  response.term = r.c.core(r.lead).term();
  response.index = index_max;
  CAF_CHECK(r.unchanged_after(r.lead, response));
  CAF_CHECK_LESS_OR_EQUAL(r.c.core(r.lead).match_of(r.f).value_or(0),
                          r.c.core(r.lead).last_index());
  CAF_CHECK_EQUAL(r.c.violations_text(), "");
}

CAF_TEST(a snapshot chunk with an offset beyond its total changes nothing) {
  running r;
  CAF_REQUIRE(r.lead != no_node);
  message m = r.from_leader(message_type::snapshot_chunk);
  m.snap_meta.index = r.c.core(r.f).last_index() + 10;
  m.snap_meta.term = m.term;
  m.snap_meta.conf = r.c.core(r.lead).conf();
  m.snap_offset = 1000;
  m.snap_total_bytes = 10;
  m.snap_data = "x";
  m.snap_done = true;
  CAF_CHECK(r.unchanged_after(r.f, m));
  m.snap_offset = 0;
  m.snap_data = std::string(20, 'y');  // more data than the total
  CAF_CHECK(r.unchanged_after(r.f, m));
  CAF_CHECK_EQUAL(r.c.at(r.f).disk.snap.meta.index, 0u);
  CAF_CHECK_EQUAL(r.c.violations_text(), "");
}
