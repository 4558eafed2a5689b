// Unit tests of progress and inflight_window (cluster/raft/progress.hpp):
// reordered or duplicated answers never move match backwards or next below
// match + 1, probe and replicate pausing, and window accounting.
#define CAF_SUITE raft_progress
#include "caf/test/unit_test.hpp"

#include "cluster/raft/progress.hpp"

using namespace velocity::raft;

CAF_TEST(an old acceptance never regresses match) {
  progress pr;
  pr.next = 6;
  CAF_CHECK(pr.maybe_update(5));
  CAF_CHECK(!pr.maybe_update(3));
  CAF_CHECK_EQUAL(pr.match, 5u);
  CAF_CHECK_EQUAL(pr.next, 6u);
}

CAF_TEST(a stale rejection at or below match is ignored) {
  progress pr;
  pr.maybe_update(5);
  pr.become_replicate();
  pr.optimistic_update(9);
  CAF_CHECK(!pr.maybe_decrease(4, 1));
  CAF_CHECK_EQUAL(pr.next, 10u);
  CAF_CHECK(pr.st == progress::state::replicate);
}

CAF_TEST(a rejection in replicate falls back to probe but never below match plus one) {
  progress pr;
  pr.maybe_update(5);
  pr.become_replicate();
  pr.optimistic_update(9);
  CAF_CHECK(pr.maybe_decrease(8, 2));
  CAF_CHECK(pr.st == progress::state::probe);
  CAF_CHECK_EQUAL(pr.next, 6u);
}

CAF_TEST(probe only accepts the rejection of the probe in flight) {
  progress pr;
  pr.next = 10;
  CAF_CHECK(!pr.maybe_decrease(7, 3));
  CAF_CHECK_EQUAL(pr.next, 10u);
  CAF_CHECK(pr.maybe_decrease(9, 4));
  CAF_CHECK_EQUAL(pr.next, 4u);
}

CAF_TEST(probe pauses after one append until an answer) {
  progress pr;
  CAF_CHECK(!pr.paused(4, 1000));
  pr.probe_sent = true;
  CAF_CHECK(pr.paused(4, 1000));
  pr.maybe_update(1);
  CAF_CHECK(!pr.paused(4, 1000));
}

CAF_TEST(the inflight window bounds messages and bytes and frees on acknowledgement) {
  progress pr;
  pr.become_replicate();
  pr.window.add(2, 10);
  pr.window.add(4, 10);
  CAF_CHECK(pr.paused(2, 1000));
  CAF_CHECK(!pr.paused(3, 1000));
  CAF_CHECK(pr.paused(3, 20));
  pr.window.free_to(3);
  CAF_CHECK_EQUAL(pr.window.count(), 1u);
  CAF_CHECK_EQUAL(pr.window.bytes(), 10u);
  pr.window.free_to(4);
  CAF_CHECK_EQUAL(pr.window.count(), 0u);
}

CAF_TEST(snapshot state pauses appends and a rejection does not leave it) {
  progress pr;
  pr.become_snapshot(20);
  CAF_CHECK(pr.paused(64, 1 << 20));
  CAF_CHECK(!pr.maybe_decrease(30, 5));
  CAF_CHECK(pr.st == progress::state::snapshot);
}
