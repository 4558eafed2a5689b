// Node assembly and orderly shutdown (see node.hpp).
//
// Thread safety: called from one non-actor thread; stop() blocks on a
// scoped_actor, which is allowed there and nowhere inside actors.
#include "actors/node.hpp"

#include <chrono>
#include <utility>

#include "actors/ops_http.hpp"
#include "actors/transport.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"
#include "spdlog/spdlog.h"

namespace velocity {

namespace {

bool known_log_level(const std::string& level) {
  for (const char* name : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    if (level == name) return true;
  return false;
}

status bad(std::string text) { return {error_code::invalid_argument, std::move(text)}; }

}  // namespace

status validate(const node_config& config) {
  if (config.node_id.empty()) return bad("node-id must not be empty");
  if (config.host.empty()) return bad("host must not be empty");
  if (config.shards == 0 || config.shards > node_shards_max)
    return bad("shards must be between 1 and " + std::to_string(node_shards_max) + ", got " +
               std::to_string(config.shards));
  if (config.cache_mb == 0 || config.cache_mb > node_cache_mb_max)
    return bad("cache-mb must be between 1 and " + std::to_string(node_cache_mb_max) + ", got " +
               std::to_string(config.cache_mb));
  if (config.mode == storage_mode::persistent && config.data_dir.empty())
    return bad("persistent mode needs data-dir");
  if (!known_log_level(config.log_level))
    return bad("log-level must be one of trace, debug, info, warn, error, critical, off; got " +
               config.log_level);
  if (config.request_timeout_ms == 0) return bad("request timeout must be positive");
  return {};
}

node::node(caf::actor_system& system, node_config config, std::shared_ptr<environment> env)
    : system_(system), config_(std::move(config)), env_(std::move(env)) {}

node::~node() { stop().ignore(); }

status_or<std::unique_ptr<node>> node::start(caf::actor_system& system, node_config config,
                                             std::shared_ptr<environment> env) {
  if (auto st = validate(config); !st.ok()) return st;
  if (!env) env = make_real_environment();
  std::unique_ptr<node> result{new node(system, std::move(config), std::move(env))};
  if (auto st = result->open(); !st.ok()) {
    result->stop().ignore();  // whatever did start goes down again
    return st;
  }
  return result;
}

status node::open() {
  engine_config storage{config_.mode, config_.data_dir, config_.cache_mb << 20};
  auto opened = env_->open_engine(storage);
  if (!opened.ok()) return opened.error();
  engine_ = std::move(opened).value();
  if (auto st = spawn_actors(); !st.ok()) return st;
  if (config_.listen) {
    transport_options options;
    options.host = config_.host;
    options.port = config_.port;
    options.request_timeout_ms_default = config_.request_timeout_ms;
    options.metrics = metrics_;
    auto started = start_transport(system_, router_, options);
    if (!started.ok()) return started.error();
    transport_ = started->acceptor;
    port_ = started->port;
  }
  if (config_.ops_http) {
    if (auto st = start_ops_http(); !st.ok()) return st;
  }
  ready_ = true;
  spdlog::info("node {} started: mode {}, {} shard(s){}{}", config_.node_id,
               to_string(config_.mode), config_.shards,
               config_.listen ? ", clients on " + config_.host + ":" + std::to_string(port_) : "",
               ops_http_ ? ", ops HTTP on " + config_.host + ":" + std::to_string(http_port_) : "");
  return {};
}

status node::start_ops_http() {
  ops_sources sources;
  sources.system = &system_;
  sources.router = router_;
  sources.shards = shards_;
  sources.storage = engine_;
  sources.metrics = metrics_;
  sources.not_ready_reason = [this]() -> std::string {
    if (draining_) return "draining";
    return ready_ ? "" : "starting";
  };
  auto started = ops_http_server::start(config_.host, config_.http_port, std::move(sources));
  if (!started.ok()) return started.error();
  ops_http_ = std::move(started).value();
  http_port_ = ops_http_->port();
  return {};
}

status node::spawn_actors() {
  if (config_.mode == storage_mode::persistent)
    log_writer_ = spawn_log_writer(system_, engine_, env_, true, metrics_);
  for (uint32_t id = 0; id < config_.shards; ++id) {
    auto shard = spawn_shard(system_, shard_options{id, engine_, log_writer_});
    if (!shard.ok()) return shard.error();
    shards_.push_back(shard.value());
  }
  router_options options;
  options.node_id = config_.node_id;
  options.mode = config_.mode;
  options.shards = shards_;
  options.env = env_;
  options.request_timeout_ms_default = config_.request_timeout_ms;
  options.metrics = metrics_;
  router_control_ = spawn_router(system_, std::move(options));
  router_ = router_control_;
  return {};
}

status node::stop() {
  if (stopped_) return {};
  stopped_ = true;
  ready_ = false;
  draining_ = true;
  bool was_running = static_cast<bool>(router_control_);
  caf::scoped_actor self{system_};
  // Drain before closing connections: requests already accepted finish and
  // their replies still reach their connections; new ones get unavailable.
  if (router_control_) {
    self->request(router_control_, std::chrono::milliseconds{node_drain_timeout_ms},
                  drain_atom::value)
        .receive([](uint64_t) {},
                 [&](caf::error& err) {
                   spdlog::warn("node {}: drain did not finish: {}", config_.node_id,
                                system_.render(err));
                 });
  }
  // The ops endpoint answered /ready with 503 while draining; it goes before
  // the engine and actors it reads.
  if (ops_http_) ops_http_->stop();
  ops_http_.reset();
  if (transport_) self->send_exit(transport_, caf::exit_reason::user_shutdown);
  status final_sync;
  if (log_writer_) {
    self->request(log_writer_, caf::infinite, sync_atom::value)
        .receive([&](const sync_result& r) { final_sync = r.st; },
                 [&](caf::error& err) {
                   final_sync = {error_code::io_error, "final sync: " + system_.render(err)};
                 });
  }
  std::vector<caf::actor> actors;
  if (transport_) actors.push_back(transport_);
  if (router_control_) actors.push_back(caf::actor_cast<caf::actor>(router_control_));
  for (auto& shard : shards_) actors.push_back(caf::actor_cast<caf::actor>(shard));
  if (log_writer_) actors.push_back(caf::actor_cast<caf::actor>(log_writer_));
  for (auto& a : actors) self->send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : actors) self->wait_for(a);
  transport_ = nullptr;
  router_ = nullptr;
  router_control_ = nullptr;
  shards_.clear();
  log_writer_ = nullptr;
  if (engine_ && final_sync.ok() && config_.mode == storage_mode::persistent)
    final_sync = engine_->sync();
  engine_.reset();  // the last reference: closes RocksDB
  if (was_running) spdlog::info("node {} stopped", config_.node_id);
  return final_sync;
}

}  // namespace velocity
