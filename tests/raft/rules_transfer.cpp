// Leadership transfer (thesis 3.10): the target, once up to date, gets
// timeout_now and wins the next term; a lagging target is caught up first;
// proposals are refused while a transfer runs; an unreachable target makes
// the transfer abort after an election timeout.
#define CAF_SUITE rules_transfer
#include "caf/test/unit_test.hpp"

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

CAF_TEST(a transfer to an up to date follower elects it in the next term) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id target = lead == 1 ? 2 : 1;
  term_t term = c.core(lead).term();
  CAF_REQUIRE(c.core(lead).transfer_leadership(target).ok());
  c.stabilize();
  CAF_CHECK_EQUAL(c.leader(), target);
  CAF_CHECK_EQUAL(c.core(target).term(), term + 1);
  CAF_CHECK(c.core(lead).current_role() == role::follower);
  CAF_CHECK_EQUAL(c.count_sent(of_type(message_type::timeout_now)), 1u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a transfer to a lagging follower first catches it up) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id target = lead == 1 ? 2 : 1;
  c.isolate(target);
  for (int i = 0; i < 5; ++i) CAF_REQUIRE(c.propose(lead, "v" + std::to_string(i)).index != 0);
  c.stabilize();
  index_t last = c.core(lead).last_index();
  c.heal();
  c.clear_sent();
  CAF_REQUIRE(c.core(lead).transfer_leadership(target).ok());
  // The catch-up may wait for heartbeat rounds; the transfer must finish
  // well within its election timeout.
  for (uint32_t i = 0; i < c.base_config().election_ticks / 2 && c.leader() != target; ++i) {
    c.tick(lead);
    c.stabilize();
  }
  CAF_CHECK_EQUAL(c.leader(), target);
  // timeout_now went out only after the target acknowledged the last entry.
  size_t ack_at = 0;
  size_t timeout_at = 0;
  for (size_t i = 0; i < c.sent().size(); ++i) {
    const auto& m = c.sent()[i];
    if (m.type == message_type::append_response && m.from == target && !m.reject && m.index >= last
        && ack_at == 0)
      ack_at = i + 1;
    if (m.type == message_type::timeout_now && timeout_at == 0) timeout_at = i + 1;
  }
  CAF_CHECK_GREATER(ack_at, 0u);
  CAF_CHECK_GREATER(timeout_at, ack_at);
  CAF_CHECK_GREATER_OR_EQUAL(c.core(target).last_index(), last);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(proposals are refused during a transfer) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id target = lead == 1 ? 2 : 1;
  c.isolate(target);
  CAF_REQUIRE(c.core(lead).transfer_leadership(target).ok());
  auto refused = c.core(lead).propose("x");
  CAF_REQUIRE(!refused.ok());
  CAF_CHECK(refused.error().code() == error_code::unavailable);
}

CAF_TEST(a transfer to an unreachable target aborts after an election timeout) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id target = lead == 1 ? 2 : 1;
  term_t term = c.core(lead).term();
  c.isolate(target);
  CAF_REQUIRE(c.core(lead).transfer_leadership(target).ok());
  for (uint32_t i = 0; i < 2 * c.base_config().election_ticks; ++i) {
    c.tick(lead);
    c.tick(6 - lead - target);
    c.stabilize();
  }
  CAF_CHECK(c.core(lead).current_role() == role::leader);
  CAF_CHECK_EQUAL(c.core(lead).term(), term);
  auto accepted = c.core(lead).propose("after");
  CAF_CHECK(accepted.ok());
}

CAF_TEST(a transfer to self or a non voter is invalid and a follower cannot transfer) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id f = lead == 1 ? 2 : 1;
  CAF_CHECK(c.core(lead).transfer_leadership(lead).code() == error_code::invalid_argument);
  CAF_CHECK(c.core(lead).transfer_leadership(9).code() == error_code::invalid_argument);
  CAF_CHECK(c.core(f).transfer_leadership(lead).code() == error_code::not_leader);
  CAF_CHECK(c.core(lead).propose("still fine").ok());
}

CAF_TEST(a transfer to a learner is invalid) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.add_node(4);
  conf_change add{conf_change::kind::add_learner, 4};
  CAF_REQUIRE(c.core(lead).propose_conf_change(add).ok());
  c.stabilize();
  CAF_CHECK(c.core(lead).transfer_leadership(4).code() == error_code::invalid_argument);
}
