// Unit tests of types.cpp: the conf change codec, apply_conf_change, config
// validation, bootstrap_state and describe.
#define CAF_SUITE raft_types
#include "caf/test/unit_test.hpp"

#include "cluster/raft/types.hpp"

using namespace velocity;
using namespace velocity::raft;

CAF_TEST(conf changes round trip through the codec) {
  for (auto kind : {conf_change::kind::add_learner, conf_change::kind::promote_learner,
                    conf_change::kind::remove_node}) {
    conf_change c{kind, 0x0102030405060708ULL};
    auto decoded = decode_conf_change(encode_conf_change(c));
    CAF_REQUIRE(decoded.ok());
    CAF_CHECK(*decoded == c);
  }
}

CAF_TEST(the codec rejects bytes it did not produce) {
  auto good = encode_conf_change({conf_change::kind::add_learner, 5});
  CAF_CHECK(decode_conf_change(good.substr(0, 9)).to_status().code() == error_code::malformed);
  CAF_CHECK(decode_conf_change(good + "x").to_status().code() == error_code::malformed);
  auto bad_version = good;
  bad_version[0] = 9;
  CAF_CHECK(!decode_conf_change(bad_version).ok());
  auto bad_kind = good;
  bad_kind[1] = 7;
  CAF_CHECK(!decode_conf_change(bad_kind).ok());
  CAF_CHECK(!decode_conf_change(encode_conf_change({conf_change::kind::add_learner, 0})).ok());
}

CAF_TEST(apply_conf_change adds learners promotes them and removes members) {
  membership m{{1, 2}, {}};
  auto added = apply_conf_change(m, {conf_change::kind::add_learner, 3});
  CAF_REQUIRE(added.ok());
  CAF_CHECK(added->is_learner(3));
  auto promoted = apply_conf_change(*added, {conf_change::kind::promote_learner, 3});
  CAF_REQUIRE(promoted.ok());
  CAF_CHECK(promoted->voters == std::vector<node_id>({1, 2, 3}));
  CAF_CHECK(promoted->learners.empty());
  auto removed = apply_conf_change(*promoted, {conf_change::kind::remove_node, 2});
  CAF_REQUIRE(removed.ok());
  CAF_CHECK(removed->voters == std::vector<node_id>({1, 3}));
}

CAF_TEST(apply_conf_change refuses changes that do not fit) {
  membership m{{1}, {2}};
  auto code = [&](conf_change c) { return apply_conf_change(m, c).to_status().code(); };
  CAF_CHECK(code({conf_change::kind::add_learner, 1}) == error_code::invalid_argument);
  CAF_CHECK(code({conf_change::kind::promote_learner, 1}) == error_code::invalid_argument);
  CAF_CHECK(code({conf_change::kind::remove_node, 9}) == error_code::invalid_argument);
  CAF_CHECK(code({conf_change::kind::remove_node, 1}) == error_code::invalid_argument);
  CAF_CHECK(code({conf_change::kind::add_learner, 0}) == error_code::invalid_argument);
  CAF_CHECK(apply_conf_change(m, {conf_change::kind::remove_node, 2}).ok());
}

CAF_TEST(validate names the bad field) {
  config c;
  c.id = 1;
  CAF_CHECK(validate(c).ok());
  auto bad = [](config x) { return validate(x).code() == error_code::invalid_argument; };
  config zero_id = c;
  zero_id.id = 0;
  CAF_CHECK(bad(zero_id));
  config ticks = c;
  ticks.election_ticks = ticks.heartbeat_ticks;
  CAF_CHECK(bad(ticks));
  config heartbeat = c;
  heartbeat.heartbeat_ticks = 0;
  CAF_CHECK(bad(heartbeat));
  config lease = c;
  lease.lease_ticks = c.election_ticks;
  CAF_CHECK(bad(lease));
  config lease_without_quorum = c;
  lease_without_quorum.lease_ticks = 2;
  lease_without_quorum.check_quorum = false;
  CAF_CHECK(bad(lease_without_quorum));
  config window = c;
  window.inflight_messages_max = 0;
  CAF_CHECK(bad(window));
  auto msg = validate(zero_id).message();
  CAF_CHECK(msg.find("id") != std::string::npos);
}

CAF_TEST(bootstrap state sorts and deduplicates the initial voters) {
  auto s = bootstrap_state({3, 1, 3, 2});
  CAF_CHECK(s.snap.meta.conf.voters == std::vector<node_id>({1, 2, 3}));
  CAF_CHECK_EQUAL(s.snap.meta.index, 0u);
  CAF_CHECK(s.entries.empty());
}

CAF_TEST(describe summarizes an append) {
  message m;
  m.type = message_type::append;
  m.from = 1;
  m.to = 2;
  m.term = 5;
  m.index = 10;
  m.log_term = 4;
  m.entries.resize(3);
  m.commit = 9;
  auto text = describe(m);
  CAF_CHECK_EQUAL(text, "append 1->2 t5 i10/t4 n3 c9");
  CAF_CHECK(ready{}.empty());
}
