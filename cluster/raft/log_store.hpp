// The durable half of a Raft replica: hard state, log entries and the latest
// snapshot of one Raft group, kept in a storage engine (storage/engine.hpp)
// under the group's 4-byte shard prefix.
//
//   column::raft_log    shard | u64 BE index       -> crc32c | term | kind | data
//   column::raft_state  shard | "hard"             -> crc32c | term | vote | commit
//                       shard | "snap"             -> crc32c | meta (index, term, membership) | data
//
// Every value carries a CRC-32C of the rest, so a flipped bit on disk is
// reported as corruption by load() and never handed to the core.
//
// The store only stages writes into a caller's write_batch, so the shell can
// make a ready durable in one atomic batch together with anything else (the
// log writer's group commit), then sync.
//
// Thread safety: none (one owner per group). The engine itself is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "cluster/raft/types.hpp"
#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity::raft {

// CRC-32C (Castagnoli), our own table-driven implementation.
uint32_t crc32c(std::string_view bytes, uint32_t seed = 0);

class log_store {
 public:
  log_store(engine& e, uint32_t group);

  // Reads everything back. An empty store gives a default durable_state (no
  // snapshot, no entries). corruption (message names the key) on a checksum
  // mismatch, an undecodable value, a gap in the log, entries that do not
  // follow the snapshot, or a hard state whose commit is beyond the last
  // durable index; io_error from the engine.
  status_or<durable_state> load() const;

  // Adds step 2 of the ready contract (types.hpp) to `batch`: the snapshot
  // (dropping the covered log, or the whole log when snapshot_from_leader),
  // then the entries (truncating the log from the first one's index when
  // they may overwrite entries the store holds), then the hard state.
  // Nothing is written to the engine here.
  // REQUIRES: every batch staged before is written, in order, before this
  // one (or the owner stops using this object): the store remembers the last
  // index it staged so that an append past it writes no range delete. (A
  // range tombstone per append filled the memtable with thousands of them,
  // and RocksDB took seconds of CPU to flush it, stalling every write.)
  void stage(const ready& rd, write_batch& batch);

  // Convenience for tests and the simulator: stage + engine write with
  // sync = rd.must_sync.
  status persist(const ready& rd);

  // Deletes every key of this group (both columns).
  void stage_destroy(write_batch& batch);

  uint32_t group() const { return group_; }

 private:
  engine& engine_;
  uint32_t group_;
  // The last log index after every batch staged so far (nullopt: not known
  // yet, so the next append truncates with a range delete).
  std::optional<index_t> last_staged_;
};

}  // namespace velocity::raft
