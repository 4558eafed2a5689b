// The TCP transport over real loopback sockets (port 0) against a stub router:
// round trips, pipelining with out-of-order replies, in-flight and connection
// limits, and bad input that closes or errors one connection only.
#define CAF_SUITE transport
#include "caf/test/unit_test.hpp"

#include <chrono>
#include <set>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "tests/net/stub_router.hpp"

using namespace velocity;
using namespace velocity::test;

namespace {

struct fixture {
  net_config cfg;
  caf::actor_system sys{cfg};
  stub_router_actor stub = sys.spawn(stub_router);
  transport_handle transport;

  explicit fixture(transport_options options = {}) {
    options.port = 0;
    auto started = start_transport(sys, caf::actor_cast<router_actor>(stub), options);
    CAF_REQUIRE(started.ok());
    transport = started.value();
  }
  ~fixture() {
    caf::anon_send(stub, release_atom::value);
    caf::anon_send_exit(transport.acceptor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(stub, caf::exit_reason::user_shutdown);
  }

  template <class Atom>
  uint64_t ask(Atom atom) {
    uint64_t out = 0;
    caf::scoped_actor self{sys};
    self->request(stub, std::chrono::seconds{5}, atom)
        .receive([&](uint64_t n) { out = n; }, [&](caf::error&) {});
    return out;
  }
  uint64_t held() { return ask(held_atom::value); }
  uint64_t seen() { return ask(seen_atom::value); }

  // Polls until the stub holds `n` requests (or a deadline passes).
  bool wait_held(uint64_t n) {
    for (int i = 0; i < 200; ++i) {
      if (held() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return false;
  }

  void check_serving() {
    raw_socket other{transport.port};
    CAF_REQUIRE(other.connected());
    CAF_REQUIRE(other.send_request(get_request(1, "alive")));
    auto response = other.read_response();
    CAF_REQUIRE(response.has_value());
    CAF_CHECK(response->result.ok());
  }
};

std::string length_prefix(uint32_t length) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

CAF_TEST(a request travels to the router and its response comes back) {
  fixture f;
  CAF_CHECK(f.transport.port != 0);
  raw_socket s{f.transport.port};
  CAF_REQUIRE(s.connected());
  CAF_REQUIRE(s.send_request(get_request(17, "doc-1")));
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 17u);
  CAF_REQUIRE(response->result.doc.has_value());
  CAF_CHECK_EQUAL(response->result.doc->id, "doc-1");
  CAF_CHECK_EQUAL(response->result.doc->version, 17u);
}

CAF_TEST(pipelined requests are answered out of order by request id) {
  fixture f;
  raw_socket s{f.transport.port};
  CAF_REQUIRE(s.connected());
  std::string both;
  append_frame(both, encode_client_request(get_request(1, "hold-a")));
  append_frame(both, encode_client_request(get_request(2, "quick")));
  CAF_REQUIRE(s.send_bytes(both));
  auto first = s.read_response();
  CAF_REQUIRE(first.has_value());
  CAF_CHECK_EQUAL(first->request_id, 2u);
  caf::anon_send(f.stub, release_atom::value);
  auto second = s.read_response();
  CAF_REQUIRE(second.has_value());
  CAF_CHECK_EQUAL(second->request_id, 1u);
  CAF_CHECK_EQUAL(second->result.doc->id, "hold-a");
}

CAF_TEST(a router error reply keeps its code and message) {
  fixture f;
  raw_socket s{f.transport.port};
  client_request request;
  request.request_id = 5;
  request.body = command{cmd::count{"jobs", std::nullopt}};
  CAF_REQUIRE(s.send_request(request));
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK(response->result.st.code() == error_code::invalid_argument);
  auto message = response->result.st.message();
  CAF_CHECK_EQUAL(message, "stub answers only get and health");
}

CAF_TEST(a router that does not answer in time gives a timeout response) {
  fixture f;
  raw_socket s{f.transport.port};
  auto request = get_request(8, "hold-forever");
  request.timeout_ms = 100;
  CAF_REQUIRE(s.send_request(request));
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 8u);
  CAF_CHECK(response->result.st.code() == error_code::timeout);
  auto message = response->result.st.message();
  CAF_CHECK_EQUAL(message, "no reply from the router within 100 ms");
  // The expired request no longer holds a slot: the connection keeps serving.
  CAF_REQUIRE(s.send_request(get_request(9, "after-timeout")));
  auto next = s.read_response();
  CAF_REQUIRE(next.has_value());
  CAF_CHECK_EQUAL(next->request_id, 9u);
  CAF_CHECK(next->result.st.ok());
}

CAF_TEST(garbage bytes close that connection and others keep working) {
  fixture f;
  raw_socket s{f.transport.port};
  CAF_REQUIRE(s.send_bytes(length_prefix(64) + std::string(64, '\xff')));
  CAF_CHECK(s.closed_by_server());
  f.check_serving();
}

CAF_TEST(an oversized length prefix closes that connection and others keep working) {
  fixture f;
  raw_socket s{f.transport.port};
  CAF_REQUIRE(s.send_bytes(length_prefix(0xfffffff8u)));
  CAF_CHECK(s.closed_by_server());
  f.check_serving();
}

CAF_TEST(a truncated frame followed by a half close ends that connection only) {
  fixture f;
  raw_socket s{f.transport.port};
  CAF_REQUIRE(s.send_bytes(length_prefix(64) + std::string(8, '\0')));
  s.shutdown_write();
  CAF_CHECK(s.closed_by_server());
  f.check_serving();
}

CAF_TEST(a readable request with invalid content gets an error under its id) {
  fixture f;
  raw_socket s{f.transport.port};
  client_request request = get_request(33, "x");
  request.level = consistency::local;
  auto payload = encode_client_request(request);
  // Byte 16 onward is the struct data section; corrupt the consistency enum
  // (bits 64..79 of the data section) to an unknown value.
  payload[8 + 8 + 8] = '\x7f';
  std::string frame;
  append_frame(frame, payload);
  CAF_REQUIRE(s.send_bytes(frame));
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 33u);
  CAF_CHECK(response->result.st.code() == error_code::invalid_consistency);
  f.check_serving();
}

CAF_TEST(a connection stops reading at its in flight limit and resumes as replies drain) {
  transport_options options;
  options.in_flight_per_connection_max = 2;
  fixture f{options};
  raw_socket s{f.transport.port};
  std::string frames;
  for (uint64_t id = 1; id <= 5; ++id) append_frame(frames, encode_client_request(get_request(id, "hold")));
  CAF_REQUIRE(s.send_bytes(frames));
  CAF_REQUIRE(f.wait_held(2));
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  CAF_CHECK_EQUAL(f.held(), 2u);  // the other three wait in the connection
  std::set<uint64_t> answered;
  for (uint64_t expected_held : {4u, 5u, 5u}) {
    caf::anon_send(f.stub, release_atom::value);
    CAF_CHECK(f.wait_held(expected_held));
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    CAF_CHECK_EQUAL(f.held(), expected_held);
  }
  while (answered.size() < 5) {
    auto response = s.read_response();
    if (!response) break;
    answered.insert(response->request_id);
  }
  CAF_CHECK_EQUAL(answered.size(), 5u);
}

CAF_TEST(a client that does not read stops being read from until it catches up) {
  transport_options options;
  options.buffered_bytes_per_connection_max = 256 << 10;
  fixture f{options};
  raw_socket s{f.transport.port};
  constexpr uint64_t requests = 400;  // 400 * 64 KiB of answers: far beyond socket buffers
  std::string frames;
  for (uint64_t id = 1; id <= requests; ++id)
    append_frame(frames, encode_client_request(get_request(id, "big")));
  CAF_REQUIRE(s.send_bytes(frames));
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto seen_while_stalled = f.seen();
  CAF_CHECK_LESS(seen_while_stalled, requests);
  std::set<uint64_t> answered;
  while (answered.size() < requests) {
    auto response = s.read_response();
    if (!response) break;
    CAF_REQUIRE(response->result.doc.has_value());
    answered.insert(response->request_id);
  }
  CAF_CHECK_EQUAL(answered.size(), requests);
  CAF_CHECK_EQUAL(f.seen(), requests);
}

CAF_TEST(an idle connection is closed and a busy one is kept) {
  transport_options options;
  options.idle_timeout_ms = 100;
  fixture f{options};
  raw_socket idle{f.transport.port};
  raw_socket busy{f.transport.port};
  CAF_REQUIRE(busy.send_request(get_request(1, "hold-long")));
  CAF_CHECK(idle.closed_by_server());  // within two periods
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  caf::anon_send(f.stub, release_atom::value);
  auto response = busy.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 1u);
}

