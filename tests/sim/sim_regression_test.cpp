// Suite sim_regression: seeds that once failed, replayed forever. Each test
// names what went wrong and the seed that showed it.
#define CAF_SUITE sim_regression
#include "caf/test/unit_test.hpp"

#include "tests/sim/sim_cluster.hpp"

using namespace velocity;
using namespace velocity::sim;

namespace {

void expect_passes(uint64_t seed) {
  sim_options options;
  options.seed = seed;
  const sim_result result = run_seed(options);
  if (!result.ok()) CAF_MESSAGE(result.params << '\n' << result.summary());
  CAF_CHECK(result.ok());
}

}  // namespace

CAF_TEST(a single node cluster with crashes and compaction stays correct) {
  expect_passes(1);
}
