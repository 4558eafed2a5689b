// Implements progress.hpp (per-follower replication state and the inflight
// window). Thread safety: none (one owner).
#include "cluster/raft/progress.hpp"

#include <algorithm>

#include "protocols/check.hpp"

namespace velocity::raft {

void inflight_window::add(index_t last_index, size_t bytes) {
  VELOCITY_CHECK(items_.empty() || items_.back().last_index < last_index);
  items_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void inflight_window::free_to(index_t index) {
  while (!items_.empty() && items_.front().last_index <= index) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void inflight_window::reset() {
  items_.clear();
  bytes_ = 0;
}

bool inflight_window::full(size_t messages_max, size_t bytes_max) const {
  return items_.size() >= messages_max || bytes_ >= bytes_max;
}

bool progress::maybe_update(index_t n) {
  bool updated = false;
  if (n > match) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool progress::maybe_decrease(index_t rejected, index_t retry_next) {
  // Anything at or below match was accepted already: the rejection is old.
  if (rejected <= match) return false;
  if (st == state::snapshot) return false;
  // probe: only the answer to the probe in flight (prev index next - 1) counts.
  if (st == state::probe && rejected != next - 1) return false;
  become_probe();
  next = std::max(match + 1, std::min(retry_next, rejected));
  return true;
}

void progress::become_probe() {
  // After an installed snapshot the caller has raised match to its index.
  next = match + 1;
  st = state::probe;
  probe_sent = false;
  pending_snapshot = 0;
  window.reset();
}

void progress::become_replicate() {
  st = state::replicate;
  next = match + 1;
  probe_sent = false;
  window.reset();
}

void progress::become_snapshot(index_t snapshot_index) {
  st = state::snapshot;
  pending_snapshot = snapshot_index;
  snapshot_offset = 0;
  snapshot_answered = true;
  snapshot_wait_ticks = 0;
  probe_sent = false;
  window.reset();
}

bool progress::paused(size_t messages_max, size_t bytes_max) const {
  switch (st) {
    case state::probe:
      return probe_sent;
    case state::replicate:
      return window.full(messages_max, bytes_max);
    case state::snapshot:
      return true;
  }
  return true;
}

}  // namespace velocity::raft
