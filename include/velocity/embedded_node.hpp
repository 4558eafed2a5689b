// A whole VelocityDB node inside the caller's process, like etcd's embed
// package: the fastest path for tests and single-process programs. Memory mode
// and no TCP listener by default; make_client() returns a velocity::client
// that talks to the router actor directly, with no socket and no encoding.
//
//   auto started = velocity::embedded_node::start();
//   auto db = started.value()->make_client();
//   db.insert("jobs", {{"state", velocity::value{"waiting"}}});
//
// Thread safety: start/stop/make_client from one thread at a time; each client
// from one thread at a time (see client.hpp). Clients must not outlive the node.
// Invariants: the node owns its own actor_system; stop() (or the destructor)
// shuts the node down before the actor system.
#pragma once

#include <cstddef>
#include <memory>

#include "actors/environment.hpp"
#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "protocols/error.hpp"
#include "velocity/client.hpp"

namespace velocity {

struct embedded_options {
  // Defaults for embedding: memory mode, no listener. Set listen = true (and a
  // port, 0 = any) to also serve remote clients.
  node_config node = [] {
    node_config config;
    config.listen = false;
    config.port = 0;
    return config;
  }();
  // Scheduler threads of the embedded actor system; 0 = CAF's default.
  size_t scheduler_threads = 2;
  std::shared_ptr<environment> env;  // nullptr = the real environment
};

class embedded_node {
 public:
  static status_or<std::unique_ptr<embedded_node>> start(embedded_options options = {});

  ~embedded_node();
  embedded_node(const embedded_node&) = delete;
  embedded_node& operator=(const embedded_node&) = delete;

  // A blocking client over the router (endpoints in options are ignored).
  client make_client(client_options options = {});

  router_actor router() const;
  uint16_t port() const;  // the bound client port when listening, else 0
  caf::actor_system& system() { return *system_; }

  // Orderly shutdown (node::stop); idempotent.
  status stop();

 private:
  embedded_node() = default;

  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  std::unique_ptr<node> node_;
};

}  // namespace velocity
