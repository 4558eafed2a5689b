// Implements replica_placement.hpp.
//
// Thread safety: pure functions.
#include "cluster/replica_placement.hpp"

#include <algorithm>

#include "protocols/check.hpp"

namespace velocity::cluster {

uint64_t placement_weight(uint32_t shard, raft::node_id node) {
  uint64_t z = (static_cast<uint64_t>(shard) << 32 ^ node) + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31) ^ node * 0xD6E8FEB86659FD93ULL;
}

std::vector<raft::node_id> replicas_of(uint32_t shard, std::vector<raft::node_id> members,
                                       uint32_t replication_factor) {
  VELOCITY_CHECK(!members.empty());
  VELOCITY_CHECK_LE(1u, replication_factor);
  std::sort(members.begin(), members.end(), [shard](raft::node_id a, raft::node_id b) {
    uint64_t wa = placement_weight(shard, a);
    uint64_t wb = placement_weight(shard, b);
    return wa != wb ? wa > wb : a < b;
  });
  if (members.size() > replication_factor) members.resize(replication_factor);
  std::sort(members.begin(), members.end());
  return members;
}

}  // namespace velocity::cluster
