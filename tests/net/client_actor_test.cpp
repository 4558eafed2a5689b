// The remote client actor and the blocking facade against the transport and
// the stub router over loopback: calls, error codes, pipelining from many
// callers, timeouts, connection loss and reconnects, refused endpoints, and
// that ended brokers are freed (regressions for leaks LeakSanitizer found).
#define CAF_SUITE client_actor
#include "caf/test/unit_test.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

#include "actors/client_actor.hpp"
#include "actors/metrics.hpp"
#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "tests/net/stub_router.hpp"
#include "velocity/client.hpp"

using namespace velocity;
using namespace velocity::test;

namespace {

struct fixture {
  net_config cfg;
  caf::actor_system sys{cfg};
  stub_router_actor stub = sys.spawn(stub_router);
  std::shared_ptr<metrics_registry> metrics = std::make_shared<metrics_registry>();
  transport_handle transport;

  fixture() { start(0); }
  ~fixture() {
    caf::anon_send(stub, release_atom::value);
    stop();
    caf::anon_send_exit(stub, caf::exit_reason::user_shutdown);
  }
  void start(uint16_t port) {
    transport_options options;
    options.port = port;
    options.metrics = metrics;
    auto started = start_transport(sys, caf::actor_cast<router_actor>(stub), options);
    CAF_REQUIRE(started.ok());
    transport = started.value();
  }
  void stop() {
    if (!transport.acceptor) return;  // a test stopped and released it already
    caf::scoped_actor self{sys};
    self->send_exit(transport.acceptor, caf::exit_reason::user_shutdown);
    self->wait_for(transport.acceptor);
  }
  // Open connections at the transport.
  double connections() {
    return metrics->get_gauge("velocity_transport_connections", "Open client connections.").value();
  }
  client_options options(uint32_t timeout_ms = 2000) {
    client_options out;
    out.endpoints = {"127.0.0.1:" + std::to_string(transport.port)};
    out.timeout_ms = timeout_ms;
    return out;
  }
};

// Polls until nothing holds a strong reference to the actor at `address` any
// more, i.e. it was destroyed, not only terminated.
bool freed_within(const caf::actor_addr& address, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!caf::actor_cast<caf::actor>(address)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return false;
}

// File descriptors this process has open.
size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator{"/proc/self/fd"}) ++n;
  return n;
}

}  // namespace

CAF_TEST(the facade gets a document through the remote client actor) {
  fixture f;
  auto c = client::connect(f.sys, f.options());
  CAF_REQUIRE(c.ok());
  auto doc = (*c)->get("jobs", "doc-9");
  CAF_REQUIRE(doc.ok());
  CAF_CHECK_EQUAL(doc->id, "doc-9");
  CAF_CHECK(doc->fields.at("collection") == value{"jobs"});
  CAF_CHECK((*c)->health().ok());
}

CAF_TEST(an error reply reaches the caller with its code and message) {
  fixture f;
  auto c = client::connect(f.sys, f.options());
  CAF_REQUIRE(c.ok());
  auto n = (*c)->count("jobs");
  CAF_REQUIRE(!n.ok());
  CAF_CHECK(n.error().code() == error_code::invalid_argument);
  auto message = n.error().message();
  CAF_CHECK_EQUAL(message, "stub answers only get and health");
}

CAF_TEST(pipelined requests from one actor are correlated by id) {
  fixture f;
  auto target = connect_remote(f.sys, f.options());
  CAF_REQUIRE(target.ok());
  caf::scoped_actor self{f.sys};
  // Same caller ids on purpose: the client actor's wire ids keep them apart.
  for (int i = 0; i < 20; ++i)
    self->send(*target, request_atom::value, get_request(7, "doc-" + std::to_string(i)));
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i)
    self->receive([&](const client_response& response) {
                    CAF_CHECK_EQUAL(response.request_id, 7u);
                    if (response.result.doc) ids.insert(response.result.doc->id);
                  },
                  caf::after(std::chrono::seconds{5}) >> [] { CAF_FAIL("no response"); });
  CAF_CHECK_EQUAL(ids.size(), 20u);
  caf::anon_send_exit(*target, caf::exit_reason::user_shutdown);
}

