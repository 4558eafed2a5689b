// The ops HTTP endpoint (see ops_http.hpp).
//
// Thread safety: handlers run on cpp-httplib's pool threads, never on actor
// threads; they reach actors only through scoped_actor requests with
// ops_actor_timeout_ms, so a stuck shard delays a scrape, not the node.
#include "actors/ops_http.hpp"

#include <httplib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "caf/scoped_actor.hpp"

namespace velocity {

namespace {

constexpr const char* text_type = "text/plain; charset=utf-8";
// The Prometheus text exposition format, as scrapers expect it announced.
constexpr const char* metrics_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* json_type = "application/json";
constexpr int http_ok = 200;
constexpr int http_unavailable = 503;

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Every shard's info, or the first failure as text.
std::optional<std::vector<shard_info>> ask_shards(const ops_sources& sources, std::string& failure) {
  caf::scoped_actor self{*sources.system};
  std::vector<shard_info> out;
  for (const auto& shard : sources.shards) {
    bool answered = false;
    self->request(shard, std::chrono::milliseconds{ops_actor_timeout_ms}, shard_info_atom::value)
        .receive(
            [&](const shard_info& info) {
              out.push_back(info);
              answered = true;
            },
            [&](caf::error& err) {
              failure = "shard " + std::to_string(out.size()) +
                        " did not answer: " + sources.system->render(err);
            });
    if (!answered) return std::nullopt;
  }
  return out;
}

// The router's status text, or its error.
status_or<std::string> ask_status(const ops_sources& sources) {
  caf::scoped_actor self{*sources.system};
  client_request request;
  request.timeout_ms = ops_actor_timeout_ms;
  request.body = status_request{};
  status_or<std::string> out = status{error_code::internal, "no answer"};
  // The router answers its own timeout at timeout_ms; wait a little longer.
  self->request(sources.router, std::chrono::milliseconds{2 * ops_actor_timeout_ms},
                request_atom::value, std::move(request))
      .receive(
          [&](client_response& response) {
            if (response.result.st.ok()) out = std::move(response.text);
            else out = response.result.st;
          },
          [&](caf::error& err) {
            out = status{error_code::unavailable, "router: " + sources.system->render(err)};
          });
  return out;
}

std::string json_error(const status& st) {
  std::string out = "{\"error\":\"";
  out += to_string(st.code());
  out += "\",\"message\":\"";
  for (char c : st.message()) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"}";
}

}  // namespace

ops_http_server::ops_http_server(ops_sources sources)
    : sources_(std::move(sources)), server_(std::make_unique<httplib::Server>()),
      started_ns_(steady_now_ns()) {}

ops_http_server::~ops_http_server() { stop(); }

status_or<std::unique_ptr<ops_http_server>> ops_http_server::start(const std::string& host,
                                                                   uint16_t port,
                                                                   ops_sources sources) {
  VELOCITY_CHECK(sources.system != nullptr);
  VELOCITY_CHECK(sources.metrics != nullptr);
  std::unique_ptr<ops_http_server> result{new ops_http_server(std::move(sources))};
  auto& server = *result->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(ops_http_threads); };
  server.set_keep_alive_timeout(ops_keep_alive_timeout_s);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second server bind a
  // port already in use: SO_REUSEADDR only (rebinding over TIME_WAIT) keeps
  // "port in use" a startup error.
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  result->install_routes();
  errno = 0;
  int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    auto reason = errno != 0 ? std::string{std::strerror(errno)} : std::string{"bind failed"};
    return status{error_code::io_error, "cannot serve ops HTTP on " + host + ":" +
                                            std::to_string(port) + ": " + reason};
  }
  result->port_ = static_cast<uint16_t>(bound);
  auto listen_returned = std::make_shared<std::atomic<bool>>(false);
  result->accept_thread_ = std::thread{[&server, listen_returned] {
    server.listen_after_bind();
    *listen_returned = true;
  }};
  // cpp-httplib's stop() does nothing until the accept thread has marked the
  // server running, so a stop in that window left the thread in accept() for
  // ever and stop()'s join hung (a node stopped right after it started).
  // Return only once stop() can work. The wait ends: listen_after_bind marks
  // the server running before anything else, or returns at once.
  while (!server.is_running() && !*listen_returned) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return result;
}

