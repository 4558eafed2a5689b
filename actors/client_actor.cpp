// The remote client broker (actors/client_actor.hpp): connection management,
// wire ids, deadlines and reconnects. Frame and payload coding live in
// protocols/framing.hpp and actors/transport_codec.cpp.
//
// Deadlines: each pending request carries its own; one expire timer runs while
// any is pending and answers the overdue ones (not one CAF timer per request:
// each is an event on CAF's clock thread and a message back, per request).
//
// Actor safety: state is touched only by the broker itself.
// Invariants: `pending` holds exactly the requests written to the current
// connection and not yet answered; it is emptied (answered with unavailable)
// whenever that connection goes away. `connects_settling` counts connections
// opened in a multiplexer round that has not ended yet (one settled_atom is
// on its way for each); the broker never closes a socket while it is nonzero.
#include "actors/client_actor.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>

#include "actors/broker_exit.hpp"
#include "actors/transport.hpp"
#include "caf/io/middleman.hpp"
#include "caf/io/receive_policy.hpp"
#include "caf/io/system_messages.hpp"
#include "caf/system_messages.hpp"
#include "caf/typed_response_promise.hpp"
#include "protocols/framing.hpp"

namespace velocity {
namespace {

constexpr size_t read_chunk_bytes_max = 64 << 10;
// The server answers timeouts itself (router at timeout_ms, transport shortly
// after); expire locally only later, so its reply normally wins.
constexpr uint32_t server_grace_ms = 500;
// How often pending requests are checked against their deadlines: a request
// the server never answers fails at most this long after timeout + grace.
constexpr auto expire_period = std::chrono::milliseconds{100};

using steady = std::chrono::steady_clock;

struct pending_call {
  uint64_t caller_id = 0;
  caf::typed_response_promise<client_response> promise;
  steady::time_point deadline;  // timeout + server_grace_ms after it was sent
};

struct client_actor_state {
  client_actor_options options;
  std::vector<std::pair<std::string, uint16_t>> endpoints;
  size_t endpoint_index = 0;  // the endpoint in use, or the next to try first
  std::optional<caf::io::connection_handle> connection;
  frame_decoder decoder;
  uint64_t next_wire_id = 1;
  std::map<uint64_t, pending_call> pending;
  uint32_t reconnect_attempts = 0;
  bool reconnect_scheduled = false;
  uint32_t connects_settling = 0;
  std::optional<caf::error> exit_deferred;  // an exit that waits for settled_atom
  bool expire_scheduled = false;
};

using client_pointer = client_broker_actor::stateful_broker_pointer<client_actor_state>;

std::string endpoint_name(const std::pair<std::string, uint16_t>& endpoint) {
  return endpoint.first + ":" + std::to_string(endpoint.second);
}

// Tries every endpoint once, starting with the last one that worked.
status try_connect(client_pointer self) {
  auto& st = self->state;
  std::string tried;
  for (size_t i = 0; i < st.endpoints.size(); ++i) {
    auto index = (st.endpoint_index + i) % st.endpoints.size();
    const auto& endpoint = st.endpoints[index];
    auto hdl = self->add_tcp_scribe(endpoint.first, endpoint.second);
    if (hdl) {
      st.endpoint_index = index;
      st.connection = *hdl;
      st.decoder = frame_decoder{};
      st.reconnect_attempts = 0;
      self->configure_read(*hdl, caf::io::receive_policy::at_most(read_chunk_bytes_max));
      ++st.connects_settling;
      post_after_round(self, settled_atom::value);
      return status{};
    }
    tried += (tried.empty() ? "" : ", ") + endpoint_name(endpoint);
  }
  return status{error_code::io_error, "cannot connect to any endpoint (" + tried + ")"};
}

// Answers every pending request with `code` and forgets the connection.
void drop_connection(client_pointer self, error_code code, const std::string& why) {
  auto& st = self->state;
  if (st.connection) self->close(*st.connection);
  st.connection.reset();
  auto pending = std::move(st.pending);
  st.pending.clear();
  for (auto& [wire_id, call] : pending) call.promise.deliver(error_response(call.caller_id, code, why));
}

void schedule_reconnect(client_pointer self) {
  auto& st = self->state;
  if (st.reconnect_scheduled || st.connection ||
      st.reconnect_attempts >= st.options.reconnect_attempts_max)
    return;
  auto shift = std::min<uint32_t>(st.reconnect_attempts, 20);
  auto delay_ms = std::min<uint64_t>(uint64_t{st.options.reconnect_delay_ms_initial} << shift,
                                     st.options.reconnect_delay_ms_max);
  st.reconnect_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, reconnect_atom::value);
}

// Ends the broker for an exit message: answers what is pending, closes the
// connection, quits. Waits for settled_atom while a connection opened in this
// multiplexer round could still leak (actors/broker_exit.hpp, gap 2).
void on_exit(client_pointer self, caf::exit_msg& msg) {
  if (!msg.reason) return;  // a normal exit of a linked actor: ignore, as CAF does
  auto& st = self->state;
  if (st.connects_settling > 0) {
    if (!st.exit_deferred) st.exit_deferred = std::move(msg.reason);
    return;
  }
  drop_connection(self, error_code::unavailable, "the client actor was shut down");
  self->quit(std::move(msg.reason));
}

void schedule_expire(client_pointer self) {
  auto& st = self->state;
  if (st.expire_scheduled || st.pending.empty()) return;
  st.expire_scheduled = true;
  self->delayed_send(self, expire_period, expire_atom::value);
}

caf::typed_response_promise<client_response> on_request(client_pointer self,
                                                        client_request request) {
  auto& st = self->state;
  auto promise = self->make_response_promise<client_response>();
  auto caller_id = request.request_id;
  if (st.pending.size() >= st.options.pending_max) {
    promise.deliver(error_response(caller_id, error_code::overloaded,
                                   "client has " + std::to_string(st.pending.size()) +
                                       " requests in flight (pending_max)"));
    return promise;
  }
  if (!st.connection) {
    auto connected = try_connect(self);
    if (!connected.ok()) {
      promise.deliver(error_response(caller_id, error_code::unavailable, connected.message()));
      return promise;
    }
  }
  auto wire_id = st.next_wire_id++;
  if (request.timeout_ms == 0) request.timeout_ms = st.options.timeout_ms_default;
  auto timeout_ms = request.timeout_ms;
  request.request_id = wire_id;
  std::string frame;
  append_frame(frame, encode_client_request(request));
  auto& buffer = self->wr_buf(*st.connection);
  buffer.insert(buffer.end(), frame.begin(), frame.end());
  self->flush(*st.connection);
  st.pending.emplace(wire_id, pending_call{caller_id, promise,
                                           steady::now() + std::chrono::milliseconds{
                                                               uint64_t{timeout_ms} +
                                                               server_grace_ms}});
  schedule_expire(self);
  return promise;
}

// Answers the pending requests past their deadline with timeout; runs again
// while any is pending.
void expire_overdue(client_pointer self) {
  auto& st = self->state;
  st.expire_scheduled = false;
  auto now = steady::now();
  for (auto i = st.pending.begin(); i != st.pending.end();) {
    if (i->second.deadline > now) {
      ++i;
      continue;
    }
    auto call = std::move(i->second);
    i = st.pending.erase(i);
    call.promise.deliver(error_response(call.caller_id, error_code::timeout,
                                        "no response within the request timeout"));
  }
  schedule_expire(self);
}

void on_data(client_pointer self, const std::vector<char>& bytes) {
  auto& st = self->state;
  auto fed = st.decoder.feed(std::string_view{bytes.data(), bytes.size()});
  while (st.decoder.has_frame()) {
    auto response = decode_client_response(st.decoder.pop_frame());
    if (!response.ok()) {
      drop_connection(self, error_code::unavailable,
                      "server sent an undecodable response: " + response.error().message());
      schedule_reconnect(self);
      return;
    }
    auto i = st.pending.find(response->request_id);
    if (i == st.pending.end()) continue;  // answered already (expired)
    auto call = std::move(i->second);
    st.pending.erase(i);
    response->request_id = call.caller_id;
    call.promise.deliver(std::move(response).value());
  }
  if (!fed.ok()) {
    drop_connection(self, error_code::unavailable, "server sent a bad frame: " + fed.message());
    schedule_reconnect(self);
  }
}

client_broker_actor::behavior_type client_impl(client_pointer self, client_actor_options options,
                                               std::vector<std::pair<std::string, uint16_t>> endpoints,
                                               std::shared_ptr<std::promise<status>> connected) {
  close_mailbox_at_exit(self);
  self->set_exit_handler([self](caf::exit_msg& msg) { on_exit(self, msg); });
  self->state.options = std::move(options);
  self->state.endpoints = std::move(endpoints);
  auto first = try_connect(self);
  connected->set_value(first);
  if (!first.ok()) {
    self->quit();
    return client_broker_actor::behavior_type::make_empty_behavior();
  }
  return {
      [=](request_atom, client_request& request) { return on_request(self, std::move(request)); },
      [=](reconnect_atom) {
        auto& st = self->state;
        st.reconnect_scheduled = false;
        if (st.connection) return;
        ++st.reconnect_attempts;
        if (!try_connect(self).ok()) schedule_reconnect(self);
      },
      [=](expire_atom) { expire_overdue(self); },
      [=](settled_atom) {
        auto& st = self->state;
        --st.connects_settling;
        if (st.connects_settling > 0 || !st.exit_deferred) return;
        caf::exit_msg msg{caf::actor_addr{}, std::move(*st.exit_deferred)};
        st.exit_deferred.reset();
        on_exit(self, msg);
      },
      [=](const caf::io::new_data_msg& msg) { on_data(self, msg.buf); },
      [=](const caf::io::connection_closed_msg& msg) {
        auto& st = self->state;
        if (!st.connection || *st.connection != msg.handle) return;
        st.connection.reset();
        drop_connection(self, error_code::unavailable,
                        "connection to " + endpoint_name(st.endpoints[st.endpoint_index]) + " lost");
        schedule_reconnect(self);
      },
  };
}

}  // namespace

