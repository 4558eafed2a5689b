// Raft value types shared by the core (raft.hpp), the durable log store
// (log_store.hpp), the simulator and, later, the shard actor and its wire codec.
//
// Everything here is a plain value: copyable, comparable, no clocks, no I/O.
// Thread safety: none needed (values).
//
// Vocabulary (the Raft paper's, figure 2):
//   term, index      : 1-based; 0 means "none" (the empty log has last index 0, term 0).
//   hard_state       : what must be durable before a vote or an append is acknowledged.
//   membership       : voters count for elections and commit; learners only receive the log.
//   snapshot         : the application's state at meta.index, replacing the log prefix up to it.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/error.hpp"

namespace velocity::raft {

using node_id = uint64_t;
inline constexpr node_id no_node = 0;  // node ids are never 0
using term_t = uint64_t;
using index_t = uint64_t;

// ---------------------------------------------------------------- log entries

enum class entry_kind : uint8_t {
  normal = 0,       // application data (empty data = the leader's no-op of a new term)
  conf_change = 1,  // data = encode_conf_change(...)
};

struct entry {
  term_t term = 0;
  index_t index = 0;
  entry_kind kind = entry_kind::normal;
  std::string data;

  friend bool operator==(const entry&, const entry&) = default;
};

// Bytes an entry counts for flow control and batching limits (data + fixed overhead).
inline constexpr size_t entry_overhead_bytes = 24;
inline size_t entry_bytes(const entry& e) { return e.data.size() + entry_overhead_bytes; }

// (index, term) of a proposal: the proposal took effect iff the entry committed
// at `index` has this `term` (a different term there means it was overwritten).
struct entry_id {
  index_t index = 0;
  term_t term = 0;
  friend bool operator==(const entry_id&, const entry_id&) = default;
};

// --------------------------------------------------------------- hard state

struct hard_state {
  term_t term = 0;
  node_id vote = no_node;  // voted for in `term`
  index_t commit = 0;

  friend bool operator==(const hard_state&, const hard_state&) = default;
};

// --------------------------------------------------------------- membership

// Sorted, duplicate-free id lists; a node is never both voter and learner.
struct membership {
  std::vector<node_id> voters;
  std::vector<node_id> learners;

  bool is_voter(node_id id) const;
  bool is_learner(node_id id) const;
  bool contains(node_id id) const { return is_voter(id) || is_learner(id); }
  bool empty() const { return voters.empty() && learners.empty(); }
  // Votes needed for an election or a commit: voters.size() / 2 + 1.
  size_t quorum() const { return voters.size() / 2 + 1; }

  friend bool operator==(const membership&, const membership&) = default;
};

// True for sorted, duplicate-free id lists without node 0 where no node is
// both voter and learner (what apply_conf_change produces). Membership read
// from the network or a disk is checked with it: lookups bisect the lists.
bool well_formed(const membership& conf);

// One server at a time (thesis section 4.1 and 4.2.1): a new server joins as a
// learner, catches up, then is promoted; removal takes a voter or learner out.
struct conf_change {
  enum class kind : uint8_t { add_learner = 0, promote_learner = 1, remove_node = 2 };
  kind type = kind::add_learner;
  node_id node = no_node;

  friend bool operator==(const conf_change&, const conf_change&) = default;
};

std::string encode_conf_change(const conf_change& change);
// invalid_argument / malformed for bytes not produced by encode_conf_change.
status_or<conf_change> decode_conf_change(std::string_view bytes);

// The membership after `change`. invalid_argument (message names the problem)
// when the change does not fit `current`: adding a present node, promoting a
// non-learner, removing an absent node, removing the last voter, node 0.
status_or<membership> apply_conf_change(const membership& current, const conf_change& change);

// --------------------------------------------------------------- snapshots

struct snapshot_meta {
  index_t index = 0;  // last log index the snapshot covers
  term_t term = 0;    // term of that entry
  membership conf;    // membership as of `index`

  friend bool operator==(const snapshot_meta&, const snapshot_meta&) = default;
};

struct snapshot {
  snapshot_meta meta;
  std::string data;  // opaque application state (the core never parses it)

