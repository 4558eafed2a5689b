// Mutation tests of the simulator's checkers (sim_checkers.hpp): each checker
// is fed a crafted bad observation directly (two leaders in one term, a commit
// index going down, a log mismatch, an apply gap, diverging final maps, a lost
// acknowledged write, ...) and must report exactly its property; a crafted
// good observation must pass. A checker that cannot fail hides bugs, and the
// seed suites only show that checkers stay quiet on a correct core.
//
// Cores are real raft::raft objects built from hand-made durable states (lone
// voters elect themselves), read through the same introspection the simulator
// uses.
//
// Thread safety: single-threaded test.
#define CAF_SUITE sim_checkers
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/sim/sim_checkers.hpp"

using namespace velocity;
using namespace velocity::sim;

namespace {

// Ticks a lone voter may need to elect itself (a randomized timeout is below
// twice election_ticks).
constexpr int election_ticks_max = 100;

std::string write_data(const std::string& key, const std::string& value) {
  command c;
  c.type = command::kind::write;
  c.request = 1;
  c.key = key;
  c.value = value;
  return encode_command(c);
}

raft::entry make_entry(raft::index_t index, raft::term_t term, std::string data) {
  raft::entry e;
  e.index = index;
  e.term = term;
  e.data = std::move(data);
  return e;
}

raft::config config_for(raft::node_id id) {
  raft::config cfg;
  cfg.id = id;
  cfg.random_seed = id;
  return cfg;
}

// Hands every ready back at once, as if persisted, sent and applied.
void settle(raft::raft& core) {
  while (core.has_ready()) {
    (void) core.take_ready();
    core.advance();
  }
}

// A core with voters `voters`, term `term` and log `entries` (from index 1).
std::unique_ptr<raft::raft> make_core(raft::node_id id, std::vector<raft::node_id> voters,
                                      raft::term_t term, std::vector<raft::entry> entries) {
  raft::durable_state state = raft::bootstrap_state(std::move(voters));
  state.hard.term = term;
  state.entries = std::move(entries);
  return std::make_unique<raft::raft>(config_for(id), std::move(state), 0);
}

// A lone voter that elected itself (in term + 1) and committed its log.
std::unique_ptr<raft::raft> lone_leader(raft::node_id id, raft::term_t term,
                                        std::vector<raft::entry> entries = {}) {
  auto core = make_core(id, {id}, term, std::move(entries));
  for (int i = 0; i < election_ticks_max && core->current_role() != raft::role::leader; ++i) {
    core->tick();
    settle(*core);
  }
  settle(*core);
  return core;
}

std::vector<std::string> properties(const safety_checker& checker) {
  std::vector<std::string> names;
  for (const violation& v : checker.violations()) names.push_back(v.property);
  return names;
}

bool reports_only(const safety_checker& checker, const std::string& property) {
  const auto names = properties(checker);
  return !names.empty() && std::all_of(names.begin(), names.end(),
                                       [&](const std::string& n) { return n == property; });
}

// The log of `core` from index 1 (REQUIRES: nothing compacted).
std::vector<raft::entry> log_of(const raft::raft& core) {
  std::vector<raft::entry> log;
  for (raft::index_t i = 1; i <= core.last_index(); ++i) log.push_back(*core.entry_at(i));
  return log;
}

}  // namespace

CAF_TEST(election safety fails for two leaders in one term and passes for one per term) {
  const auto a = lone_leader(1, 0);
  const auto b = lone_leader(2, 0);
  const auto c = lone_leader(3, a->term(), log_of(*a));
  CAF_REQUIRE(a->current_role() == raft::role::leader);
  CAF_REQUIRE(b->current_role() == raft::role::leader);
  CAF_REQUIRE(c->current_role() == raft::role::leader);
  CAF_REQUIRE_EQUAL(a->term(), b->term());
  CAF_REQUIRE(c->term() > a->term());
  safety_checker good;
  good.observe_leader(*a, 1);
  good.observe_leader(*a, 2);
  good.observe_leader(*c, 3);
  CAF_CHECK(!good.failed());
  CAF_CHECK_EQUAL(good.leaders_elected(), 2u);
  safety_checker bad;
  bad.observe_leader(*a, 1);
  bad.observe_leader(*b, 2);
  CAF_CHECK(reports_only(bad, "election_safety"));
}