status_or<std::pair<std::string, uint16_t>> parse_endpoint(std::string_view endpoint) {
  auto colon = endpoint.rfind(':');
  auto bad = [&](const char* why) {
    return status{error_code::invalid_argument,
                  "endpoint '" + std::string{endpoint} + "' " + why + " (expected host:port)"};
  };
  if (colon == std::string_view::npos || colon == 0) return bad("has no host");
  auto port_text = endpoint.substr(colon + 1);
  uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0)
    return bad("has no valid port");
  return std::pair<std::string, uint16_t>{std::string{endpoint.substr(0, colon)}, port};
}

status_or<router_actor> spawn_client_actor(caf::actor_system& system, client_actor_options options) {
  std::vector<std::pair<std::string, uint16_t>> endpoints;
  for (const auto& text : options.endpoints) {
    auto endpoint = parse_endpoint(text);
    if (!endpoint.ok()) return endpoint.error();
    endpoints.push_back(std::move(endpoint).value());
  }
  if (endpoints.empty()) return status{error_code::invalid_argument, "no endpoints given"};
  auto connected = std::make_shared<std::promise<status>>();
  auto result = connected->get_future();
  auto handle = system.middleman().spawn_broker(client_impl, std::move(options),
                                                std::move(endpoints), connected);
  auto first = result.get();
  if (!first.ok()) return first;
  return caf::actor_cast<router_actor>(handle);
}

}  // namespace velocity
