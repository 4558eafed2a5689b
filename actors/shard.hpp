// The shard actor: one per shard replica, the Raft shell of its group. It
// owns the shard's document state machine over the node's shared engine and
// a cluster::replica (the pure driver of the Raft ready contract), feeds the
// driver events (requests, log writer confirmations) and carries out the
// effects it returns, in order: write the Raft batch to the engine, ask the
// log writer for the group-commit fsync and report it, apply committed
// entries to the state machine and answer their proposers, serve reads once
// their read index is applied, answer failures. The decisions are in the
// driver and the state machine; nothing here reorders effects.
//
// Write path: propose (the command encoded as a log entry) -> persist (one
// batch with the Raft state, fsynced by the log writer with every other
// shard's batch of the round; memory mode keeps the log in memory only) ->
// committed -> applied -> reply. A strong read goes through ReadIndex and is
// answered once the applied index reaches it, so a client never sees a write
// that could still be lost. A single node is a cluster of one: each group has
// one voter, elects itself at start and needs no ticks. A group of several
// replicas (a cluster) sends its Raft messages through the node's peer mux
// (raft_outbox_actor), receives them as raft_step, and ticks on raft_tick
// from the node's one timer (the ticks follow the environment's monotonic
// clock, caught up before every lease read by the driver).
//
// Compaction and snapshots: every group compacts its log (compact_entries);
// the Raft snapshot is metadata only. A follower behind the leader's
// compacted prefix gets the shard streamed (actors/snapshot_stream.hpp): the
// leader turns its core's snapshot message into chunks (snap_out to the
// mux), the follower stages and installs them (snap_in) and only then steps
// the snapshot message into its core. Raft snapshot messages from the wire
// are dropped. At start, an install a crash interrupted is finished before
// the state machine opens (storage/snapshot_stream.hpp).
//
// Actor safety: state is touched only by the shard actor.
// Invariants: requests_ never holds more than shard_backlog_max entries
// (beyond it the shard answers overloaded); every request is answered once;
// after an engine write or fsync failed the shard answers every request with
// unavailable (the state machine must be reopened).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/environment.hpp"
#include "actors/log_writer.hpp"
#include "actors/snapshot_stream.hpp"
#include "caf/actor_system.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "cluster/raft/types.hpp"
#include "command/commands.hpp"
#include "protocols/consistency.hpp"
#include "protocols/error.hpp"
#include "schema/schema.hpp"
#include "storage/engine.hpp"

