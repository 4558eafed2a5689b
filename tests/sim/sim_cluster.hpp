// The simulated cluster and its seeded scheduler: N replicas (sim_node), the
// network (sim_network), the clients (workload), the nemesis that injects
// faults, and the checkers (safety_checker), all driven by one event queue in
// virtual time. A run is: draw parameters from the seed, chaos phase (faults
// on), healing phase (faults off, every member up; a leader must commit a new
// entry and every member must apply it within a bound), final checks
// (convergence, acknowledged writes, linearizability).
//
// Every replica is a cluster::replica, the driver that carries THE READY
// CONTRACT of cluster/raft/types.hpp in production too: the cluster feeds it
// events (ticks of the node's own clock, delivered messages, client
// proposals and reads, fsync completions, captured snapshots) and carries out
// its effects in order (sends, unsynced writes whose fsync completes after a
// drawn delay (a crash before it loses the write), restores, applies, reads,
// failures, captures).
//
// Determinism: one sim_rng per run, events ordered by (time, sequence number),
// ordered containers only, no clocks or threads; the same seed and options
// give the same trace, history and final state.
//
// Thread safety: none; a sim_cluster is one run on one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft/types.hpp"
#include "cluster/replica.hpp"
#include "tests/sim/linearizability.hpp"
#include "tests/sim/sim_checkers.hpp"
#include "tests/sim/sim_network.hpp"
#include "tests/sim/sim_node.hpp"
#include "tests/sim/sim_options.hpp"
#include "tests/sim/sim_random.hpp"
#include "tests/sim/sim_workload.hpp"

namespace velocity::sim {

// How often each fault and each interesting path actually happened in a run,
// so a fault that never fires (a hole that would hide bugs) shows up in
// `velocity-sim --seeds N --stats`. Counting never draws a random number, so
// it does not change any seed's decisions.
struct sim_stats {
  uint64_t crashes = 0;             // nemesis crashes (restart later)
  uint64_t new_leader_crashes = 0;  // a node crashed soon after it became leader
  uint64_t crashes_mid_fsync = 0;   // crashes (any kind) while a ready awaited its sync
  uint64_t partitions = 0;          // nemesis turns that blocked links (not heals)
  uint64_t clogs = 0;               // nemesis turns that clogged at least one link
  uint64_t pauses = 0;
  uint64_t conf_changes_proposed = 0;
  uint64_t conf_changes_applied = 0;  // distinct committed conf-change indexes
  uint64_t transfers_started = 0;     // transfer_leadership accepted
  uint64_t timeout_now_delivered = 0; // a transfer target got its timeout_now
  uint64_t snapshot_installs = 0;     // a follower restored a leader's snapshot
  uint64_t snapshot_multi_chunk = 0;  // last chunk delivered at an offset > 0
  uint64_t lease_reads = 0;           // reads served through read_mode::lease
  uint64_t lease_reads_deposed = 0;   // granted on a lease while a higher-term leader existed
  uint64_t ticks_caught_up = 0;       // elapsed ticks delivered before a lease read
  uint64_t read_index_reads = 0;      // reads served through read_mode::safe
  uint64_t writes_ok = 0;
  uint64_t cas_ok = 0;
  uint64_t cas_failed = 0;  // a CAS applied without effect (expected value differed)
  uint64_t ops_completed = 0;  // any operation whose client saw the outcome

  sim_stats& operator+=(const sim_stats& other);
  // 1 for every field that is not 0 (summed over runs: the seeds where it fired).
  sim_stats fired() const;
  // "crashes=3 new_leader_crashes=1 ..." in the order of the fields.
  std::string describe() const;
};

// What a run found. `summary` is one line; `violations` empty means it passed.
struct sim_result {
  uint64_t seed = 0;
  std::string params;  // describe(sim_params)
  std::vector<violation> violations;
  std::vector<operation> history;
  std::string final_state;  // every member's applied index and map, for replay checks
  uint64_t events = 0;
  uint64_t commit_index = 0;
  size_t leaders = 0;
  size_t crashes = 0;
  size_t ops_completed = 0;
  size_t ops_unknown = 0;
  bool linearizability_gave_up = false;
  sim_stats stats;

  bool ok() const { return violations.empty(); }
  std::string summary() const;
};

// Runs one seed (the whole run, in virtual time).
sim_result run_seed(const sim_options& options);

// History as text (one line per operation), for determinism checks and traces.
std::string describe_history(const std::vector<operation>& history);

class sim_cluster {
 public:
  explicit sim_cluster(const sim_options& options);
  ~sim_cluster();
  sim_result run();

