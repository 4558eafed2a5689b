// The level-(b) seed suites (tests/sim_actors/cluster_sim.hpp):
//   sim_actors_seeds  : consecutive seeds of the CI mix (3 and 5 nodes) pass
//                       every checker; a failure prints the replay command.
//   sim_actors_replay : one seed run twice gives the same trace hash and the
//                       same outcome; different seeds differ.
//   sim_actors_bugs   : each injected shell bug is caught by a checker.
#define CAF_SUITE sim_actors_seeds
#include "caf/test/unit_test.hpp"

#include <string>

#include "tests/sim_actors/cluster_sim.hpp"

using namespace velocity::simb;

namespace {

// Seeds per CI run; the long run (docs/testing.md) uses velocity-sim-actors --seeds.
constexpr uint64_t ci_seeds = 200;
// Seeds a bug gets to show itself.
constexpr uint64_t bug_seeds_max = 20;

// The first seed (from 1) on which the bug is caught, or 0.
uint64_t first_catch(injected_bug bug, std::string& failure) {
  for (uint64_t seed = 1; seed <= bug_seeds_max; ++seed) {
    auto options = mixed_options(seed);
    options.bug = bug;
    auto result = run_seed(options);
    if (!result.ok) {
      failure = result.failures.front();
      return seed;
    }
  }
  return 0;
}

}  // namespace

CAF_TEST(two hundred seeds of 3 and 5 real node actors pass every checker) {
  uint64_t failed = 0;
  uint64_t ops = 0;
  uint64_t crashes = 0;
  uint64_t lost_batches = 0;
  uint64_t dropped = 0;
  uint64_t gave_up = 0;
  uint64_t replica_reads = 0;
  uint64_t eventual_acked = 0;
  uint64_t eventual_lost = 0;
  for (uint64_t seed = 1; seed <= ci_seeds; ++seed) {
    auto result = run_seed(mixed_options(seed));
    ops += result.operations_ok;
    crashes += result.crashes;
    lost_batches += result.unsynced_batches_lost;
    dropped += result.messages_dropped;
    gave_up += result.linearizability_gave_up ? 1 : 0;
    replica_reads += result.replica_reads;
    eventual_acked += result.eventual_writes_acked;
    eventual_lost += result.eventual_writes_lost;
    if (!result.ok) {
      ++failed;
      std::string failures;
      for (const auto& f : result.failures) failures += "\n  " + f;
      CAF_MESSAGE("replay with: velocity-sim-actors --seed " << seed << " --verbose\n"
                                                             << result.summary() << failures);
    }
  }
  CAF_MESSAGE(ci_seeds << " seeds, " << ops << " definite operations, " << crashes
                       << " crashes, " << lost_batches << " unsynced batches lost, "
                       << dropped << " messages dropped, " << replica_reads
                       << " local/eventual/quorum reads, " << eventual_lost << " of "
                       << eventual_acked << " eventual writes lost, " << failed
                       << " failed, linearizability gave up on " << gave_up);
  CAF_CHECK_EQUAL(failed, 0u);
  CAF_CHECK(ops > ci_seeds * 20);  // the clients did real work
  CAF_CHECK(crashes > ci_seeds / 2);
  CAF_CHECK(lost_batches > 0);  // crashes did fall between a write and its fsync
  CAF_CHECK(dropped > 0);
  CAF_CHECK(replica_reads > ci_seeds * 5);  // every level was exercised
  CAF_CHECK(eventual_acked > ci_seeds);
}

CAF_TEST(a run without faults completes many operations and passes) {
  run_options options;
  options.seed = 7;
  options.faults = false;
  auto result = run_seed(options);
  CAF_MESSAGE(result.summary());
  CAF_CHECK(result.ok);
  CAF_CHECK(result.operations_ok > 100);
  CAF_CHECK_EQUAL(result.operations_unknown, 0u);
  CAF_CHECK_EQUAL(result.crashes, 0u);
}

#undef CAF_SUITE
#define CAF_SUITE sim_actors_replay

CAF_TEST(one seed run twice gives the same trace hash and outcome) {
  for (uint64_t seed : {3u, 4u}) {
    auto first = run_seed(mixed_options(seed));
    auto second = run_seed(mixed_options(seed));
    auto first_summary = first.summary();
    auto second_summary = second.summary();
    CAF_CHECK_EQUAL(first.trace_hash, second.trace_hash);
    CAF_CHECK_EQUAL(first_summary, second_summary);
    CAF_CHECK_EQUAL(first.failures, second.failures);
  }
}

CAF_TEST(different seeds give different traces) {
  auto a = run_seed(mixed_options(5));
  auto b = run_seed(mixed_options(7));
  CAF_CHECK_NOT_EQUAL(a.trace_hash, b.trace_hash);
}

#undef CAF_SUITE
#define CAF_SUITE sim_actors_bugs

CAF_TEST(a write acknowledged before it is applied is caught) {
  std::string failure;
  auto seed = first_catch(injected_bug::ack_before_apply, failure);
  CAF_MESSAGE("caught on seed " << seed << ": " << failure);
  CAF_CHECK_NOT_EQUAL(seed, 0u);
}

CAF_TEST(a get served without a read index is caught) {
  std::string failure;
  auto seed = first_catch(injected_bug::read_without_read_index, failure);
  CAF_MESSAGE("caught on seed " << seed << ": " << failure);
  CAF_CHECK_NOT_EQUAL(seed, 0u);
}

CAF_TEST(a CAS failed without a read index is caught) {
  std::string failure;
  auto seed = first_catch(injected_bug::cas_fail_without_read_index, failure);
  CAF_MESSAGE("caught on seed " << seed << ": " << failure);
  CAF_CHECK_NOT_EQUAL(seed, 0u);
}

CAF_TEST(a write proposed twice is caught) {
  std::string failure;
  auto seed = first_catch(injected_bug::propose_twice, failure);
  CAF_MESSAGE("caught on seed " << seed << ": " << failure);
  CAF_CHECK_NOT_EQUAL(seed, 0u);
  CAF_CHECK(failure.find("applied twice") != std::string::npos);
}
