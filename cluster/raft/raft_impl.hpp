// The private state of raft (raft.hpp), shared by the files that implement
// it: raft.cpp (construction, ready/advance, introspection), raft_election.cpp
// (ticks, term rules, votes, roles), raft_replication.cpp (append, commit,
// heartbeats), raft_read.cpp (ReadIndex, lease, leadership transfer),
// raft_snapshot.cpp (compaction, chunked transfer) and raft_membership.cpp.
//
// Thread safety: none (one owner).
// Invariants:
//   - applied_ <= commit_ <= log_.last_index(); commit_ never decreases and no
//     entry at or below commit_ is ever truncated (VELOCITY_CHECK);
//   - committed entries are delivered once: (applied_pending_, ...] next;
//   - progress_ is non-empty only on the leader and holds every member but self;
//   - the vote is cast at most once per term (vote_ resets only with the term).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "cluster/raft/progress.hpp"
#include "cluster/raft/raft.hpp"
#include "cluster/raft/raft_log.hpp"

namespace velocity::raft {

// Reads waiting for leadership confirmation beyond this are refused (overloaded).
inline constexpr size_t pending_reads_max = 1 << 16;
// Heartbeat rounds remembered for lease reads; older rounds are forgotten.
inline constexpr size_t read_rounds_max = 1024;
// The largest log index accepted from the network. Far above any real log,
// and far enough below the type's maximum that last_index() + 1 and similar
// arithmetic on a node elected later can never wrap.
inline constexpr index_t index_accepted_max = index_t{1} << 62;

class raft::impl {
 public:
  impl(const config& cfg, durable_state state, index_t applied);

  // raft_election.cpp
  void tick();
  void step(const message& m);
  void become_follower(term_t term, node_id leader);
  void become_pre_candidate();
  void become_candidate(bool force);
  void become_leader();
  void campaign(bool force);
  bool promotable() const;
  void reset_timers();
  uint64_t next_random();
  void tick_leader();
  bool step_term(const message& m);
  void step_role(const message& m);
  void handle_vote_request(const message& m);
  void handle_vote_response(const message& m);
  bool in_leader_lease() const;
  bool heard_from_leader_recently() const;

  // raft_replication.cpp
  status_or<entry_id> propose_entry(entry_kind kind, std::string data);
  status leader_check() const;
  void append_local(entry_kind kind, std::string data);
  void send_append(node_id to, progress& pr, bool allow_empty);
  void broadcast_append(bool allow_empty);
  void handle_append(const message& m);
  void maybe_adopt_initial_conf(const message& m);
  void handle_append_response(const message& m);
  index_t retry_next_for(const message& m) const;
  bool maybe_commit();
  uint64_t quorum_value(uint64_t self_value, uint64_t progress::*field) const;
  void commit_advanced(index_t old_commit);
  void commit_to(index_t index);
  void handle_commit_notice(const message& m);
  void notify_commit(node_id leader, index_t before);
  void handle_heartbeat(const message& m);
  void handle_heartbeat_response(const message& m);
  void broadcast_heartbeat();
  void reply_append(const message& m, bool reject, index_t index, index_t hint);
  void send(message m, bool after_persist);

  // raft_read.cpp
  status read_index(uint64_t request_id, read_mode mode);
  bool committed_in_term() const;
  bool lease_holds() const;
  uint64_t start_round();
  void release_reads();
  void drop_reads();
  status transfer_leadership(node_id target);
  void maybe_send_timeout_now(node_id to, const progress& pr);
  void abort_transfer();

  // raft_snapshot.cpp
  status compact(index_t index, std::string data);
  void send_snapshot_chunk(node_id to, progress& pr);
  void handle_snapshot_chunk(const message& m);
  void reply_snapshot(const message& m, bool reject, uint64_t offset, bool done);
  void install_snapshot(snapshot snap);
  void handle_snapshot_response(const message& m);
  void tick_snapshots();

  // raft_membership.cpp
  status_or<entry_id> propose_conf_change(const conf_change& change);
  void sync_progress();
  void maybe_step_down_removed();

  // raft.cpp
  bool has_ready() const;
  ready take_ready();
  void advance();
  bool has_early() const;
  ready take_early();
  bool early_messages_allowed() const;
  hard_state current_hard() const { return {term_, vote_, commit_}; }
  index_t deliverable_index() const;

  config cfg_;
  raft_log log_;
  role role_ = role::follower;
  term_t term_ = 0;
  node_id vote_ = no_node;
  node_id leader_ = no_node;
  index_t commit_ = 0;
  index_t applied_ = 0;          // advanced
  index_t applied_pending_ = 0;  // delivered in the outstanding ready
  hard_state emitted_hard_;      // the last hard state handed out (or recovered)
  mutable hard_state hard_view_;

  uint32_t election_elapsed_ticks_ = 0;
  uint32_t heartbeat_elapsed_ticks_ = 0;
  uint32_t randomized_timeout_ticks_ = 0;
  uint64_t tick_count_ = 0;
  uint64_t random_state_ = 0;
  // Ticks since a leader's message last arrived (saturating). Below
  // election_ticks the node has promised that leader (and its lease) to grant
  // no non-forced vote, whatever term it has moved to since: a stale answer
  // at a higher term must not release it. A restarted node with lease reads
  // does not know whether it promised, so it starts at 0 (keeps the promise).
  uint32_t leader_silence_ticks_ = 0;

  std::map<node_id, bool> votes_;  // campaign: voter -> granted
  std::map<node_id, progress> progress_;
  size_t uncommitted_bytes_ = 0;
  node_id transferee_ = no_node;
  uint32_t transfer_elapsed_ticks_ = 0;
  // A timeout_now may arrive arbitrarily late and make its target win an
  // election with force: after sending one, this term holds no more leases.
  bool timeout_now_sent_ = false;

  struct pending_read {
    uint64_t request_id;
    index_t index;
    uint64_t context;
  };
  std::deque<pending_read> pending_reads_;
  uint64_t context_ = 0;        // the latest heartbeat round
  bool context_fresh_ = false;  // no step/tick/take_ready since context_ began
  std::map<uint64_t, uint64_t> round_send_tick_;
  uint64_t lease_expiry_tick_ = 0;

  bool incoming_active_ = false;  // a snapshot is being assembled
  snapshot_meta incoming_meta_;
  uint64_t incoming_total_bytes_ = 0;
  std::string incoming_data_;

  bool snap_pending_ = false;
  bool snap_from_leader_ = false;
  std::vector<message> messages_;
  std::vector<message> messages_after_persist_;
  std::vector<read_state> read_states_;
  std::vector<uint64_t> dropped_reads_;
  bool outstanding_ = false;
  bool outstanding_changed_term_ = false;  // the outstanding ready changed term or vote
};

}  // namespace velocity::raft
