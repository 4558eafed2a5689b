// Implements node_actors.hpp.
//
// Thread safety: called by one thread (see the header).
#include "actors/node_actors.hpp"

#include <utility>

#include "caf/exit_reason.hpp"
#include "caf/send.hpp"
#include "cluster/replica_placement.hpp"

namespace velocity {

namespace {

void stop_all(node_actors& spawned) {
  auto stop = [](const auto& handle) {
    if (handle) caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
  };
  for (const auto& shard : spawned.replicas) stop(shard);
  for (const auto& shard : spawned.shards) stop(shard);
  stop(spawned.mux);
  stop(spawned.gossiper);
  stop(spawned.log_writer);
}

}  // namespace

status_or<node_actors> spawn_node_actors(caf::actor_system& system,
                                         const node_actor_options& options) {
  node_actors out;
  log_writer_actor shard_writer;
  if (options.mode == storage_mode::persistent) {
    out.log_writer = spawn_log_writer(system, options.engine_, options.env,
                                      options.detached_log_writer, options.metrics);
    shard_writer = options.wrap_log_writer ? options.wrap_log_writer(out.log_writer)
                                           : out.log_writer;
  }
  if (options.clustered())
    out.mux = spawn_peer_mux(system, {options.node, options.timing.tick_ms,
                                      options.env->random_u64()});
  std::vector<std::vector<raft::node_id>> replicas;  // per shard, in a cluster
  for (uint32_t id = 0; id < options.shards; ++id) {
    shard_options shard_config{id, options.engine_, shard_writer};
    shard_config.node_id = options.node;
    shard_config.compact_entries = options.compact_entries;
    shard_config.snapshot_chunk_bytes = options.snapshot_chunk_bytes;
    if (options.clustered()) {
      shard_config.voters = cluster::replicas_of(id, options.members, options.replication_factor);
      replicas.push_back(shard_config.voters);
      shard_config.outbox = out.mux;
      shard_config.env = options.env;
      shard_config.timing = options.timing;
    }
    auto shard = spawn_shard(system, std::move(shard_config));
    if (!shard.ok()) {
      stop_all(out);
      return shard.error();
    }
    out.replicas.push_back(shard.value());
    out.shards.push_back(options.wrap_shard ? options.wrap_shard(id, shard.value())
                                            : shard.value());
  }
  router_options routing;
  routing.node = options.node;
  routing.mux = out.mux;
  routing.mode = options.mode;
  routing.shards = out.shards;
  routing.replicas = std::move(replicas);
  routing.env = options.env;
  routing.request_timeout_ms_default = options.request_timeout_ms;
  routing.metrics = options.metrics;
  out.router = spawn_router(system, std::move(routing));
  if (options.clustered()) {
    gossiper_options gossip;
    gossip.node = options.node;
    gossip.members = options.members;
    gossip.timing = options.gossip;
    gossip.meta = options.meta;
    gossip.mux = out.mux;
    gossip.shards = out.replicas;
    gossip.env = options.env;
    gossip.metrics = options.metrics;
    out.gossiper = spawn_gossiper(system, std::move(gossip));
    caf::anon_send(out.gossiper, gossip_subscribe_atom::value, member_listener{out.router});
  }
  return out;
}

}  // namespace velocity
