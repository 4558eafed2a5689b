// Linearizable reads (thesis 6.4): ReadIndex answers with the commit index
// after a quorum confirmed leadership in one heartbeat round; no read before
// the leader committed an entry of its term; a partitioned old leader never
// answers (the classic stale read); lease reads skip the round trip only
// within lease_ticks of a quorum ack; pending reads are dropped on step down;
// a follower answers not_leader with the leader hint.
#define CAF_SUITE rules_read_index
#include "caf/test/unit_test.hpp"

#include <algorithm>

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

bool has_read(const node_state& node, uint64_t request_id) {
  return std::any_of(node.reads.begin(), node.reads.end(),
                     [&](const read_state& r) { return r.request_id == request_id; });
}

std::optional<read_state> find_read(const node_state& node, uint64_t request_id) {
  for (const auto& r : node.reads)
    if (r.request_id == request_id) return r;
  return std::nullopt;
}

config lease_config() {
  config cfg;
  cfg.election_ticks = 10;
  cfg.lease_ticks = 5;
  return cfg;
}

}  // namespace

CAF_TEST(read index answers with the commit index after a quorum heartbeat round) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  CAF_REQUIRE(c.propose(lead, "x").index != 0);
  c.stabilize();
  index_t commit = c.core(lead).commit_index();
  c.clear_sent();
  CAF_REQUIRE(c.core(lead).read_index(7).ok());
  c.process_ready(lead);
  CAF_CHECK(!has_read(c.at(lead), 7));  // no answer before the round
  CAF_CHECK_GREATER_OR_EQUAL(c.count_sent([&](const message& m) {
    return m.type == message_type::heartbeat && m.from == lead;
  }), 2u);
  c.stabilize();
  auto read = find_read(c.at(lead), 7);
  CAF_REQUIRE(read.has_value());
  CAF_CHECK_EQUAL(read->index, commit);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(read index is refused before the leader commits an entry of its term) {
  cluster c{3, plain_config()};
  for (int i = 0; i < 100 && c.core(1).current_role() == role::follower; ++i) c.tick(1);
  c.stabilize_only([](const message& m) { return m.type != message_type::append; });
  CAF_REQUIRE(c.core(1).current_role() == role::leader);
  CAF_REQUIRE_LESS(c.core(1).commit_index(), c.core(1).last_index());
  auto early = c.core(1).read_index(1);
  CAF_CHECK(early.code() == error_code::unavailable);
  c.tick(1, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_REQUIRE_EQUAL(c.core(1).commit_index(), c.core(1).last_index());
  CAF_CHECK(c.core(1).read_index(2).ok());
}

CAF_TEST(a partitioned old leader never answers a read while a new leader exists) {
  cluster c{3};
  node_id old = c.tick_until_leader();
  CAF_REQUIRE(old != no_node);
  c.isolate(old);
  node_id fresh = elect_without(c, old);
  CAF_REQUIRE(fresh != no_node);
  CAF_REQUIRE(c.propose(fresh, "newer").index != 0);
  c.stabilize();
  CAF_REQUIRE(c.core(old).current_role() == role::leader);
  auto status = c.core(old).read_index(9);
  for (uint32_t i = 0; i < 3 * c.base_config().election_ticks; ++i) {
    c.tick(old);
    c.stabilize();
    CAF_CHECK(!has_read(c.at(old), 9));
  }
  CAF_CHECK(!has_read(c.at(old), 9));
  // Once it stepped down the pending read is failed, not left hanging.
  if (status.ok()) {
    CAF_CHECK(c.core(old).current_role() != role::leader);
    CAF_CHECK_EQUAL(c.at(old).dropped_reads.size(), 1u);
  }
}

CAF_TEST(pending reads are dropped when the leader steps down) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  CAF_REQUIRE(c.core(lead).read_index(5).ok());
  c.process_ready(lead);
  c.drop([](const message&) { return true; });
  message m;
  m.type = message_type::append_response;
  m.from = lead == 1 ? 2 : 1;
  m.to = lead;
  m.term = c.core(lead).term() + 1;
  c.inject(m);
  c.process_all();
  CAF_CHECK(c.core(lead).current_role() == role::follower);
  CAF_CHECK(!has_read(c.at(lead), 5));
  CAF_REQUIRE_EQUAL(c.at(lead).dropped_reads.size(), 1u);
  CAF_CHECK_EQUAL(c.at(lead).dropped_reads.front(), 5u);
}

