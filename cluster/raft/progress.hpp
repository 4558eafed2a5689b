// The leader's view of one follower's log (etcd's tracker.Progress shape):
// what is known to match, what to send next, and the flow-control window.
//
// States (thesis 10.2.1 / etcd): probe sends one append per heartbeat until a
// match is known; replicate sends optimistically (next runs ahead of match),
// bounded by the inflight window; snapshot waits for a snapshot transfer.
//
// Thread safety: none (owned by one raft::impl).
// Invariants: match < next; inflight entries are strictly increasing last
// indexes above match; inflight bytes equal the sum of the window's sizes.
// Duplicated or reordered acknowledgements never move match backwards, and a
// stale rejection never moves next below match + 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "cluster/raft/types.hpp"

namespace velocity::raft {

// The appends sent but not yet acknowledged to one follower.
class inflight_window {
 public:
  void add(index_t last_index, size_t bytes);
  // Frees every append whose last index is <= index (acknowledged).
  void free_to(index_t index);
  void reset();
  bool full(size_t messages_max, size_t bytes_max) const;
  size_t count() const { return items_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct item {
    index_t last_index;
    size_t bytes;
  };
  std::deque<item> items_;
  size_t bytes_ = 0;
};

struct progress {
  enum class state : uint8_t { probe = 0, replicate = 1, snapshot = 2 };

  index_t match = 0;
  index_t next = 1;
  state st = state::probe;
  // probe: an append was sent this heartbeat interval (wait for an answer or
  // the next heartbeat).
  bool probe_sent = false;
  // Any message from the follower since the last check-quorum round.
  bool recent_active = false;
  inflight_window window;

  // snapshot state: the snapshot index being transferred, the next byte to
  // send, and ticks since the last chunk went out without an answer.
  index_t pending_snapshot = 0;
  uint64_t snapshot_offset = 0;
  bool snapshot_answered = true;
  uint32_t snapshot_wait_ticks = 0;

  // ReadIndex / lease: the highest heartbeat context the follower echoed.
  uint64_t acked_context = 0;
  // The highest commit index the follower reported in a response: it knows
  // every entry up to here is committed (and applies them before it answers
  // a quorum read). Not durable on the follower; see raft::known_committed.
  index_t commit_known = 0;
  // match when the previous heartbeat response arrived, and how many
  // responses in a row found it unchanged with entries outstanding: detects a
  // replicate pipeline whose appends were all lost.
  index_t match_at_heartbeat = 0;
  uint32_t stalled_heartbeats = 0;

  // An acceptance up to n. Returns true if match advanced.
  bool maybe_update(index_t n);
  // A rejection of the append whose prev index was `rejected`, with retry
  // point `retry_next`: back to probe from there. Returns false for a stale
  // rejection (ignored).
  bool maybe_decrease(index_t rejected, index_t retry_next);
  // In replicate: entries up to last_index were sent.
  void optimistic_update(index_t last_index) { next = last_index + 1; }

  void become_probe();
  void become_replicate();
  void become_snapshot(index_t snapshot_index);
  bool paused(size_t messages_max, size_t bytes_max) const;
};

}  // namespace velocity::raft
