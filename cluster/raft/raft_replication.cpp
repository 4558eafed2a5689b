// Log replication and commitment (paper 5.3, 5.4.2; thesis 10.2.1 for
// batching, pipelining and flow control): proposals, appends with fast
// backtracking, the leader's commit rule, heartbeats, and message placement
// in a ready.
//
// Thread safety: none (one owner).
// Invariants: no committed entry is ever truncated (VELOCITY_CHECK); a
// follower commits only entries this message proved to match the leader; the
// leader commits only a current-term entry held durably by a quorum of voters
// (its own durable = stable index).
#include <algorithm>

#include "cluster/raft/raft_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::raft {

void raft::impl::send(message m, bool after_persist) {
  m.from = cfg_.id;
  if (m.term == 0) m.term = term_;
  // The injected bug acknowledges appends before they are durable.
  if (cfg_.bug == injected_bug::ack_before_persist && m.type == message_type::append_response)
    after_persist = false;
  (after_persist ? messages_after_persist_ : messages_).push_back(std::move(m));
}

status raft::impl::leader_check() const {
  if (role_ != role::leader)
    return status{error_code::not_leader, "not leader; leader is " + std::to_string(leader_)};
  if (transferee_ != no_node)
    return status{error_code::unavailable,
                  "leadership transfer to " + std::to_string(transferee_) + " in progress"};
  return status{};
}

status_or<entry_id> raft::impl::propose_entry(entry_kind kind, std::string data) {
  if (auto s = leader_check(); !s.ok()) return s;
  size_t bytes = data.size() + entry_overhead_bytes;
  // One entry alone may exceed the limit, or nothing could ever be proposed.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > cfg_.uncommitted_bytes_max)
    return status{error_code::overloaded, "uncommitted entries hold " +
                                              std::to_string(uncommitted_bytes_) +
                                              " bytes; limit " +
                                              std::to_string(cfg_.uncommitted_bytes_max)};
  append_local(kind, std::move(data));
  broadcast_append(false);
  return log_.last_id();
}

void raft::impl::append_local(entry_kind kind, std::string data) {
  entry e;
  e.term = term_;
  e.index = log_.last_index() + 1;
  e.kind = kind;
  e.data = std::move(data);
  uncommitted_bytes_ += entry_bytes(e);
  log_.append(std::move(e));
  if (kind == entry_kind::conf_change) sync_progress();
}

void raft::impl::send_append(node_id to, progress& pr, bool allow_empty) {
  bool sent = false;
  while (!pr.paused(cfg_.inflight_messages_max, cfg_.inflight_bytes_max)) {
    pr.next = std::min(pr.next, log_.last_index() + 1);
    index_t prev = pr.next - 1;
    auto prev_term = log_.term_at(prev);
    if (!prev_term) {
      // The entries the follower needs are compacted: send the snapshot.
      pr.become_snapshot(log_.snapshot_index());
      send_snapshot_chunk(to, pr);
      return;
    }
    auto entries = log_.slice(pr.next, log_.last_index(), cfg_.append_bytes_max);
    if (entries.empty() && (sent || !allow_empty)) return;
    message m;
    m.type = message_type::append;
    m.to = to;
    m.index = prev;
    m.log_term = *prev_term;
    m.commit = commit_;
    m.entries = std::move(entries);
    // A node that joined later lacks the initial membership, which is not in
    // any entry: the first append carries it (see handle_append).
    if (prev == 0 && log_.snapshot_index() == 0) m.snap_meta = log_.snap().meta;
    index_t last_sent = prev + m.entries.size();
    size_t bytes = message_bytes(m);
    bool empty = m.entries.empty();
    send(std::move(m), false);
    sent = true;
    if (empty) return;
    if (pr.st == progress::state::probe) {
      pr.probe_sent = true;
      return;
    }
    pr.optimistic_update(last_sent);
    pr.window.add(last_sent, bytes);
  }
}

void raft::impl::broadcast_append(bool allow_empty) {
  for (auto& [id, pr] : progress_) send_append(id, pr, allow_empty);
}

void raft::impl::reply_append(const message& m, bool reject, index_t index, index_t hint) {
  message r;
  r.type = message_type::append_response;
  r.to = m.from;
  r.index = index;
  r.reject = reject;
  r.commit = commit_;  // the leader counts who knows what is committed
  if (reject) {
    r.reject_hint = hint;
    r.log_term = log_.term_at(hint).value_or(0);
  }
  send(std::move(r), true);
}

