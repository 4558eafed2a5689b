// The peer mux under the test coordinator: forwarded requests and their
// replies across a restart of the node. The mux ticks for ever, so the
// tests run only jobs (sched.run), never the fixture's run(), and kill the
// muxes before the fixture ends.
#define CAF_SUITE peer_mux
#define FAIL(msg) CAF_FAIL(msg)
#include "caf/test/dsl.hpp"

#include <vector>

#include "actors/peer_mux.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "command/command_codec.hpp"

using namespace velocity;

namespace {

// A transport that keeps what the mux sends.
peer_transport_actor::behavior_type recording_transport(peer_transport_actor::pointer,
                                                        std::vector<peer_message>* sent) {
  return {
      [=](peer_send_atom, const peer_message& m) { sent->push_back(m); },
      [=](peer_stats_atom) { return peer_stats{}; },
  };
}

// A shard that takes every request and answers none of them until a
// snapshot chunk arrives (the test's trigger for late answers).
shard_actor::behavior_type silent_shard(
    shard_actor::pointer self, std::vector<caf::typed_response_promise<shard_reply>>* held) {
  return {
      [=](apply_atom, shard_request&) -> caf::typed_response_promise<shard_reply> {
        held->push_back(self->make_response_promise<shard_reply>());
        return held->back();
      },
      [=](schema_atom, const std::string&) { return schema_reply{}; },
      [=](shard_info_atom) { return shard_info{}; },
      [=](shard_handoff_atom) { return uint64_t{0}; },
      [=](shard_flush_atom) {},
      [=](raft_step_atom, const raft_messages&) {},
      [=](raft_tick_atom) {},
      [=](snap_in_atom, const snapshot_wire&) {
        for (auto& promise : *held) promise.deliver(shard_reply{});
      },
  };
}

// Tick length for the expiry tests: peer_mux_forward_timeout_ms is 6 ticks.
constexpr uint32_t long_tick_ms = peer_mux_forward_timeout_ms / 6;

struct mux_fixture : test_coordinator_fixture<> {
  std::vector<peer_message> sent;
  peer_transport_actor transport = sys.spawn(recording_transport, &sent);

  forwarded_command get_on_node_2() {
    return forwarded_command{2, 0, cmd::get{"jobs", "a"}};
  }

  // Lets `ticks` mux ticks (and whatever is due with them) happen.
  void tick(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      sched.trigger_timeout();
      sched.run();
    }
  }

  // Node 2 forwards a get on shard 0 to us.
  peer_message request_from_node_2(uint64_t correlation) {
    peer_message m{};
    m.from = 2;
    m.to = 1;
    m.kind = payload_kind::forward_request;
    m.correlation = correlation;
    m.payload = encode_command(command{cmd::get{"jobs", "a"}});
    return m;
  }

