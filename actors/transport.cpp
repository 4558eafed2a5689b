// The client-facing TCP transport (actors/transport.hpp): an acceptor broker
// that binds host:port and forks one connection broker per accepted socket.
//
// A connection broker turns bytes into frames (frame_decoder), frames into
// client_request values (decode_client_request), asks the router with a
// deadline and writes each client_response as soon as it arrives, so responses
// leave in completion order, not request order. Deadlines are kept here, not
// as one CAF request timeout per request (each of those is two events on
// CAF's clock thread, a thread wake-up apiece): a sweep that runs while
// requests wait answers the overdue ones with timeout, and their late replies
// are dropped. A bad length prefix or a frame
// without a readable requestId stops reading; the requests accepted before it
// are still answered and flushed, then the connection closes (start_draining).
//
// Actor safety: every broker runs on the middleman's multiplexer thread and
// never blocks; state is touched only by its own broker.
// Invariants: a connection has at most in_flight_per_connection_max requests at
// the router and at most buffered_bytes_per_connection_max bytes waiting to be
// written; above either it stops reading (halt) and resumes (trigger) once the
// backlog drains, so a slow or greedy client cannot grow our memory. At most
// one halt/trigger is unconfirmed at a time (see update_reading). The
// acceptor holds at most connections_max connection brokers and closes sockets
// beyond that. Connection brokers are linked to the acceptor: exiting the
// acceptor closes them all. Every broker closes its mailbox when it ends
// (actors/broker_exit.hpp), so the linked brokers' exit messages and late
// timers or replies cannot keep an ended broker alive, and a connection
// broker never closes its socket while a registration for reading may still be
// unapplied (its first round, or a trigger before switched_atom).
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "actors/broker_exit.hpp"
#include "actors/metrics.hpp"
#include "actors/transport.hpp"
#include "caf/io/broker.hpp"
#include "caf/io/middleman.hpp"
#include "caf/io/receive_policy.hpp"
#include "caf/io/system_messages.hpp"
#include "caf/send.hpp"
#include "protocols/framing.hpp"

