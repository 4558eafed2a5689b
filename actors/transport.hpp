// The client-facing TCP transport: one acceptor broker, one broker per
// connection, Cap'n Proto frames (protocols/framing.hpp, protocols/client.capnp)
// in and out, requests handed to the router. Bounded per connection: requests in
// flight and buffered bytes (it stops reading instead of growing), frame size.
//
// Thread safety: start_transport may be called from any thread that is not an
// actor of `system` (it waits for the bind). The codec functions are pure.
//
// TLS later: a connection broker only ever sees plaintext bytes through two
// seams, on_bytes (socket -> frame_decoder) and send_bytes (encoded frame ->
// socket) in transport.cpp. A TLS connection wraps those two with an OpenSSL
// memory-BIO pair held in the connection state; the router, the codec and the
// client_request/client_response types stay as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "actors/messages.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "protocols/error.hpp"

namespace velocity {

class metrics_registry;  // actors/metrics.hpp (velocity_actors)

struct transport_options {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;  // 0 = any free port (the bound port is returned)
  size_t connections_max = 4096;
  size_t in_flight_per_connection_max = 256;
  size_t buffered_bytes_per_connection_max = 32 << 20;
  uint32_t request_timeout_ms_default = 5000;
  // A connection that sends nothing and awaits nothing for this long is
  // closed (clients reconnect on demand). 0 = never. Checked once per period,
  // so an idle connection lives between one and two periods.
  uint32_t idle_timeout_ms = 10 * 60 * 1000;
  // Connections (gauge), frames and bytes in and out. nullptr = no metrics.
  std::shared_ptr<metrics_registry> metrics;
};

struct transport_handle {
  caf::actor acceptor;  // send exit_reason::user_shutdown to stop; connections follow
  uint16_t port = 0;    // the bound port
};

// Binds and starts accepting. io_error naming the address on failure (e.g. port in use).
status_or<transport_handle> start_transport(caf::actor_system& system, router_actor router,
                                            const transport_options& options);

// ---- ClientRequest / ClientResponse frame payloads (transport_codec.cpp) ----
// Payloads are one Cap'n Proto message in flat-array encoding, without the
// length prefix (protocols/framing.hpp adds and removes it). Decoding applies
// the traversal and nesting limits of protocols/limits.hpp and catches every
// Cap'n Proto exception: bad bytes give malformed / invalid_argument, a value
// beyond a limit too_large, and a payload with bytes after its message is
// malformed (under its request id when that is readable).

std::string encode_client_request(const client_request& request);
// `request_id` is set as soon as the message root is readable, so a request
// whose body is bad can still be answered with an error under its id.
status_or<client_request> decode_client_request(std::string_view payload,
                                                std::optional<uint64_t>& request_id);

std::string encode_client_response(const client_response& response);
status_or<client_response> decode_client_response(std::string_view payload);

// A response carrying only an error (no document, no text).
client_response error_response(uint64_t request_id, error_code code, std::string message);

}  // namespace velocity