CAF_TEST(leader completeness fails for a leader lacking an entry committed in an earlier term) {
  auto a = lone_leader(1, 0);
  CAF_REQUIRE(a->propose(write_data("k", "v1")).ok());
  settle(*a);
  CAF_REQUIRE_EQUAL(a->commit_index(), a->last_index());
  safety_checker bad;
  bad.observe_leader(*a, 1);  // records a's committed log with its term
  // Another lone voter, one term later, with an empty log.
  const auto b = lone_leader(2, a->term());
  CAF_REQUIRE(b->term() > a->term());
  bad.observe_leader(*b, 2);
  // b's own no-op at index 1 then also contradicts the ledger.
  CAF_REQUIRE(bad.failed());
  CAF_CHECK_EQUAL(bad.violations().front().property, "leader_completeness");

  // The same log carried into the later term passes.
  const auto c = lone_leader(3, a->term(), log_of(*a));
  CAF_REQUIRE(c->current_role() == raft::role::leader);
  safety_checker good;
  good.observe_leader(*a, 1);
  good.observe_leader(*c, 2);
  CAF_CHECK(!good.failed());
}

CAF_TEST(leader completeness ignores entries no leader was seen committing) {
  const auto a = lone_leader(1, 0);
  safety_checker checker;
  // Index 5 only seen applied: no leader term vouches for it.
  checker.observe_apply(2, make_entry(5, a->term(), write_data("k", "x")), 1);
  checker.observe_leader(*a, 2);
  CAF_CHECK(!checker.failed());
}

CAF_TEST(state machine safety fails for two different entries applied at one index) {
  safety_checker good;
  good.observe_apply(1, make_entry(1, 1, write_data("k", "a")), 1);
  good.observe_apply(2, make_entry(1, 1, write_data("k", "a")), 2);
  CAF_CHECK(!good.failed());
  safety_checker bad;
  bad.observe_apply(1, make_entry(1, 1, write_data("k", "a")), 1);
  bad.observe_apply(2, make_entry(1, 1, write_data("k", "b")), 2);
  CAF_CHECK(reports_only(bad, "state_machine_safety"));
  safety_checker other_term;
  other_term.observe_apply(1, make_entry(1, 1, write_data("k", "a")), 1);
  other_term.observe_apply(2, make_entry(1, 2, write_data("k", "a")), 2);
  CAF_CHECK(reports_only(other_term, "state_machine_safety"));
}

CAF_TEST(state machine safety fails for an applied entry that is not a client command) {
  safety_checker checker;
  CAF_CHECK(checker.check_apply(1, 0, 1, raft::term_t{1}, make_entry(1, 1, write_data("k", "a")), 1));
  CAF_CHECK(!checker.failed());
  CAF_CHECK(!checker.check_apply(1, 0, 1, raft::term_t{1}, make_entry(1, 1, "garbage"), 1));
  CAF_CHECK(reports_only(checker, "state_machine_safety"));
}

CAF_TEST(log matching fails when logs agree on a term but differ below it) {
  const std::vector<raft::node_id> voters{1, 2, 3};
  const auto a = make_core(1, voters, 1, {make_entry(1, 1, write_data("k", "a")),
                                          make_entry(2, 1, write_data("k", "b"))});
  const auto b = make_core(2, voters, 1, {make_entry(1, 1, write_data("k", "x")),
                                          make_entry(2, 1, write_data("k", "b"))});
  safety_checker bad;
  bad.check_log_matching({a.get(), b.get()}, 1);
  CAF_CHECK(reports_only(bad, "log_matching"));
  // Same prefix, then different terms at index 2: allowed (not yet committed).
  const auto c = make_core(3, voters, 3, {make_entry(1, 1, write_data("k", "a")),
                                          make_entry(2, 3, write_data("k", "c"))});
  const auto d = make_core(2, voters, 2, {make_entry(1, 1, write_data("k", "a")),
                                          make_entry(2, 2, write_data("k", "d"))});
  safety_checker good;
  good.check_log_matching({c.get(), d.get(), a.get()}, 1);
  CAF_CHECK(!good.failed());
  safety_checker same_term;
  const auto e = make_core(3, voters, 1, {make_entry(1, 1, write_data("k", "a")),
                                          make_entry(2, 1, write_data("k", "z"))});
  same_term.check_log_matching({a.get(), e.get()}, 1);
  CAF_CHECK(reports_only(same_term, "log_matching"));
}

