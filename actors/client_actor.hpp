// The remote client actor: a typed broker that speaks router_actor to local
// code and ClientRequest/ClientResponse frames (protocols/client.capnp) to a
// node. Local actors `request(handle, timeout, request_atom::value, req)` it
// exactly as they would a local router.
//
// It keeps one connection, to the first endpoint that accepts (trying the
// others in order when that one fails), assigns its own wire request ids (so
// callers' ids may collide), pipelines, and matches responses by id in any
// order. Each request has a deadline (its timeout_ms, else the configured
// default): past it the caller gets a `timeout` reply. When the connection
// drops, every pending request gets `unavailable` and the actor reconnects in
// the background with bounded, doubling backoff; a request that finds no
// connection triggers one immediate connection attempt.
//
// Actor safety: runs on the middleman's multiplexer thread. Connecting is a
// blocking call (CAF 0.17 has no asynchronous connect for brokers): fast on
// loopback and for refused ports, but an unreachable host stalls the
// multiplexer until the OS gives up. Acceptable for clients; revisit before
// node-to-node use.
// Shutdown: an exit (e.g. user_shutdown) answers every pending request with
// unavailable, closes the connection and ends the broker; if the connection
// was opened in the multiplexer round still running, the broker first waits
// for that round to end (CAF 0.17.6 leaks a socket opened and closed in one
// round; see actors/broker_exit.hpp). Messages reaching the ended broker are
// dropped, requests among them answered with an error.
// Invariants: at most pending_max requests outstanding (beyond: overloaded);
// every pending request is answered exactly once (response, timeout,
// connection loss, shutdown).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/messages.hpp"
#include "caf/actor_system.hpp"
#include "caf/io/typed_broker.hpp"
#include "protocols/error.hpp"

namespace velocity {

struct client_actor_options {
  std::vector<std::string> endpoints{"127.0.0.1:7400"};  // host:port
  uint32_t timeout_ms_default = 5000;
  // Background reconnects after a drop: attempts and their doubling delay.
  uint32_t reconnect_attempts_max = 6;
  uint32_t reconnect_delay_ms_initial = 50;
  uint32_t reconnect_delay_ms_max = 2000;
  // Requests sent and not yet answered; a bound on memory and on the server's
  // per-connection window (transport_options::in_flight_per_connection_max).
  size_t pending_max = 4096;
};

using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
// Time to answer the requests past their deadline (one timer while any wait).
using expire_atom = caf::atom_constant<caf::atom("expire")>;
// The multiplexer round in which a connection was opened has ended.
using settled_atom = caf::atom_constant<caf::atom("settled")>;

// The broker's full interface: the router interface plus its own timers and
// socket events. Hand out only the router_actor part.
using client_broker_actor =
    router_actor::extend<caf::reacts_to<reconnect_atom>, caf::reacts_to<expire_atom>,
                         caf::reacts_to<settled_atom>>::extend_with<caf::io::connection_handler>;

// "host:port" -> (host, port). invalid_argument naming the endpoint otherwise.
status_or<std::pair<std::string, uint16_t>> parse_endpoint(std::string_view endpoint);

// Spawns the client broker and connects (blocking) to the first endpoint that
// accepts. io_error naming every endpoint tried when none does; invalid_argument
// for a malformed endpoint. The caller ends it with
// send_exit(handle, caf::exit_reason::user_shutdown) (the open socket keeps
// the broker, and so the actor system, alive otherwise); the broker ends
// within a multiplexer round or two of that (kill ends it at once, but a
// connection opened in the same round then leaks).
// REQUIRES: the system loaded caf::io::middleman; not called from an actor.
status_or<router_actor> spawn_client_actor(caf::actor_system& system, client_actor_options options);

}  // namespace velocity
