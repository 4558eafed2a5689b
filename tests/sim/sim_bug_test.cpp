// Suite sim_bugs: the simulator's self-test. For each bug the core can inject
// (raft::injected_bug), consecutive seeds must find a violation within a
// bounded number of seeds; the test prints which seed and which property.
// A simulator that cannot see these bugs would pass any core. A seed that
// also fails without the injected bug shows some other bug (sim_seeds reports
// those), so it does not count as finding this one.
//
// A read served without a quorum round (read_without_quorum) breaks no
// invariant of the logs or the state machines: only the clients' history
// shows it. Its test therefore also proves that the linearizability checker
// rejects a simulated history end to end: the first (and only) violation must
// be `linearizability`, and sim::check_linearizable must reject the recorded
// history again when called directly.
#define CAF_SUITE sim_bugs
#include "caf/test/unit_test.hpp"

#include <string>
#include <vector>

#include "tests/sim/linearizability.hpp"
#include "tests/sim/sim_cluster.hpp"

using namespace velocity;
using namespace velocity::sim;

namespace {

// How many seeds a bug may take to show up before the test fails.
constexpr uint64_t seeds_max = 500;

// The search budget per key when the test re-checks a failing history (the
// simulator's own budget is 300,000; a stale read is found in far fewer).
constexpr uint64_t recheck_states_max = 1'000'000;

struct hunt_result {
  bool found = false;
  uint64_t seed = 0;
  std::string property;
  std::string detail;
  size_t violations = 0;
  std::vector<operation> history;
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
    return {true,
            seed,
            result.violations.front().property,
            result.violations.front().detail,
            result.violations.size(),
            result.history};
  }
  return {};
}

hunt_result expect_found(raft::injected_bug bug) {
  hunt_result found = hunt(bug);
  CAF_MESSAGE(raft::to_string(bug) << ": "
                                   << (found.found ? "found at seed " + std::to_string(found.seed) +
                                                         " (" + found.property + "): " + found.detail
                                                   : std::string{"not found"}));
  CAF_CHECK(found.found);
  return found;
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

CAF_TEST(a deposed leader serving reads without a quorum round is caught by the linearizability checker) {
  const hunt_result found = expect_found(raft::injected_bug::read_without_quorum);
  CAF_REQUIRE(found.found);
  // No earlier checker fired: the run stops at the first violation, and the
  // linearizability check is the last one of a run.
  CAF_CHECK_EQUAL(found.property, "linearizability");
  CAF_CHECK_EQUAL(found.violations, 1u);
  const linearizability_result recheck = check_linearizable(found.history, recheck_states_max);
  CAF_CHECK(!recheck.linearizable);
  CAF_CHECK(!recheck.gave_up);
  CAF_CHECK(!recheck.key.empty());
  CAF_MESSAGE("seed " << found.seed << ": key " << recheck.key << " after "
                      << recheck.states_explored << " search states");
}
