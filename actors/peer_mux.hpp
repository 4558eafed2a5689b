// The peer mux: a node's one actor between its shards and router and the
// peer transport (actors/peer_transport.hpp), and the node's one Raft timer.
//
//   shards --raft_out--> mux: messages buffered per destination node; one
//       flush per mailbox batch encodes each node's buffer as one RaftBatch
//       (cluster/raft/message_codec.hpp) in one envelope, so the heartbeats
//       of every group a pair of nodes share travel in one frame per tick.
//   router --forward(node, shard, command)--> mux --forward_request--> the
//       node's mux --apply--> its local shard; the reply travels back as a
//       forward_reply with the same correlation. A forward that cannot be
//       queued comes back undeliverable and is answered `unavailable` (it was
//       never sent, so the router may retry it); one without an answer
//       before the router's deadline times out there (outcome unknown).
//   transport --deliver--> mux: RaftBatch groups to their local shards
//       (raft_step), forward requests to local shards, forward replies to
//       the waiting router requests.
//   timer: every tick_ms, raft_tick to every local shard (one timer per node,
//       not one per group).
//   gossiper --gossip_out--> mux --gossip envelope--> the node's mux
//       --gossip_in--> its gossiper (membership, actors/gossiper.hpp).
//   shards --snap_out--> mux --snapshotChunk / snapshotAck envelope--> the
//       node's mux --snap_in--> its shard: streamed snapshots
//       (actors/snapshot_stream.hpp), sent at once, not batched (each chunk
//       is up to 1 MiB; the sender bounds how many are in flight).
//
// Nodes never hold each other's CAF handles: everything between nodes is a
// peer_message. A simulation replaces the transport by a network actor with
// the same interface (peer_transport_actor).
//
// Actor safety: state is touched only by the mux.
// Invariants: pending_ never exceeds peer_mux_forwards_max (beyond, forward
// answers overloaded); a buffered destination is flushed by the flush message
// already in the mailbox (flush_scheduled_).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "actors/messages.hpp"
#include "actors/peer_transport.hpp"
#include "actors/shard.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

namespace velocity {

// Forwarded requests waiting for their reply from another node.
inline constexpr size_t peer_mux_forwards_max = 1 << 16;
// Raft bytes per envelope: a flush splits larger buffers (the frame limit is
// frame_bytes_max; entries are bounded by the core's append_bytes_max).
inline constexpr size_t peer_mux_batch_bytes_max = 4 << 20;
// How long the receiving node waits for its local shard on a forward, and
// the sending mux for the reply (then: timeout, outcome unknown).
inline constexpr uint32_t peer_mux_forward_timeout_ms = 60'000;

using forward_atom = caf::atom_constant<caf::atom("forward")>;
using mux_flush_atom = caf::atom_constant<caf::atom("mux_flush")>;
using mux_tick_atom = caf::atom_constant<caf::atom("mux_tick")>;
using mux_attach_atom = caf::atom_constant<caf::atom("mux_attch")>;
using gossip_in_atom = caf::atom_constant<caf::atom("gossip_in")>;
using gossip_out_atom = caf::atom_constant<caf::atom("gossip_out")>;

// Where the mux delivers gossip envelopes from other nodes: the node's
// gossiper (actors/gossiper.hpp).
using gossip_sink_actor = caf::typed_actor<caf::reacts_to<gossip_in_atom, peer_message>>;

// A command for shard `shard`, to run at node `node` (its leader, as far as
// the router knows).
struct forwarded_command {
  raft::node_id node = 0;
  uint32_t shard = 0;
  command cmd;
  consistency level = consistency::strong;  // shard_request::level
};

// What the node hands the mux once everything is spawned.
struct peer_mux_attachment {
  peer_transport_actor transport;
  std::vector<shard_actor> shards;  // index = shard id
  gossip_sink_actor gossiper{};     // null: gossip envelopes are dropped
};

using peer_mux_actor = caf::typed_actor<
    caf::reacts_to<raft_out_atom, raft_messages>,                          // from shards
    caf::reacts_to<snap_out_atom, snapshot_wire>,                          // from shards
    caf::reacts_to<peer_deliver_atom, peer_message>,                      // from the transport
    caf::replies_to<forward_atom, forwarded_command>::with<shard_reply>,  // from the router
    caf::reacts_to<mux_flush_atom>, caf::reacts_to<mux_tick_atom>,         // to itself
    caf::reacts_to<gossip_out_atom, peer_message>,                        // from the gossiper
    caf::reacts_to<mux_attach_atom, peer_mux_attachment>>;                // from the node

struct peer_mux_options {
  raft::node_id node = 0;
  uint32_t tick_ms = 100;
  // Where this incarnation's forward correlations start. The node draws it
  // from its environment: a reply to a forward of the node's previous
  // incarnation, still in flight when it restarted, must not match a new
  // forward (counters that restarted at 1 did, and answered one client's
  // request with another's result; found by level (b), seed 7554).
  uint64_t first_correlation = 0;
};

peer_mux_actor spawn_peer_mux(caf::actor_system& system, peer_mux_options options);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::peer_mux_attachment)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::forwarded_command)
