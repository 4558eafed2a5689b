// Node assembly and orderly shutdown (see node.hpp).
//
// Thread safety: called from one non-actor thread; stop() blocks on a
// scoped_actor, which is allowed there and nowhere inside actors.
#include "actors/node.hpp"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "actors/node_actors.hpp"
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

status_or<std::vector<member_address>> parse_members(std::string_view text) {
  std::vector<member_address> out;
  auto trim = [](std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  };
  auto number = [](std::string_view v, uint64_t max, uint64_t& value) {
    if (v.empty() || v.size() > 20) return false;
    value = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return false;
      if (value > (max - static_cast<uint64_t>(c - '0')) / 10) return false;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  while (!trim(text).empty()) {
    auto comma = text.find(',');
    std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto at = entry.find('@');
    auto colon = entry.rfind(':');
    std::string what = "members: \"" + std::string{entry} + "\" ";
    if (at == std::string_view::npos || colon == std::string_view::npos || colon < at)
      return bad(what + "is not id@host:peer-port");
    member_address m;
    uint64_t id = 0;
    uint64_t port = 0;
    if (!number(entry.substr(0, at), UINT64_MAX, id) || id == 0)
      return bad(what + "has no positive integer id");
    if (!number(entry.substr(colon + 1), 65535, port) || port == 0)
      return bad(what + "has no port in 1..65535");
    m.id = id;
    m.host = std::string{entry.substr(at + 1, colon - at - 1)};
    m.peer_port = static_cast<uint16_t>(port);
    if (m.host.empty()) return bad(what + "has no host");
    for (const auto& other : out)
      if (other.id == m.id) return bad("members: node id " + std::to_string(m.id) + " twice");
    out.push_back(std::move(m));
  }
  return out;
}

status validate(const node_config& config) {
  if (config.node_id == 0) return bad("node-id must be a positive integer");
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
  if (config.timing.tick_ms == 0 || config.timing.election_ticks < 3 ||
      config.timing.heartbeat_ticks == 0 ||
      config.timing.heartbeat_ticks >= config.timing.election_ticks)
    return bad("raft timing: tick-ms must be positive and heartbeat-ticks below election-ticks "
               "(at least 3)");
  if (!config.members.empty()) {
    bool listed = false;
    for (const auto& m : config.members) listed = listed || m.id == config.node_id;
    if (!listed)
      return bad("node-id " + std::to_string(config.node_id) + " is not among the members");
  }
  if (config.clustered()) {
    // A memory-mode node that restarts has forgotten the votes and log
    // entries it acknowledged; Raft cannot survive that silently.
    if (config.mode != storage_mode::persistent)
      return bad("a cluster of several nodes needs mode=persistent: a memory-mode node that "
                 "restarts has lost the votes and log entries it promised to its group");
    if (config.replication_factor != config.members.size())
      return bad("replication-factor must equal the number of members (" +
                 std::to_string(config.members.size()) + ") for now, got " +
                 std::to_string(config.replication_factor));
    if (config.cluster_id.empty()) return bad("cluster-id must not be empty");
    if (std::string why = validate(config.gossip); !why.empty()) return bad(why);
  }
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
  if (config_.clustered()) {
    if (auto st = start_peers(); !st.ok()) return st;
  }
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
  // The addresses this node is reached at, now that its ports are bound.
  if (gossiper_) caf::anon_send(gossiper_, gossip_meta_atom::value, addresses());
  ready_ = true;
  spdlog::info("node {} started: mode {}, {} shard(s){}{}{}", config_.node_id,
               to_string(config_.mode), config_.shards,
               config_.clustered() ? ", cluster " + config_.cluster_id + " of " +
                                         std::to_string(config_.members.size()) + " nodes"
                                   : "",
               config_.listen ? ", clients on " + config_.host + ":" + std::to_string(port_) : "",
               ops_http_ ? ", ops HTTP on " + config_.host + ":" + std::to_string(http_port_) : "");
  return {};
}

// The peer transport delivers to the mux; the mux learns the transport and
// the shards once both exist.
status node::start_peers() {
  peer_transport_options options;
  options.cluster_id = config_.cluster_id;
  options.node = config_.node_id;
  for (const auto& m : config_.members) {
    options.members[m.id] = peer_address{m.host, m.peer_port};
    if (m.id == config_.node_id) {
      options.listen_host = m.host;
      options.listen_port = m.peer_port;
    }
  }
  options.env = env_;
  // Only the lower id dials: cap its backoff near an election timeout, so a
  // restarted peer is reconnected before its groups need it (5 s, the
  // transport's default cap, delayed one whole-cluster restart's elections).
  options.backoff_ms_max = std::max<uint32_t>(1000, 2 * config_.timing.tick_ms);
  options.sink = caf::actor_cast<peer_sink_actor>(mux_);
  auto started = start_peer_transport(system_, std::move(options));
  if (!started.ok()) return started.error();
  peer_transport_ = started->actor;
  caf::anon_send(mux_, mux_attach_atom::value,
                 peer_mux_attachment{peer_transport_, shards_, gossip_sink_actor{gossiper_}});
  return {};
}

status node::start_ops_http() {
  ops_sources sources;
  sources.system = &system_;
  sources.router = router_;
  sources.shards = shards_;
  sources.storage = engine_;
  sources.metrics = metrics_;
  sources.peers = peer_transport_;
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

swim::member_meta node::addresses() const {
  swim::member_meta meta;
  for (const auto& m : config_.members)
    if (m.id == config_.node_id) meta.peer = m.host + ":" + std::to_string(m.peer_port);
  if (transport_) meta.client = config_.host + ":" + std::to_string(port_);
  if (ops_http_) meta.ops = config_.host + ":" + std::to_string(http_port_);
  return meta;
}

status node::spawn_actors() {
  node_actor_options options;
  options.node = config_.node_id;
  options.mode = config_.mode;
  options.shards = config_.shards;
  if (config_.clustered())
    for (const auto& m : config_.members) options.members.push_back(m.id);
  options.replication_factor = config_.replication_factor;
  options.timing = config_.timing;
  options.compact_entries = config_.compact_entries;
  options.snapshot_chunk_bytes = config_.snapshot_chunk_bytes;
  options.request_timeout_ms = config_.request_timeout_ms;
  options.gossip = config_.gossip;
  options.meta = addresses();
  options.engine_ = engine_;
  options.env = env_;
  options.metrics = metrics_;
  auto spawned = spawn_node_actors(system_, options);
  if (!spawned.ok()) return spawned.error();
  log_writer_ = spawned->log_writer;
  mux_ = spawned->mux;
  gossiper_ = spawned->gossiper;
  shards_ = spawned->shards;
  router_control_ = spawned->router;
  router_ = router_control_;
  return {};
}

void node::hand_off_leadership() {
  caf::scoped_actor self{system_};
  const auto ask_ms = std::chrono::milliseconds{1000};
  size_t handed = 0;
  for (auto& shard : shards_) {
    self->request(shard, ask_ms, shard_handoff_atom::value)
        .receive([&](uint64_t target) { handed += target != 0 ? 1 : 0; },
                 [](caf::error&) {});
  }
  if (handed == 0) return;
  const int64_t wait_ms =
      2 * int64_t{config_.timing.tick_ms} * int64_t{config_.timing.election_ticks};
  const int64_t deadline_ns = env_->monotonic_ns() + wait_ms * 1'000'000;
  // Short polls: a busy shard must not stretch the stop beyond the limit.
  const auto poll_ms = std::chrono::milliseconds{200};
  size_t leading = handed;
  while (leading > 0 && env_->monotonic_ns() < deadline_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    leading = 0;
    for (auto& shard : shards_) {
      self->request(shard, poll_ms, shard_info_atom::value)
          .receive([&](const shard_info& info) { leading += info.role == "leader" ? 1 : 0; },
                   [](caf::error&) {});
    }
  }
  if (leading == 0)
    spdlog::info("node {}: handed leadership of {} groups to other nodes", config_.node_id, handed);
  else
    spdlog::warn("node {}: still leads {} groups after {} ms; stopping anyway", config_.node_id,
                 leading, wait_ms);
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
  if (config_.clustered() && !shards_.empty()) hand_off_leadership();
  if (gossiper_) {
    // Graceful leave: the others mark this node `left`, not dead.
    self->request(gossiper_, std::chrono::milliseconds{1000}, gossip_leave_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
    std::this_thread::sleep_for(std::chrono::milliseconds{2 * config_.gossip.tick_ms});
  }
  // The ops endpoint answered /ready with 503 while draining; it goes before
  // the engine and actors it reads.
  if (ops_http_) ops_http_->stop();
  ops_http_.reset();
  if (transport_) self->send_exit(transport_, caf::exit_reason::user_shutdown);
  if (peer_transport_) self->send_exit(peer_transport_, caf::exit_reason::user_shutdown);
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
  if (peer_transport_) actors.push_back(caf::actor_cast<caf::actor>(peer_transport_));
  if (mux_) actors.push_back(caf::actor_cast<caf::actor>(mux_));
  if (gossiper_) actors.push_back(caf::actor_cast<caf::actor>(gossiper_));
  if (router_control_) actors.push_back(caf::actor_cast<caf::actor>(router_control_));
  for (auto& shard : shards_) actors.push_back(caf::actor_cast<caf::actor>(shard));
  if (log_writer_) actors.push_back(caf::actor_cast<caf::actor>(log_writer_));
  for (auto& a : actors) self->send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : actors) self->wait_for(a);
  transport_ = nullptr;
  peer_transport_ = nullptr;
  mux_ = nullptr;
  gossiper_ = nullptr;
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
