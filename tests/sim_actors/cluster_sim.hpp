// Level (b) of the simulation design: whole clusters of REAL node actors
// (log writer, shard replicas, peer mux, router; actors/) of 3 or 5 nodes in
// one process, on CAF's deterministic test coordinator, in virtual time.
// What replaces the outside world:
//   - the peer transport: a simulated network actor behind each node's
//     peer_transport_actor handle (sim_network.hpp): loss, duplication,
//     delay, reordering, partitions and clogged links;
//   - the environment: sim_environment.hpp (virtual clocks with per-node
//     skew, memory engines that lose unsynced writes on a crash);
//   - clients: actors asking the routers (sim_clients.hpp).
// One seed decides everything (one std::mt19937_64 feeds the network, the
// environments' randomness, the nemesis and the clients), so run_seed with
// the same options gives the same trace hash and the same outcome.
//
// Checkers (at the end, after healing every fault): the register history
// of strong and quorum operations is linearizable
// (tests/sim/linearizability.hpp), no acknowledged strong or quorum write is
// lost (part of that history, plus every acknowledged job insert is read
// back), local / eventual / quorum reads keep their promises
// (sim_checks.hpp: check_replica_reads; lost eventual writes are counted), every shard's replicas are byte-identical (storage/shard_dump),
// no write enters a shard's log twice and no write answered "never applied"
// is in it, no document is claimed twice, the cluster converges.
//
// Thread safety: run_seed builds its own actor_system; concurrent calls from
// different threads are independent except for spdlog's global level.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace velocity::simb {

// Bugs injected at the harness level (a proxy between the router / peer mux
// and each shard actor; shard_bug_proxy.hpp), never in production code: the
// checkers must catch each of them.
enum class injected_bug : uint8_t {
  none,
  ack_before_apply,         // a write is answered ok as soon as it is handed to the shard
  read_without_read_index,  // a get is served from the local replica's state, no ReadIndex
  propose_twice,            // every write is handed to the shard twice (a blind retry)
  cas_fail_without_read_index,  // a CAS the local state refuses fails at once, no ReadIndex
};

std::string_view to_string(injected_bug bug);
bool from_string(std::string_view name, injected_bug& out);

struct run_options {
  uint64_t seed = 1;
  uint32_t nodes = 3;             // 3 or 5
  uint32_t shards = 2;            // shards per node (each a Raft group over every node)
  uint32_t clients = 4;
  uint32_t keys = 4;              // registers r0..r<keys-1>
  int64_t chaos_ms = 6000;        // virtual time with clients and faults
  bool faults = true;             // false: clients only, a perfect network
  injected_bug bug = injected_bug::none;
  bool verbose = false;           // the trace on stderr
};

struct run_result {
  bool ok = true;
  std::vector<std::string> failures;  // one line per violated property
  uint64_t trace_hash = 0;
  uint64_t operations_ok = 0;          // client operations with a definite answer
  uint64_t operations_unknown = 0;     // timeouts, crashes: outcome unknown
  uint64_t operations_refused = 0;     // answered "never applied" (unavailable, ...)
  uint64_t crashes = 0;
  uint64_t unsynced_batches_lost = 0;  // engine batches the crashes dropped
  uint64_t sync_failures = 0;          // restarts after an injected fsync failure
  uint64_t partitions = 0;
  uint64_t messages_delivered = 0;
  uint64_t messages_dropped = 0;
  uint64_t claims = 0;                 // documents claimed
  uint64_t replica_reads = 0;          // local / eventual / quorum register reads answered
  uint64_t eventual_writes_acked = 0;  // eventual writes answered ok
  uint64_t eventual_writes_lost = 0;   // of those, in no log after healing (allowed)
  bool linearizability_gave_up = false;
  int64_t virtual_ms = 0;
  std::string summary() const;  // one line
};

run_result run_seed(const run_options& options);

// The options a seed of the CI mix uses: every third seed runs 5 nodes; 6 to
// 12 s of chaos, 3 to 6 clients, 3 to 6 registers, all decided by the seed.
run_options mixed_options(uint64_t seed);

}  // namespace velocity::simb