CAF_TEST(commit monotonic fails for a commit going down and a restart below the synced commit) {
  safety_checker good;
  good.observe_commit(1, 3, 5, 1);
  good.observe_commit(1, 5, 5, 2);
  good.observe_restart(1, 4, 4, 3);
  good.observe_restart(1, 6, 4, 4);
  CAF_CHECK(!good.failed());
  safety_checker down;
  down.observe_commit(1, 5, 3, 1);
  CAF_CHECK(reports_only(down, "commit_monotonic"));
  safety_checker restart;
  restart.observe_restart(1, 2, 4, 1);
  CAF_CHECK(reports_only(restart, "commit_monotonic"));
}

CAF_TEST(apply order fails for a gap or a repeat after the applied index) {
  safety_checker checker;
  CAF_CHECK(checker.check_apply(1, 3, 10, raft::term_t{1}, make_entry(4, 1, write_data("k", "a")), 1));
  CAF_CHECK(!checker.failed());
  CAF_CHECK(!checker.check_apply(1, 3, 10, raft::term_t{1}, make_entry(5, 1, write_data("k", "a")), 1));
  CAF_CHECK(reports_only(checker, "apply_order"));
  safety_checker repeat;
  CAF_CHECK(!repeat.check_apply(1, 3, 10, raft::term_t{1}, make_entry(3, 1, write_data("k", "a")), 1));
  CAF_CHECK(reports_only(repeat, "apply_order"));
}

CAF_TEST(contract fails for applying an entry that is not durable locally as that entry) {
  safety_checker checker;
  CAF_CHECK(checker.check_apply(1, 3, 4, raft::term_t{1}, make_entry(4, 1, write_data("k", "a")), 1));
  CAF_CHECK(!checker.failed());
  CAF_CHECK(!checker.check_apply(1, 3, 3, std::nullopt, make_entry(4, 1, write_data("k", "a")), 1));
  CAF_CHECK(reports_only(checker, "contract"));
  // Index 4 is synced, but as another entry: the one to apply is only written.
  safety_checker overwritten;
  CAF_CHECK(!overwritten.check_apply(1, 3, 6, raft::term_t{1}, make_entry(4, 2, write_data("k", "b")), 1));
  CAF_CHECK(reports_only(overwritten, "contract"));
}

CAF_TEST(convergence fails for a member whose map differs from the committed log) {
  safety_checker checker;
  checker.observe_apply(1, make_entry(1, 1, write_data("k", "v1")), 1);
  checker.observe_apply(1, make_entry(2, 1, write_data("k", "v2")), 1);
  const kv_map right{{"k", "v2"}};
  const kv_map stale{{"k", "v1"}};
  CAF_CHECK(checker.check_convergence({{1, &right}, {2, &right}}, 2, 1));
  CAF_CHECK(!checker.failed());
  // A restarted member that replayed only part of the log.
  CAF_CHECK(!checker.check_convergence({{1, &right}, {2, &stale}}, 2, 1));
  CAF_CHECK(reports_only(checker, "convergence"));
}

CAF_TEST(engine convergence fails for a member whose shard bytes differ) {
  safety_checker checker;
  const std::string dump = initial_dump(1, 2);
  CAF_CHECK(checker.check_identical_engines({{1, dump}, {2, dump}, {3, dump}}, 1));
  CAF_CHECK(!checker.failed());
  // Same keys and values as a map, but one byte of one document differs
  // (a version, a time, an index entry: what the map view cannot see).
  std::string other = dump;
  other[other.size() - 1] = static_cast<char>(other.back() ^ 1);
  CAF_CHECK(!checker.check_identical_engines({{1, dump}, {2, dump}, {3, other}}, 1));
  CAF_CHECK(reports_only(checker, "engine_convergence"));
}