CAF_TEST(a client keeping more requests in flight than the server window gets every reply) {
  // Regression: with in_flight_per_connection_max (256) or more requests in
  // flight on one connection, the transport halts and re-triggers reading
  // constantly; a halt and a trigger in the same multiplexer round used to
  // leave the socket unread forever, so the client stalled until timeouts.
  fixture f;
  auto target = connect_remote(f.sys, f.options(2000));
  CAF_REQUIRE(target.ok());
  caf::scoped_actor self{f.sys};
  constexpr uint64_t in_flight = 600;
  constexpr uint64_t total = 40000;
  uint64_t sent = 0;
  auto send_one = [&] {
    self->send(*target, request_atom::value, get_request(sent, "doc-" + std::to_string(sent)));
    ++sent;
  };
  while (sent < in_flight) send_one();
  uint64_t ok = 0;
  uint64_t failed = 0;
  bool stalled = false;
  for (uint64_t received = 0; received < total && !stalled; ++received) {
    self->receive(
        [&](const client_response& response) {
          bool good = response.result.st.ok() && response.result.doc.has_value();
          ++(good ? ok : failed);
          if (sent < total) send_one();
        },
        caf::after(std::chrono::seconds{5}) >> [&] { stalled = true; });
  }
  CAF_CHECK(!stalled);
  CAF_CHECK_EQUAL(failed, 0u);
  CAF_CHECK_EQUAL(ok, total);
  caf::anon_send_exit(*target, caf::exit_reason::user_shutdown);
}

CAF_TEST(a request the server never answers times out) {
  fixture f;
  auto target = connect_remote(f.sys, f.options());
  CAF_REQUIRE(target.ok());
  // The stub holds the request, the transport answers timeout at 300 + grace;
  // either way the caller sees a timeout response with its own id.
  client c{f.sys, *target, f.options(300)};
  auto request = get_request(0, "hold-me");
  auto response = c.call(request);
  CAF_CHECK(response.result.st.code() == error_code::timeout);
  CAF_CHECK_EQUAL(response.request_id, 1u);
  caf::anon_send_exit(*target, caf::exit_reason::user_shutdown);
}

CAF_TEST(a server that accepts and never answers lets the client expire the request) {
  net_config cfg;
  caf::actor_system sys{cfg};
  // A listening socket nobody reads: the kernel completes the handshake.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CAF_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  CAF_REQUIRE(::listen(listener, 4) == 0);
  socklen_t length = sizeof(address);
  CAF_REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  client_options options;
  options.endpoints = {"127.0.0.1:" + std::to_string(ntohs(address.sin_port))};
  options.timeout_ms = 100;
  auto c = client::connect(sys, options);
  CAF_REQUIRE(c.ok());
  auto started = std::chrono::steady_clock::now();
  auto doc = (*c)->get("jobs", "a");
  auto waited = std::chrono::steady_clock::now() - started;
  CAF_REQUIRE(!doc.ok());
  CAF_CHECK(doc.error().code() == error_code::timeout);
  auto message = doc.error().message();
  CAF_CHECK_EQUAL(message, "no response within the request timeout");
  CAF_CHECK(waited < std::chrono::milliseconds{1100});  // before the facade's own deadline
  c = status{error_code::internal, "closed"};  // ends the client actor
  ::close(listener);
}

CAF_TEST(losing the connection fails pending requests and a new server is found again) {
  fixture f;
  auto c = client::connect(f.sys, f.options());
  CAF_REQUIRE(c.ok());
  CAF_REQUIRE((*c)->get("jobs", "a").ok());
  auto port = f.transport.port;
  caf::scoped_actor self{f.sys};
  self->send((*c)->target(), request_atom::value, get_request(3, "hold-pending"));
  std::this_thread::sleep_for(std::chrono::milliseconds{100});
  f.stop();
  self->receive([&](const client_response& response) {
                  CAF_CHECK_EQUAL(response.request_id, 3u);
                  CAF_CHECK(response.result.st.code() == error_code::unavailable);
                },
                caf::after(std::chrono::seconds{5}) >> [] { CAF_FAIL("pending not failed"); });
  auto down = (*c)->get("jobs", "b");
  CAF_CHECK(down.error().code() == error_code::unavailable);
  f.start(port);
  // Background reconnects or the on-demand attempt find the new listener.
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = (*c)->get("jobs", "c").ok();
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  CAF_CHECK(back);
}

