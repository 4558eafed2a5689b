// Implements raft_log.hpp (the core's in-memory log). See the header for the
// invariants; every mutation below restores them before returning.
// Thread safety: none (one owner).
#include "cluster/raft/raft_log.hpp"

#include <algorithm>

#include "protocols/check.hpp"

namespace velocity::raft {

raft_log::raft_log(snapshot snap, std::vector<entry> entries)
    : snap_(std::move(snap)), entries_(std::move(entries)) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    VELOCITY_CHECK_EQ(entries_[i].index, snap_.meta.index + 1 + i);
    record_conf(entries_[i]);
  }
  stable_ = last_index();
  unstable_from_ = last_index() + 1;
}

term_t raft_log::last_term() const {
  return entries_.empty() ? snap_.meta.term : entries_.back().term;
}

std::optional<term_t> raft_log::term_at(index_t index) const {
  if (index == snap_.meta.index) return snap_.meta.term;
  if (index < first_index() || index > last_index()) return std::nullopt;
  return entries_[index - first_index()].term;
}

const entry* raft_log::find(index_t index) const {
  if (index < first_index() || index > last_index()) return nullptr;
  return &entries_[index - first_index()];
}

bool raft_log::is_up_to_date(index_t index, term_t term) const {
  return term > last_term() || (term == last_term() && index >= last_index());
}

void raft_log::append(entry e) {
  VELOCITY_CHECK_EQ(e.index, last_index() + 1);
  entries_.push_back(std::move(e));
  record_conf(entries_.back());
}

void raft_log::truncate_from(index_t index) {
  VELOCITY_CHECK_LE(first_index(), index);
  VELOCITY_CHECK_LE(index, last_index());
  entries_.resize(index - first_index());
  confs_.erase(confs_.lower_bound(index), confs_.end());
  unstable_from_ = std::min(unstable_from_, index);
  stable_ = std::min(stable_, index - 1);
}

std::vector<entry> raft_log::slice(index_t from, index_t to, size_t bytes_max) const {
  VELOCITY_CHECK_LE(first_index(), from);
  std::vector<entry> out;
  size_t bytes = 0;
  for (index_t i = from; i <= std::min(to, last_index()); ++i) {
    const entry& e = entries_[i - first_index()];
    if (!out.empty() && bytes + entry_bytes(e) > bytes_max) break;
    bytes += entry_bytes(e);
    out.push_back(e);
  }
  return out;
}

void raft_log::compact(index_t index, std::string data) {
  VELOCITY_CHECK_LT(snap_.meta.index, index);
  VELOCITY_CHECK_LE(index, last_index());
  snapshot next;
  next.meta.index = index;
  next.meta.term = *term_at(index);
  next.meta.conf = conf_at(index);
  next.data = std::move(data);
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<std::ptrdiff_t>(index - first_index() + 1));
  confs_.erase(confs_.begin(), confs_.upper_bound(index));
  snap_ = std::move(next);
}

void raft_log::install(snapshot snap) {
  snap_ = std::move(snap);
  entries_.clear();
  confs_.clear();
  stable_ = snap_.meta.index;
  unstable_from_ = snap_.meta.index + 1;
}

void raft_log::adopt_initial_conf(membership conf) {
  VELOCITY_CHECK_EQ(snap_.meta.index, 0u);
  VELOCITY_CHECK(snap_.meta.conf.empty());
  snap_.meta.conf = std::move(conf);
  // Conf entries already in the log were applied to the empty membership.
  confs_.clear();
  for (const auto& e : entries_) record_conf(e);
}

const membership& raft_log::conf() const {
  return confs_.empty() ? snap_.meta.conf : confs_.rbegin()->second;
}

index_t raft_log::conf_index() const {
  return confs_.empty() ? snap_.meta.index : confs_.rbegin()->first;
}

membership raft_log::conf_at(index_t index) const {
  VELOCITY_CHECK_LE(snap_.meta.index, index);
  auto it = confs_.upper_bound(index);
  if (it == confs_.begin()) return snap_.meta.conf;
  return std::prev(it)->second;
}

std::vector<entry> raft_log::take_unstable() {
  std::vector<entry> out;
  if (unstable_from_ <= last_index())
    out.assign(entries_.begin() + static_cast<std::ptrdiff_t>(unstable_from_ - first_index()),
               entries_.end());
  emitted_last_ = last_index();
  emitted_ = true;
  unstable_from_ = last_index() + 1;
  return out;
}

void raft_log::advance_stable() {
  if (!emitted_) return;
  emitted_ = false;
  // A truncation after the ready was taken lowered unstable_from_: the durable
  // log only matches this one below it.
  index_t durable = std::min(emitted_last_, unstable_from_ - 1);
  stable_ = std::max(snap_.meta.index, std::min(durable, last_index()));
}

void raft_log::record_conf(const entry& e) {
  if (e.kind != entry_kind::conf_change) return;
  // A conf change that does not decode or fit is kept as a no-op: the leader
  // validated it, so this only happens with corrupt input, which must not
  // make replicas disagree about the membership differently than the log.
  membership next = conf();
  if (auto change = decode_conf_change(e.data); change.ok()) {
    if (auto applied = apply_conf_change(next, *change); applied.ok())
      next = std::move(applied.value());
  }
  confs_[e.index] = std::move(next);
}

}  // namespace velocity::raft
