// A velocityd cluster for process tests: three (or more) persistent nodes on
// loopback, each with its own client, ops HTTP and peer port and its own data
// directory under one temp_dir, all sharing a cluster id. A node can be killed
// (SIGKILL), paused (SIGSTOP), resumed and restarted on the same ports and data
// directory, as an operator would after a crash.
//
// Node ports are chosen once (free a moment ago) because every node's members
// list names its peers' ports; velocityd then binds them with SO_REUSEADDR, so
// a restart right after a kill finds them free again. A proxied cluster gives
// each node a members list of its own: its own peer port, and for every other
// node the port of the proxy in front of it.
//
// Thread safety: a test_cluster is used from the test thread only.
// group_statuses() opens its own short-lived socket, so it may run while client
// threads use the nodes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process_support.hpp"
#include "tcp_proxy.hpp"

namespace velocity::process_test {

struct cluster_options {
  std::string name = "cluster";  // temp directory stem
  size_t node_count = 3;
  uint32_t shards = 2;
  uint32_t raft_tick_ms = 100;
  uint32_t election_ticks = 10;
  // Peers reach each other through a tcp_proxy per direction (node i dialing
  // node j goes through its own proxy), so a test can partition a node.
  bool proxied = false;
  // velocityd's raft-compact-entries; 0 leaves the node's default.
  uint64_t compact_entries = 0;
  // velocityd's snapshot-chunk-bytes; 0 leaves the node's default (1 MiB).
  uint64_t snapshot_chunk_bytes = 0;
};

// One Raft group as a node reports it in its status ("groups").
struct group_status {
  uint32_t shard = 0;
  std::string role;
  uint64_t term = 0;
  uint64_t leader = 0;  // node id, 0 = unknown
  uint64_t commit = 0;
  uint64_t applied = 0;
};

// The "groups" of a status JSON text, or malformed.
status_or<std::vector<group_status>> parse_groups(std::string_view status_json);

// One member of a status JSON text's "members" (the node's gossip view).
struct member_status {
  uint64_t id = 0;
  std::string state;  // alive, suspect, dead, left
  uint64_t incarnation = 0;
};

// The "members" of a status JSON text, or malformed.
status_or<std::vector<member_status>> parse_members(std::string_view status_json);

class test_cluster {
 public:
  explicit test_cluster(cluster_options options);
  test_cluster(const test_cluster&) = delete;
  test_cluster& operator=(const test_cluster&) = delete;

  // Starts every node; then waits until each knows a leader for every shard.
  status start(uint32_t ready_wait_ms);
  // Node i (0-based; its Raft node id is i + 1) on its ports and data dir.
  status start_node(size_t i);
  void kill_node(size_t i) { nodes_.at(i)->kill_hard(); }
  server_process& node(size_t i) { return *nodes_.at(i); }
  size_t size() const { return nodes_.size(); }
  std::string endpoint(size_t i) const;
  uint64_t node_id(size_t i) const { return i + 1; }

  // The groups node i reports, asked with the client protocol's status request.
  status_or<std::vector<group_status>> group_statuses(size_t i, uint32_t timeout_ms) const;
  // Until every running node reports a leader for every shard (and, for the
  // same shard and term, the same one), or timeout.
  status wait_ready(uint32_t timeout_ms) const;
  // Until node i's applied index of every shard is at least every other
  // running node's, or timeout. Call once writes have stopped.
  status wait_caught_up(size_t i, uint32_t timeout_ms) const;
  // Until node i's applied index of each shard in at_least reaches the value
  // there (shard -> index), or timeout.
  status wait_applied(size_t i, const std::map<uint32_t, uint64_t>& at_least,
                      uint32_t timeout_ms) const;

  // Node i's status JSON, asked with the client protocol's status request.
  status_or<std::string> status_text(size_t i, uint32_t timeout_ms) const;
  // The members node i's gossip knows, from its status.
  status_or<std::vector<member_status>> members(size_t i, uint32_t timeout_ms) const;
  // Polls node `observer` until it holds member `id` in `state` (and, if
  // given, at an incarnation above `above`); the member's entry then.
  status_or<member_status> wait_member(size_t observer, uint64_t id, const std::string& state,
                                       uint32_t timeout_ms,
                                       std::optional<uint64_t> above = std::nullopt) const;

  // Proxied clusters only: clogs (or unclogs) every proxy between node i and
  // the others, in both directions: a partition of {i} from the rest.
  void isolate(size_t i, bool isolated);
  // Proxied clusters only: clogs (or unclogs) only what the others send to
  // node i; what node i sends still arrives. A one-way partition.
  void deafen(size_t i, bool deaf);

  const std::string& dir() const { return dir_.path(); }

 private:
  struct ports {
    uint16_t client = 0;
    uint16_t http = 0;
    uint16_t peer = 0;
  };
  server_settings settings(size_t i) const;

  cluster_options options_;
  temp_dir dir_;
  std::vector<ports> ports_;
  std::vector<std::string> members_;  // per node: its own peer port, its proxies' ports
  std::vector<std::unique_ptr<tcp_proxy>> proxies_;  // [from * size + to], proxied only
  std::vector<std::unique_ptr<server_process>> nodes_;
};

}  // namespace velocity::process_test
