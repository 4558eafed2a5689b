// The Raft core: one replica of one Raft group as a pure, deterministic state
// machine (the etcd raft library's shape). Inputs: tick(), step(message),
// propose(), propose_conf_change(), read_index(), transfer_leadership(),
// compact(). Output: a `ready` value (types.hpp states THE READY CONTRACT)
// taken with take_ready() and confirmed with advance().
//
// Determinism: the same config (including random_seed), the same durable
// state and the same sequence of calls produce the same outputs, bit for bit.
// No clocks (time is tick()), no threads, no I/O, no global state.
//
// Thread safety: none; one owner (the shard actor, or the simulator) calls it.
//
// Rules implemented (paper = "In Search of an Understandable Consensus
// Algorithm", thesis = Ongaro's dissertation):
//   - elections with randomized timeouts (5.2), pre-vote (thesis 9.6),
//     check-quorum and leader stickiness (thesis 6.2 / 9.6): a node that heard
//     from a live leader within the minimum election timeout ignores votes
//     unless `force` (leadership transfer);
//   - the up-to-date vote restriction (5.4.1); commit only of current-term
//     entries by counting replicas (5.4.2); a new leader appends an empty entry;
//   - log replication: batching (append_bytes_max), pipelining (probe and
//     replicate states, optimistic next index), flow control
//     (inflight_messages_max / inflight_bytes_max), fast backtracking with
//     reject_hint / log_term;
//   - snapshots and compaction; a follower whose next entry is compacted gets
//     the snapshot in chunks of snapshot_chunk_bytes;
//   - membership: one server at a time (thesis 4.1), learners first; a
//     configuration takes effect when its entry is appended (and is undone if
//     the entry is truncated); a leader proposes a change only when the
//     previous one is committed and it has committed an entry of its own term;
//   - leadership transfer (thesis 3.10); linearizable reads by ReadIndex and
//     leader leases (thesis 6.4).
//
// Clock assumption for lease reads: every replica's tick rate differs from
// every other's by less than the ratio election_ticks / lease_ticks; then no
// other leader can be elected while a lease is still valid. The lease runs
// lease_ticks - 1 of the leader's ticks from the moment it SENT the
// confirming heartbeat: a follower's own election timer may start up to one
// of its ticks before it sees that heartbeat, and the one tick of margin
// covers it (tests/raft raft_review checks the bound at the allowed rates).
// A process stall (GC, swap, a paused VM, a slow disk blocking the thread) is
// a tick rate of zero and breaks the assumption: THE SHELL MUST DERIVE TICKS
// FROM A MONOTONIC CLOCK AND DELIVER EVERY ELAPSED TICK BEFORE IT CALLS
// read_index(..., read_mode::lease), or a leader resuming from a stall serves
// a lease that expired while it slept (the simulator's shell does this
// catch-up, and its lease_read_deposed checker fails a run otherwise).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/types.hpp"
#include "protocols/error.hpp"

namespace velocity::raft {

class raft {
 public:
  // REQUIRES: validate(cfg).ok(); state.entries contiguous after state.snap.
  // `applied` is the application's own applied index (recovered with its
  // data); committed entries are delivered from max(applied, snap index) + 1.
  // The snapshot data in `state` is kept to send to lagging followers.
  raft(const config& cfg, durable_state state, index_t applied);
  ~raft();
  raft(const raft&) = delete;
  raft& operator=(const raft&) = delete;

  // One unit of logical time: elections, heartbeats, check-quorum, leases,
  // transfer timeouts.
  void tick();

  // Starts an election now, as if the election timeout had elapsed (with
  // pre-vote when configured). Nothing happens unless this node is a voter
  // and not the leader. A group whose only voter is this node becomes leader
  // at once, so a single-node shard needs no election timeout to start.
  void campaign();

  // A message from another replica. Stale, duplicate, misaddressed or
  // malformed messages are ignored (they never crash the core).
  void step(const message& m);

  // Appends `data` as a new entry on the leader. Errors:
  //   not_leader  : message "not leader; leader is N" (N = 0 when unknown);
  //                 leader_hint() gives the id
  //   unavailable : a leadership transfer is in progress
  //   overloaded  : uncommitted entries exceed uncommitted_bytes_max
  status_or<entry_id> propose(std::string data);

  // As propose, for a membership change. Also invalid_argument when the change
  // does not fit the current membership, and unavailable while another change
  // is uncommitted or the leader has not yet committed an entry of its term.
  status_or<entry_id> propose_conf_change(const conf_change& change);

  // Starts a linearizable read. The result is a read_state with this
  // request_id in a later ready (or dropped_reads if leadership is lost).
  // not_leader as for propose; unavailable until the leader has committed an
  // entry of its term. With read_mode::lease and a valid lease the read_state
  // appears in the next ready without a round trip.
  status read_index(uint64_t request_id, read_mode mode = read_mode::safe);

  // Leader only: bring `target` up to date, then send it timeout_now. New
  // proposals are refused (unavailable) until the transfer ends or times out
  // (one election timeout). not_leader / invalid_argument (not a voter, self).
  status transfer_leadership(node_id target);

  // The application has captured its state at applied index `index` in
  // `data`: the core drops its log up to `index` and keeps the snapshot for
  // lagging followers; the next ready carries it in `snap` to persist.
  // invalid_argument when index is above the applied index or not above the
  // current snapshot.
  status compact(index_t index, std::string data);

  bool has_ready() const;
  // REQUIRES: no ready taken and not yet advanced.
  ready take_ready();
  // The last taken ready has been handled as the contract says.
  void advance();

  // While a ready is outstanding (taken, its writes syncing): what may be
  // handed out before advance() without waiting for that sync (types.hpp,
  // "early"): entries committed since, if durable locally from earlier
  // readies; read_states and dropped_reads; and `messages` (step 1 kind)
  // unless the outstanding ready or a later step changed the term or vote,
  // which must be durable before messages of that term leave. Only those
  // four fields are set. Entries handed out here are delivered exactly once:
  // the next ready continues after them.
  bool has_early() const;
  // REQUIRES: a ready is outstanding.
  ready take_early();

  // Introspection (for the shell, tests and the simulator's checkers).
  node_id id() const;
  role current_role() const;
  term_t term() const;
  node_id leader_hint() const;  // no_node when unknown
  const hard_state& hard() const;
  index_t commit_index() const;
  index_t applied_index() const;  // delivered in a ready and advanced
  index_t first_index() const;    // first entry held (snapshot index + 1)
  index_t last_index() const;
  // The term of entry `index` if the core still holds it (or it is the
  // snapshot's index); nullopt if compacted or beyond the log.
  std::optional<term_t> term_at(index_t index) const;
  std::optional<entry> entry_at(index_t index) const;
  const membership& conf() const;  // the latest membership in the log
  const snapshot_meta& snapshot_info() const;
  // Leader only: a follower's match index (nullopt if not leader or unknown node).
  std::optional<index_t> match_of(node_id peer) const;
  // Leader only (0 otherwise): the highest index a quorum of voters knows
  // is committed (this leader's commit index, each follower's as reported in
  // its responses). A follower that knows an index is committed applies it
  // before it serves a read at its commit index, so a write acknowledged
  // once known_committed() reaches it is seen by any read that asks a
  // quorum of replicas at their commit index (docs/consistency.md, quorum).
  index_t known_committed() const;
  // Leader only: true while a lease read would be served without a round trip.
  bool lease_valid() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace velocity::raft
