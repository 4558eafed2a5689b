// The router actor: the one entry point for client requests on a node
// (router_actor in actors/messages.hpp). It validates the consistency level,
// stamps write commands with the time (the state machine never reads a
// clock), generates missing insert ids, picks the shard(s), forwards with a
// timeout and answers with a client_response. Schema changes go to every
// shard; health, status and get_schema are answered here.
//
// Every routing decision is a pure function of router/: consistency rules
// (consistency_rules.hpp), shard plans from the collection's partitioning
// (placement.hpp), list/count/claim fan-out merges (list_merge.hpp), the
// merge of schema changes (schema_broadcast.hpp) and ids (ids.hpp). The actor only caches each collection's schema (fetched from
// shard 0, dropped when a schema change through this router completes) and
// carries out the plan.
//
// Actor safety: state is touched only by the router actor.
// Invariants: in_flight_ counts accepted requests not yet answered and never
// exceeds router_options::in_flight_max (beyond: overloaded); once draining,
// every new request is answered unavailable and drain replies go out when
// in_flight_ reaches zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/environment.hpp"
#include "actors/gossiper.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/peer_mux.hpp"
#include "actors/shard.hpp"
#include "caf/actor_system.hpp"
#include "caf/atom.hpp"

namespace velocity {

using drain_atom = caf::atom_constant<caf::atom("drain")>;
using router_retry_atom = caf::atom_constant<caf::atom("rt_retry")>;

// Requests in flight through one router. Bounds memory under overload.
inline constexpr size_t router_in_flight_max_default = 1 << 16;

struct router_options {
  raft::node_id node = 1;  // this node's id
  // A cluster node: how requests reach a shard's leader on another node.
  // Null on a single node (every group is local and leads itself).
  peer_mux_actor mux;
  storage_mode mode = storage_mode::memory;
  std::vector<shard_actor> shards;  // index = shard id; at least one
  // Per shard: the nodes that hold a replica of it (quorum and eventual
  // reads ask them). Empty: this node holds every shard and nobody else does.
  std::vector<std::vector<raft::node_id>> replicas{};
  std::shared_ptr<environment> env;
  uint32_t request_timeout_ms_default = 5000;
  size_t in_flight_max = router_in_flight_max_default;
  // Where to count requests by operation and outcome, their latency (receive
  // -> reply) and the in-flight gauge. nullptr = no metrics.
  std::shared_ptr<metrics_registry> metrics;
};

// The router plus node control: drain stops accepting and replies (with the
// number of requests it waited for) once nothing is in flight.
using router_control_actor =
    router_actor::extend<caf::replies_to<drain_atom>::with<uint64_t>,
                         // To itself: a retry's backoff has elapsed.
                         caf::reacts_to<router_retry_atom, uint64_t>,
                         // From the gossiper: the member table after a change
                         // (dead members are skipped, leaders seeded from it).
                         caf::reacts_to<member_view_atom, member_view>>;

router_control_actor spawn_router(caf::actor_system& system, router_options options);

}  // namespace velocity
