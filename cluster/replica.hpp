// The replica driver: THE one place that carries the Raft ready contract
// (cluster/raft/types.hpp) for a replica of one shard. The shard actor (a
// CAF shell over the document state machine) and the simulator (tests/sim)
// both feed it events and carry out the effects it returns, so what the
// simulator proves is the code production runs.
//
//   events in : tick_to(now), step(message), propose(request, data),
//               propose_conf_change(request, change), transfer_leadership(target),
//               read(request, mode, now), persisted(token), compact(index, data)
//   effects out (take_effects, in order; the shell carries them out in order):
//     send     : send these messages to their nodes now
//     persist  : write this batch to the engine; if `sync`, make it durable
//                and then call persisted(token); without sync, nothing to
//                report (the write is ordered before everything after it)
//     restore  : replace the application's state by this leader's snapshot
//     apply    : apply this committed entry; if `request` != 0 answer that
//                request with the application's reply, or, with `hold`,
//                keep that reply until a release effect for the request
//     release  : answer `request` with the reply its apply effect held: a
//                quorum of voters now knows its entry is committed
//     read     : serve read `request` now (the applied index has reached its
//                read index; for read_local, at once or at the commit index)
//     fail     : answer `request` with this error
//     capture  : capture the application's state at applied index `index`
//                and call compact(index, data) (log compaction); `index`
//                is the applied index less compact_keep_entries. A shell
//                whose state lives in its engine (the shard) passes no data:
//                its Raft snapshot is metadata only, and a lagging follower
//                gets the state streamed (cluster/snapshot_transfer.hpp)
//
// One liberty with the contract's order, taken here and nowhere else: the
// committed entries of a ready that must sync are applied (and its reads
// served) while its writes sync, since the core only delivers entries made
// durable by earlier readies; a leader's snapshot still waits for its sync.
// While a ready syncs, the driver also takes what the core hands out early
// (raft::take_early, types.hpp): entries committed meanwhile, read states,
// and messages of a durable term, so a leader applies and answers when its
// followers acknowledge rather than after its own next fsync.
//
// The driver decides everything the contract leaves to a shell: which
// messages may leave before the persist (raft's `messages`) and which only
// after it; that the next ready is formed only after the previous one is
// durable; which proposal an applied entry answers (the same index AND term:
// a proposal whose index was taken by another leader's entry fails with
// unavailable and was never applied, so the caller may retry it; one lost in
// a snapshot install fails with timeout: its outcome is unknown); delivering
// every elapsed tick of the monotonic clock before a lease read (raft.hpp's
// shell rule); when to compact.
//
// Pure: no clocks (time is passed in), no threads, no I/O (persist effects
// carry a staged write_batch). Thread safety: none; one owner.
// A read that reaches a new leader before it has committed an entry of its
// term waits for that commit instead of failing.
//
// Acknowledgement of proposals (docs/consistency.md): a leader answers its
// proposal once the entry is applied AND known_committed() reaches it (a
// quorum of voters knows the entry is committed), so a quorum read
// (read_local at commit on a majority of replicas) sees every acknowledged
// write. A replica that knew an index was committed may forget that in a
// crash (the commit index is not synced), so after a start it serves reads
// at its commit index only once it has applied everything its log held at
// the start, or an entry of a later term (whose leader held every entry
// committed before): see caught_up().
// Invariants: at most one ready is outstanding (taken, waiting for its sync);
// effects come out in contract order; a request id appears in exactly one
// apply/read/fail effect.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/log_store.hpp"
#include "cluster/raft/raft.hpp"
#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity::cluster {

struct replica_config {
  raft::config raft;
  // One Raft tick of the monotonic clock.
  int64_t tick_ns = 100'000'000;
  // Compact once this many entries were applied since the last snapshot, or
  // their bytes exceed compact_bytes. 0 disables compaction.
  uint64_t compact_entries = 10'000;
  uint64_t compact_bytes = 64ull << 20;
  // Entries kept below the applied index when compacting (the capture
  // effect's index is applied - compact_keep_entries), so a follower a little
  // behind still catches up by appends rather than a streamed snapshot.
  // REQUIRES: below compact_entries when compaction is on.
  uint64_t compact_keep_entries = 0;
  // Batching: propose and read only queue work in the core; the shell calls
  // flush() once per batch of requests (e.g. after its mailbox's requests),
  // so one ready, one write and one fsync cover them all.
  bool batch_requests = false;
  // Memory mode: the log lives only in the core (no persist effects; nothing
  // is ever synced). Such a replica must never rejoin a group after a restart
  // with the votes and entries it forgot (the node refuses it).
  bool volatile_log = false;
};

// Pending reads and proposals per replica: beyond, propose/read answer overloaded.
inline constexpr size_t replica_pending_max = 1 << 16;

// One effect; `type` says which fields are set. (One struct rather than a
// std::variant: GCC 12 reports false maybe-uninitialized errors on
// vectors of variants of these members.)
struct effect {
  enum class kind : uint8_t { send, persist, restore, apply, read, fail, capture, release };
  kind type = kind::send;
  std::vector<raft::message> messages;  // send
  write_batch batch;                    // persist
  bool sync = false;                    // persist: make durable, then persisted(token)
  uint64_t token = 0;                   // persist
  std::optional<raft::snapshot> snapshot;  // restore
  raft::entry entry;                    // apply
  uint64_t request = 0;                 // apply (0: nobody waits on this node), read, fail, release
  bool hold = false;                    // apply: keep the reply until `release`
  status error;                         // fail
  // fail: the request certainly never reached a Raft log (another leader's
  // entry took its index; the core refused it): retrying cannot apply it twice.
  bool never_applied = false;
  raft::index_t index = 0;              // capture
};