namespace velocity {

// Requests waiting per shard (for their entry to apply or their read index).
// Bounds memory and latency under overload; the client sees overloaded.
inline constexpr size_t shard_backlog_max = 4096;

using apply_atom = caf::atom_constant<caf::atom("apply")>;
using schema_atom = caf::atom_constant<caf::atom("schema")>;
using shard_info_atom = caf::atom_constant<caf::atom("shard_info")>;
// Hand this replica's leadership to its most caught-up follower (a node that
// stops gracefully); the answer is the target's node id, 0 when there was
// nothing to hand over (not leader, alone, failed) or the core refused.
using shard_handoff_atom = caf::atom_constant<caf::atom("sh_handoff")>;
using shard_flush_atom = caf::atom_constant<caf::atom("sh_flush")>;
using raft_step_atom = caf::atom_constant<caf::atom("raft_step")>;
using raft_tick_atom = caf::atom_constant<caf::atom("raft_tick")>;
using raft_out_atom = caf::atom_constant<caf::atom("raft_out")>;

// Raft messages of one shard's group, between a shard and its node's peer mux.
struct raft_messages {
  uint32_t shard = 0;
  std::vector<raft::message> messages;
};

// Where a shard replica sends its Raft messages and snapshot stream chunks
// and acks: the node's peer mux, which batches Raft messages per destination
// node and hands everything to the peer transport.
using raft_outbox_actor = caf::typed_actor<caf::reacts_to<raft_out_atom, raft_messages>,
                                           caf::reacts_to<snap_out_atom, snapshot_wire>>;

// Raft timing of every group of a node. The lease assumption (raft.hpp): the
// nodes' clocks tick at rates within election_ticks / lease_ticks of each other.
struct raft_timing {
  uint32_t tick_ms = 100;
  uint32_t election_ticks = 10;  // election timeout: [10, 20) ticks = 1-2 s
  uint32_t heartbeat_ticks = 1;
};

// Log compaction of every group of a node: a replica compacts once this many
// entries were applied since its last snapshot (0: never). A replicated
// group keeps a quarter of them below its applied index, so a follower a
// little behind still catches up by appends; one further behind gets the
// shard streamed (actors/snapshot_stream.hpp).
inline constexpr uint64_t shard_compact_entries_default = 10'000;

struct shard_request {
  command cmd;
  // How the replica serves it (docs/consistency.md): a read at `strong`
  // through ReadIndex on the leader, at `local` / `eventual` from this
  // replica's applied state at once, at `quorum` from its applied state once
  // that reaches the commit index it knows (one part of a quorum read); a
  // write at `eventual` is answered once the leader accepted it into its
  // log, at `strong` / `quorum` once applied and known committed by a
  // quorum. The router has already refused the levels an operation does
  // not accept.
  consistency level = consistency::strong;
};

struct shard_reply {
  reply result;
  // With not_leader: the group's leader as this replica knows it (0: unknown).
  raft::node_id leader = 0;
  // Set by the peer mux when a forwarded command could not even be queued
  // for its node (result unavailable): it never left, so it may be retried.
  bool never_sent = false;
  // The command certainly never reached a Raft log and cannot reach one
  // later (a proposal another leader's entry overwrote, one refused during a
  // leadership transfer): the router may retry it elsewhere
  // (router/redirect.hpp). Never set for a failed shard.
  bool never_applied = false;
  // A read: this replica's applied index when it served it (a quorum read
  // takes the answer of the replica that applied the most).
  uint64_t applied = 0;
};

struct schema_reply {
  std::optional<collection_schema> schema;  // nullopt: no such collection
};

// A follower's replication progress as its group's leader sees it.
struct follower_progress {
  uint64_t node = 0;
  uint64_t match = 0;  // the highest log index known to match the leader's
};

struct shard_info {
  uint32_t shard_id = 0;
  uint64_t applied_index = 0;
  uint64_t durable_index = 0;  // the Raft commit index (durable on a quorum; memory mode: in memory)
  size_t backlog = 0;          // requests waiting for their entry or read index
  bool failed = false;
  std::string role;            // Raft role of this replica: follower, candidate, leader...
  uint64_t term = 0;
  uint64_t leader = 0;         // node id of the group's leader, 0 when unknown
  uint64_t proposals = 0;      // commands proposed by this replica (accepted by its core)
  uint64_t leader_changes = 0; // times this replica saw the group's leader change
  uint64_t commit_latency_ns_total = 0;  // proposals answered: propose -> applied, summed
  uint64_t committed_proposals = 0;      // proposals answered by an apply
  uint64_t failed_writes_read = 0;       // conditional writes that failed as reads, unlogged
  uint64_t eventual_writes = 0;          // writes answered on the leader's append (eventual)
  uint64_t replica_reads = 0;            // reads served without a leader (local, eventual, quorum)
  uint64_t snapshots_sent = 0;           // streamed snapshots a follower installed from this leader
  uint64_t snapshots_installed = 0;      // streamed snapshots this replica installed
  std::vector<follower_progress> followers;  // leader only: every other voter
};

using shard_actor =
    caf::typed_actor<caf::replies_to<apply_atom, shard_request>::with<shard_reply>,
                     caf::replies_to<schema_atom, std::string>::with<schema_reply>,
                     caf::replies_to<shard_info_atom>::with<shard_info>,
                     caf::replies_to<shard_handoff_atom>::with<uint64_t>,
                     // To itself: the requests before it in the mailbox are queued
                     // in the Raft core; form one ready for all of them.
                     caf::reacts_to<shard_flush_atom>,
                     // From the peer mux: messages from the group's other replicas.
                     caf::reacts_to<raft_step_atom, raft_messages>,
                     // From the node's one timer: deliver the elapsed Raft ticks.
                     caf::reacts_to<raft_tick_atom>,
                     // From the peer mux: a snapshot stream chunk or ack of another replica.
                     caf::reacts_to<snap_in_atom, snapshot_wire>>;

struct shard_options {
  uint32_t shard_id = 0;
  std::shared_ptr<engine> engine_;  // shared by every shard of the node
  // Persistent mode: the group-commit actor. A null handle means memory mode
  // (the Raft log lives in memory only; nothing waits for an fsync).
  log_writer_actor log_writer;
  raft::node_id node_id = 1;  // this replica's node
  // The group's initial voters (used only when the shard has no Raft state
  // yet); empty means this node alone. Groups of several replicas need
  // `outbox`, `env` and persistent mode.
  std::vector<raft::node_id> voters{};
  raft_outbox_actor outbox{};
  std::shared_ptr<environment> env{};  // the monotonic clock the ticks follow
  raft_timing timing{};
  uint64_t compact_entries = shard_compact_entries_default;
  // Keys and values per streamed snapshot chunk (at most, and by default,
  // snapshot_chunk_bytes_max); smaller only to exercise many chunks.
  size_t snapshot_chunk_bytes = snapshot_chunk_bytes_max;
};

// Finishes (or discards) a snapshot install a crash interrupted, opens the
// shard's state machine (recovering its applied index and schemas from the
// engine) and its Raft state (persistent mode: the log store; a new
// group starts with this node as its only voter, and, when the engine already
// holds documents applied up to index N, with its log starting after N), then
// spawns the actor, which elects itself at once. The engine's error if
// recovery fails.
status_or<shard_actor> spawn_shard(caf::actor_system& system, shard_options options);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::shard_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::shard_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::schema_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::shard_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::raft_messages)
