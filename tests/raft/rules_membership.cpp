// Membership changes, one server at a time (thesis chapter 4): a learner gets
// the log but never votes nor counts for commit; a promoted learner does; a
// removed leader steps down; only one change may be uncommitted; a
// configuration takes effect when appended and reverts when its entry is
// truncated; a new leader proposes no change before committing in its term.
#define CAF_SUITE rules_membership
#include "caf/test/unit_test.hpp"

#include "tests/raft/rules_harness.hpp"

using namespace velocity;
using namespace velocity::raft;
using namespace velocity::raft::testing;

namespace {

conf_change change(conf_change::kind type, node_id node) {
  conf_change cc;
  cc.type = type;
  cc.node = node;
  return cc;
}

// Elects a leader of 3 voters and adds node 4 as a caught-up learner.
node_id with_learner(cluster& c) {
  node_id lead = c.tick_until_leader();
  if (lead == no_node) return no_node;
  c.add_node(4);
  if (!c.core(lead).propose_conf_change(change(conf_change::kind::add_learner, 4)).ok())
    return no_node;
  c.stabilize();
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
  return lead;
}

void settle(cluster& c, node_id lead) {
  c.stabilize();
  c.tick(lead, c.base_config().heartbeat_ticks);
  c.stabilize();
}

}  // namespace

CAF_TEST(a learner receives the log) {
  cluster c{3};
  node_id lead = with_learner(c);
  CAF_REQUIRE(lead != no_node);
  CAF_REQUIRE(c.propose(lead, "x").index != 0);
  settle(c, lead);
  CAF_CHECK(c.core(lead).conf().is_learner(4));
  CAF_CHECK(c.core(4).conf().is_learner(4));
  CAF_CHECK(c.core(4).conf() == c.core(lead).conf());  // the initial voters too
  CAF_CHECK(log_of(c.core(4)) == log_of(c.core(lead)));
  CAF_CHECK_EQUAL(c.at(4).app, c.at(lead).app);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a learner never campaigns and never counts for a quorum) {
  cluster c{3};
  node_id lead = with_learner(c);
  CAF_REQUIRE(lead != no_node);
  c.clear_sent();
  c.isolate(lead);
  for (int i = 0; i < 100; ++i) {
    c.tick(4);
    c.stabilize();
  }
  CAF_CHECK(c.core(4).current_role() == role::follower);
  CAF_CHECK_EQUAL(c.count_sent([](const message& m) {
    return m.from == 4 && (m.type == message_type::vote || m.type == message_type::pre_vote);
  }), 0u);
  c.heal();
  // The leader and the learner alone: 1 of 3 voters, no commit.
  for (node_id id : {1, 2, 3})
    if (id != lead) c.isolate(id);
  index_t commit = c.core(lead).commit_index();
  auto id = c.propose(lead, "y");
  CAF_REQUIRE(id.index != 0);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(4).last_index(), id.index);  // replicated to the learner...
  CAF_CHECK_EQUAL(c.core(lead).commit_index(), commit);  // ...which does not count
}

CAF_TEST(a promoted learner votes and counts for the quorum) {
  cluster c{3};
  node_id lead = with_learner(c);
  CAF_REQUIRE(lead != no_node);
  CAF_REQUIRE(c.core(lead).propose_conf_change(change(conf_change::kind::promote_learner, 4)).ok());
  settle(c, lead);
  CAF_CHECK(c.core(lead).conf().is_voter(4));
  CAF_CHECK(c.core(4).conf().is_voter(4));
  // 4 voters, quorum 3: the leader, 4 and one more.
  node_id other = lead == 1 ? 2 : 1;
  c.isolate(other);
  auto id = c.propose(lead, "with-4");
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(lead).commit_index(), id.index);
  c.isolate(4);
  auto blocked = c.propose(lead, "without-4");
  c.stabilize();
  CAF_CHECK_LESS(c.core(lead).commit_index(), blocked.index);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a removed leader steps down and the rest elect a new leader) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  CAF_REQUIRE(c.core(lead).propose_conf_change(change(conf_change::kind::remove_node, lead)).ok());
  settle(c, lead);
  CAF_CHECK(c.core(lead).current_role() != role::leader);
  c.isolate(lead);
  node_id next = c.tick_until_leader();
  CAF_REQUIRE(next != no_node);
  CAF_CHECK(next != lead);
  CAF_CHECK(!c.core(next).conf().contains(lead));
  CAF_CHECK_EQUAL(c.core(next).conf().voters.size(), 2u);
  CAF_CHECK(c.propose(next, "after").index != 0);
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(next).commit_index(), c.core(next).last_index());
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(only one membership change may be uncommitted at a time) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  c.add_node(4);
  c.add_node(5);
  CAF_REQUIRE(c.core(lead).propose_conf_change(change(conf_change::kind::add_learner, 4)).ok());
  auto second = c.core(lead).propose_conf_change(change(conf_change::kind::add_learner, 5));
  CAF_REQUIRE(!second.ok());
  CAF_CHECK(second.error().code() == error_code::unavailable);
  settle(c, lead);
  CAF_CHECK(c.core(lead).propose_conf_change(change(conf_change::kind::add_learner, 5)).ok());
  auto existing = c.core(lead).propose_conf_change(change(conf_change::kind::add_learner, 2));
  CAF_REQUIRE(!existing.ok());
  CAF_CHECK(existing.error().code() == error_code::invalid_argument ||
            existing.error().code() == error_code::unavailable);
}

