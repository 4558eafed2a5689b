// Linearizable reads (thesis 6.4: ReadIndex; 6.4.1: leader leases) and
// leadership transfer (thesis 3.10).
//
// Thread safety: none (one owner).
// Invariants: a read is released only after a quorum of voters acknowledged
// a heartbeat round that started after the read was recorded (or, for lease
// reads, while a lease confirmed that way holds); a read's index is the
// commit index when it was recorded, and the leader had committed an entry
// of its own term by then. No lease is granted or honoured during a
// leadership transfer, since the target may win an election at once.
#include <algorithm>

#include "cluster/raft/raft_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::raft {

bool raft::impl::committed_in_term() const { return log_.term_at(commit_) == term_; }

bool raft::impl::lease_holds() const {
  return cfg_.lease_ticks > 0 && transferee_ == no_node && !timeout_now_sent_ &&
         tick_count_ < lease_expiry_tick_ && committed_in_term();
}

uint64_t raft::impl::start_round() {
  ++context_;
  // A round started during a transfer never confirms a lease.
  if (transferee_ == no_node) round_send_tick_[context_] = tick_count_;
  while (round_send_tick_.size() > read_rounds_max) round_send_tick_.erase(round_send_tick_.begin());
  return context_;
}

status raft::impl::read_index(uint64_t request_id, read_mode mode) {
  if (role_ != role::leader)
    return status{error_code::not_leader, "not leader; leader is " + std::to_string(leader_)};
  if (!committed_in_term())
    return status{error_code::unavailable,
                  "leader has not committed an entry of term " + std::to_string(term_) + " yet"};
  if (pending_reads_.size() >= pending_reads_max)
    return status{error_code::overloaded, "too many reads wait for leadership confirmation"};
  const auto& voters = log_.conf().voters;
  bool alone = voters.size() == 1 && voters.front() == cfg_.id;
  // injected_bug::read_without_quorum: the simulator's self-test of its
  // linearizability checker (a deposed leader then serves stale reads).
  bool skip_round = cfg_.bug == injected_bug::read_without_quorum;
  if (alone || skip_round || (mode == read_mode::lease && lease_holds())) {
    read_states_.push_back({request_id, commit_});
    return status{};
  }
  // Reads recorded since the last round began, with nothing delivered or
  // handed out in between, share its heartbeats.
  if (!context_fresh_) {
    broadcast_heartbeat();
    context_fresh_ = true;
  }
  pending_reads_.push_back({request_id, commit_, context_});
  return status{};
}

void raft::impl::release_reads() {
  if (role_ != role::leader) return;
  uint64_t confirmed = quorum_value(context_, &progress::acked_context);
  if (confirmed == 0) return;
  if (auto it = round_send_tick_.find(confirmed); it != round_send_tick_.end()) {
    // The lease runs from when the confirmed heartbeat was sent, not from
    // when the acknowledgements arrived (thesis 6.4.1), and one tick short:
    // a follower's first tick may come right after the heartbeat, so its
    // promise spans only election_ticks - 1 of its ticks; with lease_ticks - 1
    // here, tick rates within election_ticks / lease_ticks (raft.hpp) suffice.
    if (transferee_ == no_node && !timeout_now_sent_)
      lease_expiry_tick_ = std::max(lease_expiry_tick_, it->second + cfg_.lease_ticks - 1);
    round_send_tick_.erase(round_send_tick_.begin(), it);
  }
  while (!pending_reads_.empty() && pending_reads_.front().context <= confirmed) {
    read_states_.push_back({pending_reads_.front().request_id, pending_reads_.front().index});
    pending_reads_.pop_front();
  }
}

void raft::impl::drop_reads() {
  for (const auto& r : pending_reads_) dropped_reads_.push_back(r.request_id);
  pending_reads_.clear();
}

status raft::impl::transfer_leadership(node_id target) {
  if (role_ != role::leader)
    return status{error_code::not_leader, "not leader; leader is " + std::to_string(leader_)};
  if (target == cfg_.id)
    return status{error_code::invalid_argument, "leadership transfer to self"};
  if (!log_.conf().is_voter(target))
    return status{error_code::invalid_argument,
                  "leadership transfer target " + std::to_string(target) + " is not a voter"};
  if (transferee_ == target) {
    // A repeated request resends a timeout_now that may have been lost,
    // instead of waiting for the transfer to time out.
    if (auto it = progress_.find(target); it != progress_.end())
      maybe_send_timeout_now(target, it->second);
    return status{};
  }
  transferee_ = target;
  transfer_elapsed_ticks_ = 0;
  lease_expiry_tick_ = 0;  // the target may be elected before any lease ends
  auto it = progress_.find(target);
  VELOCITY_CHECK(it != progress_.end());
  if (it->second.match == log_.last_index())
    maybe_send_timeout_now(target, it->second);
  else
    send_append(target, it->second, false);
  return status{};
}

void raft::impl::maybe_send_timeout_now(node_id to, const progress& pr) {
  if (transferee_ != to || pr.match != log_.last_index()) return;
  message m;
  m.type = message_type::timeout_now;
  m.to = to;
  send(std::move(m), false);
  timeout_now_sent_ = true;
  lease_expiry_tick_ = 0;
}

void raft::impl::abort_transfer() {
  transferee_ = no_node;
  transfer_elapsed_ticks_ = 0;
}

}  // namespace velocity::raft