void ops_http_server::stop() {
  if (!server_) return;
  server_->stop();
  if (accept_thread_.joinable()) accept_thread_.join();
  server_.reset();
  sources_ = ops_sources{};  // drop the engine and actor handles
}

void ops_http_server::install_routes() {
  auto& server = *server_;
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", text_type);
  });
  server.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    auto reason = not_ready_reason();
    res.status = reason.empty() ? http_ok : http_unavailable;
    res.set_content(reason.empty() ? "ready\n" : "not ready: " + reason + "\n", text_type);
  });
  server.Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    auto answer = ask_status(sources_);
    res.status = answer.ok() ? http_ok : http_unavailable;
    res.set_content(answer.ok() ? answer.value() + "\n" : json_error(answer.error()) + "\n",
                    json_type);
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), metrics_type);
  });
}

std::string ops_http_server::not_ready_reason() {
  if (sources_.not_ready_reason) {
    if (auto reason = sources_.not_ready_reason(); !reason.empty()) return reason;
  }
  std::string failure;
  auto infos = ask_shards(sources_, failure);
  if (!infos) return failure;
  for (const auto& info : *infos) {
    if (info.failed) return "shard " + std::to_string(info.shard_id) + " failed (reopen to recover)";
    if (info.leader == 0) return "shard " + std::to_string(info.shard_id) + " has no known leader";
  }
  return {};
}

std::string ops_http_server::metrics_text() {
  auto& registry = *sources_.metrics;
  registry.get_gauge("velocity_uptime_seconds", "Seconds since the ops endpoint started.")
      .set(static_cast<double>(steady_now_ns() - started_ns_) / 1e9);
  registry.get_gauge("velocity_ready", "1 when /ready answers 200, else 0.")
      .set(not_ready_reason().empty() ? 1 : 0);
  refresh_shard_metrics();
  refresh_engine_metrics();
  return registry.expose();
}

void ops_http_server::refresh_shard_metrics() {
  auto& registry = *sources_.metrics;
  std::string failure;
  auto infos = ask_shards(sources_, failure);
  if (!infos) return;  // the last values stay; /ready reports the failure
  for (const auto& info : *infos) {
    metric_labels labels{{"shard", std::to_string(info.shard_id)}};
    auto gauge = [&](const char* name, const char* help, double value) {
      registry.get_gauge(name, help, labels).set(value);
    };
    auto d = [](uint64_t v) { return static_cast<double>(v); };
    gauge("velocity_shard_applied_index", "Last log index the shard applied.", d(info.applied_index));
    gauge("velocity_shard_durable_index",
          "Last log index known durable (memory mode: the applied index).", d(info.durable_index));
    gauge("velocity_shard_backlog_requests", "Replies held back until their writes are durable.",
          d(info.backlog));
    gauge("velocity_shard_failed", "1 after an engine write or fsync failed.", info.failed ? 1 : 0);
    gauge("velocity_raft_term", "Raft term of this node's replica of the shard.", d(info.term));
    gauge("velocity_raft_is_leader", "1 while this node's replica leads the shard.",
          info.role == "leader" ? 1 : 0);
    gauge("velocity_raft_leader_node", "Node id of the shard's leader (0: unknown).", d(info.leader));
    gauge("velocity_raft_proposals", "Commands this replica proposed (a counter).", d(info.proposals));
    gauge("velocity_raft_leader_changes", "Leader changes this replica saw (a counter).",
          d(info.leader_changes));
    gauge("velocity_raft_commit_seconds_sum",
          "Propose -> applied, summed over the proposals answered here.",
          d(info.commit_latency_ns_total) / 1e9);
    gauge("velocity_raft_commit_seconds_count", "Proposals answered here by an apply.",
          d(info.committed_proposals));
    gauge("velocity_shard_failed_writes_read",
          "Conditional writes this leader answered as failed reads, unlogged (a counter).",
          d(info.failed_writes_read));
    gauge("velocity_raft_snapshots_sent",
          "Streamed snapshots a follower installed from this leader (a counter).",
          d(info.snapshots_sent));
    gauge("velocity_raft_snapshots_installed", "Streamed snapshots this replica installed (a counter).",
          d(info.snapshots_installed));
  }
  refresh_peer_metrics();
}

