// The embedded node (include/velocity/embedded_node.hpp).
//
// Thread safety: as the header says; no actor ever calls into this class.
#include "velocity/embedded_node.hpp"

#include <utility>

#include "caf/io/middleman.hpp"

namespace velocity {

status_or<std::unique_ptr<embedded_node>> embedded_node::start(embedded_options options) {
  if (auto st = validate(options.node); !st.ok()) return st;
  std::unique_ptr<embedded_node> result{new embedded_node()};
  result->config_ = std::make_unique<caf::actor_system_config>();
  auto& config = *result->config_;
  if (options.scheduler_threads > 0) config.set("scheduler.max-threads", options.scheduler_threads);
  // The embedding program's command line is not ours: parse no arguments and
  // no caf-application.ini.
  config.load<caf::io::middleman>();
  result->system_ = std::make_unique<caf::actor_system>(config);
  auto started = node::start(*result->system_, std::move(options.node), std::move(options.env));
  if (!started.ok()) return started.error();
  result->node_ = std::move(started).value();
  return result;
}

embedded_node::~embedded_node() {
  stop().ignore();
  // Members go down in reverse order: node (already stopped), actor system, config.
}

client embedded_node::make_client(client_options options) {
  VELOCITY_CHECK(node_ != nullptr);
  return client{*system_, node_->router(), std::move(options)};
}

router_actor embedded_node::router() const {
  VELOCITY_CHECK(node_ != nullptr);
  return node_->router();
}

uint16_t embedded_node::port() const { return node_ ? node_->port() : 0; }

status embedded_node::stop() {
  if (!node_) return {};
  auto st = node_->stop();
  node_.reset();
  return st;
}

}  // namespace velocity
