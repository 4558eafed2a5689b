// Where each shard's replicas live at bootstrap: rendezvous (highest random
// weight) hashing of (shard, node) over the cluster's initial members. Every
// node computes the same map from the same member list, without a
// coordinator; adding a member moves only the shards it wins.
//
// Pure: no I/O, no clocks, no randomness. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "cluster/raft/types.hpp"

namespace velocity::cluster {

// The weight of `node` for `shard`: a fixed 64-bit mix (splitmix64), the same
// on every platform and in every release (changing it moves replicas).
uint64_t placement_weight(uint32_t shard, raft::node_id node);

// The `replication_factor` members with the highest weight for `shard`,
// sorted by node id (the order Raft's membership keeps). All members when
// the factor is at least their number.
// REQUIRES: members non-empty, without duplicates or node 0; factor >= 1.
std::vector<raft::node_id> replicas_of(uint32_t shard, std::vector<raft::node_id> members,
                                       uint32_t replication_factor);

}  // namespace velocity::cluster