void ops_http_server::refresh_peer_metrics() {
  if (!sources_.peers) return;
  auto& registry = *sources_.metrics;
  std::optional<peer_stats> stats;
  caf::scoped_actor self{*sources_.system};
  self->request(sources_.peers, std::chrono::milliseconds{ops_actor_timeout_ms}, peer_stats_atom::value)
      .receive([&](const peer_stats& s) { stats = s; }, [&](caf::error&) {});
  if (!stats) return;
  for (const auto& peer : stats->peers) {
    metric_labels labels{{"peer", std::to_string(peer.node)}};
    registry.get_gauge("velocity_peer_connected", "1 while a handshaken connection to the peer is open.", labels)
        .set(peer.connected ? 1 : 0);
    registry.get_gauge("velocity_peer_sent_bytes", "Bytes queued to the peer (a counter).", labels)
        .set(static_cast<double>(peer.bytes_out));
    registry.get_gauge("velocity_peer_received_bytes", "Bytes read from the peer (a counter).", labels)
        .set(static_cast<double>(peer.bytes_in));
    registry.get_gauge("velocity_peer_dropped_messages", "Messages to the peer dropped (a counter).", labels)
        .set(static_cast<double>(peer.dropped));
    registry.get_gauge("velocity_peer_reconnects", "Handshakes completed after the first (a counter).", labels)
        .set(static_cast<double>(peer.reconnects));
  }
}

void ops_http_server::refresh_engine_metrics() {
  if (!sources_.storage) return;
  auto& registry = *sources_.metrics;
  std::optional<uint64_t> hits;
  std::optional<uint64_t> misses;
  for (const auto& [name, number] : parse_engine_stats(sources_.storage->stats())) {
    auto as_double = static_cast<double>(number);
    if (name.rfind("keys.", 0) == 0) {
      registry
          .get_gauge("velocity_engine_keys",
                     "Keys per column (memory engine: exact; RocksDB: estimate-num-keys).",
                     {{"column", name.substr(5)}})
          .set(as_double);
    } else if (name == "block_cache_usage_bytes") {
      registry.get_gauge("velocity_block_cache_usage_bytes", "RocksDB block cache bytes in use.")
          .set(as_double);
    } else if (name == "block_cache_capacity_bytes") {
      registry.get_gauge("velocity_block_cache_capacity_bytes", "RocksDB block cache capacity.")
          .set(as_double);
    } else if (name == "block_cache_hits") {
      hits = number;
      registry.get_counter("velocity_block_cache_hits_total", "RocksDB block cache hits.")
          .advance_to(number);
    } else if (name == "block_cache_misses") {
      misses = number;
      registry.get_counter("velocity_block_cache_misses_total", "RocksDB block cache misses.")
          .advance_to(number);
    } else if (name == "writes") {
      registry.get_counter("velocity_engine_writes_total", "Write batches the engine applied.")
          .advance_to(number);
    } else if (name == "syncs") {
      registry.get_counter("velocity_engine_syncs_total", "Engine syncs.").advance_to(number);
    }
  }
  if (hits && misses && *hits + *misses > 0)
    registry
        .get_gauge("velocity_block_cache_hit_ratio",
                   "Block cache hits / (hits + misses) since the engine opened.")
        .set(static_cast<double>(*hits) / static_cast<double>(*hits + *misses));
}

}  // namespace velocity
