// Implements raft.hpp: construction from durable state, the public calls
// (forwarded to raft::impl, raft_impl.hpp), the ready / advance cycle of THE
// READY CONTRACT (types.hpp) and introspection.
//
// Thread safety: none (one owner).
// Invariants: at most one ready is outstanding (taken, not advanced); a
// committed entry is delivered in exactly one ready, in index order, and only
// once it is durable locally (index <= the log's stable index).
#include "cluster/raft/raft.hpp"

#include <algorithm>

#include "cluster/raft/raft_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::raft {

raft::impl::impl(const config& cfg, durable_state state, index_t applied)
    : cfg_(cfg), log_(std::move(state.snap), std::move(state.entries)) {
  VELOCITY_CHECK(validate(cfg).ok());
  term_ = state.hard.term;
  vote_ = state.hard.vote;
  applied_ = std::max(applied, log_.snapshot_index());
  VELOCITY_CHECK_LE(applied_, log_.last_index());
  // The commit index is not synced on its own (a commit-only hard state need
  // not sync), so the application's applied index may be ahead of it.
  commit_ = std::max({state.hard.commit, applied_, log_.snapshot_index()});
  VELOCITY_CHECK_LE(commit_, log_.last_index());
  applied_pending_ = applied_;
  emitted_hard_ = state.hard;
  // splitmix64 state: the seed mixed with the id so replicas differ.
  random_state_ = cfg.random_seed ^ (cfg.id * 0x9E3779B97F4A7C15ULL);
  leader_silence_ticks_ = cfg.lease_ticks > 0 ? 0 : cfg.election_ticks;
  reset_timers();
}

index_t raft::impl::deliverable_index() const {
  return std::min(commit_, log_.stable_index());
}

bool raft::impl::has_ready() const {
  if (outstanding_) return false;
  return snap_pending_ || log_.unstable_from() <= log_.last_index() ||
         current_hard() != emitted_hard_ || !messages_.empty() ||
         !messages_after_persist_.empty() || deliverable_index() > applied_ ||
         !read_states_.empty() || !dropped_reads_.empty();
}

ready raft::impl::take_ready() {
  VELOCITY_CHECK(!outstanding_);
  ready rd;
  if (snap_pending_) {
    rd.snap = log_.snap();
    rd.snapshot_from_leader = snap_from_leader_;
    snap_pending_ = false;
    snap_from_leader_ = false;
  }
  rd.entries = log_.take_unstable();
  hard_state now = current_hard();
  bool term_or_vote_changed = now.term != emitted_hard_.term || now.vote != emitted_hard_.vote;
  if (now != emitted_hard_) {
    rd.hard = now;
    emitted_hard_ = now;
  }
  rd.must_sync = !rd.entries.empty() || rd.snap.has_value() || term_or_vote_changed;
  // Messages may leave before persisting only if the term they carry is
  // already durable: a node that became leader within this ready (a lone
  // voter elects itself in one step) must not send appends of a term it
  // could forget in a crash.
  if (term_or_vote_changed) {
    for (auto& m : messages_) messages_after_persist_.push_back(std::move(m));
    messages_.clear();
  }
  rd.messages = std::move(messages_);
  rd.messages_after_persist = std::move(messages_after_persist_);
  messages_.clear();
  messages_after_persist_.clear();
  index_t deliver_to = deliverable_index();
  for (index_t i = applied_ + 1; i <= deliver_to; ++i) {
    const entry* e = log_.find(i);
    VELOCITY_CHECK(e != nullptr);
    rd.committed.push_back(*e);
  }
  applied_pending_ = std::max(applied_, deliver_to);
  rd.read_states = std::move(read_states_);
  rd.dropped_reads = std::move(dropped_reads_);
  read_states_.clear();
  dropped_reads_.clear();
  outstanding_ = true;
  outstanding_changed_term_ = term_or_vote_changed;
  context_fresh_ = false;
  return rd;
}

bool raft::impl::early_messages_allowed() const {
  if (outstanding_changed_term_) return false;
  hard_state now = current_hard();
  return now.term == emitted_hard_.term && now.vote == emitted_hard_.vote;
}

bool raft::impl::has_early() const {
  if (!outstanding_) return false;
  return deliverable_index() > applied_pending_ || !read_states_.empty() ||
         !dropped_reads_.empty() || (!messages_.empty() && early_messages_allowed());
}

