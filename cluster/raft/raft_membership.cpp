// Membership changes one server at a time (thesis 4.1, 4.2): the leader
// proposes a conf_change entry only when the previous one is committed and it
// has committed an entry of its own term (the fix for the single-server bug
// Ongaro described on raft-dev, 2015). A configuration takes effect when its
// entry is appended (raft_log tracks it); the leader's progress map follows.
//
// Thread safety: none (one owner).
// Invariants: on the leader, progress_ has exactly the members other than
// itself; a leader that removed itself steps down once the removal commits.
#include "cluster/raft/raft_impl.hpp"

namespace velocity::raft {

status_or<entry_id> raft::impl::propose_conf_change(const conf_change& change) {
  if (auto s = leader_check(); !s.ok()) return s;
  if (log_.conf_index() > commit_)
    return status{error_code::unavailable, "membership change at index " +
                                               std::to_string(log_.conf_index()) +
                                               " is not committed yet"};
  if (!committed_in_term())
    return status{error_code::unavailable,
                  "leader has not committed an entry of term " + std::to_string(term_) + " yet"};
  if (auto next = apply_conf_change(log_.conf(), change); !next.ok()) return next.error();
  return propose_entry(entry_kind::conf_change, encode_conf_change(change));
}

void raft::impl::sync_progress() {
  if (role_ != role::leader) return;
  const membership& conf = log_.conf();
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (conf.contains(it->first))
      ++it;
    else
      it = progress_.erase(it);
  }
  auto add = [&](node_id id) {
    if (id == cfg_.id || progress_.count(id) != 0) return;
    progress pr;
    pr.next = log_.last_index() + 1;
    pr.recent_active = true;  // a new member gets one check-quorum round
    progress_.emplace(id, pr);
  };
  for (node_id v : conf.voters) add(v);
  for (node_id l : conf.learners) add(l);
  if (transferee_ != no_node && !conf.is_voter(transferee_)) abort_transfer();
}

void raft::impl::maybe_step_down_removed() {
  if (role_ != role::leader || log_.conf().is_voter(cfg_.id)) return;
  if (log_.conf_index() > commit_) return;
  become_follower(term_, no_node);
}

}  // namespace velocity::raft
