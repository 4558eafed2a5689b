// The VelocityDB C++ client: a blocking facade over any actor that speaks the
// router interface (actors/messages.hpp). Remote: connect() spawns a client
// actor that keeps TCP connections to the endpoints, pipelines requests by id,
// applies timeouts and reconnects. Embedded: embedded_node::make_client() hands
// the router itself, with no socket.
//
// Every call returns the node's error as a status with its code and message
// (e.g. version_conflict: "expected version 3, stored version 4"); transport
// problems are unavailable or timeout.
//
// Asynchronous use from CAF code: take target() and request it directly, e.g.
//   self->request(c.target(), 5s, velocity::request_atom::value, req)
//       .then([](const velocity::client_response& r) { ... },   // r.result.st
//             [](caf::error& e) { ... });                      // actor gone
// where req is a velocity::client_request (its request_id is echoed back).
//
// Requirements: the actor system loads caf::io::middleman for remote clients
// (cfg.load<caf::io::middleman>()). Calls block the calling thread: never call
// them from inside an actor.
// Thread safety: a client may be used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
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
// endpoint accepts a connection. The caller owns the actor: end it with
// caf::anon_send_exit(handle, caf::exit_reason::user_shutdown), or let
// client::connect own it.
status_or<router_actor> connect_remote(caf::actor_system& system, const client_options& options);

// One page of a list.
struct list_page {
  std::vector<document> docs;
  std::string next_cursor;  // empty = no more pages
};

// list / count selection: by id (optionally under a prefix) or by index range.
struct list_options {
  std::optional<std::string> id_prefix;
  std::optional<index_range> range;
  uint32_t limit = 0;  // 0 = the server's default page size
  std::string cursor;
  bool descending = false;
};

class client {
 public:
  // Uses `target` (a router or a remote client actor) without owning it.
  client(caf::actor_system& system, router_actor target, client_options options);
  // Connects to options.endpoints; the client owns the client actor and ends
  // it when destroyed.
  static status_or<std::unique_ptr<client>> connect(caf::actor_system& system,
                                                    client_options options);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // The generic call: sends `request` as is, except that a zero request_id,
  // and a zero timeout_ms, are filled in. Never fails outright: errors are in
  // response.result.st.
  client_response call(client_request request);

  // An empty id lets the router generate one (time-ordered, unique per node).
  status_or<document> insert(const std::string& collection, value_map fields, std::string id = {});
  status_or<document> get(const std::string& collection, const std::string& id);
  // RFC 7396 merge patch; with expected_version, version_conflict if it differs.
  status_or<document> update(const std::string& collection, const std::string& id, value_map patch,
                             std::optional<uint64_t> expected_version = std::nullopt);
  status_or<document> replace(const std::string& collection, const std::string& id,
                              value_map fields,
                              std::optional<uint64_t> expected_version = std::nullopt);
  // Delete (named erase because `delete` is a keyword).
  status erase(const std::string& collection, const std::string& id,
               std::optional<uint64_t> expected_version = std::nullopt);
  // condition_failed / version_conflict keep the stored document out of sight;
  // use call() to see reply.doc and reply.current_version.
  status_or<document> compare_and_swap(cmd::compare_and_swap request);
  status_or<list_page> list(const std::string& collection, const list_options& options = {});
  status_or<uint64_t> count(const std::string& collection,
                            std::optional<index_range> range = std::nullopt);
  // The claimed document, or nullopt when nothing is eligible.
  status_or<std::optional<document>> claim(cmd::claim request);

  status_or<collection_schema> create_schema(collection_schema schema);
  status_or<collection_schema> alter_schema(collection_schema schema);
  status drop_schema(const std::string& collection);
  status_or<collection_schema> get_schema(const std::string& collection);

  status health();
  // The node's status as JSON text.
  status_or<std::string> node_status();

  // The partition key value sent with every following call. In a collection
  // partitioned by a field, a document is named by (partition value, id):
  // get, update, delete and compare-and-swap need it, and a value naming
  // another partition answers not_found. List, count and claim with it cover
  // that partition only (docs/data-model.md, "Partitions"). nullopt (the
  // default) sends none.
  void set_partition(std::optional<value> partition) { partition_ = std::move(partition); }

  router_actor target() const { return target_; }
  const client_options& options() const { return options_; }

 private:
  client_response run(std::variant<command, health_request, status_request, get_schema_request> body);
  status_or<document> doc_reply(const client_response& response);

  caf::actor_system& system_;
  router_actor target_;
  client_options options_;
  uint64_t next_request_id_ = 1;
  bool owns_target_ = false;
  std::optional<value> partition_;
};

}  // namespace velocity
