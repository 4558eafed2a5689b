// Random, mostly malformed messages stepped into a leader and a follower
// never trip an assertion of the core and never break its invariants
// (commit <= last index, applied <= commit, one leader role per core).
#define CAF_SUITE raft_core_garbage
#include "caf/test/unit_test.hpp"

#include <random>

#include "tests/raft/internals_cluster.hpp"

using namespace velocity;
using namespace velocity::raft;

namespace {

// Messages per core; enough to reach odd corners, small enough for ASan runs.
constexpr int messages_per_core = 3000;

uint64_t pick(std::mt19937_64& random, uint64_t small_max) {
  switch (random() % 8) {
    case 0:
      return 0;
    case 1:
      return std::numeric_limits<uint64_t>::max() - random() % 3;
    default:
      return random() % (small_max + 1);
  }
}

message random_message(std::mt19937_64& random, node_id to) {
  message m;
  m.type = static_cast<message_type>(random() % 11);
  m.from = 1 + random() % 4;
  m.to = random() % 10 == 0 ? 9 : to;
  m.term = pick(random, 6);
  m.log_term = pick(random, 6);
  m.index = pick(random, 30);
  m.commit = pick(random, 30);
  m.reject = random() % 2 == 0;
  m.reject_hint = pick(random, 30);
  m.context = pick(random, 20);
  m.force = random() % 4 == 0;
  size_t entries = random() % 4;
  for (size_t i = 0; i < entries; ++i) {
    entry e;
    e.index = random() % 3 == 0 ? pick(random, 30) : m.index + 1 + i;
    e.term = random() % 3 == 0 ? pick(random, 6) : m.term;
    e.kind = random() % 5 == 0 ? entry_kind::conf_change : entry_kind::normal;
    e.data = e.kind == entry_kind::conf_change && random() % 2 == 0
                 ? encode_conf_change({conf_change::kind::add_learner, 1 + random() % 6})
                 : std::string(random() % 3, 'g');
    m.entries.push_back(e);
  }
  m.snap_meta.index = pick(random, 30);
  m.snap_meta.term = pick(random, 6);
  if (random() % 2 == 0) m.snap_meta.conf.voters = {1, 2, 3};
  m.snap_offset = pick(random, 8);
  m.snap_data = std::string(random() % 5, 's');
  m.snap_total_bytes = pick(random, 12);
  m.snap_done = random() % 3 == 0;
  return m;
}

}  // namespace

CAF_TEST(random messages never break a leader or a follower) {
  internals::test_cluster c{3};
  node_id leader = c.tick_until_leader();
  CAF_REQUIRE(leader != no_node);
  for (int i = 0; i < 5; ++i) CAF_REQUIRE(c.core(leader).propose("p").ok());
  c.tick(3);
  std::mt19937_64 random{20261126};
  for (node_id id = 1; id <= 3; ++id) {
    raft::raft& core = c.core(id);
    for (int i = 0; i < messages_per_core; ++i) {
      core.step(random_message(random, id));
      if (i % 7 == 0) core.tick();
      if (i % 3 == 0 && core.current_role() == role::leader) (void) core.propose("q");
      if (core.has_ready()) {
        (void) core.take_ready();
        core.advance();
      }
      CAF_REQUIRE(core.commit_index() <= core.last_index());
      CAF_REQUIRE(core.applied_index() <= core.commit_index());
    }
  }
}
