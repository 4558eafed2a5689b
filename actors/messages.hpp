// What local actors say to each other about client requests. These types never
// cross a process boundary through CAF (between processes only Cap'n Proto
// frames travel), so they are registered as local-only message types.
//
// The transport (one broker per connection) decodes a ClientRequest frame
// into a client_request, asks the router, and encodes the client_response it
// gets back. The embedded client skips the transport and asks the router
// directly with the same types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "command/commands.hpp"
#include "protocols/consistency.hpp"
#include "schema/value.hpp"

namespace velocity {

struct health_request {};
struct status_request {};
struct get_schema_request {
  std::string collection;
};

struct client_request {
  uint64_t request_id = 0;
  consistency level = consistency::strong;
  uint32_t timeout_ms = 0;             // 0 = the node's default
  std::optional<value> partition;      // partition key value when the command lacks it
  std::variant<command, health_request, status_request, get_schema_request> body;
};

struct client_response {
  uint64_t request_id = 0;
  reply result;             // result.st: ok or the error with its message
  std::string text;         // status: JSON text
  std::string leader_hint;  // not_leader: where to retry (later)
};

using request_atom = caf::atom_constant<caf::atom("request")>;

// The router: the one entry point for client requests on a node.
using router_actor =
    caf::typed_actor<caf::replies_to<request_atom, client_request>::with<client_response>>;

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::client_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::client_response)
