// The shared state of one level-(b) run (cluster_sim.hpp): the seeded
// generator, the virtual clock, the trace, the network's fault model, the
// nodes' handles and disks, and what the clients recorded. The harness owns
// it; the simulated network, link and client actors hold a plain pointer.
//
// Thread safety: everything runs on the test coordinator's one thread.
// Invariants: a node_slot's actor handles belong to incarnation
// `incarnation` and are null while the node is down; the disk outlives
// every incarnation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "actors/log_writer.hpp"
#include "actors/peer_mux.hpp"
#include "actors/router_actor.hpp"
#include "actors/shard.hpp"
#include "caf/scheduler/test_coordinator.hpp"
#include "storage/memory_engine.hpp"
#include "tests/sim/linearizability.hpp"
#include "tests/sim_actors/cluster_sim.hpp"
#include "tests/sim_actors/sim_environment.hpp"

namespace velocity::simb {

// FNV-1a over everything that happened, in order; verbose runs also print it.
struct trace {
  uint64_t hash = 14695981039346656037ull;
  bool verbose = false;
  void add(std::string_view bytes) {
    for (char c : bytes) {
      hash ^= static_cast<uint8_t>(c);
      hash *= 1099511628211ull;
    }
  }
  void add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      hash ^= (v >> (8 * i)) & 0xff;
      hash *= 1099511628211ull;
    }
  }
};

// A directed link's faults.
struct link_state {
  int64_t blocked_until_ns = 0;  // partitioned (one way) until then
  int64_t clogged_until_ns = 0;  // extra delay until then
};

struct network_params {
  uint32_t loss_per_mille = 0;
  uint32_t duplicate_per_mille = 0;
  int64_t delay_ns_min = 1'000'000;
  int64_t delay_ns_max = 10'000'000;
  int64_t clog_delay_ns_max = 800'000'000;
};

struct network_counters {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t undeliverable = 0;
};

struct node_slot {
  raft::node_id id = 0;
  std::shared_ptr<memory_engine> disk;      // survives crashes; loses unsynced writes
  std::shared_ptr<fenced_engine> engine;    // this incarnation's view of the disk
  int64_t clock_offset_ns = 0;
  int64_t skew_ppm = 0;
  bool up = false;
  uint64_t incarnation = 0;
  int64_t down_until_ns = 0;
  log_writer_actor log_writer{};
  log_writer_actor slow_disk{};             // fsync latency in front of log_writer
  peer_mux_actor mux{};
  std::vector<shard_actor> shards{};
  router_control_actor router{};
  gossiper_actor gossiper{};
  peer_transport_actor link{};
  std::vector<caf::actor> proxies{};        // injected-bug proxies, if any
};

// A register read at local, eventual or quorum level (not linearizable;
// checked on its own: sim_checks.hpp).
struct replica_read {
  consistency level = consistency::local;
  raft::node_id node = 0;        // whose router served it
  uint64_t incarnation = 0;      // of that node when the read was sent
  std::string key;
  std::optional<std::string> value;  // nullopt: not found
  uint64_t revision = 0;             // the document's (0: not found)
  int64_t invoke_ns = 0;
  int64_t complete_ns = 0;
};

// A register write answered ok at strong or quorum level, with the log
// index its reply names (the document's revision).
struct acked_write {
  std::string key;
  std::string value;
  uint64_t revision = 0;
  int64_t complete_ns = 0;
};

// What the clients observed, for the checkers.
struct observations {
  std::vector<sim::operation> history;       // registers, strong and quorum operations
  std::vector<replica_read> replica_reads;   // registers, local / eventual / quorum reads
  std::vector<acked_write> acked_writes;     // registers, strong / quorum writes answered ok
  std::set<std::string> eventual_acked;      // eventual register writes answered ok (values)
  uint64_t eventual_lost = 0;                // of those, in no replica's log after healing
  std::vector<std::string> claimed;          // ids of documents claims returned
  std::set<std::string> acked_jobs;          // job inserts answered ok
  std::set<std::string> refused_values;      // writes answered "never applied"
  uint64_t ok = 0;
  uint64_t unknown = 0;
  uint64_t refused = 0;
};

struct world {
  run_options options;
  std::mt19937_64 generator;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::optional<virtual_clock> clock;
  trace events;
  network_params net;
  network_counters net_counters;
  int64_t fsync_ns_max = 0;                  // drawn per seed (slow_log_writer.hpp)
  uint32_t sync_failure_per_mille = 0;       // drawn per seed; 0 while healing
  std::map<std::pair<raft::node_id, raft::node_id>, link_state> links;
  std::vector<node_slot> nodes;              // index = node id - 1
  caf::actor network;
  bool clients_active = false;
  observations seen;
  std::vector<std::string> failures;

  int64_t now_ns() const { return clock->now_ns(); }
  uint64_t draw(uint64_t bound) { return bound == 0 ? 0 : generator() % bound; }
  int64_t draw_between(int64_t low, int64_t high) {
    return high <= low ? low : low + static_cast<int64_t>(draw(static_cast<uint64_t>(high - low) + 1));
  }
  bool chance_per_mille(uint32_t per_mille) { return draw(1000) < per_mille; }
  node_slot& node(raft::node_id id) { return nodes[id - 1]; }
  bool blocked(raft::node_id from, raft::node_id to) {
    auto it = links.find({from, to});
    return it != links.end() && it->second.blocked_until_ns > now_ns();
  }
  bool clogged(raft::node_id from, raft::node_id to) {
    auto it = links.find({from, to});
    return it != links.end() && it->second.clogged_until_ns > now_ns();
  }
  void note(std::string_view line);  // trace + verbose output
};

}  // namespace velocity::simb
