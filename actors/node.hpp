// A node: everything one velocityd process runs, built from a node_config.
// start() opens the engine (memory or RocksDB), spawns the log writer
// (persistent mode), one shard actor per shard (each recovering its state
// machine), the router, the TCP transport and (ops_http) the ops HTTP
// endpoint (actors/ops_http.hpp) over the node's metrics registry. stop() shuts
// down in order: mark the node not ready, drain the router (new requests get unavailable, in-flight ones finish and
// are answered on their connections), stop the ops endpoint, close the
// transport, a final
// group-commit fsync, stop the actors and wait for them, sync and close the
// engine.
//
// Thread safety: start/stop/accessors from one thread (main or a test), never
// from inside an actor (stop blocks). The node must be stopped (or destroyed)
// before its actor_system is destroyed.
// Invariants: after start() returned ok every actor is running; after stop()
// no actor of the node is alive and the engine is closed.
#pragma once

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/environment.hpp"
#include "actors/gossiper.hpp"
#include "actors/log_writer.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/peer_mux.hpp"
#include "actors/router_actor.hpp"
#include "actors/shard.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "protocols/error.hpp"

namespace velocity {

class ops_http_server;  // actors/ops_http.hpp

// Shards per node: each is an actor with its own key range. More than the
// cores is pointless on one node; the bound keeps a typo from spawning millions.
inline constexpr uint32_t node_shards_max = 256;
// RocksDB block cache: at least 1 MiB, at most 1 TiB.
inline constexpr size_t node_cache_mb_max = 1 << 20;
// How long stop() waits for in-flight requests before shutting down anyway.
inline constexpr uint32_t node_drain_timeout_ms = 10000;

// A cluster member as configured: `id@host:peer-port`.
struct member_address {
  raft::node_id id = 0;
  std::string host;
  uint16_t peer_port = 0;
  friend bool operator==(const member_address&, const member_address&) = default;
};

// Parses "1@127.0.0.1:7410,2@127.0.0.1:7420" (spaces around commas allowed).
// invalid_argument naming the bad entry: a missing @ or :, an id that is not
// a positive integer, a port outside 1..65535, a duplicate id.
status_or<std::vector<member_address>> parse_members(std::string_view text);

struct node_config {
  raft::node_id node_id = 1;  // positive; the Raft node id of every replica here
  std::string host = "127.0.0.1";
  uint16_t port = 7400;       // 0 = any free port (see node::port())
  uint16_t http_port = 7401;  // ops HTTP endpoint (0 = any free port, see node::http_port())
  bool ops_http = false;      // serve the ops HTTP endpoint on host:http_port
  storage_mode mode = storage_mode::memory;
  std::string data_dir;       // persistent mode only
  uint32_t shards = 1;
  size_t cache_mb = 64;
  std::string log_level = "info";
  bool listen = true;         // start the TCP transport
  uint32_t request_timeout_ms = 5000;
  // A cluster: every member, this node included (empty or only this node: a
  // single node). Every node of a cluster has the same list, cluster id,
  // shard count and replication factor. Clusters need persistent mode.
  std::vector<member_address> members;
  std::string cluster_id = "velocity";
  // Replicas per shard; today it must equal the number of members (every
  // node holds a replica of every shard).
  uint32_t replication_factor = 3;
  raft_timing timing;
  // Compact each shard's Raft log every this many applied entries (0: never).
  uint64_t compact_entries = shard_compact_entries_default;
  // Bytes per streamed snapshot chunk (4 KiB to snapshot_chunk_bytes_max).
  size_t snapshot_chunk_bytes = snapshot_chunk_bytes_max;
  // Membership gossip of a cluster (actors/gossiper.hpp, docs/cluster.md).
  gossip_timing gossip{};
  bool clustered() const { return members.size() > 1; }
};

// invalid_argument naming the first bad setting (empty node id, shards out of
// range, persistent mode without data dir, unknown log level, ...).
status validate(const node_config& config);

class node {
 public:
  // Starts a node. invalid_argument for a bad config, io_error for an unusable
  // data directory or a port in use (the message names the path or address).
  // env = nullptr: the real environment.
  static status_or<std::unique_ptr<node>> start(caf::actor_system& system, node_config config,
                                                std::shared_ptr<environment> env = nullptr);

  ~node();  // stop() unless already stopped
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // The router: what clients (remote via the transport, or embedded) talk to.
  router_actor router() const { return router_; }
  // The bound client port; 0 without a transport.
  uint16_t port() const { return port_; }
  // The bound ops HTTP port; 0 without the ops endpoint.
  uint16_t http_port() const { return http_port_; }
  // True from the end of start() until stop() begins (the /ready page also
  // checks the shards).
  bool ready() const { return ready_.load(); }
  // Counters, gauges and histograms of this node's actors (never null).
  std::shared_ptr<metrics_registry> metrics() const { return metrics_; }
  const node_config& config() const { return config_; }
  // For metrics and status pages: group-commit stats (lw_stats_atom; null in
  // memory mode) and each shard's shard_info (shard_info_atom).
  log_writer_actor log_writer() const { return log_writer_; }
  const std::vector<shard_actor>& shards() const { return shards_; }
  // A cluster node's peer transport (null on a single node): for stats.
  peer_transport_actor peer_transport() const { return peer_transport_; }
  std::shared_ptr<engine> storage() const { return engine_; }
  caf::actor_system& system() { return system_; }

  // Orderly shutdown (see the file comment). Idempotent; returns the final
  // sync's status (ok in memory mode).
  status stop();

 private:
  node(caf::actor_system& system, node_config config, std::shared_ptr<environment> env);

  status open();  // the body of start()
  status spawn_actors();
  // Where this node is reached (gossip metadata): its peer address, and its
  // client and ops addresses once bound.
  swim::member_meta addresses() const;
  // A stopping cluster node hands each group it leads to the most caught-up
  // follower and waits (at most two election timeouts) until it leads none,
  // so its groups need no election timeout to continue.
  void hand_off_leadership();
  status start_ops_http();
  status start_peers();

  caf::actor_system& system_;
  node_config config_;
  std::shared_ptr<environment> env_;
  std::shared_ptr<engine> engine_;
  log_writer_actor log_writer_;        // null in memory mode
  std::vector<shard_actor> shards_;
  router_control_actor router_control_;
  router_actor router_;
  caf::actor transport_;               // null without a transport
  peer_mux_actor mux_;                 // cluster only
  gossiper_actor gossiper_;            // cluster only
  peer_transport_actor peer_transport_;  // cluster only
  uint16_t port_ = 0;
  std::shared_ptr<metrics_registry> metrics_ = std::make_shared<metrics_registry>();
  std::unique_ptr<ops_http_server> ops_http_;  // null without the ops endpoint
  uint16_t http_port_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  bool stopped_ = false;
};

}  // namespace velocity