ready raft::impl::take_early() {
  VELOCITY_CHECK(outstanding_);
  ready rd;
  if (early_messages_allowed()) {
    rd.messages = std::move(messages_);
    messages_.clear();
  }
  // Durable locally (stable_index covers only earlier readies' entries) and
  // committed: applying them cannot depend on the outstanding sync.
  index_t deliver_to = deliverable_index();
  for (index_t i = applied_pending_ + 1; i <= deliver_to; ++i) {
    const entry* e = log_.find(i);
    VELOCITY_CHECK(e != nullptr);
    rd.committed.push_back(*e);
  }
  applied_pending_ = std::max(applied_pending_, deliver_to);
  rd.read_states = std::move(read_states_);
  rd.dropped_reads = std::move(dropped_reads_);
  read_states_.clear();
  dropped_reads_.clear();
  // Heartbeats handed out: a read recorded from now on needs a new round.
  context_fresh_ = false;
  return rd;
}

void raft::impl::advance() {
  VELOCITY_CHECK(outstanding_);
  outstanding_ = false;
  outstanding_changed_term_ = false;
  log_.advance_stable();
  applied_ = std::max(applied_, applied_pending_);
  // The leader's own log only counts for commit once durable.
  index_t old_commit = commit_;
  if (role_ == role::leader && maybe_commit()) commit_advanced(old_commit);
}

// ------------------------------------------------------------------ raft

raft::raft(const config& cfg, durable_state state, index_t applied)
    : impl_(std::make_unique<impl>(cfg, std::move(state), applied)) {}

raft::~raft() = default;

void raft::tick() { impl_->tick(); }

void raft::campaign() {
  if (impl_->role_ != role::leader) impl_->campaign(false);
}

void raft::step(const message& m) { impl_->step(m); }

status_or<entry_id> raft::propose(std::string data) {
  return impl_->propose_entry(entry_kind::normal, std::move(data));
}

status_or<entry_id> raft::propose_conf_change(const conf_change& change) {
  return impl_->propose_conf_change(change);
}

status raft::read_index(uint64_t request_id, read_mode mode) {
  return impl_->read_index(request_id, mode);
}

status raft::transfer_leadership(node_id target) { return impl_->transfer_leadership(target); }

status raft::compact(index_t index, std::string data) {
  return impl_->compact(index, std::move(data));
}

bool raft::has_ready() const { return impl_->has_ready(); }

ready raft::take_ready() { return impl_->take_ready(); }

void raft::advance() { impl_->advance(); }

bool raft::has_early() const { return impl_->has_early(); }

ready raft::take_early() { return impl_->take_early(); }

node_id raft::id() const { return impl_->cfg_.id; }

role raft::current_role() const { return impl_->role_; }

term_t raft::term() const { return impl_->term_; }

node_id raft::leader_hint() const { return impl_->leader_; }

const hard_state& raft::hard() const {
  impl_->hard_view_ = impl_->current_hard();
  return impl_->hard_view_;
}

index_t raft::commit_index() const { return impl_->commit_; }

index_t raft::applied_index() const { return impl_->applied_; }

index_t raft::first_index() const { return impl_->log_.first_index(); }

index_t raft::last_index() const { return impl_->log_.last_index(); }

std::optional<term_t> raft::term_at(index_t index) const { return impl_->log_.term_at(index); }

std::optional<entry> raft::entry_at(index_t index) const {
  const entry* e = impl_->log_.find(index);
  if (e == nullptr) return std::nullopt;
  return *e;
}

const membership& raft::conf() const { return impl_->log_.conf(); }

const snapshot_meta& raft::snapshot_info() const { return impl_->log_.snap().meta; }

std::optional<index_t> raft::match_of(node_id peer) const {
  if (impl_->role_ != role::leader) return std::nullopt;
  if (peer == impl_->cfg_.id) return impl_->log_.stable_index();
  auto it = impl_->progress_.find(peer);
  if (it == impl_->progress_.end()) return std::nullopt;
  return it->second.match;
}

index_t raft::known_committed() const {
  if (impl_->role_ != role::leader) return 0;
  return impl_->quorum_value(impl_->commit_, &progress::commit_known);
}

bool raft::lease_valid() const { return impl_->role_ == role::leader && impl_->lease_holds(); }

}  // namespace velocity::raft
