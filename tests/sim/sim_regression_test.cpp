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

// Failed before 6c5b924 with liveness: follower 5 already held the leader's
// entry 202 when it installed the leader's snapshot at 201, which replaced its
// whole log and dropped the acknowledged entry 202; the leader kept match =
// 202, its appends after 202 were rejected forever (hint 201) and node 5
// stayed at commit 201 through healing.
CAF_TEST(an installed snapshot never drops entries the follower acknowledged) {
  expect_passes(173,
                "nodes=5 election=12 heartbeat=3 lease=4 pre_vote=0 check_quorum=1 inflight=15 "
                "append_bytes=1820 chunk_bytes=350 compact_every=33 skew%=2 loss%=2 dup%=0 "
                "delay_us=433..26800 fsync_us<=18182 faults=P----- new_leader_crash%=0 "
                "restart_us<=554658 nemesis_us=217201 clients=8 keys=1 chaos_us=5701597");
}

// Failed before 6c5b924 with leader_completeness: node 6 joined as a learner
// from an empty state, never learned the initial membership (it rides in the
// index-0 snapshot meta), so after its promotion it counted itself as the only
// voter and elected itself without the committed entry 33.
CAF_TEST(a node that joined later learns the initial membership and cannot elect itself) {
  expect_passes(492,
                "nodes=5 election=15 heartbeat=3 lease=0 pre_vote=1 check_quorum=0 inflight=10 "
                "append_bytes=1 chunk_bytes=368 compact_every=23 skew%=2 loss%=3 dup%=48 "
                "delay_us=376..11688 fsync_us<=1794 faults=P-S-M- new_leader_crash%=0 "
                "restart_us<=170827 nemesis_us=131901 clients=3 keys=2 chaos_us=9499855");
}

// Failed before 6c5b924 with election_safety (two leaders in term 6): the
// same lost initial membership, seen as a second leader of one term.
CAF_TEST(a promoted learner never becomes a second leader of a term) {
  expect_passes(839,
                "nodes=3 election=14 heartbeat=2 lease=0 pre_vote=1 check_quorum=1 inflight=7 "
                "append_bytes=1 chunk_bytes=361 compact_every=24 skew%=15 loss%=9 dup%=31 "
                "delay_us=704..19717 fsync_us<=4384 faults=-C--M- new_leader_crash%=0 "
                "restart_us<=108069 nemesis_us=83990 clients=1 keys=4 chaos_us=9328045");
}
