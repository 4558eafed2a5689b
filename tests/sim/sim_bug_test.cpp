// Suite sim_bugs: the simulator's self-test. For each bug the core can inject
// (raft::injected_bug), consecutive seeds must find a violation within a
// bounded number of seeds; the test prints which seed and which property.
// A simulator that cannot see these bugs would pass any core. A seed that
// also fails without the injected bug shows some other bug (sim_seeds reports
// those), so it does not count as finding this one.
#define CAF_SUITE sim_bugs
#include "caf/test/unit_test.hpp"

#include <string>

#include "tests/sim/sim_cluster.hpp"

using namespace velocity;
using namespace velocity::sim;

namespace {

// How many seeds a bug may take to show up before the test fails.
constexpr uint64_t seeds_max = 500;

struct hunt_result {
  bool found = false;
  uint64_t seed = 0;
  std::string property;
  std::string detail;
};

hunt_result hunt(raft::injected_bug bug) {
  for (uint64_t seed = 1; seed <= seeds_max; ++seed) {
    sim_options options;
    options.seed = seed;
    options.bug = bug;
    const sim_result result = run_seed(options);
    if (result.ok()) continue;
    options.bug = raft::injected_bug::none;
    if (!run_seed(options).ok()) continue;
    return {true, seed, result.violations.front().property, result.violations.front().detail};
  }
  return {};
}

void expect_found(raft::injected_bug bug) {
  const hunt_result found = hunt(bug);
  CAF_MESSAGE(raft::to_string(bug) << ": "
                                   << (found.found ? "found at seed " + std::to_string(found.seed) +
                                                         " (" + found.property + "): " + found.detail
                                                   : std::string{"not found"}));
  CAF_CHECK(found.found);
}

}  // namespace

CAF_TEST(committing an entry of a previous term by counting replicas is caught) {
  expect_found(raft::injected_bug::commit_previous_term_by_counting);
}

CAF_TEST(granting votes without the up to date log check is caught) {
  expect_found(raft::injected_bug::vote_ignores_log);
}

CAF_TEST(acknowledging appends before they are durable is caught) {
  expect_found(raft::injected_bug::ack_before_persist);
}
