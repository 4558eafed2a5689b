// What one simulation run is: the caller's options (seed, injected bug,
// trace) and the parameters drawn from the seed (cluster size, Raft config
// ranges, the fault mix, the workload). draw_params() is the only place that
// turns a seed into a run's shape, so `velocity-sim --seed S` replays it.
//
// Thread safety: plain values.
// Invariants (checked by draw_params): the tick-rate skew stays inside the
// lease assumption of cluster/raft/raft.hpp, i.e. the fastest node's rate over
// the slowest's is below election_ticks / lease_ticks; heartbeat_ticks <
// election_ticks; lease_ticks > 0 only with check_quorum.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "cluster/raft/types.hpp"
#include "tests/sim/sim_random.hpp"

namespace velocity::sim {

// The version of the simulator's random decisions. Any change to what is
// drawn, or in which order (parameters, faults, workload, scheduling), re-keys
// every seed: bump this so the pinned regression seeds
// (sim_regression_test.cpp) fail loudly instead of silently testing nothing.
inline constexpr int decisions_version = 5;

// Virtual time is int64 microseconds. One tick of a node without skew:
inline constexpr int64_t tick_base_us = 10'000;
// Members never exceed this (initial voters plus learners added later).
inline constexpr size_t members_max = 7;

struct sim_options {
  uint64_t seed = 1;
  raft::injected_bug bug = raft::injected_bug::none;
  // When set, a line per event goes here (velocity-sim --verbose).
  std::ostream* trace = nullptr;
  // Stop at the first violation (bug hunting) or finish the run anyway.
  bool stop_at_first_violation = true;
};

struct sim_params {
  // Cluster and Raft configuration.
  size_t nodes = 3;
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  uint32_t lease_ticks = 0;
  bool pre_vote = true;
  bool check_quorum = true;
  size_t inflight_messages_max = 8;
  size_t append_bytes_max = 1024;
  size_t snapshot_chunk_bytes = 128;
  uint64_t compact_every_entries = 16;  // K: compact after K applied entries
  int64_t skew_percent_max = 0;         // node tick period = base * (100 + [0, skew]) / 100

  // Network and disk.
  int64_t loss_percent = 0;
  int64_t duplicate_percent = 0;
  int64_t delay_us_min = 100;
  int64_t delay_us_max = 5'000;
  int64_t fsync_delay_us_max = 0;

  // Fault mix: which nemesis actions this seed uses, and how often one fires.
  bool partitions = false;
  bool crashes = false;
  // With crashes: the chance that a node is crashed shortly after it becomes
  // leader (before its first entries spread), where commit rules are tested.
  int64_t new_leader_crash_percent = 0;
  bool pauses = false;
  bool clogs = false;
  bool membership_changes = false;
  bool transfers = false;
  int64_t nemesis_interval_us = 500'000;
  int64_t restart_delay_us_max = 1'000'000;  // a crashed node restarts within this
  bool crash_storm = false;                  // the profile draw_crash_storm made
  // The profile draw_deposed_leader made: the leader is cut off from the
  // voters while it still believes it leads, so its reads can go stale.
  bool deposed_leader = false;

  // Workload and phases.
  size_t clients = 3;
  size_t keys = 2;
  size_t value_pad_bytes = 0;  // values grow by this (bigger entries and snapshots)
  int64_t chaos_us = 3'000'000;
  // Healing: a leader must commit a new entry and every member must apply it
  // within this many base ticks after all faults are removed.
  int64_t heal_ticks_max = 600;
};

sim_params draw_params(sim_rng& rng);

// One line: "nodes=3 election=12 heartbeat=2 lease=0 pre_vote=1 ..." (stable
// order; printed by every run so a failure can be read without rerunning).
std::string describe(const sim_params& p);

}  // namespace velocity::sim
