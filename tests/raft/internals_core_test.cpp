// Smoke tests of the whole core in a small deterministic cluster
// (internals_cluster.hpp): election, replication, catch-up, snapshot
// transfer, membership, reads and leadership transfer.
#define CAF_SUITE raft_core_smoke
#include "caf/test/unit_test.hpp"

#include "tests/raft/internals_cluster.hpp"

using namespace velocity;
using namespace velocity::raft;
using velocity::raft::internals::test_cluster;

namespace {

size_t count_leaders(test_cluster& c, size_t nodes) {
  size_t leaders = 0;
  for (node_id id = 1; id <= nodes; ++id)
    if (c.core(id).current_role() == role::leader) ++leaders;
  return leaders;
}

void propose_or_fail(test_cluster& c, node_id leader, const std::string& data) {
  auto r = c.core(leader).propose(data);
  CAF_REQUIRE(r.ok());
}

}  // namespace

CAF_TEST(three nodes elect exactly one leader) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  CAF_CHECK_EQUAL(count_leaders(c, 3), 1u);
  for (node_id id = 1; id <= 3; ++id) {
    CAF_CHECK_EQUAL(c.core(id).term(), c.core(l).term());
    CAF_CHECK_EQUAL(c.core(id).leader_hint(), l);
  }
  // The leader's no-op of its term commits everywhere.
  c.tick(2);
  for (node_id id = 1; id <= 3; ++id) CAF_CHECK_EQUAL(c.core(id).commit_index(), 1u);
}

CAF_TEST(a single node commits and applies its own proposals) {
  test_cluster c{1};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE_EQUAL(l, 1u);
  propose_or_fail(c, l, "a");
  c.stabilize();
  CAF_CHECK(c.node(1).app == std::vector<std::string>({"a"}));
  CAF_CHECK_EQUAL(c.core(1).applied_index(), 2u);
}

CAF_TEST(proposals commit and apply on all nodes in order) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  for (int i = 0; i < 20; ++i) propose_or_fail(c, l, "v" + std::to_string(i));
  c.stabilize();
  c.tick(2);
  for (node_id id = 1; id <= 3; ++id) {
    CAF_CHECK_EQUAL(c.node(id).app.size(), 20u);
    CAF_CHECK(c.node(id).app == c.node(l).app);
  }
  CAF_CHECK_EQUAL(c.node(l).app.back(), "v19");
}

CAF_TEST(a follower returns to the leader and its proposals fail elsewhere) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  node_id f = l == 1 ? 2 : 1;
  auto r = c.core(f).propose("x");
  CAF_REQUIRE(!r.ok());
  CAF_CHECK(r.error().code() == error_code::not_leader);
}

CAF_TEST(a follower cut off for a while catches up after the partition heals) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  node_id f = l == 3 ? 2 : 3;
  c.isolate(f);
  for (int i = 0; i < 30; ++i) propose_or_fail(c, l, "w" + std::to_string(i));
  c.tick(3);
  CAF_CHECK_EQUAL(c.node(l).app.size(), 30u);
  CAF_CHECK(c.node(f).app.empty());
  c.heal();
  c.tick(30);
  CAF_CHECK(c.node(f).app == c.node(c.leader()).app);
  CAF_CHECK_EQUAL(c.node(f).app.size(), 30u);
}

CAF_TEST(a follower that lost uncommitted entries takes the log of the new leader) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.tick(2);
  // The old leader appends entries nobody else gets, then a new leader wins.
  c.isolate(l);
  for (int i = 0; i < 5; ++i) propose_or_fail(c, l, "lost" + std::to_string(i));
  c.tick(1);
  node_id l2 = no_node;
  for (int t = 0; t < 200 && l2 == no_node; ++t) {
    c.tick();
    for (node_id id = 1; id <= 3; ++id)
      if (id != l && c.core(id).current_role() == role::leader) l2 = id;
  }
  CAF_REQUIRE(l2 != no_node);
  propose_or_fail(c, l2, "kept");
  c.tick(2);
  c.heal();
  c.tick(40);
  CAF_CHECK(c.core(l).current_role() == role::follower);
  CAF_CHECK(c.node(l).app == std::vector<std::string>({"kept"}));
  CAF_CHECK_EQUAL(c.core(l).last_index(), c.core(l2).last_index());
}

CAF_TEST(a lagging follower receives the snapshot in chunks) {
  config base;
  base.snapshot_chunk_bytes = 7;
  test_cluster c{3, base};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  node_id f = l == 3 ? 2 : 3;
  c.isolate(f);
  for (int i = 0; i < 10; ++i) propose_or_fail(c, l, "s" + std::to_string(i));
  c.tick(2);
  index_t applied = c.core(l).applied_index();
  CAF_REQUIRE(applied >= 11u);
  auto data = internals::join_app(c.node(l).app);
  CAF_REQUIRE(c.core(l).compact(applied, data).ok());
  CAF_CHECK_EQUAL(c.core(l).first_index(), applied + 1);
  propose_or_fail(c, l, "after");
  c.heal();
  c.tick(30);
  CAF_CHECK_EQUAL(c.core(f).snapshot_info().index, applied);
  CAF_CHECK(c.node(f).disk.snap.data == data);
  CAF_CHECK_EQUAL(c.node(f).app.size(), 11u);
  CAF_CHECK(c.node(f).app == c.node(l).app);
  // After a restart the follower recovers from its own disk.
  c.restart(f);
  CAF_CHECK(c.node(f).app.size() == 10u);
  c.tick(10);
  CAF_CHECK(c.node(f).app == c.node(c.leader()).app);
}

