// Rendezvous placement of shard replicas (cluster/replica_placement.hpp).
#define CAF_SUITE cluster_placement
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "cluster/replica_placement.hpp"

using namespace velocity;
using namespace velocity::cluster;

CAF_TEST(every node computes the same replicas whatever the member order) {
  std::vector<raft::node_id> a{1, 2, 3, 4, 5};
  std::vector<raft::node_id> b{5, 3, 1, 4, 2};
  for (uint32_t shard = 0; shard < 64; ++shard)
    CAF_CHECK_EQUAL(replicas_of(shard, a, 3), replicas_of(shard, b, 3));
}

CAF_TEST(replicas are distinct sorted members and as many as the factor) {
  std::vector<raft::node_id> members{1, 2, 3, 4, 5};
  for (uint32_t shard = 0; shard < 64; ++shard) {
    auto replicas = replicas_of(shard, members, 3);
    CAF_REQUIRE_EQUAL(replicas.size(), 3u);
    CAF_CHECK(std::is_sorted(replicas.begin(), replicas.end()));
    CAF_CHECK(std::adjacent_find(replicas.begin(), replicas.end()) == replicas.end());
    for (auto id : replicas) CAF_CHECK(std::count(members.begin(), members.end(), id) == 1);
  }
  CAF_CHECK_EQUAL(replicas_of(7, {1, 2, 3}, 5), (std::vector<raft::node_id>{1, 2, 3}));
}

CAF_TEST(replicas spread over the members) {
  std::vector<raft::node_id> members{1, 2, 3, 4, 5};
  std::map<raft::node_id, int> hosted;
  for (uint32_t shard = 0; shard < 500; ++shard)
    for (auto id : replicas_of(shard, members, 3)) ++hosted[id];
  // 1500 replicas over 5 nodes: 300 each on average.
  for (auto id : members) {
    CAF_CHECK_GREATER(hosted[id], 240);
    CAF_CHECK_LESS(hosted[id], 360);
  }
}

CAF_TEST(adding a member moves only the replicas it wins) {
  std::vector<raft::node_id> before{1, 2, 3, 4};
  std::vector<raft::node_id> after{1, 2, 3, 4, 5};
  for (uint32_t shard = 0; shard < 200; ++shard) {
    auto old_set = replicas_of(shard, before, 3);
    auto new_set = replicas_of(shard, after, 3);
    if (std::count(new_set.begin(), new_set.end(), 5) == 0) {
      CAF_CHECK_EQUAL(old_set, new_set);
    } else {
      std::vector<raft::node_id> kept;
      std::set_intersection(old_set.begin(), old_set.end(), new_set.begin(), new_set.end(),
                            std::back_inserter(kept));
      CAF_CHECK_EQUAL(kept.size(), 2u);
    }
  }
}
