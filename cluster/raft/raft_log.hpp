// The core's in-memory Raft log: the latest snapshot (meta and data, kept to
// send to lagging followers) followed by every entry since it, plus which
// prefix of it is durable and which membership each conf_change entry set.
//
// Thread safety: none (owned by one raft::impl).
// Invariants:
//   - entries_ are contiguous and entries_[0].index == snap_.meta.index + 1;
//   - stable_ <= last_index(): the durable log equals this log up to stable_;
//   - unstable_from_ - 1 <= last_index(): entries from unstable_from_ on have
//     not been handed to the shell in a ready yet;
//   - confs_ holds the membership set by each conf_change entry still in the
//     log (keys above the snapshot index); the current membership is the last
//     one, else the snapshot's (thesis 4.1: a configuration takes effect when
//     its entry is appended and is undone when the entry is truncated).
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "cluster/raft/types.hpp"

namespace velocity::raft {

class raft_log {
 public:
  // REQUIRES: entries contiguous, first index == snap.meta.index + 1. The
  // recovered entries are durable, so they start out stable.
  raft_log(snapshot snap, std::vector<entry> entries);

  index_t snapshot_index() const { return snap_.meta.index; }
  index_t first_index() const { return snap_.meta.index + 1; }
  index_t last_index() const { return snap_.meta.index + entries_.size(); }
  term_t last_term() const;
  entry_id last_id() const { return {last_index(), last_term()}; }
  // The term of `index` if held (the snapshot index counts); nullopt otherwise.
  std::optional<term_t> term_at(index_t index) const;
  // The entry at `index` or nullptr when compacted or beyond the log.
  const entry* find(index_t index) const;
  // True if a log ending at (index, term) is at least as up to date as this
  // one (paper 5.4.1: compare last terms, then lengths).
  bool is_up_to_date(index_t index, term_t term) const;

  // REQUIRES: e.index == last_index() + 1.
  void append(entry e);
  // Drops every entry at or above `index` (a conflicting suffix).
  // REQUIRES: first_index() <= index <= last_index().
  void truncate_from(index_t index);
  // Entries [from, to] (to clamped to last_index()) up to bytes_max, but at
  // least one when the range is not empty. REQUIRES: from >= first_index().
  std::vector<entry> slice(index_t from, index_t to, size_t bytes_max) const;

  // Local compaction: drops entries up to `index` and keeps `data` as the
  // snapshot. REQUIRES: snapshot_index() < index <= last_index().
  void compact(index_t index, std::string data);
  // A snapshot from the leader replaces the whole log.
  void install(snapshot snap);
  const snapshot& snap() const { return snap_; }
  // A node that joined with an empty membership learns the cluster's initial
  // membership (the index-0 snapshot's) from the leader's first append.
  // REQUIRES: snapshot_index() == 0 and snap().meta.conf.empty().
  void adopt_initial_conf(membership conf);

  const membership& conf() const;
  // Index of the entry that set conf() (the snapshot index if none in the log).
  index_t conf_index() const;
  // The membership in effect at `index` (REQUIRES index >= snapshot_index()).
  membership conf_at(index_t index) const;

  // Durability tracking for the ready contract.
  index_t stable_index() const { return stable_; }
  index_t unstable_from() const { return unstable_from_; }
  // The entries not yet handed out; remembers the last one until advance_stable().
  std::vector<entry> take_unstable();
  // The entries from the last take_unstable() are durable.
  void advance_stable();

 private:
  void record_conf(const entry& e);

  snapshot snap_;
  std::vector<entry> entries_;
  std::map<index_t, membership> confs_;
  index_t stable_ = 0;
  index_t unstable_from_ = 1;
  index_t emitted_last_ = 0;
  bool emitted_ = false;
};

}  // namespace velocity::raft
