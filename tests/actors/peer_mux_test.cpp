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

struct mux_fixture : test_coordinator_fixture<> {
  std::vector<peer_message> sent;
  peer_transport_actor transport = sys.spawn(recording_transport, &sent);

  forwarded_command get_on_node_2() {
    return forwarded_command{2, 0, cmd::get{"jobs", "a"}};
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

CAF_TEST_FIXTURE_SCOPE_END()