 private:
  enum class event_kind : uint8_t {
    tick, deliver, persist_done, client_request, client_wake, op_deadline,
    nemesis, crash, restart, resume, decommission, heal, heal_check,
  };
  struct event {
    int64_t time_us = 0;
    uint64_t seq = 0;
    event_kind kind = event_kind::tick;
    raft::node_id node = raft::no_node;
    uint64_t incarnation = 0;
    size_t client = 0;
    uint64_t op_seq = 0;
    uint64_t token = 0;  // persist_done: the persist effect's token
    raft::message message;
  };
  struct event_later {
    bool operator()(const event& a, const event& b) const {
      return a.time_us != b.time_us ? a.time_us > b.time_us : a.seq > b.seq;
    }
  };
  enum class phase : uint8_t { chaos, healing, done };

  // Event loop (sim_cluster.cpp).
  void schedule(event e);
  void dispatch(event& e);
  void dispatch_to_node(event& e);
  // Runs a node-bound event (tick, deliver, persist_done, client_request) on
  // an up, unpaused node, then processes its readies.
  void on_node_event(sim_node& n, event& e);
  void on_resume(sim_node& n);
  void trace(const std::string& line);
  bool tracing() const { return options_.trace != nullptr; }

  // Nodes (sim_cluster.cpp) and the driver's effects (sim_effects.cpp).
  sim_node* find(raft::node_id id);
  sim_node& create_node(raft::node_id id, const raft::durable_state& initial);
  void start_node(sim_node& n);
  void crash_node(sim_node& n, bool restart_later);
  // Carries out every effect the node's driver holds, in order.
  void carry_out(sim_node& n);
  void on_persist(sim_node& n, cluster::effect& fx);
  void on_restore(sim_node& n, const raft::snapshot& snap);
  void on_apply(sim_node& n, const raft::entry& e, uint64_t request, bool hold);
  void on_release(sim_node& n, uint64_t request);
  void complete_apply(sim_node& n, uint64_t request, bool took_effect, raft::entry_id id);
  void on_read(sim_node& n, uint64_t request);
  void on_fail(sim_node& n, uint64_t request, const status& error);
  void on_capture(sim_node& n, raft::index_t index);
  void sync_node(sim_node& n, uint64_t token);
  void observe(sim_node& n);
  void send(const raft::message& m);
  std::vector<raft::node_id> members() const;  // not decommissioned, in id order
  sim_node* leader();                           // the up leader with the highest term

  // Clients (sim_clients.cpp).
  void on_client_wake(size_t client);
  void on_client_request(event& e);
  void on_op_deadline(size_t client, uint64_t op_seq);
  void retry(size_t client, raft::node_id target);
  void refused(size_t client, sim_node& n, const status& why);
  void give_up_at(sim_node& n);
  void finish_op(size_t client);
  // Checks a read granted on `n`'s lease: no other node may already lead in a
  // higher term (lease_read_deposed; counted in stats too).
  void note_lease_read(sim_node& n);

  // Faults (sim_nemesis.cpp).
  void on_nemesis();
  void nemesis_partition();
  void nemesis_crash();
  void nemesis_pause();
  void nemesis_clog();
  void nemesis_membership();
  void nemesis_transfer();
  raft::node_id pick_target();  // the leader half the time, else any up member
  void isolate(raft::node_id target, const std::vector<raft::node_id>& ids);  // target alone

  // Phases and final checks (sim_run.cpp).
  void on_heal();
  void on_heal_check();
  void final_checks();
  void check_convergence(const std::vector<raft::node_id>& final_members, raft::index_t commit);
  bool stopped() const;

  sim_options options_;
  sim_rng rng_;
  sim_params params_;
  std::string initial_dump_;  // every replica's application before its first entry
  sim_network network_;
  safety_checker checker_;
  workload workload_;
  std::map<raft::node_id, std::unique_ptr<sim_node>> nodes_;
  std::map<raft::node_id, std::vector<event>> deferred_;  // events held while paused
  std::vector<event> queue_;                              // heap ordered by event_later
  int64_t now_us_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t next_request_ = 1;
  raft::node_id next_node_id_ = 1;
  phase phase_ = phase::chaos;
  int64_t heal_start_us_ = 0;
  raft::index_t conf_change_counted_ = 0;  // highest conf-change index in stats
  // The healing entry: proposed at `node` in `term` as `request`.
  struct probe {
    raft::node_id node = raft::no_node;
    raft::term_t term = 0;
    uint64_t request = 0;
  };
  std::optional<probe> probe_;
  bool probe_applied_ = false;
  sim_result result_;
};

}  // namespace velocity::sim
