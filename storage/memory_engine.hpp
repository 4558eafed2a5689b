// The in-memory storage engine: the `memory` storage mode and the engine of
// every deterministic test and simulation.
//
// Layout: one ordered std::map per column, each in a shared "column version".
// Snapshots and iterators hold a lease on the versions they read (a counter of
// readers in the version); a write clones a column's map only while a lease on
// it is held (copy-on-write), so readers never see a later write and never
// lock. Point reads (get, multi_get) without a snapshot read under the mutex
// and take no lease, so they never force a clone.
//
// Crash simulation: every write not yet durable (after the last sync() or sync
// write) leaves an undo record (the previous value of each key it touched).
// simulate_crash() rolls those records back newest first, which is exactly the
// state a process crash + restart would find under the durability contract of
// storage/engine.hpp (durable batches form a prefix of the written batches).
// sync() just drops the undo records, so it is cheap; with no sync at all the
// undo log grows with every write, so long-running memory mode should sync
// (the log writer's group commit does) or disable crash simulation.
//
// Thread safety: every engine method may be called from any thread (one mutex
// guards the column pointers and the undo log). Iterators and snapshots are
// owned by one thread but may outlive the engine (they own their maps).
//
// Invariants: a version with a reader lease is never mutated again;
// undo_log_ is empty right after sync() and holds one record per unsynced batch,
// oldest first.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/engine.hpp"

namespace velocity {

struct memory_engine_options {
  // Record undo information for simulate_crash(). Off for a long-running memory
  // mode node that never syncs, so unsynced writes cost no memory.
  bool crash_simulation = true;
};

class memory_engine final : public engine {
 public:
  using column_map = std::map<std::string, std::string, std::less<>>;

  memory_engine();
  explicit memory_engine(memory_engine_options options);
  ~memory_engine() override;

  memory_engine(const memory_engine&) = delete;
  memory_engine& operator=(const memory_engine&) = delete;

  // Drops every write not yet durable (written after the last sync() or sync
  // write), as a process crash + restart would. Snapshots/iterators taken
  // before stay readable.
  // REQUIRES: crash simulation enabled (the default).
  void simulate_crash();

  status get(column col, std::string_view key, std::string& out,
             const snapshot* view = nullptr) override;
  std::vector<status_or<std::string>> multi_get(column col, const std::vector<std::string>& keys,
                                               const snapshot* view = nullptr) override;
  std::unique_ptr<iterator> scan(column col, const scan_options& options) override;
  status write(const write_batch& batch, write_options options = {}) override;
  status sync() override;
  std::shared_ptr<const snapshot> make_snapshot() override;
  std::string stats() override;

  // Counters for tests and metrics.
  size_t unsynced_batches() const;  // batches simulate_crash() would drop
  size_t map_clones() const;        // copy-on-write clones so far
  size_t key_count(column col) const;

  struct column_version;  // a map plus its count of reader leases (memory_engine.cpp)

 private:
  using version_pointer = std::shared_ptr<column_version>;

  // The previous state of one key touched by an unsynced batch.
  struct undo_entry {
    column col;
    std::string key;
    std::optional<std::string> previous;  // nullopt: the key was absent
  };
  using undo_batch = std::vector<undo_entry>;

  // REQUIRES: mutex_ held. Returns the column's map, cloned first if shared.
  column_map& writable(column col);
  // REQUIRES: mutex_ held.
  void apply(const write_batch::op& op, undo_batch* undo);
  void erase_range_locked(column col, const std::string& begin, const std::string& end,
                          undo_batch* undo);
  // The version a snapshot holds for col. REQUIRES: view made by this engine.
  const column_map& snapshot_map(column col, const snapshot& view) const;

  const memory_engine_options options_;
  mutable std::mutex mutex_;
  std::array<version_pointer, column_count> columns_;
  std::vector<undo_batch> undo_log_;  // oldest first; cleared by every durable point
  size_t map_clones_ = 0;
  uint64_t writes_ = 0;
  uint64_t syncs_ = 0;
};

}  // namespace velocity