  friend bool operator==(const snapshot&, const snapshot&) = default;
};

// --------------------------------------------------------------- messages

enum class message_type : uint8_t {
  pre_vote = 0,            // "would you vote for me at term+1?" (no state change anywhere)
  pre_vote_response = 1,
  vote = 2,
  vote_response = 3,
  append = 4,              // AppendEntries with entries (may be empty for a probe)
  append_response = 5,
  heartbeat = 6,           // leadership + commit + ReadIndex round (context)
  heartbeat_response = 7,
  snapshot_chunk = 8,      // one chunk of a snapshot transfer
  snapshot_response = 9,
  timeout_now = 10,        // leadership transfer: start an election now
  commit_notice = 11,      // follower -> leader: entries up to `commit` are known committed here
};
std::string_view to_string(message_type t);

// One struct for every message type (etcd's shape); fields unused by a type
// stay at their defaults. Per type:
//   pre_vote / vote      : term = proposed term, index/log_term = candidate's last entry,
//                          force = leadership transfer (ignore leader stickiness)
//   *vote_response       : term, reject
//   append               : index/log_term = entry preceding `entries`, entries, commit;
//                          when index == 0 and the leader's snapshot index is 0, also
//                          snap_meta = that snapshot's meta (the initial membership, which
//                          a node that joined later cannot learn from any entry)
//   append_response      : accept: index = last index now matching the leader;
//                          reject: index = the rejected prev index, reject_hint = a
//                          follower index to retry from, log_term = term at reject_hint
//                          (fast backtracking)
//   heartbeat            : commit (never beyond the follower's known match), context
//   heartbeat_response   : context (echoed)
//   snapshot_chunk       : snap_meta, snap_offset, snap_data (this chunk), snap_total_bytes,
//                          snap_done on the last chunk
//   snapshot_response    : index = snap_meta.index being transferred, snap_offset = next byte
//                          wanted; reject = restart the transfer; accept with snap_done = installed
//   timeout_now          : term
//   commit_notice        : commit (the follower's commit index, just advanced; promises
//                          nothing durable, so it leaves before the follower persists:
//                          raft::known_committed counts it)
struct message {
  message_type type = message_type::append;
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;

  term_t log_term = 0;
  index_t index = 0;
  std::vector<entry> entries;
  index_t commit = 0;
  bool reject = false;
  index_t reject_hint = 0;
  uint64_t context = 0;
  bool force = false;

  snapshot_meta snap_meta;
  uint64_t snap_offset = 0;
  uint64_t snap_total_bytes = 0;
  std::string snap_data;
  bool snap_done = false;

  friend bool operator==(const message&, const message&) = default;
};

// Bytes a message counts for flow control (entries + snapshot chunk + overhead).
size_t message_bytes(const message& m);

// "append 1->2 t5 i10/t4 n3 c9" style summary for logs and simulator traces.
std::string describe(const message& m);
std::ostream& operator<<(std::ostream& out, const message& m);

// --------------------------------------------------------------- core I/O

enum class role : uint8_t { follower = 0, pre_candidate = 1, candidate = 2, leader = 3 };
std::string_view to_string(role r);

enum class read_mode : uint8_t {
  safe = 0,   // ReadIndex: one heartbeat round confirms leadership (thesis 6.4)
  lease = 1,  // leader lease: no round trip while the lease holds (thesis 6.4.1)
};

// A read that may be served once the local applied index reaches `index`.
struct read_state {
  uint64_t request_id = 0;
  index_t index = 0;
  friend bool operator==(const read_state&, const read_state&) = default;
};

// What the core asks its shell to do, taken with raft::take_ready() and
// confirmed with raft::advance(). THE READY CONTRACT, in order:
//   1. Send `messages` at any time, even before step 2 completes. These are
//      only messages whose safety does not depend on this ready's durable
//      state: the leader's append / heartbeat / snapshot_chunk / timeout_now
//      messages (so the leader writes its log in parallel with replicating
//      it), pre_vote requests, and a follower's commit_notice (knowing an
//      index is committed promises nothing this replica holds durably).
//   2. Make durable, atomically and in this order within one batch:
//      `snap` (if set: the durable log is replaced by the snapshot; every
//      durable entry at or below snap->meta.index is dropped, and every
//      entry above it too when the snapshot was installed from a leader,
//      `snapshot_from_leader`), then `entries` (the durable log is truncated
//      from entries.front().index, then entries appended), then `hard`
//      (if set). Sync when `must_sync`.
//   3. Then send `messages_after_persist` (votes, vote requests, append and
//      snapshot responses: they promise what step 2 made durable).
//   4. If `snapshot_from_leader`, restore the application from `snap`.
//      Then apply `committed` in order; every committed entry is already
//      durable locally (it was persisted by an earlier ready), so a ready
//      without `snap` may have its `committed` applied and its read_states
//      served (step 5) while step 2 is still syncing.
//   5. Serve `read_states` once the applied index reaches each index; fail
//      the requests in `dropped_reads` (the leader lost its term).
//   6. Call raft::advance(). Only then does the leader count its own log as
//      durable for commit, and only then is the next ready formed.
// Early (raft::take_early): while a ready's writes sync, what no longer
// depends on them may be handed out in a partial ready and handled as steps
// 1, 4 and 5 say: entries committed meanwhile that earlier readies made
// durable (a leader learns its followers' acknowledgements while its own
// next write syncs, and applies at once instead of after that sync), read
// states and dropped reads, and step-1 messages of a term and vote already
// durable. Entries stay in order: a shell that still holds the outstanding
// ready's own `committed` (a ready with `snap` applies them only after its
// sync) takes nothing early until it has applied them.
struct ready {
  std::optional<snapshot> snap;
  bool snapshot_from_leader = false;  // false: a local compaction (raft::compact)
  std::vector<entry> entries;
  std::optional<hard_state> hard;
  bool must_sync = false;