  // A reply from node 2 to the request with this correlation.
  peer_message reply_from_node_2(uint64_t correlation, error_code code) {
    peer_message m;
    m.from = 2;
    m.to = 1;
    m.kind = payload_kind::forward_reply;
    m.correlation = correlation;
    reply r;
    r.st = status{code, "from node 2"};
    m.payload = encode_reply(r);
    return m;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(peer_mux_tests, mux_fixture)

CAF_TEST(a reply to a forward of the previous incarnation does not answer a new forward) {
  // The first incarnation forwards a request, then the node restarts.
  auto first = spawn_peer_mux(sys, {1, 100, 1000});
  anon_send(first, mux_attach_atom::value, peer_mux_attachment{transport, {}});
  sched.run_once();
  self->request(first, caf::infinite, forward_atom::value, get_on_node_2());
  sched.run();
  CAF_REQUIRE_EQUAL(sent.size(), 1u);
  uint64_t old_correlation = sent.back().correlation;
  anon_send_exit(first, caf::exit_reason::kill);
  sched.run();
  // The second incarnation draws another start and forwards a new request.
  auto second = spawn_peer_mux(sys, {1, 100, 987654321});
  anon_send(second, mux_attach_atom::value, peer_mux_attachment{transport, {}});
  auto handle = self->request(second, caf::infinite, forward_atom::value, get_on_node_2());
  sched.run();
  CAF_REQUIRE_EQUAL(sent.size(), 2u);
  uint64_t new_correlation = sent.back().correlation;
  CAF_CHECK_NOT_EQUAL(old_correlation, new_correlation);
  // Node 2 answers the old forward late: the new request must not take it.
  anon_send(second, peer_deliver_atom::value,
            reply_from_node_2(old_correlation, error_code::already_exists));
  sched.run();
  anon_send(second, peer_deliver_atom::value, reply_from_node_2(new_correlation, error_code::ok));
  sched.run();
  error_code answered = error_code::internal;
  handle.receive([&](const shard_reply& r) { answered = r.result.st.code(); },
                 [&](caf::error& e) { CAF_FAIL("forward failed: " << sys.render(e)); });
  auto expected = error_code::ok;
  CAF_CHECK_EQUAL(static_cast<int>(answered), static_cast<int>(expected));
  anon_send_exit(second, caf::exit_reason::kill);
  anon_send_exit(transport, caf::exit_reason::kill);
  sched.run();
}

CAF_TEST(a forward that gets no reply answers timeout after the forward timeout and ignores a late reply) {
  auto mux = spawn_peer_mux(sys, {1, long_tick_ms, 1000});
  anon_send(mux, mux_attach_atom::value, peer_mux_attachment{transport, {}});
  sched.run();
  auto handle = self->request(mux, caf::infinite, forward_atom::value, get_on_node_2());
  sched.run();
  CAF_REQUIRE_EQUAL(sent.size(), 1u);
  uint64_t correlation = sent.back().correlation;
  tick(5);
  CAF_CHECK(self->mailbox().empty());  // 5 of 6 ticks: still waiting
  tick(1);
  error_code code = error_code::ok;
  std::string message;
  handle.receive(
      [&](const shard_reply& r) {
        code = r.result.st.code();
        message = r.result.st.message();
      },
      [&](caf::error& e) { CAF_FAIL("forward failed: " << sys.render(e)); });
  CAF_CHECK_EQUAL(static_cast<int>(code), static_cast<int>(error_code::timeout));
  CAF_CHECK_EQUAL(message, "outcome unknown: no reply from the leader's node within 60000 ms");
  // The reply that finally arrives finds nobody waiting (and does not crash).
  anon_send(mux, peer_deliver_atom::value, reply_from_node_2(correlation, error_code::ok));
  sched.run();
  anon_send_exit(mux, caf::exit_reason::kill);
  anon_send_exit(transport, caf::exit_reason::kill);
  sched.run();
}

CAF_TEST(a forward from another node that our shard never answers gets a timeout reply) {
  std::vector<caf::typed_response_promise<shard_reply>> held;
  auto shard = sys.spawn(silent_shard, &held);
  auto mux = spawn_peer_mux(sys, {1, long_tick_ms, 1000});
  anon_send(mux, mux_attach_atom::value, peer_mux_attachment{transport, {shard}});
  sched.run();
  anon_send(mux, peer_deliver_atom::value, request_from_node_2(77));
  sched.run();
  CAF_REQUIRE_EQUAL(held.size(), 1u);
  tick(5);
  CAF_CHECK(sent.empty());
  tick(1);
  CAF_REQUIRE_EQUAL(sent.size(), 1u);
  CAF_CHECK_EQUAL(sent[0].to, 2u);
  CAF_CHECK(sent[0].kind == payload_kind::forward_reply);
  CAF_CHECK_EQUAL(sent[0].correlation, 77u);
  auto r = decode_reply(sent[0].payload);
  CAF_REQUIRE(r.ok());
  CAF_CHECK_EQUAL(static_cast<int>(r->st.code()), static_cast<int>(error_code::timeout));
  // The shard's late answer is dropped: node 2 hears once.
  anon_send(shard, snap_in_atom::value, snapshot_wire{});
  sched.run();
  CAF_CHECK_EQUAL(sent.size(), 1u);
  anon_send_exit(mux, caf::exit_reason::kill);
  anon_send_exit(shard, caf::exit_reason::kill);
  anon_send_exit(transport, caf::exit_reason::kill);
  sched.run();
}

CAF_TEST_FIXTURE_SCOPE_END()
