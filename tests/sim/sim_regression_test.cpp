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
// parameters but changes the runs. The three seeds pass; they were not yet
// re-checked against a core with 6c5b924's fixes reverted.
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

// Fails without 6c5b924 with liveness: node 2 installed the leader's
// snapshot at 193 and dropped the entry above it that it had acknowledged;
// leader 4 kept match = 194, so through healing node 2 stayed at 193 and no
// probe spread. No membership changes in this seed: only the snapshot fix
// matters.
CAF_TEST(an installed snapshot never drops entries the follower acknowledged) {
  expect_passes(39,
                "v5 nodes=5 election=14 heartbeat=1 lease=0 pre_vote=0 check_quorum=0 inflight=14 "
                "append_bytes=725 chunk_bytes=174 compact_every=21 skew%=4 loss%=19 dup%=48 "
                "delay_us=877..27337 fsync_us<=17540 faults=P----- new_leader_crash%=0 "
                "restart_us<=284261 nemesis_us=345349 clients=5 keys=2 pad=0 chaos_us=3889761");
}

// Fails without 6c5b924 with leader_completeness: node 4 joined as a learner
// from an empty state and never learned the initial membership (it rides in
// the index-0 snapshot meta), so after its promotion it counted itself as the
// only voter, elected itself in term 4 and committed its no-op 33 alone;
// leader 1 of term 8 never had it.
CAF_TEST(a node that joined later learns the initial membership and cannot commit alone) {
  expect_passes(352,
                "v5 nodes=3 election=12 heartbeat=2 lease=0 pre_vote=1 check_quorum=0 inflight=3 "
                "append_bytes=1436 chunk_bytes=146 compact_every=30 skew%=14 loss%=18 dup%=0 "
                "delay_us=291..14117 fsync_us<=4176 faults=-C-LMT new_leader_crash%=0 "
                "restart_us<=789251 nemesis_us=251009 clients=1 keys=2 pad=11 chaos_us=5110271");
}

// Fails without 6c5b924 with election_safety (leaders 4 and 1 in term 2): the
// same lost initial membership; promoted node 4 elected itself alone.
CAF_TEST(a promoted learner never becomes a second leader of a term) {
  expect_passes(16,
                "v5 nodes=3 election=14 heartbeat=2 lease=2 pre_vote=1 check_quorum=1 inflight=4 "
                "append_bytes=1144 chunk_bytes=184 compact_every=16 skew%=8 loss%=28 dup%=7 "
                "delay_us=395..26830 fsync_us<=17676 faults=-C-LMT new_leader_crash%=0 "
                "restart_us<=567090 nemesis_us=248541 clients=1 keys=3 pad=17 chaos_us=6806008");
}
