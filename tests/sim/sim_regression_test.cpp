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

// Failed before 6c5b924 with liveness: follower 5 had acknowledged entry 391
// when it installed the leader's snapshot at 390, which replaced its whole log
// and dropped 391; the leader kept match = 391, its appends after 391 were
// rejected forever (hint 390) and node 5 stayed at commit 390 through healing.
CAF_TEST(an installed snapshot never drops entries the follower acknowledged) {
  expect_passes(164,
                "nodes=5 election=11 heartbeat=3 lease=3 pre_vote=1 check_quorum=1 inflight=9 "
                "append_bytes=1675 chunk_bytes=121 compact_every=24 skew%=10 loss%=0 dup%=0 "
                "delay_us=708..21034 fsync_us<=13436 faults=-C---T new_leader_crash%=0 "
                "restart_us<=218374 nemesis_us=214653 clients=7 keys=1 pad=8 chaos_us=6759416");
}

// Failed before 6c5b924 with leader_completeness: node 4 joined as a learner
// from an empty state and never learned the initial membership (it rides in
// the index-0 snapshot meta), so after its promotion it counted itself as the
// only voter and elected itself in term 5 without entry 172, committed in term 4.
CAF_TEST(a node that joined later learns the initial membership and cannot elect itself) {
  expect_passes(274,
                "nodes=3 election=16 heartbeat=1 lease=0 pre_vote=1 check_quorum=1 inflight=16 "
                "append_bytes=706 chunk_bytes=8 compact_every=20 skew%=1 loss%=2 dup%=30 "
                "delay_us=229..4776 fsync_us<=0 faults=PC--MT new_leader_crash%=0 "
                "restart_us<=681795 nemesis_us=354442 clients=3 keys=1 pad=7 chaos_us=5048842");
}

// Failed before 6c5b924 with election_safety (leaders 4 and 3 in term 3): the
// same lost initial membership, seen as a second leader of one term.
CAF_TEST(a promoted learner never becomes a second leader of a term) {
  expect_passes(873,
                "nodes=3 election=11 heartbeat=3 lease=3 pre_vote=1 check_quorum=1 inflight=11 "
                "append_bytes=1431 chunk_bytes=61 compact_every=18 skew%=18 loss%=3 dup%=25 "
                "delay_us=188..3758 fsync_us<=12901 faults=---LMT new_leader_crash%=0 "
                "restart_us<=59533 nemesis_us=206218 clients=6 keys=2 pad=1 chaos_us=8669348");
}
