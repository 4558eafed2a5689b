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
//   contract           : a committed entry handed to apply is durable locally
//   convergence        : at the end, every member's map equals the ledger's replay
//   engine_convergence : at the end, every member's shard state is byte-identical
//   acknowledged_write_lost: at the end, every acknowledged write's entry is
//                        in the ledger and in the final leader's log
//   lease_read_deposed : no lease read is granted while a newer term's leader exists
//
// Every check takes plain observations (or a core read through its public
// introspection), so sim_checker_test can feed each one a crafted bad and good
// observation directly.
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
#include "tests/sim/linearizability.hpp"
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

  // Node `node` granted a lease read in term `term` while `newer_leader`
  // (no_node: none) led in `newer_term`: a lease must expire before a newer
  // term's leader exists (raft.hpp clock assumption). False (and a
  // lease_read_deposed violation) if newer_term > term.
  bool check_lease_read(raft::node_id node, raft::term_t term, raft::node_id newer_leader,
                        raft::term_t newer_term, int64_t now_us);

  // Pairwise log matching over the replicas' in-memory logs (not cheap: called
  // periodically and at the end).
  void check_log_matching(const std::vector<const raft::raft*>& cores, int64_t now_us);

  // Before node `node`, whose application has applied `applied`, whose log
  // is durable up to `durable_last_index` and holds a synced entry of term
  // `durable_term` at e.index (nullopt: none), applies committed entry `e`:
  // apply_order (e is the next index), contract (e itself is durable, ready
  // contract step 4) and state_machine_safety (a normal entry is a client
  // command). False (and a violation) if `e` must not be applied.
  bool check_apply(raft::node_id node, raft::index_t applied, raft::index_t durable_last_index,
                   std::optional<raft::term_t> durable_term, const raft::entry& e,
                   int64_t now_us);

  // A snapshot restored by `node` (from the leader, or from its disk at a
  // restart) at `index` must hold the ledger's replay up to `index`: a wrong
  // snapshot may otherwise hide until a later write of the same key masks it.
  // False (and a `snapshot` violation) if it differs.
  bool check_snapshot(raft::node_id node, raft::index_t index, const kv_map& map,
                      int64_t now_us);

  // End of a run, every member has applied `commit`: each map in `maps` (by
  // node) must equal the ledger's replay up to `commit`. False on a violation.
  bool check_convergence(const std::map<raft::node_id, const kv_map*>& maps,
                         raft::index_t commit, int64_t now_us);

  // End of a run, every member has applied the same commit: the shard's
  // engine contents (storage/shard_dump.hpp, by node) must be byte-identical
  // (documents with versions and times, index entries, counters, applied
  // index). False (and an `engine_convergence` violation) otherwise.
  bool check_identical_engines(const std::map<raft::node_id, std::string>& dumps,
                               int64_t now_us);

  // End of a run: every acknowledged write or successful CAS (history index ->
  // the entry its client was told about) must be committed as that entry: in
  // the ledger at or below `commit` with its term, and, where the final
  // leader's log still holds the index, there with its term too (a committed
  // entry overwritten after everyone applied it shows only there).
  void check_acknowledged(const std::map<size_t, raft::entry_id>& acknowledged,
                          const std::vector<operation>& history, const raft::raft& final_leader,
                          raft::index_t commit, int64_t now_us);

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
