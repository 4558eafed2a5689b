// One simulated replica: a raft::raft core, its simulated disk (a
// memory_engine holding a raft::log_store; a crash drops every write not
// synced) and the key-value application rebuilt from the snapshot plus log
// replay after every restart (the application is memory only).
//
// The node does what one step of the ready contract asks (write, sync,
// restore, apply); the cluster (sim_cluster) decides when, sends messages
// and runs the checkers.
//
// Thread safety: none; one run owns it.
// Invariants: core_ is set iff up(); applied_ is the application's applied
// index (snapshot index after a restart); durable_commit_floor_ is the commit
// of the last hard state known synced, so a restart must load at least it;
// durable_last_index_ is the last log index known synced and durable_terms_
// the term of every log entry known synced (ready contract step 4: every
// committed entry handed to apply must be durable as that very entry, not
// only at its index: an unsynced overwrite of a longer log is not durable).
// Tick clock: an incarnation's ticks fall at first_tick_us + k * tick period;
// ticks_delivered_ of them have reached the core, always in order and each
// exactly once (the next one due is at next_tick_us()).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/log_store.hpp"
#include "cluster/raft/raft.hpp"
#include "protocols/error.hpp"
#include "storage/memory_engine.hpp"
#include "tests/sim/sim_kv.hpp"

namespace velocity::sim {

// A write or CAS proposed through this node, waiting for its entry to apply.
struct pending_proposal {
  size_t client = 0;
  uint64_t op_seq = 0;
  raft::entry_id id;
};

// A read started through this node: waiting for its read_state, then for the
// applied index to reach it.
struct pending_read {
  size_t client = 0;
  uint64_t op_seq = 0;
  std::string key;
  std::optional<raft::index_t> index;  // set once the read_state arrived
};

class sim_node {
 public:
  // The raft group every simulated replica stores under.
  static constexpr uint32_t group = 1;

  sim_node(raft::config config, int64_t tick_period_us);

  // Writes a brand-new node's initial durable state (synced), before start().
  status bootstrap(const raft::durable_state& initial);

  // Loads the durable state and builds a fresh core (new random seed per
  // incarnation) and application. The loaded commit index goes to *loaded_commit.
  status start(uint64_t random_seed, raft::index_t* loaded_commit);

  // Process crash: the core and the application vanish, unsynced writes are lost.
  void crash();

  // Step 2 of the ready contract, without the sync (the fsync may be delayed).
  void write(const raft::ready& rd);
  // The sync that completes step 2.
  void sync();

  // Step 4: a snapshot installed from the leader replaces the application.
  bool restore(const raft::snapshot& snap);
  // Step 4: applies one committed entry; returns the command's effect (a
  // CAS may fail; conf changes and no-ops return true).
  bool apply(const raft::entry& e);

  // The tick clock of this incarnation (raft.hpp: the shell derives ticks from
  // a monotonic clock). start_clock is called once per incarnation with the
  // time of its first tick.
  void start_clock(int64_t first_tick_us);
  // The virtual time of the next tick the core has not yet received.
  int64_t next_tick_us() const { return first_tick_us_ + ticks_delivered_ * tick_period_us_; }
  // Delivers the clock's tick at `tick_us` unless it was already delivered
  // (caught up); false for a tick already delivered.
  bool deliver_tick(int64_t tick_us);
  // Delivers every tick due at or before `now_us` that the core has not yet
  // received; returns how many.
  uint64_t catch_up_ticks(int64_t now_us);
  int64_t ticks_delivered() const { return ticks_delivered_; }

  raft::raft& core() { return *core_; }
  const raft::raft& core() const { return *core_; }
  bool up() const { return core_ != nullptr; }
  raft::node_id id() const { return config_.id; }
  int64_t tick_period_us() const { return tick_period_us_; }
  uint64_t incarnation() const { return incarnation_; }
  raft::index_t applied() const { return applied_; }
  const kv_map& state() const { return kv_; }
  raft::index_t durable_commit_floor() const { return durable_commit_floor_; }
  raft::index_t durable_last_index() const { return durable_last_index_; }
  // The term of the synced log entry at `index`; nullopt if none is synced there.
  std::optional<raft::term_t> durable_term_at(raft::index_t index) const;

  // Set by the cluster.
  bool paused = false;
  bool decommissioned = false;
  std::optional<raft::ready> in_flight;  // a ready waiting for its fsync
  raft::index_t commit_seen = 0;         // for the monotonic-commit check
  raft::role role_seen = raft::role::follower;  // for traces of role changes
  raft::term_t term_seen = 0;
  std::multimap<raft::index_t, pending_proposal> proposals;
  std::map<uint64_t, pending_read> reads;  // request id -> read

 private:
  raft::config config_;
  int64_t tick_period_us_;
  std::unique_ptr<memory_engine> engine_;
  std::unique_ptr<raft::log_store> store_;
  std::unique_ptr<raft::raft> core_;
  kv_map kv_;
  raft::index_t applied_ = 0;
  uint64_t incarnation_ = 0;
  int64_t first_tick_us_ = 0;
  int64_t ticks_delivered_ = 0;  // this incarnation
  raft::index_t written_commit_ = 0;
  raft::index_t durable_commit_floor_ = 0;
  raft::index_t written_last_index_ = 0;
  raft::index_t durable_last_index_ = 0;
  std::map<raft::index_t, raft::term_t> written_terms_;  // the written log, synced or not
  std::map<raft::index_t, raft::term_t> durable_terms_;  // the log as of the last sync
};

}  // namespace velocity::sim
