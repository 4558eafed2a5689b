// The actors of one node and how they are wired: its log writer (persistent
// mode), its peer mux and gossiper (a cluster), one shard replica per shard
// and its router (subscribed to the gossiper's member table).
// The one place that spawns them, used by node::start (velocityd: RocksDB,
// real TCP) and by the level (b) simulation (tests/sim_actors: memory engines
// behind a simulated disk, a simulated network), so what the simulation runs
// is what production runs. Attaching the mux to a transport is the caller's
// (the peer transport, or the simulated link).
//
// Thread safety: spawn_node_actors is called by one thread; the actors it
// returns are CAF actors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "actors/environment.hpp"
#include "actors/gossiper.hpp"
#include "actors/log_writer.hpp"
#include "actors/metrics.hpp"
#include "actors/peer_mux.hpp"
#include "actors/router_actor.hpp"
#include "actors/shard.hpp"
#include "caf/actor_system.hpp"
#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity {

struct node_actor_options {
  raft::node_id node = 1;
  storage_mode mode = storage_mode::memory;
  uint32_t shards = 1;
  // Every member's id, this node's included; at most one member: a single
  // node (each group has this node as its only voter).
  std::vector<raft::node_id> members{};
  uint32_t replication_factor = 1;
  raft_timing timing{};
  uint64_t compact_entries = shard_compact_entries_default;
  size_t snapshot_chunk_bytes = snapshot_chunk_bytes_max;
  uint32_t request_timeout_ms = 5000;
  // A cluster's gossip timing and this node's metadata (its addresses; the
  // shards it leads are added by the gossiper).
  gossip_timing gossip{};
  swim::member_meta meta{};
  std::shared_ptr<engine> engine_{};            // shared by every shard
  std::shared_ptr<environment> env{};           // clock and randomness of every actor
  std::shared_ptr<metrics_registry> metrics{};  // may be null
  // The log writer fsyncs on its own thread (velocityd); the simulation runs
  // it on the test coordinator like every other actor.
  bool detached_log_writer = true;
  // Seams of the simulation, identity when empty: the log writer the shards
  // use (a slow or failing disk in front of the real one), and the handle of
  // a shard that the router and the mux talk to (a proxy injecting a bug).
  std::function<log_writer_actor(log_writer_actor)> wrap_log_writer{};
  std::function<shard_actor(uint32_t shard, shard_actor)> wrap_shard{};

  bool clustered() const { return members.size() > 1; }
};

struct node_actors {
  log_writer_actor log_writer;     // the real one; null in memory mode
  peer_mux_actor mux;              // null on a single node
  std::vector<shard_actor> replicas;  // as spawned, by shard id
  std::vector<shard_actor> shards;    // what the router and the mux talk to
  router_control_actor router;
  gossiper_actor gossiper;         // null on a single node
};

// Spawns the node's actors. A shard that cannot recover fails the whole
// node: its error, naming the shard, and every actor spawned so far is told
// to exit.
status_or<node_actors> spawn_node_actors(caf::actor_system& system,
                                         const node_actor_options& options);

}  // namespace velocity
