// The client-facing TCP transport: one acceptor broker, one broker per
// connection, Cap'n Proto frames (protocols/framing.hpp, protocols/client.capnp)
// in and out, requests handed to the router. Bounded per connection: requests in
// flight and buffered bytes (it stops reading instead of growing), frame size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "actors/messages.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "protocols/error.hpp"

namespace velocity {

struct transport_options {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;  // 0 = any free port (the bound port is returned)
  size_t connections_max = 4096;
  size_t in_flight_per_connection_max = 256;
  size_t buffered_bytes_per_connection_max = 32 << 20;
  uint32_t request_timeout_ms_default = 5000;
};

struct transport_handle {
  caf::actor acceptor;  // send exit_reason::user_shutdown to stop; connections follow
  uint16_t port = 0;    // the bound port
};

// Binds and starts accepting. io_error naming the address on failure (e.g. port in use).
status_or<transport_handle> start_transport(caf::actor_system& system, router_actor router,
                                            const transport_options& options);

}  // namespace velocity
