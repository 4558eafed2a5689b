// velocity-swim-sim: runs the SWIM simulation (tests/swim_sim).
//   velocity-swim-sim --seed S [scenario options] [--trace]   replays one seed exactly
//   velocity-swim-sim --seeds A-B [scenario options]          runs seeds A..B (inclusive)
//   --mixed                                                   each seed draws its own
//                                                             scenario (the CTest profile)
// Scenario options: --members, --loss (percent), --delay (max ticks),
// --crashes, --leaves, --slow, --slow-period (ticks), --partition,
// --partition-ticks, --lifeguard on|off. A tick is 100 ms of the defaults.
// Every run prints its seed and measures; a summary follows; the exit code is
// 1 if any seed failed a check. The output depends only on the arguments.
//
// Thread safety: single-threaded program.
#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tests/swim_sim/swim_sim.hpp"

namespace {

using velocity::swim_sim::options;
using velocity::swim_sim::result;

bool parse_range(const std::string& text, uint64_t& first, uint64_t& last) {
  const size_t dash = text.find('-');
  try {
    if (dash == std::string::npos) {
      first = 1;
      last = std::stoull(text);  // "N": seeds 1..N
    } else {
      first = std::stoull(text.substr(0, dash));
      last = std::stoull(text.substr(dash + 1));
    }
  } catch (const std::exception&) {
    return false;
  }
  return first <= last;
}

struct summary {
  uint64_t runs = 0;
  std::vector<uint64_t> failed;
  double dissemination_sum = 0;
  int64_t dissemination_max = 0;
  uint64_t crash_runs = 0;
  double first_suspicion_sum = 0;
  double all_dead_sum = 0;
  uint64_t all_dead_max = 0;
  uint64_t healthy_suspected = 0;
  uint64_t healthy_dead = 0;
  uint64_t healthy_fast_dead = 0;
  uint64_t healthy_fast_suspected = 0;
  uint64_t healthy_fast_suspect_events = 0;
  uint64_t healthy_suspect_events = 0;
  uint64_t healthy_dead_events = 0;
  uint64_t runs_with_healthy_dead = 0;
  double messages_sum = 0;
  double join_sum = 0;
  uint64_t converge_runs = 0;
  double converge_sum = 0;

  uint64_t partitioned_runs = 0;