  std::vector<message> messages;
  std::vector<message> messages_after_persist;

  std::vector<entry> committed;
  std::vector<read_state> read_states;
  std::vector<uint64_t> dropped_reads;

  bool empty() const;
};

// What a node recovers from durable storage at start (log_store::load), or
// what a brand-new node starts from.
struct durable_state {
  hard_state hard;
  snapshot snap;               // meta.index == 0 when there is none yet
  std::vector<entry> entries;  // contiguous, first index == snap.meta.index + 1
};

// A new cluster's first members: every initial voter starts from this state
// (an empty log; the membership rides in the index-0 snapshot meta). A node
// joining later starts from a default durable_state (empty membership) and
// learns everything from the leader.
durable_state bootstrap_state(std::vector<node_id> initial_voters);

// Bugs the simulator must catch (its self-test, tests/sim). Never set outside tests.
enum class injected_bug : uint8_t {
  none = 0,
  commit_previous_term_by_counting = 1,  // breaks the figure-8 rule (paper 5.4.2)
  vote_ignores_log = 2,                  // grants votes without the up-to-date check (5.4.1)
  ack_before_persist = 3,                // follower acknowledges appends in `messages`
  read_without_quorum = 4,               // ReadIndex answered without a heartbeat round (6.4)
};
std::string_view to_string(injected_bug b);

struct config {
  node_id id = no_node;
  // Election timeout is drawn uniformly from [election_ticks, 2 * election_ticks).
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  // Lease reads: the leader serves read_mode::lease reads without a round trip
  // after a quorum acknowledged a heartbeat, until lease_ticks - 1 of its
  // ticks after it SENT that heartbeat (one tick of margin: a follower's first
  // tick may come right after the heartbeat). Requires check_quorum and
  // 2 <= lease_ticks < election_ticks; 0 disables lease reads
  // (read_mode::lease then behaves like safe).
  uint32_t lease_ticks = 0;
  bool pre_vote = true;
  bool check_quorum = true;

  // Flow control per follower in the replicate state.
  size_t inflight_messages_max = 64;
  size_t inflight_bytes_max = 16 << 20;
  size_t append_bytes_max = 1 << 20;  // entries per append message (at least one entry)
  // Proposals are refused (overloaded) while uncommitted entries exceed this.
  size_t uncommitted_bytes_max = 64 << 20;
  size_t snapshot_chunk_bytes = 64 << 10;

  uint64_t random_seed = 1;  // the only source of randomness (election timeouts)
  injected_bug bug = injected_bug::none;
};

// ok, or invalid_argument naming the bad field (id 0, zero ticks, lease too
// long or 1, election_ticks above election_ticks_limit...).
// Far below where the randomized timeout (up to 2 * election_ticks) could overflow.
inline constexpr uint32_t election_ticks_limit = 1u << 20;
status validate(const config& c);

}  // namespace velocity::raft