CAF_TEST(connections beyond connections_max are closed) {
  transport_options options;
  options.connections_max = 1;
  fixture f{options};
  raw_socket first{f.transport.port};
  CAF_REQUIRE(first.send_request(get_request(1, "a")));
  CAF_REQUIRE(first.read_response().has_value());
  raw_socket second{f.transport.port};
  CAF_CHECK(second.closed_by_server());
  CAF_REQUIRE(first.send_request(get_request(2, "b")));
  auto response = first.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 2u);
}

CAF_TEST(binding a port in use fails with io_error naming the address) {
  fixture f;
  transport_options options;
  options.port = f.transport.port;
  // reuse_addr lets a second bind succeed on some kernels only for TIME_WAIT
  // sockets, not for a listening one.
  auto second = start_transport(f.sys, caf::actor_cast<router_actor>(f.stub), options);
  CAF_REQUIRE(!second.ok());
  CAF_CHECK(second.error().code() == error_code::io_error);
  auto message = second.error().message();
  CAF_CHECK(message.find(std::to_string(f.transport.port)) != std::string::npos);
}

// docs/protocol.md, "Frames": the frames before a bad length prefix are
// answered, then the connection closes. (Regression: the node closed at once,
// so the health request before the bad prefix ran but was never answered.)
CAF_TEST(a request in the same send as a bad length prefix is answered before the close) {
  fixture f;
  raw_socket s{f.transport.port};
  client_request health;
  health.request_id = 1;
  health.body = health_request{};
  std::string bytes;
  append_frame(bytes, encode_client_request(health));
  CAF_REQUIRE_EQUAL(bytes.size(), 52u);  // the example frame of docs/protocol.md
  CAF_REQUIRE(s.send_bytes(bytes + length_prefix(0)));
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 1u);
  CAF_CHECK(response->result.ok());
  CAF_CHECK(s.closed_by_server());
  f.check_serving();
}

