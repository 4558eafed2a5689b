// SWIM membership's merge rule (cluster/swim/membership.hpp): joins,
// suspicion, death, graceful leave, rejoin, refutation, metadata, and the
// table as the maximum of its updates (any order, any repetition).
#define CAF_SUITE swim_membership
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include "cluster/swim/membership.hpp"

using namespace velocity::swim;

namespace {

update about(member_id id, uint64_t incarnation, member_state state, uint64_t meta_version = 0,
             std::string meta = {}) {
  return update{id, incarnation, state, meta_version, std::move(meta)};
}

member_state state_of(const membership& m, member_id id) {
  const update* u = m.find(id);
  CAF_REQUIRE(u != nullptr);
  return u->state;
}

}  // namespace

CAF_TEST(a member joins then is suspected then dies) {
  membership m{1, "me"};
  CAF_CHECK(m.apply(about(2, 0, member_state::alive, 0, "two")) == change::joined);
  CAF_CHECK(m.apply(about(2, 0, member_state::alive, 0, "two")) == change::none);  // again
  CAF_CHECK(m.apply(about(2, 0, member_state::suspect)) == change::suspected);
  CAF_CHECK(m.apply(about(2, 0, member_state::alive)) == change::none);  // not above the suspicion
  CAF_CHECK(state_of(m, 2) == member_state::suspect);
  CAF_CHECK(m.apply(about(2, 0, member_state::dead)) == change::died);
  CAF_CHECK(m.apply(about(2, 0, member_state::suspect)) == change::none);
  CAF_CHECK(state_of(m, 2) == member_state::dead);
  CAF_CHECK_EQUAL(m.find(2)->meta, "two");  // the last metadata stays
  CAF_CHECK(m.reachable().empty());
}

CAF_TEST(a higher incarnation clears a suspicion and brings a dead or left member back) {
  membership m{1, ""};
  m.apply(about(2, 3, member_state::alive));
  m.apply(about(2, 3, member_state::suspect));
  CAF_CHECK(m.apply(about(2, 4, member_state::alive)) == change::alive_again);
  m.apply(about(2, 4, member_state::left));
  CAF_CHECK(state_of(m, 2) == member_state::left);
  CAF_CHECK(m.apply(about(2, 4, member_state::dead)) == change::none);  // left wins at one incarnation
  CAF_CHECK(m.apply(about(2, 4, member_state::alive)) == change::none);
  CAF_CHECK(m.apply(about(2, 5, member_state::alive)) == change::alive_again);  // rejoined
  CAF_CHECK(m.reachable() == std::vector<member_id>{2});
}

CAF_TEST(a member refutes a suspicion of itself by raising its incarnation) {
  membership m{1, "me"};
  CAF_CHECK(m.apply(about(1, 0, member_state::suspect)) == change::refuted);
  CAF_CHECK_EQUAL(m.self_update().incarnation, 1u);
  CAF_CHECK(m.self_update().state == member_state::alive);
  CAF_CHECK(m.apply(about(1, 0, member_state::dead)) == change::none);  // already above it
  CAF_CHECK(m.apply(about(1, 1, member_state::dead)) == change::refuted);
  CAF_CHECK_EQUAL(m.self_update().incarnation, 2u);
  // A later incarnation remembered from before a restart: go above it.
  CAF_CHECK(m.apply(about(1, 7, member_state::alive)) == change::refuted);
  CAF_CHECK_EQUAL(m.self_update().incarnation, 8u);
  CAF_CHECK(m.apply(about(1, 8, member_state::alive)) == change::none);
  // The refutation wins wherever it arrives.
  membership other{2, ""};
  other.apply(about(1, 7, member_state::dead));
  CAF_CHECK(other.apply(m.self_update()) == change::alive_again);
}

CAF_TEST(a graceful leave is left at a higher incarnation and is final for the leaver) {
  membership m{1, "me"};
  update bye = m.leave();
  CAF_CHECK(bye.state == member_state::left);
  CAF_CHECK_EQUAL(bye.incarnation, 1u);
  CAF_CHECK(m.apply(about(1, 5, member_state::suspect)) == change::none);
  membership other{2, ""};
  other.apply(about(1, 0, member_state::alive));
  CAF_CHECK(other.apply(bye) == change::left);
  CAF_CHECK(other.reachable().empty());
}

CAF_TEST(metadata follows the highest incarnation and version of the alive updates) {
  membership m{1, ""};
  m.apply(about(2, 0, member_state::alive, 0, "a"));
  CAF_CHECK(m.apply(about(2, 0, member_state::alive, 1, "b")) == change::meta_changed);
  CAF_CHECK(m.apply(about(2, 0, member_state::alive, 0, "old")) == change::none);
  CAF_CHECK_EQUAL(m.find(2)->meta, "b");
  CAF_CHECK(m.apply(about(2, 1, member_state::alive, 0, "c")) == change::meta_changed);
  CAF_CHECK_EQUAL(m.find(2)->meta, "c");
  membership self{3, "x"};
  self.set_meta("y");
  CAF_CHECK_EQUAL(self.self_update().meta_version, 1u);
  CAF_CHECK(m.apply(self.self_update()) == change::joined);
  CAF_CHECK_EQUAL(m.find(3)->meta, "y");
}

CAF_TEST(the table is the same whatever order and repetition its updates arrive in) {
  std::mt19937_64 random{20261202};
  for (int round = 0; round < 200; ++round) {
    std::vector<update> updates;
    for (int i = 0; i < 30; ++i) {
      const member_id id = 2 + random() % 4;
      const uint64_t incarnation = random() % 4;
      const auto state = static_cast<member_state>(random() % 4);
      const uint64_t version = random() % 3;
      updates.push_back(about(id, incarnation, state, version,
                              "m" + std::to_string(incarnation) + "." + std::to_string(version)));
    }
    membership first{1, ""};
    for (const update& u : updates) first.apply(u);
    std::vector<update> shuffled = updates;
    shuffled.insert(shuffled.end(), updates.begin(), updates.begin() + 10);  // repeats
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    membership second{1, ""};
    for (const update& u : shuffled) second.apply(u);
    if (first.members() != second.members()) CAF_FAIL("round " << round << ": tables differ");
  }
}
