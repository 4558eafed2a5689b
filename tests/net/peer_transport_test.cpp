// The peer transport over real loopback sockets: two or three transports in
// one process (and hand-written raw peers), ports chosen free. Delivery both
// ways in order, handshake refusals (cluster, duplicate id, unknown node),
// late and restarted peers reconnecting with backoff, the drop policy (queue
// bound, down peers, undeliverable forward requests), bad input closing one
// connection, and shutdown (every test ends by destroying its actor system,
// which waits for every actor: a hang fails the test by its CTest timeout).
//
// Waiting: deliveries are awaited with a request the sink answers when enough
// messages have arrived; connection states are polled through the stats
// every 50 ms. Every wait has a generous deadline (a loaded 2-core machine).
#define CAF_SUITE peer_transport
#include "caf/test/unit_test.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "actors/environment.hpp"
#include "actors/peer_transport.hpp"
#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "tests/net/stub_router.hpp"

using namespace velocity;
using namespace velocity::test;

using sink_wait_atom = caf::atom_constant<caf::atom("sink_wait")>;
using received_messages = std::vector<peer_message>;

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<velocity::peer_message>)

namespace {

constexpr auto wait_deadline = std::chrono::seconds{30};
constexpr auto poll_period = std::chrono::milliseconds{50};

// A sink that records what it gets and answers (sink_wait, n) once it holds
// at least n messages.
using test_sink_actor =
    peer_sink_actor::extend<caf::replies_to<sink_wait_atom, uint64_t>::with<received_messages>>;

struct sink_state {
  received_messages received;
  std::vector<std::pair<uint64_t, caf::typed_response_promise<received_messages>>> waiting;
};

test_sink_actor::behavior_type test_sink(test_sink_actor::stateful_pointer<sink_state> self) {
  return {
      [=](peer_deliver_atom, peer_message& message) {
        auto& st = self->state;
        st.received.push_back(std::move(message));
        auto& waiting = st.waiting;
        for (auto it = waiting.begin(); it != waiting.end();) {
          if (st.received.size() >= it->first) {
            it->second.deliver(st.received);
            it = waiting.erase(it);
          } else {
            ++it;
          }
        }
      },
      [=](sink_wait_atom, uint64_t count) -> caf::typed_response_promise<received_messages> {
        auto promise = self->make_response_promise<received_messages>();
        if (self->state.received.size() >= count)
          promise.deliver(self->state.received);
        else
          self->state.waiting.emplace_back(count, promise);
        return promise;
      },
  };
}

// A port nobody listens on now (bound, read, closed), for peers started later.
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CAF_REQUIRE_EQUAL(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

peer_message raft_message(raft::node_id to, uint32_t shard, std::string payload) {
  peer_message m;
  m.to = to;
  m.kind = payload_kind::raft;
  m.shard = shard;
  m.payload = std::move(payload);
  return m;
}

struct node {
  test_sink_actor sink;
  peer_transport_handle transport;
};

struct fixture {
  net_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<environment> env = make_real_environment(7);
  std::vector<caf::actor> to_stop;

  ~fixture() {
    for (auto& a : to_stop) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  peer_transport_options options(raft::node_id id, std::map<raft::node_id, peer_address> members,
                                 std::string cluster = "test-cluster") {
    peer_transport_options o;
    o.cluster_id = std::move(cluster);
    o.node = id;
    o.members = std::move(members);
    o.backoff_ms_min = 20;
    o.backoff_ms_max = 200;
    o.connect_timeout_ms = 1000;
    o.env = env;
    return o;
  }

  node start(peer_transport_options o) {
    node n;
    n.sink = sys.spawn(test_sink);
    to_stop.push_back(caf::actor_cast<caf::actor>(n.sink));
    o.sink = caf::actor_cast<peer_sink_actor>(n.sink);
    auto started = start_peer_transport(sys, std::move(o));
    CAF_REQUIRE(started.ok());
    n.transport = started.value();
    to_stop.push_back(caf::actor_cast<caf::actor>(n.transport.actor));
    return n;
  }

  // Stops a transport and waits until it has terminated.
  void stop(const node& n) {
    caf::scoped_actor self{sys};
    caf::anon_send_exit(n.transport.actor, caf::exit_reason::user_shutdown);
    self->wait_for(n.transport.actor);
  }

  void send(const node& from, peer_message m) {
    caf::anon_send(from.transport.actor, peer_send_atom::value, std::move(m));
  }

  peer_stats stats(const node& n) {
    peer_stats out;
    caf::scoped_actor self{sys};
    self->request(n.transport.actor, wait_deadline, peer_stats_atom::value)
        .receive([&](peer_stats& s) { out = std::move(s); },
                 [&](caf::error& e) { CAF_FAIL("stats failed: " << sys.render(e)); });
    return out;
  }

  static peer_link_stats link(const peer_stats& s, raft::node_id peer) {
    for (const auto& l : s.peers)
      if (l.node == peer) return l;
    CAF_FAIL("no stats for node " << peer);
    return {};
  }

  // Polls n's stats until `done` holds; false at the deadline.
  bool wait_stats(const node& n, const std::function<bool(const peer_stats&)>& done) {
    auto deadline = std::chrono::steady_clock::now() + wait_deadline;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done(stats(n))) return true;
      std::this_thread::sleep_for(poll_period);
    }
    return false;
  }

  bool wait_connected(const node& n, raft::node_id peer, bool connected = true) {
    return wait_stats(n, [&](const peer_stats& s) { return link(s, peer).connected == connected; });
  }

  // The first `count` messages n's sink received (fails at the deadline).
  received_messages wait_received(const node& n, uint64_t count) {
    received_messages out;
    caf::scoped_actor self{sys};
    self->request(n.sink, wait_deadline, sink_wait_atom::value, count)
        .receive([&](received_messages& got) { out = std::move(got); },
                 [&](caf::error& e) {
                   CAF_FAIL("waiting for " << count << " messages: " << sys.render(e));
                 });
    return out;
  }

  // Everything n's sink holds now (messages in flight may follow).
  received_messages received_now(const node& n) { return wait_received(n, 0); }
};

peer_address local(uint16_t port) { return peer_address{"127.0.0.1", port}; }
// The address of a member with a lower id: it dials us, we never dial it.
peer_address never_dialed() { return local(0); }

// A blocking raw peer: a listening socket playing a node by hand.
class raw_listener {
 public:
  raw_listener() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(listen_fd_, 4);
    socklen_t length = sizeof(address);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~raw_listener() {
    if (fd_ >= 0) ::close(fd_);
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

  // Accepts one connection and returns the first frame's payload.
  std::optional<peer_frame> accept_and_read_frame() {
    timeval timeout{30, 0};
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (fd_ < 0) return std::nullopt;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    frame_decoder decoder;
    while (!decoder.has_frame()) {
      char buffer[4096];
      auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0 || !decoder.feed(std::string_view{buffer, static_cast<size_t>(n)}).ok())
        return std::nullopt;
    }
    auto frame = decode_peer_frame(decoder.pop_frame());
    if (!frame.ok()) return std::nullopt;
    return std::move(frame).value();
  }
  bool send_payload(const std::string& payload) {
    std::string frame;
    append_frame(frame, payload);
    return ::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(frame.size());
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  uint16_t port_ = 0;
};

std::string length_prefix(uint32_t length) {
  std::string out(4, '\0');
  for (size_t i = 0; i < 4; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

CAF_TEST(a hello and an envelope survive encoding and garbage does not decode) {
  auto hello = decode_peer_frame(encode_peer_hello(peer_hello{"c", 3, 5, 1}));
  CAF_REQUIRE(hello.ok());
  auto* h = std::get_if<peer_hello>(&hello.value());
  CAF_REQUIRE(h != nullptr);
  CAF_CHECK_EQUAL(h->cluster_id, "c");
  CAF_CHECK_EQUAL(h->from, 3u);
  CAF_CHECK_EQUAL(h->to, 5u);
  CAF_CHECK_EQUAL(h->protocol_version, 1u);
  peer_message m;
  m.from = 5;
  m.to = 3;
  m.kind = payload_kind::forward_request;
  m.shard = 9;
  m.correlation = 77;
  m.payload = std::string("\0bytes\xff", 7);
  auto envelope = decode_peer_frame(encode_peer_envelope(m));
  CAF_REQUIRE(envelope.ok());
  auto* e = std::get_if<peer_message>(&envelope.value());
  CAF_REQUIRE(e != nullptr);
  CAF_CHECK_EQUAL(e->from, 5u);
  CAF_CHECK_EQUAL(e->to, 3u);
  CAF_CHECK(e->kind == payload_kind::forward_request);
  CAF_CHECK_EQUAL(e->shard, 9u);
  CAF_CHECK_EQUAL(e->correlation, 77u);
  CAF_CHECK_EQUAL(e->payload, m.payload);
  CAF_CHECK_EQUAL(e->leader, 0u);
  CAF_CHECK(!e->never_applied);
  // A forward reply carries the leader hint and never_applied across.
  m.kind = payload_kind::forward_reply;
  m.leader = 2;
  m.never_applied = true;
  auto reply_frame = decode_peer_frame(encode_peer_envelope(m));
  CAF_REQUIRE(reply_frame.ok());
  auto* r = std::get_if<peer_message>(&reply_frame.value());
  CAF_REQUIRE(r != nullptr);
  CAF_CHECK_EQUAL(r->leader, 2u);
  CAF_CHECK(r->never_applied);
  CAF_CHECK(e->level == consistency::strong);
  // A forward carries its level; a reply to a read its applied index.
  for (consistency level : {consistency::strong, consistency::quorum, consistency::eventual,
                            consistency::local}) {
    m.level = level;
    m.applied = 41;
    auto leveled = decode_peer_frame(encode_peer_envelope(m));
    CAF_REQUIRE(leveled.ok());
    auto* l = std::get_if<peer_message>(&leveled.value());
    CAF_REQUIRE(l != nullptr);
    CAF_CHECK(l->level == level);
    CAF_CHECK_EQUAL(l->applied, 41u);
  }
  // A level outside the four is malformed input.
  m.level = static_cast<consistency>(9);
  CAF_CHECK(decode_peer_frame(encode_peer_envelope(m)).error().code() == error_code::malformed);
  CAF_CHECK(decode_peer_frame(std::string(64, '\xff')).error().code() == error_code::malformed);
  CAF_CHECK(decode_peer_frame("").error().code() == error_code::malformed);
  CAF_CHECK(decode_peer_frame(encode_peer_hello(peer_hello{}) + std::string(8, '\0'))
                .error()
                .code() == error_code::malformed);
}

CAF_TEST(bad options are refused with invalid_argument) {
  fixture f;
  auto o = f.options(0, {});
  o.sink = caf::actor_cast<peer_sink_actor>(f.sys.spawn(test_sink));
  f.to_stop.push_back(caf::actor_cast<caf::actor>(o.sink));
  auto started = start_peer_transport(f.sys, o);
  CAF_REQUIRE(!started.ok());
  CAF_CHECK(started.error().code() == error_code::invalid_argument);
  o.node = 1;
  o.env = nullptr;
  CAF_CHECK(!start_peer_transport(f.sys, o).ok());
}

CAF_TEST(three nodes exchange messages both ways in order per pair) {
  fixture f;
  // Started from the highest id down, each on port 0: a node dials only
  // higher ids, whose ports are known by then.
  std::map<raft::node_id, peer_address> members{
      {1, never_dialed()}, {2, never_dialed()}, {3, never_dialed()}};
  std::vector<node> nodes(3);
  for (raft::node_id id = 3; id >= 1; --id) {
    nodes[id - 1] = f.start(f.options(id, members));
    members[id] = local(nodes[id - 1].transport.port);
  }
  for (raft::node_id id = 1; id <= 3; ++id)
    for (raft::node_id peer = 1; peer <= 3; ++peer)
      if (peer != id) CAF_REQUIRE(f.wait_connected(nodes[id - 1], peer));
  constexpr uint32_t per_pair = 200;
  for (uint32_t i = 0; i < per_pair; ++i)
    for (raft::node_id from = 1; from <= 3; ++from)
      for (raft::node_id to = 1; to <= 3; ++to)
        if (from != to)
          f.send(nodes[from - 1], raft_message(to, i, std::to_string(from) + ">" + std::to_string(i)));
  for (raft::node_id to = 1; to <= 3; ++to) {
    auto got = f.wait_received(nodes[to - 1], 2 * per_pair);
    CAF_REQUIRE_EQUAL(got.size(), 2 * per_pair);
    std::map<raft::node_id, uint32_t> next;  // per sender, the next expected shard
    for (const auto& m : got) {
      CAF_CHECK_EQUAL(m.to, to);
      CAF_CHECK(m.kind == payload_kind::raft);
      CAF_CHECK(!m.undeliverable);
      CAF_CHECK_EQUAL(m.shard, next[m.from]);
      CAF_CHECK_EQUAL(m.payload, std::to_string(m.from) + ">" + std::to_string(m.shard));
      ++next[m.from];
    }
    for (raft::node_id from = 1; from <= 3; ++from)
      if (from != to) CAF_CHECK_EQUAL(next[from], per_pair);
  }
  auto s = f.stats(nodes[0]);
  CAF_CHECK_EQUAL(s.peers.size(), 2u);
  CAF_CHECK_EQUAL(fixture::link(s, 2).frames_out, per_pair);
  CAF_CHECK_EQUAL(fixture::link(s, 2).frames_in, per_pair);
  CAF_CHECK_EQUAL(fixture::link(s, 2).dropped, 0u);
  CAF_CHECK_EQUAL(fixture::link(s, 2).connects, 1u);
  CAF_CHECK_EQUAL(fixture::link(s, 2).reconnects, 0u);
  CAF_CHECK_EQUAL(s.handshakes_refused, 0u);
}

CAF_TEST(a peer of another cluster is refused and nothing is delivered) {
  fixture f;
  auto b = f.start(f.options(2, {{1, never_dialed()}}, "beta"));
  auto a = f.start(f.options(1, {{2, local(b.transport.port)}}, "alpha"));
  CAF_REQUIRE(f.wait_stats(b, [](const peer_stats& s) { return s.handshakes_refused >= 1; }));
  f.send(a, raft_message(2, 0, "must not arrive"));
  CAF_REQUIRE(f.wait_stats(a, [](const peer_stats& s) { return fixture::link(s, 2).dropped >= 1; }));
  CAF_CHECK(!fixture::link(f.stats(a), 2).connected);
  CAF_CHECK(!fixture::link(f.stats(b), 1).connected);
  CAF_CHECK_EQUAL(fixture::link(f.stats(b), 1).connects, 0u);
  CAF_CHECK(f.received_now(b).empty());
}

CAF_TEST(a node claiming our own id is refused as a duplicate) {
  fixture f;
  // b believes it is node 1 too; a (node 1) dials it as node 2.
  auto b = f.start(f.options(1, {}));
  auto a = f.start(f.options(1, {{2, local(b.transport.port)}}));
  CAF_REQUIRE(f.wait_stats(b, [](const peer_stats& s) { return s.handshakes_refused >= 1; }));
  f.send(a, raft_message(2, 0, "must not arrive"));
  CAF_REQUIRE(f.wait_stats(a, [](const peer_stats& s) { return fixture::link(s, 2).dropped >= 1; }));
  CAF_CHECK_EQUAL(fixture::link(f.stats(a), 2).connects, 0u);
  CAF_CHECK(f.received_now(b).empty());
}

CAF_TEST(a hello from a node that is not a member closes the connection) {
  fixture f;
  auto b = f.start(f.options(2, {{1, never_dialed()}}));
  raw_socket s{b.transport.port};
  CAF_REQUIRE(s.connected());
  std::string frame;
  append_frame(frame, encode_peer_hello(peer_hello{"test-cluster", 9, 2, peer_protocol_version}));
  CAF_REQUIRE(s.send_bytes(frame));
  CAF_CHECK(s.closed_by_server());
  CAF_CHECK_EQUAL(f.stats(b).handshakes_refused, 1u);
}

CAF_TEST(a hello against the connection rule or for another node closes the connection) {
  fixture f;
  auto b = f.start(f.options(2, {{1, never_dialed()}, {3, local(free_port())}}));
  auto refused_hello = [&](peer_hello hello) {
    raw_socket s{b.transport.port};
    CAF_REQUIRE(s.connected());
    std::string frame;
    append_frame(frame, encode_peer_hello(hello));
    CAF_REQUIRE(s.send_bytes(frame));
    CAF_CHECK(s.closed_by_server());
  };
  // Node 3 must accept from node 2, never dial it.
  refused_hello(peer_hello{"test-cluster", 3, 2, peer_protocol_version});
  // Node 1 believes it dialed node 3.
  refused_hello(peer_hello{"test-cluster", 1, 3, peer_protocol_version});
  // Another protocol version.
  refused_hello(peer_hello{"test-cluster", 1, 2, peer_protocol_version + 1});
  auto s = f.stats(b);
  CAF_CHECK_EQUAL(s.handshakes_refused, 3u);
  CAF_CHECK_EQUAL(fixture::link(s, 1).connects, 0u);
  CAF_CHECK_EQUAL(fixture::link(s, 3).connects, 0u);
}

CAF_TEST(a peer that starts late is connected after backoff and what was sent while down is dropped) {
  fixture f;
  auto port = free_port();
  auto a = f.start(f.options(1, {{2, local(port)}}));
  for (uint32_t i = 0; i < 5; ++i) f.send(a, raft_message(2, i, "early"));
  CAF_REQUIRE(f.wait_stats(a, [](const peer_stats& s) { return fixture::link(s, 2).dropped == 5; }));
  // Let a few dials fail first.
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto o = f.options(2, {{1, never_dialed()}});
  o.listen_port = port;
  auto b = f.start(o);
  CAF_REQUIRE(f.wait_connected(a, 2));
  for (uint32_t i = 0; i < 5; ++i) f.send(a, raft_message(2, i, "late"));
  auto got = f.wait_received(b, 5);
  CAF_REQUIRE_EQUAL(got.size(), 5u);
  for (uint32_t i = 0; i < 5; ++i) {
    CAF_CHECK_EQUAL(got[i].payload, "late");
    CAF_CHECK_EQUAL(got[i].shard, i);
    CAF_CHECK_EQUAL(got[i].from, 1u);
  }
  CAF_CHECK_EQUAL(fixture::link(f.stats(a), 2).dropped, 5u);
  CAF_CHECK_EQUAL(fixture::link(f.stats(a), 2).connects, 1u);
}

CAF_TEST(a dropped connection is re-established to a new transport on the same port) {
  fixture f;
  auto o = f.options(2, {{1, never_dialed()}});
  auto b = f.start(o);
  o.listen_port = b.transport.port;  // for the new transport
  auto a = f.start(f.options(1, {{2, local(b.transport.port)}}));
  CAF_REQUIRE(f.wait_connected(a, 2));
  f.send(a, raft_message(2, 1, "before"));
  auto before = f.wait_received(b, 1);
  CAF_CHECK_EQUAL(before.at(0).payload, "before");
  f.stop(b);
  CAF_REQUIRE(f.wait_connected(a, 2, false));
  auto b2 = f.start(o);
  CAF_REQUIRE(f.wait_connected(a, 2));
  CAF_REQUIRE(f.wait_connected(b2, 1));
  f.send(a, raft_message(2, 2, "after"));
  f.send(b2, raft_message(1, 3, "back"));
  auto at_b2 = f.wait_received(b2, 1);
  CAF_CHECK_EQUAL(at_b2.at(0).payload, "after");
  auto at_a = f.wait_received(a, 1);
  CAF_CHECK_EQUAL(at_a.at(0).payload, "back");
  auto link = fixture::link(f.stats(a), 2);
  CAF_CHECK_EQUAL(link.connects, 2u);
  CAF_CHECK_EQUAL(link.reconnects, 1u);
}

CAF_TEST(raft messages beyond the queue bound of a peer that stops reading are dropped and counted) {
  fixture f;
  raw_listener peer;
  auto o = f.options(1, {{2, local(peer.port())}});
  constexpr size_t bound = 256 << 10;
  o.queue_bytes_max = bound;
  auto a = f.start(o);
  // Play node 2 by hand: answer the hello, then never read.
  auto hello = peer.accept_and_read_frame();
  CAF_REQUIRE(hello.has_value());
  auto* h = std::get_if<peer_hello>(&*hello);
  CAF_REQUIRE(h != nullptr);
  CAF_CHECK_EQUAL(h->from, 1u);
  CAF_CHECK_EQUAL(h->to, 2u);
  CAF_CHECK_EQUAL(h->cluster_id, "test-cluster");
  CAF_REQUIRE(peer.send_payload(encode_peer_hello(peer_hello{"test-cluster", 2, 1, 1})));
  CAF_REQUIRE(f.wait_connected(a, 2));
  // 32 MiB offered: far beyond what the kernel's socket buffers and the bound hold.
  constexpr uint32_t messages = 512;
  std::string payload(64 << 10, 'r');
  for (uint32_t i = 0; i < messages; ++i) f.send(a, raft_message(2, i, payload));
  CAF_REQUIRE(f.wait_stats(a, [&](const peer_stats& s) {
    auto l = fixture::link(s, 2);
    return l.frames_out + l.dropped == messages;
  }));
  auto l = fixture::link(f.stats(a), 2);
  CAF_CHECK(l.connected);
  CAF_CHECK_GREATER(l.dropped, 0u);
  CAF_CHECK_GREATER(l.frames_out, 0u);
  CAF_CHECK_LESS_OR_EQUAL(l.queued_bytes, bound);
  CAF_MESSAGE("queued " << l.frames_out << " frames, dropped " << l.dropped);
}

CAF_TEST(a forward request to a down peer comes back at once as undeliverable) {
  fixture f;
  auto a = f.start(f.options(1, {{2, local(free_port())}}));
  peer_message request;
  request.to = 2;
  request.kind = payload_kind::forward_request;
  request.shard = 4;
  request.correlation = 42;
  request.payload = "get x";
  f.send(a, request);
  f.send(a, raft_message(2, 0, "dropped"));
  auto got = f.wait_received(a, 1);
  CAF_REQUIRE_EQUAL(got.size(), 1u);
  CAF_CHECK(got[0].kind == payload_kind::forward_reply);
  CAF_CHECK(got[0].undeliverable);
  CAF_CHECK_EQUAL(got[0].correlation, 42u);
  CAF_CHECK_EQUAL(got[0].shard, 4u);
  CAF_CHECK_EQUAL(got[0].from, 2u);
  CAF_CHECK_EQUAL(got[0].to, 1u);
  CAF_CHECK(got[0].payload.empty());
  CAF_REQUIRE(f.wait_stats(a, [](const peer_stats& s) { return fixture::link(s, 2).dropped == 1; }));
  CAF_CHECK_EQUAL(fixture::link(f.stats(a), 2).undeliverable, 1u);
  // A node that is not a member: also undeliverable, counted apart.
  request.to = 77;
  f.send(a, request);
  CAF_CHECK(f.wait_received(a, 2).at(1).undeliverable);
  CAF_CHECK_EQUAL(f.stats(a).dropped_unknown_peer, 1u);
}

CAF_TEST(a message above the frame limit is not sent and the link stays up) {
  fixture f;
  auto b = f.start(f.options(2, {{1, never_dialed()}}));
  auto b_port = b.transport.port;
  auto oa = f.options(1, {{2, local(b_port)}});
  oa.frame_bytes_limit = 64 << 10;
  auto a = f.start(oa);
  CAF_REQUIRE(f.wait_connected(a, 2));
  f.send(a, raft_message(2, 0, std::string(128 << 10, 'x')));
  peer_message request;
  request.to = 2;
  request.kind = payload_kind::forward_request;
  request.correlation = 5;
  request.payload = std::string(128 << 10, 'y');
  f.send(a, request);
  f.send(a, raft_message(2, 1, "small"));
  auto back = f.wait_received(a, 1);
  CAF_CHECK(back.at(0).undeliverable);
  CAF_CHECK_EQUAL(back.at(0).correlation, 5u);
  auto got = f.wait_received(b, 1);
  CAF_CHECK_EQUAL(got.at(0).payload, "small");
  auto l = fixture::link(f.stats(a), 2);
  CAF_CHECK_EQUAL(l.dropped, 1u);
  CAF_CHECK_EQUAL(l.undeliverable, 1u);
  CAF_CHECK_EQUAL(l.frames_out, 1u);
  CAF_CHECK(l.connected);
}

CAF_TEST(garbage and an oversize length close that connection and the node keeps working) {
  fixture f;
  auto o = f.options(2, {{1, never_dialed()}});
  o.frame_bytes_limit = 1 << 20;
  auto b = f.start(o);
  auto b_port = b.transport.port;
  auto a = f.start(f.options(1, {{2, local(b_port)}}));
  CAF_REQUIRE(f.wait_connected(a, 2));
  {
    raw_socket s{b_port};
    CAF_REQUIRE(s.send_bytes(length_prefix(64) + std::string(64, '\xff')));
    CAF_CHECK(s.closed_by_server());
  }
  {
    raw_socket s{b_port};
    CAF_REQUIRE(s.send_bytes(length_prefix(0xfffffff8u)));
    CAF_CHECK(s.closed_by_server());
  }
  {
    // An envelope before any hello.
    raw_socket s{b_port};
    std::string frame;
    append_frame(frame, encode_peer_envelope(raft_message(2, 0, "sneaky")));
    CAF_REQUIRE(s.send_bytes(frame));
    CAF_CHECK(s.closed_by_server());
  }
  CAF_CHECK_EQUAL(f.stats(b).connections_closed_bad_input, 3u);
  CAF_CHECK(fixture::link(f.stats(a), 2).connected);
  f.send(a, raft_message(2, 5, "still here"));
  auto after_garbage = f.wait_received(b, 1);
  CAF_CHECK_EQUAL(after_garbage.at(0).payload, "still here");
  CAF_CHECK(f.received_now(b).size() == 1u);
}

CAF_TEST(shutdown does not wait for a peer that never answers) {
  fixture f;
  // A listener that never accepts: connects complete (the backlog), hellos
  // never come back, so the link stays in its handshake.
  raw_listener silent;
  auto o = f.options(1, {{2, local(silent.port())}});
  o.handshake_timeout_ms = 60000;
  auto a = f.start(o);
  f.send(a, raft_message(2, 0, "x"));
  CAF_REQUIRE(f.wait_stats(a, [](const peer_stats& s) { return fixture::link(s, 2).dropped == 1; }));
  auto begun = std::chrono::steady_clock::now();
  f.stop(a);
  CAF_CHECK(std::chrono::steady_clock::now() - begun < std::chrono::seconds{10});
}