namespace velocity {
namespace {

// Bytes requested per read; the decoder is incremental, so any size works.
constexpr size_t read_chunk_bytes_max = 64 << 10;
// The router answers timeouts itself at the request's timeout; wait a little
// longer so its reply (with its message) wins over our own timeout.
constexpr uint32_t router_grace_ms = 250;
// How often a connection with requests at the router looks for overdue ones:
// a request the router never answers is answered at most this much after
// its deadline plus router_grace_ms.
constexpr auto sweep_period = std::chrono::milliseconds{100};

using steady = std::chrono::steady_clock;

// A request handed to the router and not answered yet.
struct waiting_request {
  uint64_t request_id = 0;  // the client's
  uint32_t timeout_ms = 0;
  steady::time_point deadline;  // timeout_ms + router_grace_ms after it left
};

struct connection_state {
  frame_decoder decoder;
  size_t in_flight = 0;  // == waiting.size()
  std::unordered_map<uint64_t, waiting_request> waiting;  // by our sequence number
  uint64_t next_sequence = 0;
  bool sweep_scheduled = false;
  uint64_t unsent_bytes = 0;  // written by us, not yet on the socket
  bool reading = true;         // the last halt/trigger we issued was a trigger
  bool switch_pending = false;  // that halt/trigger is not yet applied by the multiplexer
  // The stream is unusable (a bad length prefix, or a frame without a readable
  // requestId): nothing more is read, the requests accepted before it finish
  // and their responses are written, then it closes (see start_draining).
  bool draining = false;
  bool closing = false;
  caf::error quit_reason;  // why it closes; quitting waits while switch_pending
  bool active_since_check = false;  // bytes arrived since the last idle check
};

using idle_atom = caf::atom_constant<caf::atom("idle")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
// The multiplexer has applied our last halt/trigger (see update_reading).
using switched_atom = caf::atom_constant<caf::atom("switched")>;

// The transport's series; all null when metrics are off. Counters and gauges
// are atomics, so every broker may update them.
struct transport_metrics {
  gauge* connections = nullptr;
  counter* connections_refused = nullptr;
  counter* frames_received = nullptr;
  counter* frames_sent = nullptr;
  counter* received_bytes = nullptr;
  counter* sent_bytes = nullptr;
};

struct shared_settings {
  router_actor router;
  transport_options options;
  transport_metrics metrics;
};

transport_metrics make_transport_metrics(metrics_registry* registry) {
  transport_metrics m;
  if (!registry) return m;
  m.connections = &registry->get_gauge("velocity_transport_connections",
                                       "Open client connections.");
  m.connections_refused = &registry->get_counter(
      "velocity_transport_connections_refused_total",
      "Client connections closed at accept because connections_max was reached.");
  m.frames_received = &registry->get_counter("velocity_transport_frames_received_total",
                                             "Request frames decoded from client connections.");
  m.frames_sent = &registry->get_counter("velocity_transport_frames_sent_total",
                                         "Response frames written to client connections.");
  m.received_bytes = &registry->get_counter("velocity_transport_received_bytes_total",
                                            "Bytes read from client connections.");
  m.sent_bytes = &registry->get_counter("velocity_transport_sent_bytes_total",
                                        "Bytes written to client connections.");
  return m;
}

void count(counter* c, uint64_t amount = 1) {
  if (c) c->increment(amount);
}

using connection_broker = caf::io::stateful_broker<connection_state>;

// Seam (see transport.hpp): encoded frame -> socket. TLS would encrypt here.
void send_bytes(connection_broker* self, caf::io::connection_handle hdl, const std::string& frame) {
  auto& buffer = self->wr_buf(hdl);
  buffer.insert(buffer.end(), frame.begin(), frame.end());
  self->state.unsent_bytes += frame.size();
  self->flush(hdl);
}

void send_response(connection_broker* self, caf::io::connection_handle hdl,
                   const std::shared_ptr<const shared_settings>& settings,
                   const client_response& response) {
  std::string frame;
  append_frame(frame, encode_client_response(response));
  send_bytes(self, hdl, frame);
  count(settings->metrics.frames_sent);
  count(settings->metrics.sent_bytes, frame.size());
}

// Room for one more request: the in-flight window and the write backlog
// (responses the client has not taken off the socket yet) are both below limits.
bool has_room(const connection_state& st, const transport_options& options) {
  return st.in_flight < options.in_flight_per_connection_max &&
         st.unsent_bytes + st.decoder.buffered_bytes() <= options.buffered_bytes_per_connection_max;
}

// Stops reading while there is no room or decoded frames wait; resumes after.
//
// CAF 0.17 applies halt (remove_from_loop) and trigger (add_to_loop) only at
// the end of the multiplexer's current poll round, and the stream ignores a
// trigger while its reader is still registered. So a halt followed by a
// trigger in the same round (the window fills on a read, a batch of replies
// empties it before the round ends) is lost: the socket is never read again,
// and a client keeping in_flight_per_connection_max requests in flight
// stalls until its timeout (a trigger then halt in one round likewise leaves
// a reader registered that a later trigger cannot restart). Hence at most one
// switch is unconfirmed: after a halt or trigger we post a switched_atom
// through the multiplexer, which runs in a later round, and decide again only
// when it arrives.
void update_reading(connection_broker* self, caf::io::connection_handle hdl,
                    const transport_options& options) {
  auto& st = self->state;
  if (st.switch_pending || st.closing) return;
  bool over = st.draining || !has_room(st, options) || st.decoder.has_frame();
  if (over == !st.reading) return;
  if (over)
    self->halt(hdl);
  else
    self->trigger(hdl);
  st.reading = !over;
  st.switch_pending = true;
  post_after_round(self, switched_atom::value);
}

// Ends the connection. While a switch is unconfirmed (a trigger or the
// initial registration may not be applied yet) quitting waits for
// switched_atom: closing a socket in the round that registers it for reading
// would leak it (actors/broker_exit.hpp, gap 2).
void close_connection(connection_broker* self, caf::error reason = caf::error{}) {
  auto& st = self->state;
  if (!st.closing) st.quit_reason = std::move(reason);
  st.closing = true;
  if (!st.switch_pending) self->quit(st.quit_reason);
}

void drain_frames(connection_broker* self, caf::io::connection_handle hdl,
                  const std::shared_ptr<const shared_settings>& settings);

// The stream cannot be split into frames any more (or a frame gave no request
// id to answer under): stop reading, but answer every request accepted so far.
// Frames decoded before the bad point stay queued and are still handed to the
// router; frames after an unreadable one are dropped. Bounded: each request at
// the router ends by its timeout, and once none is left a client that does not
// read its responses is closed by the idle check.
void start_draining(connection_broker* self, bool drop_queued_frames) {
  auto& st = self->state;
  st.draining = true;
  while (drop_queued_frames && st.decoder.has_frame()) st.decoder.pop_frame();
}

// One sweep timer per connection, only while requests wait at the router.
void schedule_sweep(connection_broker* self) {
  auto& st = self->state;
  if (st.sweep_scheduled || st.waiting.empty()) return;
  st.sweep_scheduled = true;
  self->delayed_send(self, sweep_period, sweep_atom::value);
}

// Answers the requests whose deadline (plus the router's grace) has passed
// with timeout, as a CAF request timeout used to.
void sweep_overdue(connection_broker* self, caf::io::connection_handle hdl,
                   const std::shared_ptr<const shared_settings>& settings) {
  auto& st = self->state;
  st.sweep_scheduled = false;
  auto now = steady::now();
  std::vector<waiting_request> overdue;
  for (auto i = st.waiting.begin(); i != st.waiting.end();) {
    if (i->second.deadline > now) {
      ++i;
      continue;
    }
    overdue.push_back(i->second);
    i = st.waiting.erase(i);
    --st.in_flight;
  }
  if (!st.closing) {
    for (const auto& late : overdue)
      send_response(self, hdl, settings,
                    error_response(late.request_id, error_code::timeout,
                                   "no reply from the router within " +
                                       std::to_string(late.timeout_ms) + " ms"));
    if (!overdue.empty()) drain_frames(self, hdl, settings);
  }
  schedule_sweep(self);
}

void handle_frame(connection_broker* self, caf::io::connection_handle hdl,
                  const std::shared_ptr<const shared_settings>& settings,
                  const std::string& payload) {
  count(settings->metrics.frames_received);
  std::optional<uint64_t> request_id;
  auto decoded = decode_client_request(payload, request_id);
  if (!decoded.ok()) {
    if (!request_id) {
      start_draining(self, true);
      return;
    }
    auto response = error_response(*request_id, decoded.error().code(), decoded.error().message());
    send_response(self, hdl, settings, response);
    return;
  }
  auto request = std::move(decoded).value();
  auto id = request.request_id;
  auto timeout_ms =
      request.timeout_ms != 0 ? request.timeout_ms : settings->options.request_timeout_ms_default;
  auto& st = self->state;
  uint64_t sequence = ++st.next_sequence;
  st.waiting.emplace(sequence,
                     waiting_request{id, timeout_ms,
                                     steady::now() + std::chrono::milliseconds{
                                                         uint64_t{timeout_ms} + router_grace_ms}});
  ++st.in_flight;
  schedule_sweep(self);
  auto done = [self, hdl, settings, sequence](const client_response& response) {
    auto& state = self->state;
    // Answered already by the sweep: the router's late reply is dropped.
    if (state.waiting.erase(sequence) == 0) return;
    --state.in_flight;
    if (state.closing) return;
    send_response(self, hdl, settings, response);
    drain_frames(self, hdl, settings);
  };
  // No CAF timeout: the router answers by the deadline, and the sweep covers
  // a router that does not (sweep_overdue).
  self->request(settings->router, caf::infinite, request_atom::value, std::move(request))
      .then([done](const client_response& response) { done(response); },
            [done, id](caf::error& err) {
              done(error_response(id, error_code::unavailable,
                                  "router failed: " + caf::to_string(err)));
            });
}

// Seam (see transport.hpp): socket -> decoder. TLS would decrypt here.
void on_bytes(connection_broker* self, caf::io::connection_handle hdl,
              const std::shared_ptr<const shared_settings>& settings,
              const std::vector<char>& bytes) {
  auto& st = self->state;
  // While draining, bytes that arrive before the halt applies are discarded.
  if (st.closing || st.draining) return;
  count(settings->metrics.received_bytes, bytes.size());
  auto fed = st.decoder.feed(std::string_view{bytes.data(), bytes.size()});
  // A bad length prefix: no request id to answer under, and the stream cannot
  // be resynchronized. The whole frames before it are kept and answered.
  if (!fed.ok()) start_draining(self, false);
  drain_frames(self, hdl, settings);
}

// Hands decoded frames to the router while there is room (has_room); the
// rest wait in the decoder (at most one read's worth, because reading stops
// while frames wait) until replies drain or the client reads its responses.
void drain_frames(connection_broker* self, caf::io::connection_handle hdl,
                  const std::shared_ptr<const shared_settings>& settings) {
  auto& st = self->state;
  const auto& options = settings->options;
  while (!st.closing && st.decoder.has_frame() && has_room(st, options))
    handle_frame(self, hdl, settings, st.decoder.pop_frame());
  if (st.closing) return;
  // Draining is done once every accepted request is answered and every
  // response has left our write buffer (data_transferred_msg reports it).
  if (st.draining && !st.decoder.has_frame() && st.in_flight == 0 && st.unsent_bytes == 0) {
    close_connection(self);
    return;
  }
  update_reading(self, hdl, options);
}

caf::behavior connection_impl(connection_broker* self, caf::io::connection_handle hdl,
                              std::shared_ptr<const shared_settings> settings) {
  close_mailbox_at_exit(self);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason) close_connection(self, std::move(msg.reason));
  });
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_bytes_max));
  self->ack_writes(hdl, true);
  // The socket's registration for reading applies at the end of this round.
  self->state.switch_pending = true;
  post_after_round(self, switched_atom::value);
  auto idle_period = std::chrono::milliseconds{settings->options.idle_timeout_ms};
  if (idle_period.count() > 0) self->delayed_send(self, idle_period, idle_atom::value);
  return {
      [=](const caf::io::new_data_msg& msg) {
        self->state.active_since_check = true;
        on_bytes(self, hdl, settings, msg.buf);
      },
      [=](idle_atom) {
        auto& st = self->state;
        // A draining connection whose client does not read its responses
        // (queued frames, unsent bytes) is closed here too: draining is bounded.
        if (!st.active_since_check && st.in_flight == 0 &&
            (!st.decoder.has_frame() || st.draining)) {
          close_connection(self);
          return;
        }
        st.active_since_check = false;
        self->delayed_send(self, idle_period, idle_atom::value);
      },
      [=](sweep_atom) { sweep_overdue(self, hdl, settings); },
      [=](switched_atom) {
        self->state.switch_pending = false;
        if (self->state.closing) {
          self->quit(self->state.quit_reason);
          return;
        }
        drain_frames(self, hdl, settings);
      },
      [=](const caf::io::data_transferred_msg& msg) {
        self->state.unsent_bytes = msg.remaining;
        drain_frames(self, hdl, settings);
      },
      [=](const caf::io::connection_closed_msg&) { close_connection(self); },
  };
}

