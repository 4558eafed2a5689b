// The VelocityDB C++ client: a blocking facade over any actor that speaks the
// router interface (actors/messages.hpp). Remote: connect() spawns a client
// actor that keeps TCP connections to the endpoints, pipelines requests by id,
// applies timeouts and reconnects. Embedded: embedded_node::make_client() hands
// the router itself, with no socket.
//
// Thread safety: a client may be used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "caf/actor_system.hpp"
#include "protocols/consistency.hpp"
#include "protocols/error.hpp"

namespace velocity {

struct client_options {
  std::vector<std::string> endpoints{"127.0.0.1:7400"};  // host:port
  consistency level = consistency::strong;
  uint32_t timeout_ms = 5000;
};

// Spawns the remote client actor (actors/client_actor.cpp). io_error if no
// endpoint accepts a connection.
status_or<router_actor> connect_remote(caf::actor_system& system, const client_options& options);

class client {
 public:
  client(caf::actor_system& system, router_actor target, client_options options);

  // Every state machine command, plus health/status/schema: see the .cpp.
  // The generic call; the typed helpers below build the command for you.
  client_response call(client_request request);

  status_or<document> insert(const std::string& collection, value_map fields, std::string id = {});
  status_or<document> get(const std::string& collection, const std::string& id);
  // (the remaining helpers are declared by the client library's author)

 private:
  caf::actor_system& system_;
  router_actor target_;
  client_options options_;
  uint64_t next_request_id_ = 1;
};

}  // namespace velocity
