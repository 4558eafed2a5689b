// Ticks, the term rules of every message, votes and role changes (paper 5.1,
// 5.2, 5.4.1; thesis 9.6 pre-vote, 6.2 check-quorum and leader stickiness,
// 3.10 leadership transfer's forced campaign).
//
// Thread safety: none (one owner).
// Invariants: a node votes at most once per term (vote_ only resets with a
// new term); pre-vote requests and granted pre-vote responses never change
// anybody's term; only members of their own voter set campaign.
#include <algorithm>
#include <limits>

#include "cluster/raft/raft_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::raft {

uint64_t raft::impl::next_random() {
  // splitmix64: small, seedable, identical on every platform.
  random_state_ += 0x9E3779B97F4A7C15ULL;
  uint64_t z = random_state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void raft::impl::reset_timers() {
  election_elapsed_ticks_ = 0;
  heartbeat_elapsed_ticks_ = 0;
  randomized_timeout_ticks_ =
      cfg_.election_ticks + static_cast<uint32_t>(next_random() % cfg_.election_ticks);
}

bool raft::impl::promotable() const { return log_.conf().is_voter(cfg_.id); }

void raft::impl::tick() {
  ++tick_count_;
  context_fresh_ = false;
  if (role_ == role::leader) {
    tick_leader();
    return;
  }
  if (election_elapsed_ticks_ < std::numeric_limits<uint32_t>::max()) ++election_elapsed_ticks_;
  if (leader_silence_ticks_ < std::numeric_limits<uint32_t>::max()) ++leader_silence_ticks_;
  if (promotable() && election_elapsed_ticks_ >= randomized_timeout_ticks_) campaign(false);
}

void raft::impl::tick_leader() {
  ++heartbeat_elapsed_ticks_;
  ++election_elapsed_ticks_;
  if (election_elapsed_ticks_ >= cfg_.election_ticks) {
    election_elapsed_ticks_ = 0;
    if (cfg_.check_quorum) {
      // Thesis 6.2: a leader that cannot reach a quorum steps down, so that
      // clients retry elsewhere and its lease reads stop.
      size_t active = 0;
      for (node_id v : log_.conf().voters) {
        if (v == cfg_.id) {
          ++active;
          continue;
        }
        auto it = progress_.find(v);
        if (it != progress_.end() && it->second.recent_active) ++active;
      }
      if (active < log_.conf().quorum()) {
        become_follower(term_, no_node);
        return;
      }
    }
    for (auto& [id, pr] : progress_) pr.recent_active = false;
  }
  if (transferee_ != no_node && ++transfer_elapsed_ticks_ >= cfg_.election_ticks) abort_transfer();
  tick_snapshots();
  if (heartbeat_elapsed_ticks_ >= cfg_.heartbeat_ticks) {
    heartbeat_elapsed_ticks_ = 0;
    broadcast_heartbeat();
  }
}

void raft::impl::step(const message& m) {
  if (m.from == no_node || m.from == cfg_.id || m.to != cfg_.id) return;
  context_fresh_ = false;
  if (!step_term(m)) return;
  step_role(m);
}

bool raft::impl::in_leader_lease() const {
  return cfg_.check_quorum && heard_from_leader_recently();
}

bool raft::impl::heard_from_leader_recently() const {
  if (role_ == role::leader) return true;
  return leader_silence_ticks_ < cfg_.election_ticks;
}

// The term rules, before the role sees the message. Returns false when the
// message is consumed here.
bool raft::impl::step_term(const message& m) {
  bool vote_request = m.type == message_type::vote || m.type == message_type::pre_vote;
  if (m.term > term_) {
    // Leader stickiness (thesis 9.6): a live leader's followers ignore
    // disruptive candidates, unless the leader itself asked (force).
    if (vote_request && !m.force && in_leader_lease()) return false;
    if (m.type == message_type::pre_vote) return true;
    if (m.type == message_type::pre_vote_response && !m.reject) return true;
    bool from_leader = m.type == message_type::append || m.type == message_type::heartbeat ||
                       m.type == message_type::snapshot_chunk;
    become_follower(m.term, from_leader ? m.from : no_node);
    return true;
  }
  if (m.term < term_) {
    if (m.type == message_type::append || m.type == message_type::heartbeat) {
      // A stale leader (e.g. behind a partition that kept its term lower)
      // learns our term and steps down; with pre-vote and check-quorum no
      // vote request would ever tell it, and it would keep a partitioned
      // node with a higher term from ever rejoining.
      message r;
      r.type = message_type::append_response;
      r.to = m.from;
      send(std::move(r), true);
    } else if (m.type == message_type::pre_vote) {
      message r;
      r.type = message_type::pre_vote_response;
      r.to = m.from;
      r.reject = true;
      send(std::move(r), true);
    }
    return false;
  }
  return true;
}

void raft::impl::step_role(const message& m) {
  switch (m.type) {
    case message_type::pre_vote:
    case message_type::vote:
      handle_vote_request(m);
      return;
    case message_type::pre_vote_response:
    case message_type::vote_response:
      handle_vote_response(m);
      return;
    case message_type::append:
    case message_type::heartbeat:
    case message_type::snapshot_chunk:
      if (role_ == role::leader) return;  // two leaders in one term cannot happen
      if (role_ != role::follower) become_follower(term_, m.from);
      leader_ = m.from;
      election_elapsed_ticks_ = 0;
      leader_silence_ticks_ = 0;
      if (m.type == message_type::append)
        handle_append(m);
      else if (m.type == message_type::heartbeat)
        handle_heartbeat(m);
      else
        handle_snapshot_chunk(m);
      return;
    case message_type::append_response:
      if (role_ == role::leader) handle_append_response(m);
      return;
    case message_type::heartbeat_response:
      if (role_ == role::leader) handle_heartbeat_response(m);
      return;
    case message_type::snapshot_response:
      if (role_ == role::leader) handle_snapshot_response(m);
      return;
    case message_type::timeout_now:
      if (role_ != role::leader) campaign(true);
      return;
    case message_type::commit_notice:
      if (role_ == role::leader) handle_commit_notice(m);
      return;
  }
}

void raft::impl::handle_vote_request(const message& m) {
  bool pre = m.type == message_type::pre_vote;
  bool can_vote = vote_ == m.from || (vote_ == no_node && leader_ == no_node) ||
                  (pre && m.term > term_);
  bool log_ok = cfg_.bug == injected_bug::vote_ignores_log ||
                log_.is_up_to_date(m.index, m.log_term);
  bool grant = can_vote && log_ok;
  // Leader stickiness also at our own term: step_term only guards higher
  // terms, and a stale higher-term answer may have moved us to the
  // candidate's term with no leader while our promise still holds.
  bool sticky = pre ? heard_from_leader_recently() : in_leader_lease() && vote_ != m.from;
  if (!m.force && sticky) grant = false;
  if (grant && !pre) {
    vote_ = m.from;
    election_elapsed_ticks_ = 0;
  }
  message r;
  r.type = pre ? message_type::pre_vote_response : message_type::vote_response;
  r.to = m.from;
  // A granted pre-vote answers at the proposed term (so the pre-candidate can
  // tell it from an old answer); everything else at our term.
  r.term = grant && pre ? m.term : term_;
  r.reject = !grant;
  send(std::move(r), true);
}

void raft::impl::handle_vote_response(const message& m) {
  bool pre = m.type == message_type::pre_vote_response;
  if (pre ? role_ != role::pre_candidate : role_ != role::candidate) return;
  if (pre && !m.reject && m.term != term_ + 1) return;
  if (!log_.conf().is_voter(m.from)) return;
  votes_.emplace(m.from, !m.reject);  // the first answer of each voter counts
  size_t granted = 0;
  size_t rejected = 0;
  for (const auto& [id, yes] : votes_) (yes ? granted : rejected)++;
  size_t quorum = log_.conf().quorum();
  if (granted >= quorum) {
    if (pre)
      become_candidate(false);
    else
      become_leader();
  } else if (rejected >= quorum) {
    become_follower(term_, no_node);
  }
}

void raft::impl::campaign(bool force) {
  if (!promotable()) return;
  if (cfg_.pre_vote && !force)
    become_pre_candidate();
  else
    become_candidate(force);
}

void raft::impl::become_follower(term_t term, node_id leader) {
  bool was_leader = role_ == role::leader;
  if (term != term_) {
    term_ = term;
    vote_ = no_node;
    incoming_active_ = false;
  }
  role_ = role::follower;
  leader_ = leader;
  votes_.clear();
  reset_timers();
  if (was_leader) {
    drop_reads();
    abort_transfer();
    progress_.clear();
    round_send_tick_.clear();
    lease_expiry_tick_ = 0;
  }
}

void raft::impl::become_pre_candidate() {
  VELOCITY_CHECK(role_ != role::leader);
  role_ = role::pre_candidate;
  leader_ = no_node;
  votes_.clear();
  votes_.emplace(cfg_.id, true);
  reset_timers();
  if (votes_.size() >= log_.conf().quorum()) {
    become_candidate(false);
    return;
  }
  for (node_id v : log_.conf().voters) {
    if (v == cfg_.id) continue;
    message m;
    m.type = message_type::pre_vote;
    m.to = v;
    m.term = term_ + 1;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    send(std::move(m), false);
  }
}

void raft::impl::become_candidate(bool force) {
  VELOCITY_CHECK(role_ != role::leader);
  term_ += 1;
  vote_ = cfg_.id;
  role_ = role::candidate;
  leader_ = no_node;
  incoming_active_ = false;
  votes_.clear();
  votes_.emplace(cfg_.id, true);
  reset_timers();
  if (votes_.size() >= log_.conf().quorum()) {
    become_leader();
    return;
  }
  for (node_id v : log_.conf().voters) {
    if (v == cfg_.id) continue;
    message m;
    m.type = message_type::vote;
    m.to = v;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.force = force;
    send(std::move(m), true);  // our own vote must be durable first
  }
}

void raft::impl::become_leader() {
  VELOCITY_CHECK(role_ == role::candidate);
  role_ = role::leader;
  leader_ = cfg_.id;
  // It campaigned after its promise ran out or on a timeout_now (whose sender
  // holds no lease): once it steps down it owes no other leader a promise.
  leader_silence_ticks_ = cfg_.election_ticks;
  votes_.clear();
  reset_timers();
  progress_.clear();
  round_send_tick_.clear();
  lease_expiry_tick_ = 0;
  transferee_ = no_node;
  transfer_elapsed_ticks_ = 0;
  timeout_now_sent_ = false;
  uncommitted_bytes_ = 0;
  for (index_t i = commit_ + 1; i <= log_.last_index(); ++i)
    uncommitted_bytes_ += entry_bytes(*log_.find(i));
  sync_progress();
  // Paper 5.4.2 / thesis 6.4: an entry of the new term lets the leader commit
  // (and learn) everything before it.
  append_local(entry_kind::normal, std::string{});
  broadcast_append(false);
}

}  // namespace velocity::raft