// Regression: requests at the router when the bad prefix arrived lost their
// responses, because the node closed without waiting for them.
CAF_TEST(requests in flight when a bad length prefix arrives are all answered before the close) {
  fixture f;
  raw_socket s{f.transport.port};
  for (uint64_t id = 1; id <= 3; ++id)
    CAF_REQUIRE(s.send_request(get_request(id, "hold-" + std::to_string(id))));
  CAF_REQUIRE(f.wait_held(3));
  CAF_REQUIRE(s.send_bytes(length_prefix(12)));  // not a multiple of 8
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  caf::anon_send(f.stub, release_atom::value);
  std::set<uint64_t> answered;
  while (answered.size() < 3) {
    auto response = s.read_response();
    if (!response) break;
    CAF_CHECK(response->result.ok());
    answered.insert(response->request_id);
  }
  CAF_CHECK_EQUAL(answered.size(), 3u);
  CAF_CHECK(s.closed_by_server());
  f.check_serving();
}

// docs/protocol.md: a frame whose requestId cannot be read closes the
// connection; like a bad prefix, the requests before it are still answered
// and the frames after it are not run.
CAF_TEST(a frame without a readable request id closes after the requests before it are answered) {
  fixture f;
  raw_socket s{f.transport.port};
  CAF_REQUIRE(s.send_request(get_request(1, "hold-1")));
  CAF_REQUIRE(f.wait_held(1));
  // A segment table that promises 100 words the frame does not hold, then a
  // good request that must not run.
  std::string bytes = length_prefix(8) + length_prefix(0) + length_prefix(100);
  append_frame(bytes, encode_client_request(get_request(2, "after")));
  CAF_REQUIRE(s.send_bytes(bytes));
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  caf::anon_send(f.stub, release_atom::value);
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 1u);
  CAF_CHECK(s.closed_by_server());
  CAF_CHECK_EQUAL(f.seen(), 1u);
}

// docs/protocol.md: a frame holds exactly one message and nothing after it.
CAF_TEST(a frame with bytes after its message gets malformed under its id and the connection stays) {
  fixture f;
  raw_socket s{f.transport.port};
  std::string frame;
  append_frame(frame, encode_client_request(get_request(4, "x")) + std::string(8, '\0'));
  CAF_REQUIRE(s.send_bytes(frame));
  auto response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 4u);
  CAF_CHECK(response->result.st.code() == error_code::malformed);
  CAF_CHECK_EQUAL(f.seen(), 0u);
  CAF_REQUIRE(s.send_request(get_request(5, "y")));
  response = s.read_response();
  CAF_REQUIRE(response.has_value());
  CAF_CHECK_EQUAL(response->request_id, 5u);
  CAF_CHECK(response->result.ok());
}
