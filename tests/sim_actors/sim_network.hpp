// The simulated network of a level-(b) run: what replaces the peer transport.
//
// Each node incarnation gets its own link actor, a peer_transport_actor (the
// interface the peer mux talks to): it stamps `from` with its node id, as the
// real transport does, and hands the message to the one network actor with
// its incarnation. The network decides from the run's seeded generator
// (world::generator) what happens to it:
//   - a message from a dead incarnation is dropped (the node crashed);
//   - a link that is down (partitioned, or the destination crashed) drops it;
//     a forward_request is then answered at once with an undeliverable
//     forward_reply, as the real transport does without a connection;
//   - otherwise it is lost with the seed's loss rate (a connection reset after
//     the frame was queued: no answer), or delivered after a drawn delay (so
//     messages reorder), plus a clogged link's extra delay; raft and
//     forward_reply messages are duplicated with the seed's rate (a
//     forward_request never is: the transport never sends a frame twice, so
//     the router's retry policy is what guards against doubles);
//   - at delivery, a message to a dead incarnation or over a link that went
//     down meanwhile is dropped; the rest goes to the node's mux (the sink).
// Nodes never hold each other's handles: only the network knows the sinks.
//
// Actor safety: the network's state lives in the world (sim_world.hpp), on
// the test coordinator's one thread.
#pragma once

#include <cstdint>

#include "actors/peer_transport.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"
#include "tests/sim_actors/sim_world.hpp"

namespace velocity::simb {

using net_send_atom = caf::atom_constant<caf::atom("net_send")>;
using net_deliver_atom = caf::atom_constant<caf::atom("net_dlvr")>;

caf::actor spawn_network(caf::actor_system& system, world& w);

// The transport of node `node`'s incarnation `incarnation`.
peer_transport_actor spawn_link(caf::actor_system& system, world& w, raft::node_id node,
                                uint64_t incarnation);

}  // namespace velocity::simb
