// The client workload: several clients, each with at most one outstanding
// operation (write of a unique value, compare-and-set, or read through
// ReadIndex or the leader lease), and the history they record for the
// linearizability checker. Which node a request goes to, retries and
// completion are driven by the cluster (sim_cluster); this class draws the
// operations and keeps the books.
//
// Thread safety: none; one run owns it.
// Invariants: a client's `op` indexes history_ while busy; op_seq grows with
// every operation so a late completion of an abandoned one is recognised.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/types.hpp"
#include "tests/sim/linearizability.hpp"
#include "tests/sim/sim_kv.hpp"
#include "tests/sim/sim_options.hpp"
#include "tests/sim/sim_random.hpp"

namespace velocity::sim {

// How long a client waits for one operation before giving up (outcome unknown).
inline constexpr int64_t operation_timeout_us = 1'500'000;
// Pause between a client's operations, and before a retry.
inline constexpr int64_t think_us_max = 20'000;
inline constexpr int64_t retry_backoff_us_max = 30'000;

struct client_state {
  bool busy = false;
  uint64_t op_seq = 0;                 // current (or last) operation's sequence number
  size_t op = 0;                       // history index while busy
  raft::node_id target = raft::no_node;  // where the next attempt goes
  bool lease_read = false;             // the current read asks for read_mode::lease
  uint64_t values_written = 0;
  std::map<std::string, std::string> last_seen;  // per key, from own reads and writes
};

class workload {
 public:
  workload(const sim_params& params, size_t clients);

  // Starts a new operation for `client` (REQUIRES: !busy). Returns its history index.
  size_t begin(size_t client, int64_t now_us, bool lease_allowed, sim_rng& rng);

  // The command a write or CAS attempt proposes (request ids are unique per attempt).
  command command_for(size_t op, uint64_t request) const;

  void complete_write(size_t client, int64_t now_us, bool ok, raft::entry_id entry);
  void complete_read(size_t client, int64_t now_us, std::optional<std::string> value);
  // Outcome unknown (timeout, crash of the serving node, end of the run).
  void give_up(size_t client);

  client_state& client(size_t index) { return clients_[index]; }
  size_t clients() const { return clients_.size(); }
  const operation& op(size_t index) const { return history_[index]; }
  const std::vector<operation>& history() const { return history_; }
  // Entry of each acknowledged write / successful CAS (to find it in the final state).
  const std::map<size_t, raft::entry_id>& acknowledged() const { return acknowledged_; }

 private:
  std::vector<std::string> keys_;
  std::string value_pad_;
  std::vector<client_state> clients_;
  std::vector<operation> history_;
  std::map<std::string, std::vector<std::string>> written_;  // key -> values ever proposed
  std::map<size_t, raft::entry_id> acknowledged_;
};

}  // namespace velocity::sim
