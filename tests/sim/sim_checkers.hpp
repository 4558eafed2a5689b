// Safety checkers that watch a simulation continuously (after every event) and
// at its end. Each violated property is reported as a `violation` naming the
// property, with details (indexes, terms, nodes) to find it in a trace.
//
// Properties (Raft paper figure 3, plus the application's view):
//   election_safety    : at most one leader per term
//   log_matching       : same index and term => same entry and same prefix
//   leader_completeness: a leader of term T holds every entry committed in a term < T
//   state_machine_safety: no two replicas apply different entries at one index
//   commit_monotonic   : a replica's commit index never decreases, not even
//                        across a restart below what it had made durable
//   apply_order        : committed entries arrive contiguous, after the snapshot
//
// The ledger is the global record of committed entries: the first replica
// applying (or leader committing) an index defines it; every later sighting
// must agree. The commit term is the term of the leader seen committing it.
//
// Thread safety: none; one run owns it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/raft/raft.hpp"
#include "cluster/raft/types.hpp"
#include "tests/sim/sim_kv.hpp"

namespace velocity::sim {

// "i12/t3 'W 7 k1 c0v4'" or "i5/t2 conf_change(0 node 6)", for traces and reports.
std::string entry_text(const raft::entry& e);

struct violation {
  std::string property;
  std::string detail;
  int64_t time_us = 0;
};

class safety_checker {
 public:
  // Observations after an event on node `core` (state read through introspection).
  void observe_leader(const raft::raft& core, int64_t now_us);
  void observe_commit(raft::node_id node, raft::index_t previous, raft::index_t now,
                      int64_t now_us);
  void observe_apply(raft::node_id node, const raft::entry& e, int64_t now_us);
  // A restarted replica loaded `loaded_commit`; it had made `durable_floor` durable.
  void observe_restart(raft::node_id node, raft::index_t loaded_commit,
                       raft::index_t durable_floor, int64_t now_us);
  void report(std::string property, std::string detail, int64_t now_us);

  // Pairwise log matching over the replicas' in-memory logs (not cheap: called
  // periodically and at the end).
  void check_log_matching(const std::vector<const raft::raft*>& cores, int64_t now_us);

  // The map every replica should hold after applying the ledger up to `index`;
  // nullopt (and a violation) if the ledger has a hole below it.
  std::optional<kv_map> replay(raft::index_t index, int64_t now_us);

  // The committed entry at `index`, if known.
  const raft::entry* committed(raft::index_t index) const;

  const std::vector<violation>& violations() const { return violations_; }
  bool failed() const { return !violations_.empty(); }
  size_t leaders_elected() const { return leader_of_term_.size(); }

 private:
  struct ledger_entry {
    raft::entry e;
    raft::term_t commit_term = 0;  // 0: not yet seen committed by a leader
  };

  void record(raft::node_id node, const raft::entry& e, raft::term_t commit_term,
              int64_t now_us);
  void check_completeness(const raft::raft& core, int64_t now_us);

  std::map<raft::term_t, raft::node_id> leader_of_term_;
  std::map<raft::index_t, ledger_entry> ledger_;
  std::map<raft::node_id, raft::index_t> leader_commit_seen_;  // per leader node
  std::vector<violation> violations_;
};

}  // namespace velocity::sim
