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

// Failed before 6c5b924 with liveness: followers 3 and 4 had acknowledged
// entry 137 when they installed the leader's snapshot at 136, which replaced
// their whole log and dropped 137; the leader kept match = 137, its appends
// after 137 were rejected forever (hint 136) and both stayed at commit 136
// through healing.
CAF_TEST(an installed snapshot never drops entries the follower acknowledged) {
  expect_passes(211,
                "v2 nodes=5 election=12 heartbeat=2 lease=0 pre_vote=1 check_quorum=1 inflight=5 "
                "append_bytes=1539 chunk_bytes=252 compact_every=11 skew%=8 loss%=12 dup%=0 "
                "delay_us=298..26455 fsync_us<=18215 faults=PCSL-- new_leader_crash%=24 "
                "restart_us<=736160 nemesis_us=280176 clients=3 keys=1 pad=13 chaos_us=8736014");
}

// Failed before 6c5b924 with leader_completeness: node 5 joined as a learner
// from an empty state and never learned the initial membership (it rides in
// the index-0 snapshot meta), so after its promotion it counted itself as the
// only voter, elected itself in term 6 and committed entry 18 alone; leader 3
// of term 7 never had it.
CAF_TEST(a node that joined later learns the initial membership and cannot commit alone) {
  expect_passes(16,
                "v2 nodes=3 election=14 heartbeat=2 lease=2 pre_vote=1 check_quorum=1 inflight=4 "
                "append_bytes=1144 chunk_bytes=184 compact_every=16 skew%=8 loss%=28 dup%=7 "
                "delay_us=395..26830 fsync_us<=17676 faults=-C-LMT new_leader_crash%=0 "
                "restart_us<=567090 nemesis_us=248541 clients=1 keys=3 pad=17 chaos_us=6806008");
}

// Failed before 6c5b924 with election_safety (leaders 4 and 1 in term 4): the
// same lost initial membership; promoted node 4 elected itself alone.
CAF_TEST(a promoted learner never becomes a second leader of a term) {
  expect_passes(46,
                "v2 nodes=3 election=11 heartbeat=3 lease=3 pre_vote=1 check_quorum=1 inflight=4 "
                "append_bytes=954 chunk_bytes=169 compact_every=34 skew%=10 loss%=16 dup%=48 "
                "delay_us=548..12966 fsync_us<=12659 faults=P-S-MT new_leader_crash%=0 "
                "restart_us<=154771 nemesis_us=335305 clients=5 keys=1 pad=5 chaos_us=9127206");
}
