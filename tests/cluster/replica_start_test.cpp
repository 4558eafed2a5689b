// Where a replica's Raft state starts (cluster/replica_start.hpp).
#define CAF_SUITE cluster_start
#include "caf/test/unit_test.hpp"

#include <string>

#include "cluster/replica_start.hpp"

using namespace velocity;
using namespace velocity::cluster;

CAF_TEST(a new group starts from its voters and must be persisted) {
  auto start = replica_start_state(std::nullopt, {3, 1, 2}, 0);
  CAF_REQUIRE(start.ok());
  CAF_CHECK(start->fresh);
  CAF_CHECK_EQUAL(start->state.snap.meta.conf.voters, (std::vector<raft::node_id>{1, 2, 3}));
  CAF_CHECK_EQUAL(start->state.snap.meta.index, 0u);
}

CAF_TEST(documents applied without a log become the snapshot of a group of one) {
  auto start = replica_start_state(raft::durable_state{}, {1}, 42);
  CAF_REQUIRE(start.ok());
  CAF_CHECK(start->fresh);
  CAF_CHECK_EQUAL(start->state.snap.meta.index, 42u);
  CAF_CHECK_EQUAL(start->state.hard.commit, 42u);
  auto larger = replica_start_state(raft::durable_state{}, {1, 2, 3}, 42);
  CAF_REQUIRE(!larger.ok());
  CAF_CHECK(larger.error().code() == error_code::invalid_argument);
}

CAF_TEST(held state of the configured group is kept and of another group refused) {
  auto held = raft::bootstrap_state({1});
  held.hard.term = 4;
  auto kept = replica_start_state(held, {1}, 0);
  CAF_REQUIRE(kept.ok());
  CAF_CHECK(!kept->fresh);
  CAF_CHECK_EQUAL(kept->state.hard.term, 4u);
  auto refused = replica_start_state(held, {1, 2, 3}, 0);
  CAF_REQUIRE(!refused.ok());
  std::string message = refused.error().message();
  CAF_CHECK(message.find("voters {1} but the configuration makes it {1,2,3}") !=
            std::string::npos);
}

CAF_TEST(a state machine ahead of its held log starts the core at the committed index) {
  // A streamed snapshot install finished, but the node stopped before its
  // core persisted the snapshot: the state machine is at 90, the log ends
  // at 12 (with uncommitted entries above the commit index 10).
  auto held = raft::bootstrap_state({1, 2, 3});
  held.hard = raft::hard_state{2, 1, 10};
  for (raft::index_t i = 1; i <= 12; ++i) held.entries.push_back(raft::entry{1, i, raft::entry_kind::normal, {}});
  auto start = replica_start_state(held, {1, 2, 3}, 90);
  CAF_REQUIRE(start.ok());
  CAF_CHECK_EQUAL(start->applied, 10u);
  // An ordinary restart keeps the state machine's applied index.
  auto ordinary = replica_start_state(held, {1, 2, 3}, 7);
  CAF_REQUIRE(ordinary.ok());
  CAF_CHECK_EQUAL(ordinary->applied, 7u);
  // The snapshot index counts as committed.
  held.snap.meta.index = 30;
  held.snap.meta.term = 2;
  held.entries.clear();
  held.hard.commit = 0;
  auto snap = replica_start_state(held, {1, 2, 3}, 90);
  CAF_REQUIRE(snap.ok());
  CAF_CHECK_EQUAL(snap->applied, 30u);
  auto fresh = replica_start_state(std::nullopt, {1}, 5);
  CAF_REQUIRE(fresh.ok());
  CAF_CHECK_EQUAL(fresh->applied, 5u);
}
