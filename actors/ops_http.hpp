// The ops HTTP endpoint of a node (cpp-httplib, plain HTTP/1.1):
//   GET /health   200 "ok" while the process is up.
//   GET /ready    200 "ready" when the node serves requests (started, shards
//                 recovered and healthy, not draining), else 503 with the reason.
//   GET /status   the router's status JSON (node id, mode, shards, uptime,
//                 applied and durable indexes, in-flight requests); 503 when the
//                 router does not answer.
//   GET /metrics  Prometheus text format 0.0.4: the node's metrics registry,
//                 after refreshing the values read at scrape time (per-shard
//                 indexes and backlog, engine statistics, uptime, readiness).
// Anything else is 404.
//
// Thread safety: cpp-httplib runs the accept loop on one thread this class
// owns and requests on a small pool of its own; handlers talk to actors only
// through a scoped_actor with a timeout (these threads are not actors, so
// blocking there is allowed) and to the registry and the engine, which are
// thread-safe. start/stop from the node's owning thread.
// Invariants: after start() returned ok the socket is bound and accepting;
// after stop() (or destruction) no handler runs and the server holds no
// reference to the engine or actors.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/environment.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/peer_transport.hpp"
#include "actors/shard.hpp"
#include "caf/actor_system.hpp"
#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace httplib {
class Server;
}

namespace velocity {

// Worker threads serving ops requests. Scrapes are rare and cheap; two lets a
// health check through while a scrape waits for a slow shard.
inline constexpr size_t ops_http_threads = 2;
// How long a page waits for the router or a shard before answering 503.
inline constexpr uint32_t ops_actor_timeout_ms = 2000;
// Idle keep-alive connections are closed after this; it also bounds how long
// stop() waits for such a connection.
inline constexpr int ops_keep_alive_timeout_s = 1;

// What the pages read. Handles are copied in at start and dropped at stop.
struct ops_sources {
  caf::actor_system* system = nullptr;
  router_actor router;
  std::vector<shard_actor> shards;
  std::shared_ptr<engine> storage;
  std::shared_ptr<metrics_registry> metrics;
  peer_transport_actor peers;  // a cluster node's peer transport (null otherwise)
  // "" when the node serves requests, else why not ("starting", "draining").
  std::function<std::string()> not_ready_reason;
};

class ops_http_server {
 public:
  // Binds host:port (0 = any free port) and starts serving. io_error naming
  // the address when it cannot bind (e.g. the port is in use).
  static status_or<std::unique_ptr<ops_http_server>> start(const std::string& host, uint16_t port,
                                                           ops_sources sources);

  ~ops_http_server();  // stop()
  ops_http_server(const ops_http_server&) = delete;
  ops_http_server& operator=(const ops_http_server&) = delete;

  uint16_t port() const { return port_; }

  // Closes the socket, waits for running handlers and the accept thread.
  // Idempotent.
  void stop();

  // The pages, callable without a socket (tests, and the handlers).
  // The /ready reason: "" when ready.
  std::string not_ready_reason();
  // Refreshes the scrape-time values and returns the exposition text.
  std::string metrics_text();

 private:
  explicit ops_http_server(ops_sources sources);
  void install_routes();
  void refresh_shard_metrics();
  void refresh_engine_metrics();
  void refresh_peer_metrics();

  ops_sources sources_;
  std::unique_ptr<httplib::Server> server_;
  std::thread accept_thread_;
  uint16_t port_ = 0;
  int64_t started_ns_ = 0;  // steady clock: the real environment's I/O edge
};

}  // namespace velocity