void raft::impl::handle_append(const message& m) {
  // Malformed input is ignored: entries must follow m.index contiguously and
  // carry no term above the leader's, nor run past the largest index.
  if (m.index > index_accepted_max || m.entries.size() > index_accepted_max - m.index) return;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    if (m.entries[i].index != m.index + 1 + i || m.entries[i].term > m.term) return;
    if (i > 0 && m.entries[i].term < m.entries[i - 1].term) return;
  }
  if (m.log_term > m.term) return;
  maybe_adopt_initial_conf(m);
  index_t prev = m.index;
  term_t prev_term = m.log_term;
  size_t start = 0;
  // Entries at or below our commit are identical on every replica (Log
  // Matching): skip them. This also covers a prev index we have compacted.
  if (prev < commit_) {
    start = static_cast<size_t>(std::min<index_t>(commit_ - prev, m.entries.size()));
    if (start == m.entries.size()) {
      reply_append(m, false, commit_, 0);
      return;
    }
    prev += start;
    prev_term = m.entries[start - 1].term;
  }
  auto ours = log_.term_at(prev);
  if (!ours || *ours != prev_term) {
    index_t hint = log_.last_index();
    if (ours) {
      // Fast backtracking (paper 5.3, end): point at the first index of our
      // conflicting term, so the leader skips that whole term at once.
      hint = prev;
      while (hint - 1 > commit_ && log_.term_at(hint - 1) == ours) --hint;
    }
    reply_append(m, true, m.index, std::min(hint, log_.last_index()));
    return;
  }
  for (size_t i = start; i < m.entries.size(); ++i) {
    const entry& e = m.entries[i];
    auto existing = log_.term_at(e.index);
    if (existing && *existing == e.term) continue;
    if (existing) {
      VELOCITY_CHECK_LT(commit_, e.index);  // truncating a committed entry is a safety bug
      log_.truncate_from(e.index);
    }
    for (size_t j = i; j < m.entries.size(); ++j) log_.append(m.entries[j]);
    break;
  }
  index_t last_new = m.index + m.entries.size();
  const index_t before = commit_;
  commit_to(std::min(m.commit, last_new));
  notify_commit(m.from, before);
  reply_append(m, false, last_new, 0);
}

void raft::impl::maybe_adopt_initial_conf(const message& m) {
  if (m.index != 0 || m.snap_meta.index != 0 || m.snap_meta.conf.voters.empty()) return;
  if (log_.snapshot_index() != 0 || !log_.snap().meta.conf.empty()) return;
  if (!well_formed(m.snap_meta.conf)) return;
  log_.adopt_initial_conf(m.snap_meta.conf);
  snap_pending_ = true;  // persist the membership with the (empty) snapshot
}

void raft::impl::handle_commit_notice(const message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  it->second.commit_known = std::max(it->second.commit_known, std::min(m.commit, commit_));
}

// A follower whose commit index a leader's message advanced tells it at
// once, before persisting anything (it promises no durable state): the
// leader's known_committed() then releases held acknowledgements one round
// trip after the commit instead of after this follower's next fsync.
void raft::impl::notify_commit(node_id leader, index_t before) {
  if (commit_ <= before || leader == no_node || leader == cfg_.id) return;
  message n;
  n.type = message_type::commit_notice;
  n.to = leader;
  n.commit = commit_;
  send(std::move(n), false);
}

void raft::impl::commit_to(index_t index) {
  if (index <= commit_) return;
  VELOCITY_CHECK_LE(index, log_.last_index());
  commit_ = index;
}

index_t raft::impl::retry_next_for(const message& m) const {
  // The follower holds log_term at reject_hint: the last index of ours that
  // can match is the last one at or below it with a term <= log_term.
  index_t j = std::min({m.reject_hint, m.index - 1, log_.last_index()});
  while (j > log_.snapshot_index()) {
    auto t = log_.term_at(j);
    if (t && *t <= m.log_term) break;
    --j;
  }
  return j + 1;
}

