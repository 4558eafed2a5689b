// velocity-sim-actors: level-(b) simulation of whole clusters of the real node
// actors (tests/sim_actors/cluster_sim.hpp).
//   velocity-sim-actors --seed S [--nodes 3|5] [--verbose] [--bug NAME]
//                                     replays one seed exactly (same trace hash)
//   velocity-sim-actors --seeds N [--first-seed S] [--bug NAME]
//                                     runs N consecutive seeds of the CI mix
//                                     (every third seed 5 nodes), lists failures
//   --chaos-ms T                      virtual time with clients and faults
//   --clients C, --keys K             override the mix's clients and registers
// The output depends only on the arguments; the exit code is 1 if any seed
// found a violation.
//
// Thread safety: single-threaded program.
#include <cstdint>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "tests/sim_actors/cluster_sim.hpp"

namespace {

bool run_one(const velocity::simb::run_options& options) {
  auto result = velocity::simb::run_seed(options);
  std::cout << "seed " << options.seed << " (" << options.nodes << " nodes, bug "
            << velocity::simb::to_string(options.bug) << "): " << result.summary() << '\n';
  for (const auto& failure : result.failures) std::cout << "  " << failure << '\n';
  return result.ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Level (b): whole clusters of the real node actors under the test coordinator"};
  uint64_t seed = 0;
  uint64_t seeds = 0;
  uint64_t first_seed = 1;
  uint32_t nodes = 0;
  int64_t chaos_ms = 0;
  uint32_t clients = 0;
  uint32_t keys = 0;
  bool verbose = false;
  std::string bug_name = "none";
  app.add_option("--seed", seed, "replay this seed");
  app.add_option("--seeds", seeds, "run this many consecutive seeds");
  app.add_option("--first-seed", first_seed, "the first seed of --seeds");
  app.add_option("--nodes", nodes, "3 or 5 (default: the CI mix)");
  app.add_option("--chaos-ms", chaos_ms, "virtual ms with clients and faults");
  app.add_option("--clients", clients, "clients (default: the mix's 3 to 6)");
  app.add_option("--keys", keys, "registers (default: the mix's 3 to 6)");
  app.add_option("--bug", bug_name, "inject a shell bug the checkers must catch");
  app.add_flag("--verbose", verbose, "print the trace");
  CLI11_PARSE(app, argc, argv);
  velocity::simb::injected_bug bug{};
  if (!velocity::simb::from_string(bug_name, bug)) {
    std::cerr << "unknown bug " << bug_name
              << " (none, ack_before_apply, read_without_read_index, propose_twice, cas_fail_without_read_index)\n";
    return 2;
  }
  if ((seed == 0) == (seeds == 0)) {
    std::cerr << "give exactly one of --seed S or --seeds N\n";
    return 2;
  }
  if (nodes != 0 && nodes != 3 && nodes != 5) {
    std::cerr << "--nodes must be 3 or 5\n";
    return 2;
  }
  auto options_for = [&](uint64_t s) {
    auto options = velocity::simb::mixed_options(s);
    if (nodes != 0) options.nodes = nodes;
    if (chaos_ms > 0) options.chaos_ms = chaos_ms;
    if (clients > 0) options.clients = clients;
    if (keys > 0) options.keys = keys;
    options.bug = bug;
    options.verbose = verbose;
    return options;
  };
  if (seed != 0) return run_one(options_for(seed)) ? 0 : 1;
  uint64_t failed = 0;
  for (uint64_t s = first_seed; s < first_seed + seeds; ++s)
    if (!run_one(options_for(s))) ++failed;
  std::cout << seeds << " seeds from " << first_seed << ": " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
