// One simulated replica: a cluster::replica (the driver production runs,
// carrying the Raft ready contract over a raft::raft core), its simulated disk
// (a memory_engine; a crash drops every write not synced) holding the
// raft::log_store and the application: the real document state machine
// (storage/state_machine.hpp) of shard `group`, applying the document
// commands the entries carry (sim_kv.hpp), as the shard does. Its writes are
// not synced by themselves (a later sync of the log makes them durable); at
// a restart it resumes from the applied index its engine kept, or from the
// durable snapshot when that is newer. Snapshot data is the shard's dump
// (storage/shard_dump.hpp).
//
// The node carries out what one effect of the driver asks of the disk and the
// application (write, sync, restore, apply); the cluster (sim_cluster) feeds
// the driver its events, decides when a sync completes, sends messages,
// answers clients and runs the checkers.
//
// Thread safety: none; one run owns it.
// Invariants: replica_ is set iff up(); applied_ is the application's applied
// index (snapshot index after a restart); durable_commit_floor_ is the commit
// of the last hard state known synced, so a restart must load at least it;
// durable_last_index_ is the last log index known synced and durable_terms_
// the term of every log entry known synced, all read back from the disk at
// each sync (ready contract step 4: every committed entry handed to apply
// must be durable as that very entry, not only at its index: an unsynced
// overwrite of a longer log is not durable).
// Tick clock: an incarnation's ticks fall at first_tick_us + k * tick period;
// the driver delivers them (replica::tick_to), each once and in order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/log_store.hpp"
#include "cluster/raft/raft.hpp"
#include "cluster/replica.hpp"
#include "protocols/error.hpp"
#include "storage/memory_engine.hpp"
#include "storage/state_machine.hpp"
#include "tests/sim/sim_kv.hpp"

namespace velocity::sim {

// A client operation waiting at this node for the driver's answer (an apply,
// read or fail effect carrying its request id).
struct pending_request {
  size_t client = 0;
  uint64_t op_seq = 0;
  bool read = false;
  std::string key;  // reads: the key to serve
};

class sim_node {
 public:
  // The raft group every simulated replica stores under.
  static constexpr uint32_t group = 1;

  // `config.raft.random_seed` is replaced per incarnation. `initial_dump`
  // is the application's state before the first entry (sim_kv.hpp's
  // initial_dump for `keys` keys).
  sim_node(cluster::replica_config config, int64_t tick_period_us, std::string initial_dump,
           size_t keys);

  // Writes a brand-new node's initial durable state and the application's
  // initial state (synced), before start().
  status bootstrap(const raft::durable_state& initial);

  // Loads the durable state and builds a fresh driver (new random seed per
  // incarnation) and application; the driver's first tick falls at
  // first_tick_us. The loaded commit index goes to *loaded_commit. The driver
  // may already hold effects (committed entries to replay).
  status start(uint64_t random_seed, int64_t first_tick_us, raft::index_t* loaded_commit);

  // Process crash: the driver and the application vanish, unsynced writes are lost.
  void crash();

  // A persist effect: the batch goes to the engine without sync (the fsync
  // may be delayed).
  void write(const write_batch& batch);
  // The sync that makes every written batch durable. An error if the disk
  // then no longer loads (a restart would fail).
  [[nodiscard]] status sync();

  // A restore effect: a snapshot installed from the leader replaces the
  // application (its dump written in one batch, the state machine reopened).
  // An error for data that is not a shard dump.
  status restore(const raft::snapshot& snap);
  // An apply effect: applies one committed entry to the state machine;
  // returns the command's effect (a CAS may fail; conf changes and no-ops
  // return true). *unexpected is set when the state machine refused a
  // command the model says must succeed (or the entry is no command).
  bool apply(const raft::entry& e, status* unexpected);
  // A capture effect: the application's state (the shard's dump).
  std::string dump();
  // The value of `key` as a get command reads it; nullopt if absent.
  std::optional<std::string> read(const std::string& key);
  // The application as a key -> value map (a get per key).
  kv_map state();

  // The driver's clock counts ns; the simulator's virtual time µs.
  static int64_t to_ns(int64_t us) { return us * 1000; }
  // Ticks of this incarnation's clock due strictly before `now_us`.
  int64_t ticks_due_before(int64_t now_us) const;

  cluster::replica& replica() { return *replica_; }
  const raft::raft& core() const { return replica_->core(); }
  bool up() const { return replica_ != nullptr; }
  raft::node_id id() const { return config_.raft.id; }
  int64_t tick_period_us() const { return tick_period_us_; }
  uint64_t incarnation() const { return incarnation_; }
  raft::index_t applied() const { return applied_; }
  raft::index_t durable_commit_floor() const { return durable_commit_floor_; }
  raft::index_t durable_last_index() const { return durable_last_index_; }
  // The term of the synced log entry at `index`; nullopt if none is synced there.
  std::optional<raft::term_t> durable_term_at(raft::index_t index) const;

  // Set by the cluster.
  bool paused = false;
  bool decommissioned = false;
  raft::index_t commit_seen = 0;         // for the monotonic-commit check
  raft::role role_seen = raft::role::follower;  // for traces of role changes
  raft::term_t term_seen = 0;
  std::map<uint64_t, pending_request> requests;  // request id -> client operation
  // Writes applied whose replies the driver holds (effect::hold) until a
  // quorum knows them committed: request id -> (took effect, entry).
  std::map<uint64_t, std::pair<bool, raft::entry_id>> held;

 private:
  // Reads the durable log back (what a restart would load).
  void note_durable(const raft::durable_state& state);
  // Replaces the shard's state by `dump` (unsynced) and reopens the state machine.
  status restore_dump(std::string_view dump);

  cluster::replica_config config_;
  int64_t tick_period_us_;
  std::unique_ptr<memory_engine> engine_;
  std::unique_ptr<raft::log_store> store_;
  std::unique_ptr<cluster::replica> replica_;
  std::unique_ptr<state_machine> app_;  // set iff up()
  std::string initial_dump_;
  size_t keys_ = 0;
  raft::index_t applied_ = 0;
  uint64_t incarnation_ = 0;
  int64_t first_tick_us_ = 0;
  raft::index_t durable_commit_floor_ = 0;
  raft::index_t durable_last_index_ = 0;
  std::map<raft::index_t, raft::term_t> durable_terms_;  // the log as of the last sync
};

}  // namespace velocity::sim
