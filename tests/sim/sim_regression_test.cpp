// Suite sim_regression: seeds that once failed, replayed forever. Each test
// names what went wrong, the seed that showed it and the core commit that
// fixed it.
//
// A seed means something only together with the parameter drawing
// (draw_params) and the order of random decisions in the simulator: changing
// either re-keys every seed. Each test therefore first checks that its seed
// still draws the parameters it was recorded with; if that check fails, the
// simulator changed, not the core: find the regression again with
// `velocity-sim --seeds N` against the old core and update the seed.
//
// Decisions version 3 (the deposed-leader profile) re-keyed every seed; the
// seeds below were re-found by running `velocity-sim --seeds 500` against the
// core of 349fac5 with 6c5b924's two fixes reverted (9 seeds failed there, 0
// with the fixes) and each is pinned to the parameters it drew.
//
// Decisions version 4 (a node receives its elapsed ticks before a lease read)
// draws the same parameters but changes runs with lease reads. Rechecked with
// `velocity-sim --seeds 500` against the core of 116d411 with 6c5b924's two
// fixes reverted: 9 seeds failed (16 39 204 237 271 302 306 352 415), these
// three with the properties named below; 0 fail with the fixes.
//
// Decisions version 5 (every replica runs cluster::replica, so effects and
// the random draws they cause come in the driver's order, over the document
// state machine, so entries and snapshots have other sizes; snapshot chunks
// ten times larger, for the 1 to 2 KB shard dumps) draws the same parameters
// except chunk_bytes but changes the runs. Rechecked with `velocity-sim
// --seeds 500` against this branch with 6c5b924 reverted: 8 seeds failed
// (17 164 211 306 364 415 461 464; the four with membership changes through
// the membership half, the others with liveness through the snapshot half);
// 0 fail with it. The seeds below are re-pinned from those.
#define CAF_SUITE sim_regression
#include "caf/test/unit_test.hpp"

#include <string>

#include "tests/sim/sim_cluster.hpp"

using namespace velocity;
using namespace velocity::sim;

namespace {

void expect_passes(uint64_t seed, const std::string& recorded_params) {
  sim_options options;
  options.seed = seed;
  const sim_result result = run_seed(options);
  CAF_CHECK_EQUAL(result.params, recorded_params);
  if (!result.ok()) CAF_MESSAGE(result.params << '\n' << result.summary());
  CAF_CHECK(result.ok());
}

}  // namespace

// Fails without 6c5b924 with liveness (version 5; version 4 showed it with
// seed 39): without any fault drawn, a follower installed a leader's
// snapshot whose last entry it already held and dropped the entries above it
// that it had acknowledged; the leader kept its match, so node 1 stayed at
// 621 through healing while the others reached 630. Only the snapshot fix
// matters (no membership changes).
CAF_TEST(an installed snapshot never drops entries the follower acknowledged) {
  expect_passes(17,
                "v5 nodes=5 election=11 heartbeat=1 lease=5 pre_vote=1 check_quorum=1 inflight=15 "
                "append_bytes=1273 chunk_bytes=2150 compact_every=11 skew%=7 loss%=11 dup%=6 "
                "delay_us=772..11081 fsync_us<=17069 faults=------ new_leader_crash%=0 "
                "restart_us<=139209 nemesis_us=551150 clients=7 keys=3 pad=33 chaos_us=6574316");
}

// Fails without 6c5b924 with leader_completeness (version 5; version 4:
// seed 352): node 8 joined as a learner from an empty state and never
// learned the initial membership (it rides in the index-0 snapshot meta), so
// after its promotion its voter set was wrong; it led term 17 and its no-op
// at 20 was seen committed there, yet node 7, leader of term 18, lacked it.
CAF_TEST(a node that joined later learns the initial membership and cannot commit alone) {
  expect_passes(306,
                "v5 nodes=7 election=11 heartbeat=1 lease=3 pre_vote=0 check_quorum=1 inflight=10 "
                "append_bytes=1 chunk_bytes=2250 compact_every=39 skew%=1 loss%=1 dup%=6 "
                "delay_us=406..13319 fsync_us<=0 faults=--S-M- new_leader_crash%=0 "
                "restart_us<=235230 nemesis_us=178886 clients=1 keys=4 pad=8 chaos_us=9283207");
}

// Fails without 6c5b924 with election_safety (version 5: leaders 4 and 3 in
// term 3; version 4: seed 16): the same lost initial membership; node 4,
// added at index 4 and promoted at 6, elected itself alone.
CAF_TEST(a promoted learner never becomes a second leader of a term) {
  expect_passes(364,
                "v5 nodes=3 election=14 heartbeat=2 lease=2 pre_vote=1 check_quorum=1 inflight=4 "
                "append_bytes=307 chunk_bytes=1630 compact_every=12 skew%=7 loss%=9 dup%=49 "
                "delay_us=297..23374 fsync_us<=13802 faults=-CS-M- new_leader_crash%=0 "
                "restart_us<=612374 nemesis_us=52898 clients=2 keys=1 pad=16 chaos_us=3774265");
}
