// The SWIM simulation's seed suites: 500 seeds of the mixed profile (small
// and medium clusters with loss, delay, crashes, leaves, slow members and
// partitions, drawn from each seed) must pass every check; a seed replays to
// the same result; Lifeguard lowers false positives caused by slow members.
// A failing seed prints its line: rerun it with
// `velocity-swim-sim --mixed --seed S --trace`.
#define CAF_SUITE swim_sim_seeds
#include "caf/test/unit_test.hpp"

#include "tests/swim_sim/swim_sim.hpp"

using namespace velocity::swim_sim;

CAF_TEST(five hundred mixed seeds pass every check) {
  size_t failed = 0;
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    const result r = run(mixed_options(seed));
    if (!r.ok) {
      ++failed;
      CAF_MESSAGE(describe(r));
    }
  }
  CAF_CHECK_EQUAL(failed, 0u);
}

CAF_TEST(a crashed member is detected and a left member is left in a larger cluster) {
  options o;
  o.seed = 7;
  o.members = 100;
  o.loss_percent = 2;
  o.crashes = 2;
  o.leaves = 1;
  const result r = run(o);
  CAF_CHECK(r.ok);
  if (!r.ok) CAF_MESSAGE(describe(r));
  CAF_CHECK_GREATER(r.all_dead_ticks, 0.0);
  CAF_CHECK_EQUAL(r.healthy_dead, 0u);
}

CAF_TEST(lifeguard cuts the false suspicions slow members raise against healthy ones) {
  // Lifeguard's scenario: a slow member reads its acks late and suspects
  // the members it probes; local health stretches its own timeouts instead.
  auto false_suspicions = [](bool lifeguard) {
    uint64_t events = 0;
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      options o;
      o.seed = seed;
      o.members = 40;
      o.crashes = 0;
      o.slow = 2;
      o.slow_period_ticks = 20;
      o.lifeguard = lifeguard;
      const result r = run(o);
      CAF_CHECK(r.ok);
      events += r.healthy_fast_suspect_events;
    }
    return events;
  };
  const uint64_t with = false_suspicions(true);
  const uint64_t without = false_suspicions(false);
  CAF_MESSAGE("suspicions of members never slow: " << with << " with Lifeguard, " << without
                                                    << " without");
  CAF_CHECK_GREATER(without, 0u);
  CAF_CHECK_LESS(with * 5, without);
}

#undef CAF_SUITE
#define CAF_SUITE swim_sim_replay

CAF_TEST(the same seed gives the same run) {
  for (uint64_t seed : {3u, 11u, 42u}) {
    const std::string first = describe(run(mixed_options(seed)));
    const std::string second = describe(run(mixed_options(seed)));
    CAF_CHECK_EQUAL(first, second);
  }
  CAF_CHECK_NOT_EQUAL(describe(run(mixed_options(3))), describe(run(mixed_options(4))));
}
