// Snapshots (paper section 7): local compaction by the application, and the
// leader's chunked transfer of its latest snapshot to a follower whose next
// entry it no longer holds, with one chunk in flight per follower.
//
// Thread safety: none (one owner).
// Invariants: a follower installs only a complete snapshot (every byte, the
// announced total) of the meta it started assembling, only one newer than its
// commit index, and only when its log does not hold the snapshot's last entry
// (then it commits up to it instead), so installing never discards a
// committed entry, nor one it acknowledged to this leader.
#include <algorithm>

#include "cluster/raft/raft_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::raft {

status raft::impl::compact(index_t index, std::string data) {
  if (index > applied_)
    return status{error_code::invalid_argument, "compact index " + std::to_string(index) +
                                                    " is above the applied index " +
                                                    std::to_string(applied_)};
  if (index <= log_.snapshot_index())
    return status{error_code::invalid_argument, "compact index " + std::to_string(index) +
                                                    " is not above the snapshot index " +
                                                    std::to_string(log_.snapshot_index())};
  log_.compact(index, std::move(data));
  snap_pending_ = true;
  return status{};
}

void raft::impl::send_snapshot_chunk(node_id to, progress& pr) {
  const snapshot& s = log_.snap();
  if (pr.pending_snapshot != s.meta.index) {
    // Compacted again since the transfer began: send the newer snapshot.
    pr.pending_snapshot = s.meta.index;
    pr.snapshot_offset = 0;
  }
  uint64_t offset = std::min<uint64_t>(pr.snapshot_offset, s.data.size());
  uint64_t length = std::min<uint64_t>(cfg_.snapshot_chunk_bytes, s.data.size() - offset);
  message m;
  m.type = message_type::snapshot_chunk;
  m.to = to;
  m.snap_meta = s.meta;
  m.snap_offset = offset;
  m.snap_data = s.data.substr(offset, length);
  m.snap_total_bytes = s.data.size();
  m.snap_done = offset + length == s.data.size();
  pr.snapshot_offset = offset;
  pr.snapshot_answered = false;
  pr.snapshot_wait_ticks = 0;
  send(std::move(m), false);
}

void raft::impl::tick_snapshots() {
  // A chunk unanswered for two heartbeat intervals is presumed lost.
  uint32_t resend_ticks = 2 * cfg_.heartbeat_ticks;
  for (auto& [id, pr] : progress_) {
    if (pr.st != progress::state::snapshot || pr.snapshot_answered) continue;
    if (++pr.snapshot_wait_ticks >= resend_ticks) send_snapshot_chunk(id, pr);
  }
}

void raft::impl::reply_snapshot(const message& m, bool reject, uint64_t offset, bool done) {
  message r;
  r.type = message_type::snapshot_response;
  r.to = m.from;
  r.index = m.snap_meta.index;
  r.snap_offset = offset;
  r.reject = reject;
  r.snap_done = done;
  send(std::move(r), true);
}

void raft::impl::handle_snapshot_chunk(const message& m) {
  const snapshot_meta& meta = m.snap_meta;
  // Malformed input is ignored: near the largest index the log's first index
  // (snapshot index + 1) or a later leader's next index would wrap; a
  // leader's snapshot always has a voter, and its lists are well formed.
  if (meta.index > index_accepted_max || meta.conf.voters.empty() ||
      !well_formed(meta.conf))
    return;
  if (meta.index <= commit_) {
    // Not newer than what we know is committed: nothing to install, but the
    // leader learns it can continue with appends after it.
    reply_snapshot(m, false, m.snap_total_bytes, true);
    return;
  }
  if (log_.term_at(meta.index) == meta.term) {
    // Our log already holds the snapshot's last entry, so it matches the
    // leader up to there: commit instead of installing, keeping the entries
    // after it (we may have acknowledged them, and match must not regress).
    commit_to(meta.index);
    incoming_active_ = false;
    reply_snapshot(m, false, m.snap_total_bytes, true);
    return;
  }
  bool same = incoming_active_ && incoming_meta_ == meta &&
              incoming_total_bytes_ == m.snap_total_bytes;
  if (!same) {
    if (m.snap_offset != 0 || meta.term > m.term) {
      incoming_active_ = false;
      reply_snapshot(m, true, 0, false);  // restart from the first chunk
      return;
    }
    incoming_active_ = true;
    incoming_meta_ = meta;
    incoming_total_bytes_ = m.snap_total_bytes;
    incoming_data_.clear();
  }
  if (m.snap_offset < incoming_data_.size()) {
    reply_snapshot(m, false, incoming_data_.size(), false);  // a duplicate chunk
    return;
  }
  if (m.snap_offset > incoming_data_.size() ||
      incoming_data_.size() + m.snap_data.size() > incoming_total_bytes_) {
    incoming_active_ = false;
    reply_snapshot(m, true, 0, false);  // a gap: restart
    return;
  }
  incoming_data_ += m.snap_data;
  if (!m.snap_done) {
    reply_snapshot(m, false, incoming_data_.size(), false);
    return;
  }
  if (incoming_data_.size() != incoming_total_bytes_) {
    incoming_active_ = false;
    reply_snapshot(m, true, 0, false);
    return;
  }
  snapshot s;
  s.meta = incoming_meta_;
  s.data = std::move(incoming_data_);
  incoming_data_.clear();
  incoming_active_ = false;
  install_snapshot(std::move(s));
  reply_snapshot(m, false, m.snap_total_bytes, true);
}

void raft::impl::install_snapshot(snapshot snap) {
  VELOCITY_CHECK_LT(commit_, snap.meta.index);
  index_t index = snap.meta.index;
  log_.install(std::move(snap));
  commit_ = index;
  applied_ = index;
  applied_pending_ = std::max(applied_pending_, index);
  snap_pending_ = true;
  snap_from_leader_ = true;
}

void raft::impl::handle_snapshot_response(const message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  progress& pr = it->second;
  pr.recent_active = true;
  if (m.snap_done && !m.reject) {
    // The follower holds (or already had committed) everything up to m.index.
    if (m.index > log_.last_index()) return;
    index_t old_commit = commit_;
    bool updated = pr.maybe_update(m.index);
    if (pr.st == progress::state::snapshot && pr.match >= pr.pending_snapshot) pr.become_probe();
    if (updated && maybe_commit()) commit_advanced(old_commit);
    if (role_ != role::leader) return;
    send_append(m.from, pr, false);
    return;
  }
  if (pr.st != progress::state::snapshot || m.index != pr.pending_snapshot) return;
  if (m.reject) {
    pr.snapshot_offset = 0;
  } else if (m.snap_offset > pr.snapshot_offset) {
    pr.snapshot_offset = m.snap_offset;
  } else {
    return;  // a duplicate or stale acknowledgement
  }
  pr.snapshot_answered = true;
  send_snapshot_chunk(m.from, pr);
}

}  // namespace velocity::raft