class replica {
 public:
  // REQUIRES: validate(config.raft).ok(); `state` loaded from `store` (or a
  // bootstrap state already persisted there); `applied` is the application's
  // applied index. `now_ns` starts the tick clock (first tick one period later).
  replica(const replica_config& config, raft::durable_state state, raft::index_t applied,
          raft::log_store& store, int64_t now_ns);

  // Delivers every tick of the monotonic clock due at or before now_ns.
  void tick_to(int64_t now_ns);
  void step(const raft::message& m);
  // Starts an election now (raft::campaign): a shell starting the only voter
  // of a group calls it so the group serves at once.
  void campaign();
  // Proposes `data`; the answer is a later apply (with `request`) or fail
  // effect. Errors now: not_leader (leader_hint() says where), unavailable,
  // overloaded (the core's, or replica_pending_max).
  status propose(uint64_t request, std::string data);
  // A linearizable read; the answer is a later read or fail effect. A lease
  // read first catches up every elapsed tick. Errors as propose.
  status read(uint64_t request, raft::read_mode mode, int64_t now_ns);
  // A read of this replica's applied state, with no leader involved; the
  // answer is a read effect (or fail). `at_commit` false: served at once
  // (local and eventual reads: may be stale, never goes backwards on this
  // replica). `at_commit` true (a quorum read's part): served once applied
  // reaches the commit index this replica knows now; unavailable while the
  // replica has not caught up since its start (see the header comment).
  status read_local(uint64_t request, bool at_commit);
  // True when this replica's commit index covers every entry it could have
  // reported committed before its last start.
  bool caught_up() const;
  // config.batch_requests: propose/read only queue work until flush().
  bool batches_requests() const { return config_.batch_requests; }
  // Forms readies for work queued by propose/read (config.batch_requests).
  void flush() { drive(); }
  // Proposes a membership change; answered as propose (the apply effect
  // carries the conf_change entry). Errors as raft::propose_conf_change, plus
  // overloaded (replica_pending_max).
  status propose_conf_change(uint64_t request, const raft::conf_change& change);
  // Starts a leadership transfer (raft::transfer_leadership); its messages
  // come out as send effects.
  status transfer_leadership(raft::node_id target);
  // A leader that is about to stop: transfers leadership to the voter whose
  // log matches the most of its own. The target, or 0 when this replica does
  // not lead, has no other voter, or the core refused.
  raft::node_id hand_off();
  // The persist effect with `token` is durable.
  void persisted(uint64_t token);
  // The answer to a capture effect: the application's state at `index`.
  void compact(raft::index_t index, std::string data);

  std::vector<effect> take_effects();
  // The same into `out` (cleared first): a shell that keeps `out` between
  // calls reuses both vectors' capacity instead of allocating per batch.
  void take_effects(std::vector<effect>& out);
  bool has_effects() const { return !effects_.empty(); }

  // Fails every pending proposal and read (the replica is shutting down or
  // its application failed); the effects come out with take_effects.
  void fail_all(const status& error);

  const raft::raft& core() const { return core_; }
  raft::node_id leader_hint() const { return core_.leader_hint(); }
  raft::index_t applied() const { return applied_; }
  bool persist_in_flight() const { return in_flight_.has_value(); }
  // True when this node is the only voter of its group and its leader.
  bool leads_alone() const;
  int64_t ticks_delivered() const { return ticks_delivered_; }

 private:
  void drive();
  void drive_readies();
  void drive_early();
  void finish(raft::ready& rd);
  void deliver(raft::ready& rd);
  void apply_committed(raft::ready& rd);
  void serve_reads();
  void maybe_capture();
  void retry_deferred_reads();
  void release_confirmed();
  size_t pending() const {
    return proposals_.size() + reads_.size() + deferred_reads_.size() + held_.size();
  }
  status refuse(const status& core_error) const;
  void push_send(std::vector<raft::message> messages);
  void push_fail(uint64_t request, status error, bool never_applied = false);

  struct pending_read {
    std::optional<raft::index_t> index;  // set when the read_state arrived
  };

  replica_config config_;
  raft::log_store& store_;
  raft::raft core_;
  raft::index_t applied_ = 0;
  std::optional<raft::ready> in_flight_;  // taken, waiting for persisted(token_)
  uint64_t token_ = 0;
  std::optional<std::pair<raft::index_t, std::string>> compaction_;  // waits for no in-flight
  bool capture_asked_ = false;
  uint64_t bytes_since_snapshot_ = 0;
  int64_t next_tick_ns_ = 0;
  int64_t ticks_delivered_ = 0;
  std::multimap<raft::index_t, std::pair<uint64_t, raft::term_t>> proposals_;  // index -> (request, term)
  std::map<uint64_t, pending_read> reads_;
  // Reads that arrived before this leader committed an entry of its term.
  std::vector<std::pair<uint64_t, raft::read_mode>> deferred_reads_;
  std::vector<effect> effects_;
  // Proposals applied by this leader whose replies wait for known_committed:
  // index -> request.
  std::multimap<raft::index_t, uint64_t> held_;
  // The last entry of the log at the start, and the term of the last entry
  // applied since (caught_up()).
  raft::index_t start_last_index_ = 0;
  raft::term_t start_last_term_ = 0;
  raft::term_t applied_term_ = 0;
};

}  // namespace velocity::cluster