CAF_TEST(a change that does not fit the membership is invalid) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  auto existing = c.core(lead).propose_conf_change(change(conf_change::kind::add_learner, 2));
  CAF_REQUIRE(!existing.ok());
  CAF_CHECK(existing.error().code() == error_code::invalid_argument);
  auto promote = c.core(lead).propose_conf_change(change(conf_change::kind::promote_learner, 9));
  CAF_REQUIRE(!promote.ok());
  CAF_CHECK(promote.error().code() == error_code::invalid_argument);
}

CAF_TEST(a configuration takes effect on append and reverts on truncation) {
  cluster c{5, plain_config()};
  CAF_REQUIRE(elect(c, 1));
  c.add_node(6);
  for (node_id id : {3, 4, 5}) c.isolate(id);
  CAF_REQUIRE(c.core(1).propose_conf_change(change(conf_change::kind::add_learner, 6)).ok());
  CAF_CHECK(c.core(1).conf().is_learner(6));  // appended, not committed
  c.process_ready(1);
  c.deliver_between(1, 2);
  c.process_all();
  CAF_CHECK(c.core(2).conf().is_learner(6));
  CAF_CHECK_LESS(c.core(1).commit_index(), c.core(1).last_index());
  // 3, 4, 5 elect 3 without the entry; 2 then takes 3's log.
  c.heal();
  c.isolate(1);
  c.isolate(2);
  CAF_REQUIRE(elect(c, 3));
  c.heal();
  c.isolate(1);
  c.tick(3, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_CHECK(log_of(c.core(2)) == log_of(c.core(3)));
  CAF_CHECK(!c.core(2).conf().contains(6));
  CAF_CHECK(!c.core(3).conf().contains(6));
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a new leader proposes no membership change before committing an entry of its term) {
  cluster c{3, plain_config()};
  for (int i = 0; i < 100 && c.core(1).current_role() == role::follower; ++i) c.tick(1);
  // Votes flow, the new leader's empty entry does not.
  c.stabilize_only([](const message& m) { return m.type != message_type::append; });
  CAF_REQUIRE(c.core(1).current_role() == role::leader);
  CAF_REQUIRE_LESS(c.core(1).commit_index(), c.core(1).last_index());
  c.add_node(4);
  auto early = c.core(1).propose_conf_change(change(conf_change::kind::add_learner, 4));
  CAF_REQUIRE(!early.ok());
  CAF_CHECK(early.error().code() == error_code::unavailable);
  c.tick(1, c.base_config().heartbeat_ticks);
  c.stabilize();
  CAF_REQUIRE_EQUAL(c.core(1).commit_index(), c.core(1).last_index());
  CAF_CHECK(c.core(1).propose_conf_change(change(conf_change::kind::add_learner, 4)).ok());
}

CAF_TEST(a promotion counts the new voter for the quorum from its append) {
  cluster c{3};
  node_id lead = with_learner(c);
  CAF_REQUIRE(lead != no_node);
  node_id other = lead == 1 ? 2 : 1;
  c.isolate(4);
  c.isolate(other);
  // Old config {1,2,3}: the leader and one voter would be a quorum; the new
  // config {1,2,3,4}, in effect once appended, needs 3.
  auto id = c.core(lead).propose_conf_change(change(conf_change::kind::promote_learner, 4));
  CAF_REQUIRE(id.ok());
  c.stabilize();
  CAF_CHECK_LESS(c.core(lead).commit_index(), id->index);
  c.heal();
  // Lost appends are resent after a few heartbeat rounds.
  for (uint32_t i = 0; i < c.base_config().election_ticks; ++i) settle(c, lead);
  CAF_CHECK_EQUAL(c.core(lead).commit_index(), c.core(lead).last_index());
}

CAF_TEST(a removal shrinks the quorum from its append) {
  cluster c{4};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  std::vector<node_id> others;
  for (node_id id : c.ids())
    if (id != lead) others.push_back(id);
  c.isolate(others[1]);
  c.isolate(others[2]);
  // Old config of 4 needs 3; the new one of 3 needs 2: the leader and others[0].
  auto id = c.core(lead).propose_conf_change(change(conf_change::kind::remove_node, others[2]));
  CAF_REQUIRE(id.ok());
  c.stabilize();
  CAF_CHECK_EQUAL(c.core(lead).commit_index(), id->index);
  CAF_CHECK_EQUAL(c.core(lead).conf().voters.size(), 3u);
  CAF_CHECK_EQUAL(c.violations_text(), "");
}

CAF_TEST(a removed node that missed its removal does not disrupt the cluster) {
  cluster c{3};
  node_id lead = c.tick_until_leader();
  CAF_REQUIRE(lead != no_node);
  node_id removed = lead == 1 ? 2 : 1;
  c.isolate(removed);
  CAF_REQUIRE(c.core(lead).propose_conf_change(change(conf_change::kind::remove_node, removed)).ok());
  settle(c, lead);
  term_t term = c.core(lead).term();
  c.heal();
  for (int i = 0; i < 50; ++i) {
    c.tick_all();
    c.stabilize();
  }
  CAF_CHECK_EQUAL(c.leader(), lead);
  CAF_CHECK_EQUAL(c.core(lead).term(), term);
}

CAF_TEST(a new node with an empty membership never elects itself) {
  cluster c{3};
  c.add_node(4);
  for (int i = 0; i < 100; ++i) {
    c.tick(4);
    c.stabilize();
  }
  CAF_CHECK(c.core(4).current_role() == role::follower);
  CAF_CHECK_EQUAL(c.core(4).term(), 0u);
  CAF_CHECK_EQUAL(c.count_sent(from_node(4)), 0u);
}
