// The simulator's seed suites:
//   sim_seeds  : consecutive seeds (fault mix, cluster size, workload drawn per
//                seed) must all pass every checker; a failure prints the seed
//                and the command that replays it.
//   sim_replay : a seed replayed gives the identical trace, history and final
//                state (determinism), and different seeds differ.
#define CAF_SUITE sim_seeds
#include "caf/test/unit_test.hpp"

#include <sstream>
#include <string>

#include "tests/sim/sim_cluster.hpp"

using namespace velocity;
using namespace velocity::sim;

namespace {

// Seeds per CI run; the long run (docs/testing.md) uses velocity-sim --seeds.
constexpr uint64_t ci_seeds = 200;

struct traced_run {
  sim_result result;
  std::string trace;
};

traced_run run_traced(uint64_t seed) {
  std::ostringstream trace;
  sim_options options;
  options.seed = seed;
  options.trace = &trace;
  traced_run run{run_seed(options), {}};
  run.trace = trace.str();
  return run;
}

}  // namespace

CAF_TEST(two hundred consecutive seeds pass every safety liveness and linearizability check) {
  size_t failed = 0;
  size_t ops = 0;
  size_t gave_up = 0;
  for (uint64_t seed = 1; seed <= ci_seeds; ++seed) {
    sim_options options;
    options.seed = seed;
    const sim_result result = run_seed(options);
    ops += result.ops_completed;
    gave_up += result.linearizability_gave_up ? 1 : 0;
    if (!result.ok()) {
      ++failed;
      CAF_MESSAGE("replay with: velocity-sim --seed " << seed << " --verbose\n"
                                                      << result.params << '\n'
                                                      << result.summary());
    }
  }
  CAF_MESSAGE(ci_seeds << " seeds, " << ops << " completed operations, " << failed
                       << " failed, linearizability search gave up on " << gave_up);
  CAF_CHECK_EQUAL(failed, 0u);
  CAF_CHECK(ops > ci_seeds);  // the workload did real work
}

// Seed 190 (decisions version 3) had node 4 resume from a pause and grant a
// lease read in term 7 while another node led term 10: the held read came
// before its held ticks. Now the node first receives every elapsed tick.
CAF_TEST(a node resumed from a pause receives its elapsed ticks before a lease read) {
  sim_options options;
  options.seed = 190;
  const sim_result result = run_seed(options);
  if (!result.ok()) CAF_MESSAGE(result.params << '\n' << result.summary());
  CAF_CHECK(result.ok());
  CAF_CHECK(result.stats.pauses > 0);
  CAF_CHECK(result.stats.lease_reads > 0);
  CAF_CHECK(result.stats.ticks_caught_up > 0);
  CAF_CHECK_EQUAL(result.stats.lease_reads_deposed, 0u);
}

#undef CAF_SUITE
#define CAF_SUITE sim_replay

CAF_TEST(the same seed twice gives the identical trace history and final state) {
  for (uint64_t seed : {3u, 17u, 42u}) {
    const traced_run first = run_traced(seed);
    const traced_run second = run_traced(seed);
    CAF_CHECK(!first.trace.empty());
    CAF_CHECK(first.trace == second.trace);
    const std::string history_first = describe_history(first.result.history);
    const std::string history_second = describe_history(second.result.history);
    CAF_CHECK_EQUAL(history_first, history_second);
    CAF_CHECK_EQUAL(first.result.final_state, second.result.final_state);
    CAF_CHECK_EQUAL(first.result.events, second.result.events);
    CAF_CHECK_EQUAL(first.result.summary(), second.result.summary());
  }
}

CAF_TEST(different seeds give different runs) {
  const traced_run a = run_traced(5);
  const traced_run b = run_traced(6);
  CAF_CHECK(a.trace != b.trace);
}

CAF_TEST(a trace is written only when asked for and does not change the run) {
  sim_options quiet;
  quiet.seed = 9;
  const sim_result untraced = run_seed(quiet);
  const traced_run traced = run_traced(9);
  CAF_CHECK_EQUAL(untraced.summary(), traced.result.summary());
  CAF_CHECK_EQUAL(untraced.final_state, traced.result.final_state);
}