CAF_TEST(connecting to endpoints that refuse gives io_error naming them) {
  net_config cfg;
  caf::actor_system sys{cfg};
  client_options options;
  options.endpoints = {"127.0.0.1:1", "127.0.0.1:2"};
  auto target = connect_remote(sys, options);
  CAF_REQUIRE(!target.ok());
  CAF_CHECK(target.error().code() == error_code::io_error);
  auto message = target.error().message();
  CAF_CHECK(message.find("127.0.0.1:1") != std::string::npos);
  CAF_CHECK(message.find("127.0.0.1:2") != std::string::npos);
  options.endpoints = {"no-port"};
  auto bad = connect_remote(sys, options);
  CAF_REQUIRE(!bad.ok());
  CAF_CHECK(bad.error().code() == error_code::invalid_argument);
}

CAF_TEST(a second endpoint is used when the first refuses) {
  fixture f;
  client_options options = f.options();
  options.endpoints.insert(options.endpoints.begin(), "127.0.0.1:1");
  auto c = client::connect(f.sys, options);
  CAF_REQUIRE(c.ok());
  CAF_CHECK((*c)->get("jobs", "x").ok());
}

CAF_TEST(a client actor ended while a request timer is pending is freed when the timer fires) {
  // Regression: CAF 0.17.6 never closes an ended broker's mailbox, so the
  // request's expire timer (a message to itself) landed there and the broker
  // held itself for ever (LeakSanitizer: broker, scribe, mailbox element).
  fixture f;
  caf::actor_addr address;
  {
    auto target = connect_remote(f.sys, f.options());
    CAF_REQUIRE(target.ok());
    address = target->address();
    caf::scoped_actor self{f.sys};
    auto request = get_request(5, "hold-until-exit");
    request.timeout_ms = 100;  // the client's expire timer fires at 100 + 500 ms
    self->send(*target, request_atom::value, request);
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    self->send_exit(*target, caf::exit_reason::user_shutdown);
    self->receive(
        [&](const client_response& response) {
          CAF_CHECK_EQUAL(response.request_id, 5u);
          CAF_CHECK(response.result.st.code() == error_code::unavailable);
        },
        caf::after(std::chrono::seconds{5}) >> [] { CAF_FAIL("pending request not answered at exit"); });
    self->wait_for(*target);
  }
  CAF_CHECK(freed_within(address, std::chrono::seconds{3}));
}

CAF_TEST(clients destroyed right after connecting release their sockets) {
  // Regression: an exit that reached the broker in the multiplexer round that
  // opened its connection closed the socket before CAF had registered it; CAF
  // 0.17.6 then never released the scribe, its read buffer and its file
  // descriptor (LeakSanitizer: scribe and 64 KiB buffer, e.g. in the CLI).
  fixture f;
  auto baseline = open_descriptors();
  constexpr int clients = 50;
  for (int i = 0; i < clients; ++i) {
    auto c = client::connect(f.sys, f.options());
    CAF_REQUIRE(c.ok());
  }
  // Both ends of every connection are in this process; all must close.
  auto now = open_descriptors();
  for (int i = 0; i < 300 && now > baseline; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    now = open_descriptors();
  }
  CAF_CHECK_EQUAL(now, baseline);
}

CAF_TEST(a transport stopped just after its client disconnects frees its brokers) {
  // Regression: the connection broker (on end of stream) and the acceptor (on
  // shutdown) ended together; each one's exit message then sat in the other's
  // mailbox, which CAF 0.17.6 never closes for brokers, and the linked pair
  // held each other for ever.
  fixture f;
  constexpr int rounds = 5;
  for (int i = 0; i < rounds; ++i) {
    if (i > 0) f.start(0);
    {
      raw_socket s{f.transport.port};
      CAF_REQUIRE(s.connected());
      CAF_REQUIRE(s.send_request(get_request(1, "doc")));
      CAF_REQUIRE(s.read_response().has_value());
    }  // closed: the connection broker sees the end of the stream
    caf::anon_send_exit(f.transport.acceptor, caf::exit_reason::user_shutdown);
    auto acceptor = f.transport.acceptor.address();
    {
      caf::scoped_actor self{f.sys};
      self->wait_for(f.transport.acceptor);
    }
    f.transport.acceptor = caf::actor{};
    CAF_CHECK(freed_within(acceptor, std::chrono::seconds{3}));
  }
}
