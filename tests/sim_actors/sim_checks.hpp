// The end-of-run checkers of a level-(b) run (cluster_sim.hpp), over a
// healed, converged cluster. Each appends one line per violation to
// world::failures.
//
// Thread safety: call on the test coordinator's thread with no job running.
#pragma once

#include <cstdint>

#include "tests/sim_actors/sim_world.hpp"

namespace velocity::simb {

// Every shard's applied index on every node (nullopt: a node's disk is
// unreadable); the convergence loop compares them.
std::vector<std::vector<uint64_t>> applied_indexes(world& w);

// Replicas byte-identical: dump_shard of every node's disk, per shard.
void check_replicas_identical(world& w);

// The committed log of every replica (up to its applied index): no
// workload write twice, none of the writes answered "never applied".
void check_logs(world& w);

// Local, eventual and quorum reads: every value read is the one a committed
// entry wrote at the revision read; local reads through one node incarnation
// never go backwards; a quorum read sees every strong or quorum write
// acknowledged before it began. Counts the acknowledged eventual writes in
// no log (world::seen.eventual_lost: allowed, reported).
void check_replica_reads(world& w);

// No document id returned by two successful claims.
void check_claims(world& w);

// The register history (states_max bounds the search; gave_up is reported
// through the return value, not as a failure).
bool check_history(world& w, uint64_t states_max);

}  // namespace velocity::simb
