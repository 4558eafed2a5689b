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
// state machine, so entries and snapshots have other sizes) draws the same
// parameters but changes the runs. Rechecked with `velocity-sim --seeds 500`
// against this branch with 6c5b924 reverted: 5 seeds failed (274 306 364 415
// 461), all with membership changes; 0 fail with it. The two membership
// tests below are re-pinned to 274 and 364. The snapshot half of 6c5b924
// alone (a follower installing a snapshot whose last entry it holds) fails
// no seed of 1 to 1000 in version 5, so seed 39 is kept with its version-4
// story: it passes, but no longer shows that bug.
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

// Version 4: failed without 6c5b924 with liveness: node 2 installed the leader's
// snapshot at 193 and dropped the entry above it that it had acknowledged;
// leader 4 kept match = 194, so through healing node 2 stayed at 193 and no
// probe spread. No membership changes in this seed: only the snapshot fix
// matters. Version 5 runs differently and passes without the fix too (see
// above); a version-5 seed for this bug is still to be found.
CAF_TEST(an installed snapshot never drops entries the follower acknowledged) {
  expect_passes(39,
                "v5 nodes=5 election=14 heartbeat=1 lease=0 pre_vote=0 check_quorum=0 inflight=14 "
                "append_bytes=725 chunk_bytes=174 compact_every=21 skew%=4 loss%=19 dup%=48 "
                "delay_us=877..27337 fsync_us<=17540 faults=P----- new_leader_crash%=0 "
                "restart_us<=284261 nemesis_us=345349 clients=5 keys=2 pad=0 chaos_us=3889761");
}

// Fails without 6c5b924 with leader_completeness (version 5): node 4 joined
// as a learner from an empty state and never learned the initial membership
// (it rides in the index-0 snapshot meta), so after its promotion it elected
// itself; as leader of term 6 it lacked entry 157 of term 4, committed in
// term 4. (Version 4 showed it with seed 352.)
CAF_TEST(a node that joined later learns the initial membership and cannot commit alone) {
  expect_passes(274,
                "v5 nodes=3 election=16 heartbeat=1 lease=0 pre_vote=1 check_quorum=1 inflight=16 "
                "append_bytes=706 chunk_bytes=8 compact_every=20 skew%=1 loss%=2 dup%=30 "
                "delay_us=229..4776 fsync_us<=0 faults=PC--MT new_leader_crash%=0 "
                "restart_us<=681795 nemesis_us=354442 clients=3 keys=1 pad=7 chaos_us=5048842");
}

// Fails without 6c5b924 with election_safety (version 5: leaders 4 and 3 in
// term 3): the same lost initial membership; node 4, added at index 4 and
// promoted at 6, elected itself alone. (Version 4 showed it with seed 16.)
CAF_TEST(a promoted learner never becomes a second leader of a term) {
  expect_passes(364,
                "v5 nodes=3 election=14 heartbeat=2 lease=2 pre_vote=1 check_quorum=1 inflight=4 "
                "append_bytes=307 chunk_bytes=163 compact_every=12 skew%=7 loss%=9 dup%=49 "
                "delay_us=297..23374 fsync_us<=13802 faults=-CS-M- new_leader_crash%=0 "
                "restart_us<=612374 nemesis_us=52898 clients=2 keys=1 pad=16 chaos_us=3774265");
}
