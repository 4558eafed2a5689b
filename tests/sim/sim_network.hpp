// The simulated network between replicas: per-message loss, duplication and
// random delay (so reordering), directed link blocks (symmetric and asymmetric
// partitions) and clogged links (messages held until the clog ends, then
// released together).
//
// The network only decides *when* (and whether) a message arrives; the event
// loop (sim_cluster) schedules the delivery. A block is checked when a message
// is sent and again when it would arrive, so a partition that starts while a
// message is in flight drops it.
//
// Thread safety: none; one run owns it.
// Invariants: blocked_ and clogs_ are ordered containers (deterministic
// iteration); a clog's end time is in virtual microseconds.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft/types.hpp"
#include "tests/sim/sim_options.hpp"
#include "tests/sim/sim_random.hpp"

namespace velocity::sim {

class sim_network {
 public:
  using link = std::pair<raft::node_id, raft::node_id>;  // (from, to)

  explicit sim_network(const sim_params& params);

  // Arrival times for one message sent at now_us: none (lost or blocked), one,
  // or two (duplicated), each with its own delay.
  std::vector<int64_t> plan(raft::node_id from, raft::node_id to, int64_t now_us, sim_rng& rng);

  bool blocked(raft::node_id from, raft::node_id to) const;

  // Blocks every link between nodes of different groups, in both directions.
  void partition(const std::vector<std::vector<raft::node_id>>& groups);
  void block(raft::node_id from, raft::node_id to);
  void clog(raft::node_id from, raft::node_id to, int64_t until_us);

  // Removes every block (partitions heal); clogs end on their own time.
  void heal_partitions();
  // Healing phase: no blocks, no clogs, no loss, no duplication (delays stay).
  void heal_everything();

  // "blocked=[1>2 2>1] clogged=[3>1@1200000]" for traces.
  std::string describe() const;

 private:
  int64_t loss_percent_;
  int64_t duplicate_percent_;
  int64_t delay_us_min_;
  int64_t delay_us_max_;
  std::set<link> blocked_;
  std::map<link, int64_t> clogs_;  // link -> end of the clog
};

}  // namespace velocity::sim
