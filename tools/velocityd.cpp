// velocityd: the VelocityDB server process. Reads its settings from a CAF
// config file (--config-file=PATH; without one, the compiled-in
// configs/single.ini), each overridable as --velocity.KEY=VALUE; starts a node;
// waits for SIGTERM or SIGINT with sigwait in main; then shuts the node down in
// order (stop accepting, drain, final fsync, close the engine) and exits.
//
// Exit codes: 0 after an orderly shutdown, 1 for a bad configuration, 2 when
// the node cannot start (unusable data dir, client or ops HTTP port in use), 3 when the final
// sync failed.
//
// Thread safety: main owns everything; signals are blocked in every thread
// (the mask is set before the actor system spawns its threads) and taken only
// by sigwait.
#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "actors/node.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/config_option_adder.hpp"
#include "caf/io/middleman.hpp"
#include "spdlog/spdlog.h"
#include "velocityd_default_config.hpp"

namespace {

constexpr int exit_bad_config = 1;
constexpr int exit_start_failed = 2;
constexpr int exit_sync_failed = 3;

// The [velocity] group. Defaults equal configs/single.ini. Integers are read
// wide and range-checked here, so a bad value gets a message naming it.
struct velocityd_config : caf::actor_system_config {
  int64_t node_id = 1;
  std::string host = "127.0.0.1";
  int64_t port = 7400;
  int64_t http_port = 7401;
  std::string mode = "memory";
  std::string data_dir;
  int64_t shards = 1;
  int64_t cache_mb = 64;
  std::string log_level = "info";
  // A cluster (see configs/cluster-3/): empty members = a single node.
  std::string members;
  std::string cluster_id = "velocity";
  int64_t replication_factor = 3;
  int64_t raft_tick_ms = 100;
  int64_t election_ticks = 10;
  int64_t raft_compact_entries = static_cast<int64_t>(velocity::shard_compact_entries_default);
  int64_t snapshot_chunk_bytes = static_cast<int64_t>(velocity::snapshot_chunk_bytes_max);
  int64_t gossip_tick_ms = 100;
  int64_t gossip_probe_interval_ms = 1000;
  int64_t gossip_probe_timeout_ms = 500;
  int64_t gossip_suspicion_mult = 4;
  int64_t gossip_push_pull_interval_ms = 30000;

