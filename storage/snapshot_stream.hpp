// A shard's state machine columns moved between engines in bounded chunks:
// the data half of a streamed Raft snapshot (the Raft snapshot itself is
// metadata only: index, term, membership; cluster/snapshot_transfer.hpp says
// how chunks travel). Two halves:
//
//   shard_reader   (the leader): walks the shard's key ranges in the three
//                  state machine columns (shard_dump_columns) through one
//                  engine snapshot, in (column, key) order, and hands out
//                  chunks of at most `bytes_max` bytes. It never holds more
//                  than one chunk: each call opens a scan after the last key
//                  it returned.
//   staged install (the follower): chunks are written under a staging
//                  location, then swapped in. Steps and what a crash after
//                  each leaves (engine.hpp: batches become durable in the
//                  order they were written, so a crash keeps a prefix):
//     1. begin:  stage_clear_staging (leftovers of an abandoned transfer).
//     2. chunks: stage_items -> column c, key staging_prefix | original key.
//                The shard's real ranges are untouched. Crash: no marker,
//                recover_install erases the staging ranges; old state kept.
//     3. marker: stage_marker -> column::meta, marker_key(shard) = index|term.
//                Every staged batch precedes it, so a durable marker implies
//                a complete, durable staging area.
//     4. copy:   finish_install: one batch erases the shard's real ranges,
//                then staged keys are copied in batches of at most
//                install_batch_bytes_max (the applied-index key excepted).
//                Crash: the marker is durable (it precedes these batches), so
//                recover_install redoes the copy from the still complete
//                staging area: erase, copy again (idempotent).
//     5. final:  ONE batch writes the staged applied-index key, erases the
//                marker and the staging ranges. Before it is durable the
//                real ranges may be half copied, but the marker is there and
//                recovery finishes the copy before the state machine opens;
//                after it, the shard holds exactly the leader's state. So the
//                state machine only ever opens on the old state or the whole
//                new one, never a mix, and its applied index is never one of
//                data it does not fully hold.
//   The Raft columns are never touched here: a half-finished install cannot
//   cost the replica its durable log or votes.
//
// Staging location: the reserved 4-byte prefix 0xfffffffe followed by the
// original key (which starts with its shard's prefix), in the original key's
// column. 0xfffffffe and 0xfffffffd (the marker's prefix) are never shard ids
// (router/placement.hpp: shard_count_max = 1024; keys.hpp reserves 0xffffffff).
//
// Thread safety: functions over the engine (thread-safe); one shard_reader
// and one install per shard at a time, by its owner (the shard actor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity {

// A chunk's keys and values, summed: big enough to amortise a round trip,
// far below the peer transport's per-peer queue (8 MiB) and frame limit.
inline constexpr size_t snapshot_chunk_bytes_max = 1 << 20;
// Bytes per batch of the staged -> real copy (step 4): bounds one write.
inline constexpr size_t install_batch_bytes_max = 4 << 20;
// Bytes an item counts in a chunk besides its key and value.
inline constexpr size_t stream_item_overhead_bytes = 16;

struct stream_item {
  column col = column::meta;
  std::string key;
  std::string value;
  friend bool operator==(const stream_item&, const stream_item&) = default;
};

// The leader's walk over one shard at one engine snapshot.
class shard_reader {
 public:
  // REQUIRES: `view` made by `e`; e outlives the reader.
  shard_reader(engine& e, std::shared_ptr<const snapshot> view, uint32_t shard);

  // The next items, at least one unless done, together at most bytes_max
  // (stream_item_bytes each) unless a single item is larger. io_error from
  // the scan. Empty once done().
  status_or<std::vector<stream_item>> next(size_t bytes_max = snapshot_chunk_bytes_max);
  bool done() const { return column_index_ >= 3; }

 private:
  engine& engine_;
  std::shared_ptr<const snapshot> view_;
  uint32_t shard_;
  size_t column_index_ = 0;             // into shard_dump_columns
  std::optional<std::string> after_;    // last key handed out in this column
};

size_t stream_item_bytes(const stream_item& item);

// What a durable marker records: the Raft snapshot being installed.
struct install_marker {
  uint64_t index = 0;
  uint64_t term = 0;
  friend bool operator==(const install_marker&, const install_marker&) = default;
};

std::string staging_prefix(uint32_t shard);
std::string marker_key(uint32_t shard);

// Step 1: erases the shard's staging ranges.
void stage_clear_staging(uint32_t shard, write_batch& batch);
// Step 2: stages `items`. malformed (naming the item) for a column outside
// shard_dump_columns or a key outside the shard's prefix; nothing is added then.
status stage_items(uint32_t shard, const std::vector<stream_item>& items, write_batch& batch);
// Step 3.
void stage_marker(uint32_t shard, const install_marker& marker, write_batch& batch);
// nullopt without a marker; corruption for a marker that is not 16 bytes.
status_or<std::optional<install_marker>> read_marker(engine& e, uint32_t shard);
// Steps 4 and 5. REQUIRES: the marker is written. io_error from the engine
// (then call recover_install after a restart, or again).
status finish_install(engine& e, uint32_t shard, size_t batch_bytes_max = install_batch_bytes_max);
// At start, before the state machine opens: with a marker, finishes the
// install (steps 4, 5) and returns it; without, erases any staging leftovers.
status_or<std::optional<install_marker>> recover_install(engine& e, uint32_t shard);

}  // namespace velocity
