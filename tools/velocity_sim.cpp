// velocity-sim: runs the deterministic cluster simulator (tests/sim).
//   velocity-sim --seed S [--verbose] [--bug NAME]   replays one seed exactly
//   velocity-sim --seeds N [--first-seed S] [--bug NAME]
//                                                   runs N consecutive seeds,
//                                                   lists the failing ones
//   --stats                                         also prints how often each fault
//                                                   and path fired (per seed with
//                                                   --seed; totals and the number of
//                                                   seeds where it fired with --seeds)
// Every run prints its seed and drawn parameters; the exit code is 1 if any
// seed found a violation. The output depends only on the arguments (no wall
// clock in it), so running the same command twice prints the same bytes.
//
// Thread safety: single-threaded program.
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tests/sim/sim_cluster.hpp"

namespace {

using velocity::raft::injected_bug;

const std::map<std::string, injected_bug>& bugs_by_name() {
  static const std::map<std::string, injected_bug> bugs{
      {"none", injected_bug::none},
      {"commit_previous_term_by_counting", injected_bug::commit_previous_term_by_counting},
      {"vote_ignores_log", injected_bug::vote_ignores_log},
      {"ack_before_persist", injected_bug::ack_before_persist},
      {"read_without_quorum", injected_bug::read_without_quorum},
  };
  return bugs;
}

struct stats_totals {
  velocity::sim::sim_stats sum;
  velocity::sim::sim_stats seeds_fired;
};

bool run_one(velocity::sim::sim_options options, bool verbose, bool stats,
             stats_totals& totals) {
  if (verbose) options.trace = &std::cout;
  const velocity::sim::sim_result result = velocity::sim::run_seed(options);
  std::cout << "seed " << result.seed << ": " << result.params << '\n'
            << result.summary() << '\n';
  totals.sum += result.stats;
  totals.seeds_fired += result.stats.fired();
  if (stats) std::cout << "  stats " << result.stats.describe() << '\n';
  if (verbose) std::cout << "history:\n" << velocity::sim::describe_history(result.history)
                         << "final state:\n" << result.final_state;
  return result.ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"velocity-sim: deterministic Raft cluster simulation"};
  uint64_t seed = 0;
  uint64_t seeds = 0;
  uint64_t first_seed = 1;
  bool verbose = false;
  bool stats = false;
  std::string bug = "none";
  auto* one = app.add_option("--seed", seed, "replay exactly this seed");
  auto* many = app.add_option("--seeds", seeds, "run this many consecutive seeds");
  one->excludes(many);
  app.add_option("--first-seed", first_seed, "first seed of --seeds")->needs(many);
  app.add_flag("--verbose", verbose, "print a trace of every event (with --seed)")->needs(one);
  app.add_flag("--stats", stats, "print how often each fault and path fired");
  app.add_option("--bug", bug, "inject a bug into every replica")
      ->check(CLI::IsMember(bugs_by_name()));
  CLI11_PARSE(app, argc, argv);

  velocity::sim::sim_options options;
  options.bug = bugs_by_name().at(bug);
  if (many->count() == 0) {
    options.seed = one->count() > 0 ? seed : 1;
    stats_totals ignored;
    return run_one(options, verbose, stats, ignored) ? 0 : 1;
  }
  std::vector<uint64_t> failed;
  std::vector<uint64_t> failed_without_bug;
  stats_totals totals;
  for (uint64_t s = first_seed; s < first_seed + seeds; ++s) {
    options.seed = s;
    if (run_one(options, false, false, totals)) continue;
    failed.push_back(s);
    // With an injected bug, a seed that fails without it too shows some other
    // bug: say so, so the bug's own detection rate can be read off.
    if (options.bug != injected_bug::none) {
      velocity::sim::sim_options plain = options;
      plain.bug = injected_bug::none;
      if (!velocity::sim::run_seed(plain).ok()) failed_without_bug.push_back(s);
    }
  }
  std::cout << seeds << " seeds from " << first_seed << ": " << failed.size() << " failed";
  for (uint64_t s : failed) std::cout << ' ' << s;
  std::cout << '\n';
  if (options.bug != injected_bug::none) {
    std::cout << failed_without_bug.size() << " of them fail without the bug too";
    for (uint64_t s : failed_without_bug) std::cout << ' ' << s;
    std::cout << '\n';
  }
  if (stats) {
    std::cout << "stats total " << totals.sum.describe() << '\n'
              << "stats seeds " << totals.seeds_fired.describe() << '\n'
              << "stats seeds without a completed operation: "
              << seeds - totals.seeds_fired.ops_completed << '\n';
  }
  return failed.empty() ? 0 : 1;
}