void raft::impl::handle_append_response(const message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  progress& pr = it->second;
  pr.recent_active = true;
  pr.commit_known = std::max(pr.commit_known, std::min(m.commit, commit_));
  if (m.reject) {
    if (m.index == 0) return;  // nothing before index 1 can mismatch
    if (pr.maybe_decrease(m.index, retry_next_for(m))) send_append(m.from, pr, false);
    return;
  }
  if (m.index > log_.last_index()) return;  // not an answer to anything we sent
  index_t old_commit = commit_;
  if (pr.maybe_update(m.index)) {
    if (pr.st == progress::state::probe)
      pr.become_replicate();
    else if (pr.st == progress::state::replicate)
      pr.window.free_to(m.index);
    else if (pr.match >= pr.pending_snapshot)
      pr.become_probe();
    if (maybe_commit()) commit_advanced(old_commit);
    if (role_ != role::leader) return;  // a removed leader stepped down
    maybe_send_timeout_now(m.from, pr);
  } else if (pr.st == progress::state::replicate) {
    pr.window.free_to(m.index);
  }
  send_append(m.from, pr, false);
}

// The highest value that a quorum of voters has reached: the leader counts
// with self_value, each other voter with its progress `field` (0 without
// progress). 0 when there are no voters. Shared by commit and ReadIndex.
uint64_t raft::impl::quorum_value(uint64_t self_value, uint64_t progress::*field) const {
  const auto& voters = log_.conf().voters;
  if (voters.empty()) return 0;
  std::vector<uint64_t> values;
  values.reserve(voters.size());
  for (node_id v : voters) {
    if (v == cfg_.id) {
      values.push_back(self_value);
      continue;
    }
    auto it = progress_.find(v);
    values.push_back(it == progress_.end() ? 0 : it->second.*field);
  }
  std::sort(values.begin(), values.end(), std::greater<>());
  return values[log_.conf().quorum() - 1];
}

bool raft::impl::maybe_commit() {
  index_t candidate = quorum_value(log_.stable_index(), &progress::match);
  if (candidate <= commit_) return false;
  // Paper 5.4.2 (figure 8): only an entry of the current term commits by
  // counting replicas; earlier ones commit with it.
  if (cfg_.bug != injected_bug::commit_previous_term_by_counting &&
      log_.term_at(candidate) != term_)
    return false;
  commit_ = candidate;
  return true;
}

void raft::impl::commit_advanced(index_t old_commit) {
  for (index_t i = old_commit + 1; i <= commit_; ++i) {
    size_t bytes = entry_bytes(*log_.find(i));
    uncommitted_bytes_ -= std::min(uncommitted_bytes_, bytes);
  }
  maybe_step_down_removed();
  if (role_ != role::leader) return;
  release_reads();
  broadcast_append(true);  // followers learn the new commit index promptly
}

void raft::impl::broadcast_heartbeat() {
  uint64_t context = start_round();
  for (auto& [id, pr] : progress_) {
    message m;
    m.type = message_type::heartbeat;
    m.to = id;
    // Never beyond what the follower is known to hold matching ours.
    m.commit = std::min(pr.match, commit_);
    m.context = context;
    send(std::move(m), false);
  }
  release_reads();  // a leader that is the only voter confirms itself
}

void raft::impl::handle_heartbeat(const message& m) {
  const index_t before = commit_;
  commit_to(std::min(m.commit, log_.last_index()));
  notify_commit(m.from, before);
  message r;
  r.type = message_type::heartbeat_response;
  r.to = m.from;
  r.context = m.context;
  r.commit = commit_;
  send(std::move(r), true);
}

void raft::impl::handle_heartbeat_response(const message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  progress& pr = it->second;
  pr.recent_active = true;
  pr.commit_known = std::max(pr.commit_known, std::min(m.commit, commit_));
  pr.probe_sent = false;  // probe: one append per heartbeat interval
  if (m.context > pr.acked_context && m.context <= context_) {
    pr.acked_context = m.context;
    release_reads();
  }
  bool behind = pr.match < log_.last_index();
  if (pr.st == progress::state::replicate && behind && pr.match == pr.match_at_heartbeat) {
    // No acknowledgement for two heartbeat round trips: the pipeline's
    // appends were probably lost; probe again.
    if (++pr.stalled_heartbeats >= 2) pr.become_probe();
  } else {
    pr.stalled_heartbeats = 0;
  }
  pr.match_at_heartbeat = pr.match;
  if (behind) send_append(m.from, pr, false);
}

}  // namespace velocity::raft