  velocityd_config() {
    caf::config_option_adder{custom_options_, "velocity"}
        .add(node_id, "node-id", "this node's id (a positive integer)")
        .add(host, "host", "address clients connect to")
        .add(port, "port", "client port (0 = any free port)")
        .add(http_port, "http-port", "ops HTTP port")
        .add(mode, "mode", "memory | persistent")
        .add(data_dir, "data-dir", "RocksDB directory (persistent mode)")
        .add(shards, "shards", "shards on this node")
        .add(cache_mb, "cache-mb", "RocksDB block cache in MiB")
        .add(log_level, "log-level", "trace | debug | info | warn | error | critical | off")
        .add(members, "members", "every cluster member: id@host:peer-port,...")
        .add(cluster_id, "cluster-id", "peers of another cluster id are refused")
        .add(replication_factor, "replication-factor", "replicas per shard")
        .add(raft_tick_ms, "raft-tick-ms", "one Raft tick")
        .add(election_ticks, "election-ticks", "election timeout in ticks (randomized up to 2x)")
        .add(raft_compact_entries, "raft-compact-entries",
             "compact a shard's Raft log every N applied entries (0 = never)")
        .add(snapshot_chunk_bytes, "snapshot-chunk-bytes",
             "bytes per streamed snapshot chunk (4096..1048576)")
        .add(gossip_tick_ms, "gossip-tick-ms", "one tick of the membership gossip (SWIM)")
        .add(gossip_probe_interval_ms, "gossip-probe-interval-ms", "one member probed per interval")
        .add(gossip_probe_timeout_ms, "gossip-probe-timeout-ms",
             "a probe without an ack by then asks others to probe")
        .add(gossip_suspicion_mult, "gossip-suspicion-mult",
             "a suspicion lasts at least mult * log10(members) probe intervals")
        .add(gossip_push_pull_interval_ms, "gossip-push-pull-interval-ms",
             "full-state exchange with a random member (0 = never)");
    set("scheduler.max-threads", 2);  // two cores; CAF's default is max(cores, 4)
    load<caf::io::middleman>();
  }
};

bool port_in_range(int64_t port) { return port >= 0 && port <= 65535; }

// The node settings, or invalid_argument naming the bad value.
velocity::status_or<velocity::node_config> to_node_config(const velocityd_config& cfg) {
  using velocity::error_code;
  velocity::node_config out;
  if (!port_in_range(cfg.port))
    return velocity::status{error_code::invalid_argument,
                            "velocity.port must be 0..65535, got " + std::to_string(cfg.port)};
  if (!port_in_range(cfg.http_port))
    return velocity::status{error_code::invalid_argument, "velocity.http-port must be 0..65535, got " +
                                                              std::to_string(cfg.http_port)};
  if (cfg.shards < 1 || cfg.cache_mb < 1)
    return velocity::status{error_code::invalid_argument,
                            "velocity.shards and velocity.cache-mb must be positive"};
  if (!velocity::from_string(cfg.mode, out.mode))
    return velocity::status{error_code::invalid_argument,
                            "velocity.mode must be memory or persistent, got \"" + cfg.mode + "\""};
  if (cfg.node_id < 1)
    return velocity::status{error_code::invalid_argument,
                            "velocity.node-id must be a positive integer, got " +
                                std::to_string(cfg.node_id)};
  if (cfg.replication_factor < 1 || cfg.replication_factor > 7 || cfg.raft_tick_ms < 1 ||
      cfg.raft_tick_ms > 60'000 || cfg.election_ticks < 3 || cfg.election_ticks > 1000)
    return velocity::status{error_code::invalid_argument,
                            "velocity.replication-factor must be 1..7, raft-tick-ms 1..60000 "
                            "and election-ticks 3..1000"};
  if (cfg.raft_compact_entries != 0 &&
      (cfg.raft_compact_entries < 8 || cfg.raft_compact_entries > 1'000'000'000))
    return velocity::status{error_code::invalid_argument,
                            "velocity.raft-compact-entries must be 0 or 8..1000000000, got " +
                                std::to_string(cfg.raft_compact_entries)};
  if (cfg.snapshot_chunk_bytes < 4096 ||
      cfg.snapshot_chunk_bytes > static_cast<int64_t>(velocity::snapshot_chunk_bytes_max))
    return velocity::status{error_code::invalid_argument,
                            "velocity.snapshot-chunk-bytes must be 4096..1048576, got " +
                                std::to_string(cfg.snapshot_chunk_bytes)};
  auto in_ms = [](int64_t v) { return v >= 0 && v <= 3'600'000; };
  if (!in_ms(cfg.gossip_tick_ms) || !in_ms(cfg.gossip_probe_interval_ms) ||
      !in_ms(cfg.gossip_probe_timeout_ms) || !in_ms(cfg.gossip_push_pull_interval_ms) ||
      cfg.gossip_suspicion_mult < 1 || cfg.gossip_suspicion_mult > 100)
    return velocity::status{error_code::invalid_argument,
                            "velocity.gossip-*-ms must be 0..3600000 and gossip-suspicion-mult "
                            "1..100"};
  out.gossip.tick_ms = static_cast<uint32_t>(cfg.gossip_tick_ms);
  out.gossip.probe_interval_ms = static_cast<uint32_t>(cfg.gossip_probe_interval_ms);
  out.gossip.probe_timeout_ms = static_cast<uint32_t>(cfg.gossip_probe_timeout_ms);
  out.gossip.suspicion_mult = static_cast<uint32_t>(cfg.gossip_suspicion_mult);
  out.gossip.push_pull_interval_ms = static_cast<uint32_t>(cfg.gossip_push_pull_interval_ms);
  auto members = velocity::parse_members(cfg.members);
  if (!members.ok()) return members.error();
  out.node_id = static_cast<velocity::raft::node_id>(cfg.node_id);
  out.members = std::move(members.value());
  out.cluster_id = cfg.cluster_id;
  out.replication_factor = static_cast<uint32_t>(cfg.replication_factor);
  out.timing.tick_ms = static_cast<uint32_t>(cfg.raft_tick_ms);
  out.timing.election_ticks = static_cast<uint32_t>(cfg.election_ticks);
  out.compact_entries = static_cast<uint64_t>(cfg.raft_compact_entries);
  out.snapshot_chunk_bytes = static_cast<size_t>(cfg.snapshot_chunk_bytes);
  out.host = cfg.host;
  out.port = static_cast<uint16_t>(cfg.port);
  out.http_port = static_cast<uint16_t>(cfg.http_port);
  out.ops_http = true;  // velocityd always serves /health /ready /status /metrics
  out.data_dir = cfg.data_dir;
  out.shards = static_cast<uint32_t>(cfg.shards);
  out.cache_mb = static_cast<size_t>(cfg.cache_mb);
  out.log_level = cfg.log_level;
  if (auto st = velocity::validate(out); !st.ok()) return st;
  return out;
}

bool has_config_file_option(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]}.rfind("--config-file=", 0) == 0) return true;
  return false;
}

// Every client connection is a file descriptor; the common default soft limit
// of 1024 would cap a node at about a thousand clients. Raise the soft limit to
// the hard limit the administrator allows (best effort: a failure only logs).
void raise_open_files_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
  files.rlim_cur = files.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &files) != 0) {
    std::cerr << "velocityd: could not raise the open files limit; keeping the current one\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Block the shutdown signals before any thread exists so every CAF thread
  // inherits the mask and only sigwait below receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  raise_open_files_limit();

  velocityd_config cfg;
  caf::error parsed;
  if (has_config_file_option(argc, argv)) {
    parsed = cfg.parse(argc, argv);
  } else {
    std::istringstream defaults{velocity::velocityd_default_config};
    parsed = cfg.parse(argc, argv, defaults);
  }
  if (parsed) {
    std::cerr << "velocityd: bad configuration: " << caf::to_string(parsed) << '\n';
    return exit_bad_config;
  }
  if (cfg.cli_helptext_printed) return 0;
  auto settings = to_node_config(cfg);
  if (!settings.ok()) {
    std::cerr << "velocityd: bad configuration: " << settings.error().message() << '\n';
    return exit_bad_config;
  }
  spdlog::set_level(spdlog::level::from_str(settings->log_level));

  caf::actor_system system{cfg};
  auto started = velocity::node::start(system, settings.value());
  if (!started.ok()) {
    spdlog::error("velocityd: cannot start: {}", started.error().to_string());
    return exit_start_failed;
  }
  auto& running = *started.value();
  spdlog::info("velocityd {} serving on {}:{}, ops HTTP on {}:{} ({} mode)", settings->node_id,
               settings->host, running.port(), settings->host, running.http_port(),
               velocity::to_string(settings->mode));

  int received = 0;
  sigwait(&shutdown_signals, &received);
  spdlog::info("velocityd: {} received, shutting down", received == SIGTERM ? "SIGTERM" : "SIGINT");
  auto stopped = running.stop();
  if (!stopped.ok()) {
    spdlog::error("velocityd: final sync failed: {}", stopped.to_string());
    return exit_sync_failed;
  }
  spdlog::info("velocityd: stopped cleanly");
  return 0;
}