CAF_TEST(a lease read is served without a round trip while the lease holds) {
  cluster c{3, lease_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_REQUIRE(c.core(lead).lease_valid());
  c.clear_sent();
  CAF_REQUIRE(c.core(lead).read_index(3, read_mode::lease).ok());
  c.process_ready(lead);
  CAF_CHECK(has_read(c.at(lead), 3));
  CAF_CHECK_EQUAL(c.count_sent(from_node(lead)), 0u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a lease read is never served without a round trip after the lease expired) {
  cluster c{3, lease_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_REQUIRE(c.core(lead).lease_valid());
  for (node_id id : c.ids())
    if (id != lead) c.isolate(id);
  // The last acknowledged heartbeat was sent at most now: lease_ticks later it is gone.
  for (uint32_t i = 0; i < c.base_config().lease_ticks; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK(!c.core(lead).lease_valid());
  auto status = c.core(lead).read_index(4, read_mode::lease);
  for (int i = 0; i < 3; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK(!has_read(c.at(lead), 4));
  (void) status;
}

CAF_TEST(a follower read index gives not_leader with the leader hint) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  auto refused = c.core(f).read_index(1);
  CAF_CHECK(refused.code() == error_code::not_leader);
  std::string message = refused.message();
  CAF_CHECK(message.find(std::to_string(lead)) != std::string::npos);
  CAF_CHECK_EQUAL(c.core(f).leader_hint(), lead);
}

CAF_TEST(a read completes only on acks of a round that started after it) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  CAF_REQUIRE(c.core(lead).read_index(1).ok());
  c.process_all();
  c.deliver_type(message_type::heartbeat);
  c.process_all();
  // Hold the acks of read 1's round; read 2 starts a new round, which is lost.
  auto old_acks = c.take_messages(of_type(message_type::heartbeat_response));
  CAF_REQUIRE(!old_acks.empty());
  CAF_REQUIRE(c.core(lead).read_index(2).ok());
  c.process_all();
  c.drop([](const message&) { return true; });
  for (const auto& m : old_acks) c.inject(m);
  c.process_all();
  c.drop([](const message&) { return true; });
  CAF_CHECK(has_read(c.at(lead), 1));
  CAF_CHECK(!has_read(c.at(lead), 2));
  // A fresh round answers read 2.
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK(has_read(c.at(lead), 2));
}

CAF_TEST(a single voter answers a read without a round trip) {
  cluster c{1};
  CAF_REQUIRE_EQUAL(c.tick_until_leader(), 1u);
  CAF_REQUIRE(c.core(1).read_index(3).ok());
  c.process_all();
  auto read = find_read(c.at(1), 3);
  CAF_REQUIRE(read.has_value());
  CAF_CHECK_EQUAL(read->index, c.core(1).commit_index());
}

CAF_TEST(a leader that starts a transfer stops serving lease reads) {
  // timeout_now lets the target win at once (force skips stickiness), so the
  // old leader's lease no longer excludes a new leader (thesis 6.4.1).
  cluster c{3, lease_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_REQUIRE(c.core(lead).lease_valid());
  node_id target = lead == 1 ? 2 : 1;
  CAF_REQUIRE(c.core(lead).transfer_leadership(target).ok());
  c.process_all();
  CAF_CHECK(!c.core(lead).lease_valid());
  auto status = c.core(lead).read_index(8, read_mode::lease);
  c.process_all();
  CAF_CHECK(!has_read(c.at(lead), 8));
  (void) status;
  c.stabilize();
  CAF_CHECK_EQUAL(c.leader(), target);
  CAF_CHECK(!has_read(c.at(lead), 8));
}

CAF_TEST(acks of a learner neither confirm a read nor grant a lease) {
  cluster c{3, lease_config()};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.add_node(4);
  conf_change add{conf_change::kind::add_learner, 4};
  CAF_REQUIRE(c.core(lead).propose_conf_change(add).ok());
  c.stabilize();
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  for (node_id id : {1, 2, 3})
    if (id != lead) c.isolate(id);
  for (uint32_t i = 0; i < c.base_config().lease_ticks; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK(!c.core(lead).lease_valid());
  CAF_REQUIRE(c.core(lead).read_index(6).ok());
  for (int i = 0; i < 3; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK(!has_read(c.at(lead), 6));
}