CAF_TEST(compaction above the applied index is refused) {
  test_cluster c{1};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  auto s = c.core(l).compact(c.core(l).applied_index() + 1, "x");
  CAF_CHECK(s.code() == error_code::invalid_argument);
  auto again = c.core(l).compact(0, "x");
  CAF_CHECK(again.code() == error_code::invalid_argument);
}

CAF_TEST(a learner is added then promoted to voter) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.tick(2);
  c.start(4, durable_state{});
  propose_or_fail(c, l, "before");
  auto added = c.core(l).propose_conf_change({conf_change::kind::add_learner, 4});
  CAF_REQUIRE(added.ok());
  // A second change waits until the first commits.
  auto early = c.core(l).propose_conf_change({conf_change::kind::promote_learner, 4});
  CAF_CHECK(!early.ok());
  c.tick(10);
  CAF_CHECK(c.core(4).conf().is_learner(4));
  CAF_CHECK(c.node(4).app == std::vector<std::string>({"before"}));
  auto promoted = c.core(l).propose_conf_change({conf_change::kind::promote_learner, 4});
  CAF_REQUIRE(promoted.ok());
  c.tick(10);
  for (node_id id = 1; id <= 4; ++id) CAF_CHECK(c.core(id).conf().is_voter(4));
  CAF_CHECK(c.core(l).match_of(4) == c.core(l).last_index());
}

CAF_TEST(a removed leader steps down once its removal commits) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.tick(2);
  CAF_REQUIRE(c.core(l).propose_conf_change({conf_change::kind::remove_node, l}).ok());
  c.tick(3);
  CAF_CHECK(c.core(l).current_role() != role::leader);
  c.tick(60);
  node_id l2 = c.leader();
  CAF_CHECK(l2 != no_node && l2 != l);
}

CAF_TEST(read index releases a read after a heartbeat round) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.tick(2);
  propose_or_fail(c, l, "r");
  c.stabilize();
  CAF_REQUIRE(c.core(l).read_index(42).ok());
  c.stabilize();
  CAF_REQUIRE_EQUAL(c.node(l).reads.size(), 1u);
  CAF_CHECK_EQUAL(c.node(l).reads.front().request_id, 42u);
  CAF_CHECK_EQUAL(c.node(l).reads.front().index, c.core(l).commit_index());
  node_id f = l == 1 ? 2 : 1;
  CAF_CHECK(c.core(f).read_index(1).code() == error_code::not_leader);
}

CAF_TEST(a lease read needs no round trip while the lease holds) {
  config base;
  base.lease_ticks = 5;
  test_cluster c{3, base};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.tick(2);
  CAF_REQUIRE(c.core(l).lease_valid());
  c.isolate(l);
  CAF_REQUIRE(c.core(l).read_index(7, read_mode::lease).ok());
  CAF_CHECK(c.core(l).has_ready());
  c.stabilize();
  CAF_CHECK_EQUAL(c.node(l).reads.size(), 1u);
  c.tick(6);
  CAF_CHECK(!c.core(l).lease_valid());
}

CAF_TEST(leadership moves to the transfer target) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  c.tick(2);
  node_id target = l == 3 ? 1 : 3;
  CAF_REQUIRE(c.core(l).transfer_leadership(target).ok());
  CAF_CHECK(c.core(l).propose("x").to_status().code() == error_code::unavailable ||
            c.core(l).current_role() != role::leader);
  c.stabilize();
  c.tick(1);
  CAF_CHECK_EQUAL(c.leader(), target);
  CAF_CHECK(c.core(l).transfer_leadership(l).code() == error_code::not_leader);
}

CAF_TEST(a restarted node recovers its log and the cluster keeps committing) {
  test_cluster c{3};
  node_id l = c.tick_until_leader();
  CAF_REQUIRE(l != no_node);
  for (int i = 0; i < 5; ++i) propose_or_fail(c, l, "p" + std::to_string(i));
  c.tick(2);
  for (node_id id = 1; id <= 3; ++id) c.restart(id);
  node_id l2 = c.tick_until_leader();
  CAF_REQUIRE(l2 != no_node);
  propose_or_fail(c, l2, "p5");
  c.tick(3);
  for (node_id id = 1; id <= 3; ++id) {
    CAF_CHECK_EQUAL(c.node(id).app.size(), 6u);
    CAF_CHECK(c.node(id).app == c.node(l2).app);
  }
}
