// Implements replica.hpp: the ready contract of cluster/raft/types.hpp,
// step by step (the numbers below are the contract's).
//
// Thread safety: none (one owner).
#include "cluster/replica.hpp"

#include <algorithm>
#include <utility>

#include "protocols/check.hpp"

namespace velocity::cluster {

replica::replica(const replica_config& config, raft::durable_state state, raft::index_t applied,
                 raft::log_store& store, int64_t now_ns)
    : config_(config),
      store_(store),
      core_(config.raft, std::move(state), applied),
      applied_(std::max(applied, core_.snapshot_info().index)),
      next_tick_ns_(now_ns + config.tick_ns) {
  VELOCITY_CHECK_LT(0, config.tick_ns);
  VELOCITY_CHECK(config.compact_entries == 0 || config.compact_keep_entries < config.compact_entries);
  start_last_index_ = core_.last_index();
  start_last_term_ = core_.term_at(start_last_index_).value_or(0);
  drive();
}

void replica::tick_to(int64_t now_ns) {
  while (next_tick_ns_ <= now_ns) {
    core_.tick();
    ++ticks_delivered_;
    next_tick_ns_ += config_.tick_ns;
  }
  drive();
}

void replica::step(const raft::message& m) {
  core_.step(m);
  drive();
}

void replica::campaign() {
  core_.campaign();
  drive();
}

status replica::refuse(const status& core_error) const {
  if (core_error.code() != error_code::not_leader) return core_error;
  return status{error_code::not_leader,
                "not leader; leader is " + std::to_string(core_.leader_hint())};
}

status replica::propose(uint64_t request, std::string data) {
  VELOCITY_CHECK(request != 0);
  if (pending() >= replica_pending_max)
    return status{error_code::overloaded, "too many requests waiting for their log entries"};
  auto id = core_.propose(std::move(data));
  if (!id.ok()) return refuse(id.error());
  proposals_.emplace(id->index, std::make_pair(request, id->term));
  if (!config_.batch_requests) drive();
  return status{};
}

status replica::propose_conf_change(uint64_t request, const raft::conf_change& change) {
  VELOCITY_CHECK(request != 0);
  if (proposals_.size() + reads_.size() >= replica_pending_max)
    return status{error_code::overloaded, "too many requests waiting for their log entries"};
  auto id = core_.propose_conf_change(change);
  if (!id.ok()) return refuse(id.error());
  proposals_.emplace(id->index, std::make_pair(request, id->term));
  drive();
  return status{};
}

status replica::transfer_leadership(raft::node_id target) {
  const status started = core_.transfer_leadership(target);
  if (!started.ok()) return refuse(started);
  drive();
  return status{};
}

raft::node_id replica::hand_off() {
  if (core_.current_role() != raft::role::leader) return 0;
  raft::node_id target = 0;
  raft::index_t best = 0;
  for (raft::node_id voter : core_.conf().voters) {
    if (voter == config_.raft.id) continue;
    raft::index_t match = core_.match_of(voter).value_or(0);
    if (target == 0 || match > best) {
      target = voter;
      best = match;
    }
  }
  if (target == 0 || !transfer_leadership(target).ok()) return 0;
  return target;
}

status replica::read(uint64_t request, raft::read_mode mode, int64_t now_ns) {
  VELOCITY_CHECK(request != 0);
  if (pending() >= replica_pending_max)
    return status{error_code::overloaded, "too many requests waiting for their read index"};
  // raft.hpp: every elapsed tick before a lease read, or a leader waking
  // from a stall would serve a lease that expired while it slept.
  if (mode == raft::read_mode::lease) tick_to(now_ns);
  if (leads_alone() && core_.term_at(core_.commit_index()) == core_.term()) {
    // The only voter cannot be deposed, and it has committed an entry of
    // its term, so its commit index is the read index (what the core would
    // answer, without a ready cycle per read).
    reads_.emplace(request, pending_read{core_.commit_index()});
    serve_reads();
    return status{};
  }
  const status started = core_.read_index(request, mode);
  if (started.code() == error_code::unavailable && core_.current_role() == raft::role::leader) {
    // A new leader confirms reads only after committing an entry of its
    // term (thesis 6.4): wait for that instead of refusing the client.
    deferred_reads_.emplace_back(request, mode);
    return status{};
  }
  if (!started.ok()) return refuse(started);
  reads_.emplace(request, pending_read{});
  if (!config_.batch_requests) drive();
  return status{};
}

status replica::read_local(uint64_t request, bool at_commit) {
  VELOCITY_CHECK(request != 0);
  if (pending() >= replica_pending_max)
    return status{error_code::overloaded, "too many requests waiting for their read index"};
  if (!at_commit) {
    effect read;
    read.type = effect::kind::read;
    read.request = request;
    effects_.push_back(std::move(read));
    return status{};
  }
  if (!caught_up())
    return status{error_code::unavailable,
                  "this replica restarted and has not yet learned which of its entries are "
                  "committed"};
  reads_.emplace(request, pending_read{core_.commit_index()});
  serve_reads();
  return status{};
}

bool replica::caught_up() const {
  return applied_ >= start_last_index_ || applied_term_ > start_last_term_;
}

bool replica::leads_alone() const {
  const auto& voters = core_.conf().voters;
  return core_.current_role() == raft::role::leader && voters.size() == 1 &&
         voters.front() == config_.raft.id;
}

void replica::retry_deferred_reads() {
  if (deferred_reads_.empty()) return;
  auto waiting = std::move(deferred_reads_);
  deferred_reads_.clear();
  for (const auto& [request, mode] : waiting) {
    const status started = core_.read_index(request, mode);
    if (started.code() == error_code::unavailable &&
        core_.current_role() == raft::role::leader) {
      deferred_reads_.emplace_back(request, mode);
    } else if (!started.ok()) {
      push_fail(request, refuse(started));
    } else {
      reads_.emplace(request, pending_read{});
    }
  }
}

void replica::persisted(uint64_t token) {
  if (!in_flight_ || token != token_) return;  // a stale token (never expected)
  raft::ready rd = std::move(*in_flight_);
  in_flight_.reset();
  finish(rd);
  drive();
}

void replica::compact(raft::index_t index, std::string data) {
  capture_asked_ = false;
  compaction_.emplace(index, std::move(data));
  drive();
}

std::vector<effect> replica::take_effects() {
  std::vector<effect> out;
  out.swap(effects_);
  return out;
}

void replica::take_effects(std::vector<effect>& out) {
  out.clear();
  out.swap(effects_);
}

void replica::fail_all(const status& error) {
  for (const auto& [index, proposal] : proposals_)
    push_fail(proposal.first, error);
  proposals_.clear();
  for (const auto& [request, read] : reads_) push_fail(request, error);
  reads_.clear();
  for (const auto& [request, mode] : deferred_reads_) push_fail(request, error);
  deferred_reads_.clear();
  for (const auto& [index, request] : held_) push_fail(request, error);
  held_.clear();
}

void replica::push_send(std::vector<raft::message> messages) {
  effect send;
  send.type = effect::kind::send;
  send.messages = std::move(messages);
  effects_.push_back(std::move(send));
}

void replica::push_fail(uint64_t request, status error, bool never_applied) {
  effect fail;
  fail.type = effect::kind::fail;
  fail.request = request;
  fail.error = std::move(error);
  fail.never_applied = never_applied;
  effects_.push_back(std::move(fail));
}

// Takes readies until one must wait for its sync (only one outstanding),
// then what the core hands out early while it syncs.
void replica::drive() {
  drive_readies();
  drive_early();
  release_confirmed();
}

// Held replies whose entries a quorum now knows are committed go out; a
// replica that stopped leading cannot learn that any more.
void replica::release_confirmed() {
  if (held_.empty()) return;
  if (core_.current_role() != raft::role::leader) {
    for (const auto& [index, request] : held_)
      push_fail(request, status{error_code::timeout,
                                "outcome unknown: applied, but leadership changed before a "
                                "majority confirmed it; read it back"});
    held_.clear();
    return;
  }
  const raft::index_t known = core_.known_committed();
  for (auto it = held_.begin(); it != held_.end() && it->first <= known;) {
    effect release;
    release.type = effect::kind::release;
    release.request = it->second;
    effects_.push_back(std::move(release));
    it = held_.erase(it);
  }
}

// raft::take_early: entries committed while our own write syncs (a leader
// hearing its followers' acknowledgements) are applied now rather than
// after that sync; read states, dropped reads and messages of a durable
// term leave now too. Not while the in-flight ready's own committed entries
// wait (a ready with a snapshot applies them after its sync): order first.
void replica::drive_early() {
  if (!in_flight_ || in_flight_->snap || !in_flight_->committed.empty()) return;
  // A new leader's deferred reads may start now that it committed in its
  // term (their heartbeats then leave below).
  retry_deferred_reads();
  if (!core_.has_early()) return;
  raft::ready rd = core_.take_early();
  if (!rd.messages.empty()) push_send(std::move(rd.messages));
  deliver(rd);
}

void replica::drive_readies() {
  while (!in_flight_) {
    if (compaction_) {
      // Between readies, so the core's log is not mid-persist.
      const status compacted = core_.compact(compaction_->first, std::move(compaction_->second));
      compaction_.reset();
      if (compacted.ok()) bytes_since_snapshot_ = 0;
    }
    if (!core_.has_ready()) return;
    raft::ready rd = core_.take_ready();
    // 1. Messages that may leave before this ready is durable.
    if (!rd.messages.empty()) push_send(std::move(rd.messages));
    // 2. snap, entries, hard state in one batch.
    const bool writes = rd.snap || !rd.entries.empty() || rd.hard;
    if (writes && !config_.volatile_log) {
      effect persist;
      persist.type = effect::kind::persist;
      store_.stage(rd, persist.batch);
      persist.sync = rd.must_sync;
      if (persist.sync) {
        persist.token = ++token_;
        effects_.push_back(std::move(persist));
        // The committed entries were made durable by earlier readies (the
        // core delivers only up to its stable index), so they are applied
        // and reads served while this ready's writes sync: a reply waits for
        // one fsync, not two. Not with a leader's snapshot, which must be
        // durable before it replaces the application.
        if (!rd.snap) deliver(rd);
        in_flight_ = std::move(rd);
        return;
      }
      effects_.push_back(std::move(persist));
    }
    finish(rd);
  }
}

// Steps 3 to 6 for a ready whose writes are durable (or need no sync).
void replica::finish(raft::ready& rd) {
  // 3. Messages that promise what step 2 made durable.
  if (!rd.messages_after_persist.empty())
    push_send(std::move(rd.messages_after_persist));
  // 4. A leader's snapshot replaces the application, then committed entries.
  if (rd.snap && rd.snapshot_from_leader) {
    applied_ = rd.snap->meta.index;
    applied_term_ = std::max(applied_term_, rd.snap->meta.term);
    bytes_since_snapshot_ = 0;
    // Proposals the snapshot covers may or may not be in it.
    for (auto it = proposals_.begin(); it != proposals_.end() && it->first <= applied_;) {
      push_fail(it->second.first,
                status{error_code::timeout,
                       "outcome unknown: the replica installed a snapshot covering the entry"});
      it = proposals_.erase(it);
    }
    effect restore;
    restore.type = effect::kind::restore;
    restore.snapshot = std::move(rd.snap);
    effects_.push_back(std::move(restore));
  }
  deliver(rd);
  // 6.
  core_.advance();
  retry_deferred_reads();
  maybe_capture();
}

// Steps 4 (committed entries) and 5 of a ready; empties what it handled.
void replica::deliver(raft::ready& rd) {
  apply_committed(rd);
  rd.committed.clear();
  // 5. Reads whose index is applied; reads the leader lost.
  for (const raft::read_state& rs : rd.read_states) {
    auto it = reads_.find(rs.request_id);
    if (it != reads_.end()) it->second.index = rs.index;
  }
  rd.read_states.clear();
  for (uint64_t request : rd.dropped_reads) {
    if (reads_.erase(request) == 0) continue;
    push_fail(request, refuse(status{error_code::not_leader, "leadership lost"}));
  }
  rd.dropped_reads.clear();
  serve_reads();
}

void replica::apply_committed(raft::ready& rd) {
  for (raft::entry& e : rd.committed) {
    if (e.index <= applied_) continue;  // covered by a snapshot restored above
    applied_ = e.index;
    applied_term_ = std::max(applied_term_, e.term);
    bytes_since_snapshot_ += raft::entry_bytes(e);
    uint64_t answered = 0;
    auto [first, last] = proposals_.equal_range(e.index);
    for (auto it = first; it != last; ++it) {
      const auto [request, term] = it->second;
      if (term == e.term && answered == 0) {
        answered = request;
      } else {
        // Another leader's entry took this index: ours was never applied.
        push_fail(request,
                  status{error_code::unavailable,
                         "the proposal was overwritten by another leader; retry"},
                  true);
      }
    }
    proposals_.erase(first, last);
    effect apply;
    apply.type = effect::kind::apply;
    apply.request = answered;
    // The reply waits until a quorum knows the entry is committed (a
    // leader learns it from its followers' responses; alone, at once).
    if (answered != 0 && core_.known_committed() < e.index) {
      apply.hold = true;
      held_.emplace(e.index, answered);
    }
    apply.entry = std::move(e);
    effects_.push_back(std::move(apply));
  }
}

void replica::serve_reads() {
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (!it->second.index || *it->second.index > applied_) {
      ++it;
      continue;
    }
    effect read;
    read.type = effect::kind::read;
    read.request = it->first;
    effects_.push_back(std::move(read));
    it = reads_.erase(it);
  }
}

void replica::maybe_capture() {
  if (capture_asked_ || config_.compact_entries == 0) return;
  const raft::index_t since = applied_ - core_.snapshot_info().index;
  if (since < config_.compact_entries && bytes_since_snapshot_ < config_.compact_bytes) return;
  if (since <= config_.compact_keep_entries) return;
  if (core_.applied_index() != applied_) return;
  capture_asked_ = true;
  effect capture;
  capture.type = effect::kind::capture;
  capture.index = applied_ - config_.compact_keep_entries;
  effects_.push_back(std::move(capture));
}

}  // namespace velocity::cluster