CAF_TEST(snapshot fails for a restored map that differs from the committed log) {
  safety_checker checker;
  checker.observe_apply(1, make_entry(1, 1, write_data("k", "v1")), 1);
  checker.observe_apply(1, make_entry(2, 1, write_data("j", "v2")), 1);
  const kv_map at_1{{"k", "v1"}};
  const kv_map at_2{{"j", "v2"}, {"k", "v1"}};
  CAF_CHECK(checker.check_snapshot(2, 1, at_1, 1));
  CAF_CHECK(checker.check_snapshot(2, 2, at_2, 1));
  CAF_CHECK(!checker.failed());
  CAF_CHECK(!checker.check_snapshot(2, 1, at_2, 1));
  CAF_CHECK(reports_only(checker, "snapshot"));
}

CAF_TEST(convergence reports a hole in the committed log) {
  safety_checker checker;
  checker.observe_apply(1, make_entry(2, 1, write_data("k", "v2")), 1);
  const kv_map map{{"k", "v2"}};
  CAF_CHECK(!checker.check_convergence({{1, &map}}, 2, 1));
  CAF_CHECK(reports_only(checker, "state_machine_safety"));
}

CAF_TEST(acknowledged write lost fails for an acknowledged entry missing from the final log) {
  const std::vector<raft::node_id> voters{1, 2, 3};
  const std::vector<raft::entry> log{make_entry(1, 1, write_data("k", "a")),
                                     make_entry(2, 1, write_data("k", "b"))};
  std::vector<operation> history(1);
  history[0].type = operation::kind::write;
  history[0].key = "k";
  history[0].value = "b";
  const std::map<size_t, raft::entry_id> acknowledged{{0, raft::entry_id{2, 1}}};
  const auto final_leader = make_core(1, voters, 1, log);
  auto ledger = [&](safety_checker& checker, raft::term_t term_at_2) {
    checker.observe_apply(1, log[0], 1);
    checker.observe_apply(1, make_entry(2, term_at_2, write_data("k", "b")), 1);
  };
  safety_checker good;
  ledger(good, 1);
  good.check_acknowledged(acknowledged, history, *final_leader, 2, 1);
  CAF_CHECK(!good.failed());
  // The ledger holds another term at the index.
  safety_checker other_term;
  ledger(other_term, 2);
  other_term.check_acknowledged(acknowledged, history, *final_leader, 2, 1);
  CAF_CHECK(reports_only(other_term, "acknowledged_write_lost"));
  // Above the final commit.
  safety_checker above;
  ledger(above, 1);
  above.check_acknowledged(acknowledged, history, *final_leader, 1, 1);
  CAF_CHECK(reports_only(above, "acknowledged_write_lost"));
  // Committed once, then overwritten in the final leader's log.
  const auto overwritten = make_core(1, voters, 2, {log[0], make_entry(2, 2, write_data("k", "c"))});
  safety_checker lost;
  ledger(lost, 1);
  lost.check_acknowledged(acknowledged, history, *overwritten, 2, 1);
  CAF_CHECK(reports_only(lost, "acknowledged_write_lost"));
}

CAF_TEST(lease read deposed fails for a lease read granted while a newer term has a leader) {
  safety_checker bad;
  CAF_CHECK(!bad.check_lease_read(4, 7, 3, 10, 1));
  CAF_CHECK(reports_only(bad, "lease_read_deposed"));
  CAF_REQUIRE_EQUAL(bad.violations().size(), 1u);
  const std::string detail = bad.violations().front().detail;
  CAF_CHECK(detail.find("term 7") != std::string::npos);
  CAF_CHECK(detail.find("node 3") != std::string::npos);
  safety_checker good;
  CAF_CHECK(good.check_lease_read(4, 7, raft::no_node, 0, 1));  // no other leader
  CAF_CHECK(good.check_lease_read(4, 7, 3, 6, 2));  // an older leader not yet deposed
  CAF_CHECK(good.check_lease_read(4, 7, 3, 7, 3));  // same term (election_safety's job)
  CAF_CHECK(!good.failed());
}