  // False positives and dissemination count only runs without a partition
  // (across one, healthy members are rightly declared dead).
  void add(const options& o, const result& r) {
    ++runs;
    if (!r.ok) failed.push_back(r.seed);
    if (r.converge_ticks >= 0) {
      ++converge_runs;
      converge_sum += static_cast<double>(r.converge_ticks);
    }
    if (o.partition) {
      ++partitioned_runs;
      messages_sum += r.messages_per_member_second;
      join_sum += static_cast<double>(r.join_ticks);
      return;
    }
    dissemination_sum += static_cast<double>(std::max<int64_t>(0, r.dissemination_ticks));
    dissemination_max = std::max(dissemination_max, r.dissemination_ticks);
    if (r.first_suspicion_ticks >= 0) {
      ++crash_runs;
      first_suspicion_sum += r.first_suspicion_ticks;
      all_dead_sum += r.all_dead_ticks;
      all_dead_max = std::max(all_dead_max, r.all_dead_ticks_max);
    }
    healthy_suspected += r.healthy_suspected;
    healthy_dead += r.healthy_dead;
    healthy_fast_dead += r.healthy_fast_dead;
    healthy_fast_suspected += r.healthy_fast_suspected;
    healthy_fast_suspect_events += r.healthy_fast_suspect_events;
    healthy_suspect_events += r.healthy_suspect_events;
    healthy_dead_events += r.healthy_dead_events;
    if (r.healthy_dead > 0) ++runs_with_healthy_dead;
    messages_sum += r.messages_per_member_second;
    join_sum += static_cast<double>(r.join_ticks);
  }
  void print() const {
    const double n = static_cast<double>(runs);
    const double whole = static_cast<double>(std::max<uint64_t>(1, runs - partitioned_runs));
    const double c = static_cast<double>(std::max<uint64_t>(1, crash_runs));
    std::cout << std::fixed << std::setprecision(1) << "summary: " << runs << " runs, "
              << failed.size() << " failed";
    if (!failed.empty()) {
      std::cout << " (seeds";
      for (uint64_t s : failed) std::cout << ' ' << s;
      std::cout << ')';
    }
    std::cout << "\n  join (all know all), ticks: mean " << join_sum / n
              << "\n  runs without a partition: " << runs - partitioned_runs
              << "\n  dissemination (metadata change reaches every live member), ticks: mean "
              << dissemination_sum / whole << " max " << dissemination_max
              << "\n  crash -> first suspicion, ticks: mean " << first_suspicion_sum / c
              << "\n  crash -> dead at every live member, ticks: mean " << all_dead_sum / c
              << " max " << all_dead_max
              << "\n  healthy members suspected (distinct, per run): "
              << static_cast<double>(healthy_suspected) / whole << " (events "
              << healthy_suspect_events << "); not slow: "
              << static_cast<double>(healthy_fast_suspected) / whole << " (events "
              << healthy_fast_suspect_events << ")"
              << "\n  healthy members declared dead: " << healthy_dead << " in "
              << runs_with_healthy_dead << " runs (not slow: " << healthy_fast_dead << "; events "
              << healthy_dead_events << ")"
              << "\n  messages per member per second: " << std::setprecision(2)
              << messages_sum / n << std::setprecision(1)
              << "\n  last fault over (heal, slow members recovered) -> identical tables, ticks: mean "
              << converge_sum / static_cast<double>(std::max<uint64_t>(1, converge_runs)) << '\n';
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"velocity-swim-sim: the deterministic SWIM simulation"};
  options base;
  uint64_t seed = 0;
  std::string seeds;
  bool mixed = false;
  bool quiet = false;
  std::string lifeguard = "on";
  auto* one = app.add_option("--seed", seed, "replay exactly this seed");
  auto* many = app.add_option("--seeds", seeds, "run seeds A-B (inclusive), or 1-N for N");
  one->excludes(many);
  app.add_flag("--mixed", mixed, "each seed draws its own scenario (the CTest profile)");
  app.add_option("--members", base.members, "members (2 or more)")->check(CLI::Range(2, 5000));
  app.add_option("--loss", base.loss_percent, "per-message loss, percent")->check(CLI::Range(0, 100));
  app.add_option("--delay", base.delay_ticks_max, "per-message delay, uniform 0..D ticks");
  app.add_option("--crashes", base.crashes, "members that crash after warm-up");
  app.add_option("--leaves", base.leaves, "members that leave after warm-up");
  app.add_option("--slow", base.slow, "slow members");
  app.add_option("--slow-period", base.slow_period_ticks, "a slow member reads its inbox every P ticks")
      ->check(CLI::Range(1, 100000));
  app.add_flag("--partition", base.partition, "split the members in two halves, then heal");
  app.add_option("--partition-ticks", base.partition_ticks, "how long the partition lasts");
  app.add_option("--lifeguard", lifeguard, "on|off")->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--trace", base.trace, "print every membership event (with --seed)")->needs(one);
  app.add_flag("--quiet", quiet, "print only the summary");
  CLI11_PARSE(app, argc, argv);
  base.lifeguard = lifeguard == "on";

  uint64_t first = seed;
  uint64_t last = seed;
  if (!seeds.empty() && !parse_range(seeds, first, last)) {
    std::cerr << "--seeds: expected A-B with A <= B\n";
    return 2;
  }
  if (seeds.empty() && one->count() == 0) first = last = 1;
  summary all;
  for (uint64_t s = first; s <= last; ++s) {
    options o = base;
    if (mixed) {
      o = velocity::swim_sim::mixed_options(s);
      o.lifeguard = base.lifeguard;
      o.trace = base.trace;
    }
    o.seed = s;
    const result r = velocity::swim_sim::run(o);
    if (!quiet || !r.ok) {
      if (mixed)
        std::cout << "[members " << o.members << " loss " << o.loss_percent << "% delay "
                  << o.delay_ticks_max << " crashes " << o.crashes << " leaves " << o.leaves
                  << " slow " << o.slow << "/" << o.slow_period_ticks << " partition "
                  << (o.partition ? std::to_string(o.partition_ticks) : "no") << "] ";
      std::cout << velocity::swim_sim::describe(r) << '\n';
    }
    all.add(o, r);
  }
  all.print();
  return all.failed.empty() ? 0 : 1;
}