struct acceptor_state {
  std::set<caf::actor_addr> connections;
};

using bind_result = std::promise<status_or<uint16_t>>;

caf::behavior acceptor_impl(caf::io::stateful_broker<acceptor_state>* self,
                            std::shared_ptr<const shared_settings> settings,
                            std::shared_ptr<bind_result> bound) {
  close_mailbox_at_exit(self);
  const auto& options = settings->options;
  bool any_address = options.host.empty() || options.host == "0.0.0.0";
  auto res = self->add_tcp_doorman(options.port, any_address ? nullptr : options.host.c_str(), true);
  if (!res) {
    bound->set_value(status{error_code::io_error, "cannot listen on " + options.host + ":" +
                                                      std::to_string(options.port) + ": " +
                                                      self->system().render(res.error())});
    self->quit(res.error());
    return {};
  }
  // Reported after this multiplexer round, once the listening socket is
  // registered: an exit sent by the caller in the same round would otherwise
  // close it unregistered, and CAF would never release it (broker_exit.hpp).
  auto port = res->second;
  self->backend().post([bound, port] { bound->set_value(port); });
  // Linked connection brokers report their end here; only an exit from
  // elsewhere (a shutdown) stops the acceptor, and with it every connection.
  auto* connections = settings->metrics.connections;
  self->set_exit_handler([self, connections](caf::exit_msg& msg) {
    if (self->state.connections.erase(msg.source) > 0) {
      if (connections) connections->add(-1);
      return;
    }
    if (msg.reason == caf::exit_reason::normal) return;
    // Every connection is linked and goes down with the acceptor.
    if (connections) connections->add(-static_cast<double>(self->state.connections.size()));
    self->quit(msg.reason);
  });
  return {
      [=](const caf::io::new_connection_msg& msg) {
        if (self->state.connections.size() >= settings->options.connections_max) {
          count(settings->metrics.connections_refused);
          self->close(msg.handle);
          return;
        }
        auto connection = self->fork(connection_impl, msg.handle, settings);
        self->link_to(connection);
        self->state.connections.insert(connection.address());
        if (settings->metrics.connections) settings->metrics.connections->add(1);
      },
      [=](const caf::io::new_data_msg&) {},
      [=](const caf::io::connection_closed_msg&) {},
      [=](const caf::io::acceptor_closed_msg&) { self->quit(); },
  };
}

}  // namespace

status_or<transport_handle> start_transport(caf::actor_system& system, router_actor router,
                                            const transport_options& options) {
  auto settings = std::make_shared<shared_settings>(
      shared_settings{std::move(router), options, make_transport_metrics(options.metrics.get())});
  auto bound = std::make_shared<bind_result>();
  auto result = bound->get_future();
  auto acceptor = system.middleman().spawn_broker(acceptor_impl,
                                                  std::shared_ptr<const shared_settings>{settings},
                                                  bound);
  auto port = result.get();
  if (!port.ok()) return port.error();
  return transport_handle{acceptor, port.value()};
}

}  // namespace velocity
