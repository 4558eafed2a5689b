// velocity-bench: command line, actor system, connections; runs one workload
// (tools/velocity_bench_workloads.cpp), prints one human line and appends one
// JSON line (README of the peer harness) to --jsonl.
//
// Exit codes: 0 the run was measured (errors and check results are in the
// output), 1 the run could not be made (no connection, schema or preload
// failed, clients hung), 2 bad options.
//
// Thread safety: main owns everything; the work runs in actors.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/send.hpp"
#include "tools/velocity_bench.hpp"
#include "velocity/client.hpp"

namespace {

using velocity::bench::bench_options;

constexpr int exit_run_failed = 1;
constexpr int exit_bad_options = 2;
// CAF scheduler threads: the bench shares the machine with the server.
constexpr uint32_t threads_max = 64;

struct arguments {
  std::string endpoints = "127.0.0.1:7400";
  std::string workload = "put";
  std::string level = "strong";
};

void add_options(CLI::App& app, bench_options& o, arguments& a) {
  app.add_option("--endpoints", a.endpoints,
                 "comma-separated host:port list; connection i starts at endpoint i mod n");
  app.add_option("--workload", a.workload, "put | get | cas | claim | submit | close | preload");
  app.add_option("--clients", o.clients, "closed-loop clients");
  app.add_option("--connections,--conns", o.connections, "TCP connections (clients spread over them)");
  app.add_option("--duration", o.duration_s, "measured window in seconds");
  app.add_option("--warmup", o.warmup_s, "seconds discarded before the window");
  app.add_option("--value-bytes", o.value_bytes, "value size of put and cas");
  app.add_option("--keys", o.keys, "keyspace of put and get (preloaded)");
  app.add_option("--cas-keys", o.cas_keys, "hot keys of cas (preloaded)");
  app.add_option("--consistency", a.level, "strong | quorum | eventual | local (get, put, submit)");
  app.add_option("--waiting", o.waiting, "waiting jobs to preload (claim)");
  app.add_option("--running", o.running, "running jobs to preload (close)");
  app.add_option("--jsonl", o.jsonl, "append one JSON line per run to this file");
  app.add_option("--variant", o.variant, "the JSON line's variant");
  app.add_option("--label", o.label, "the JSON line's workload name (default: the peers' name)");
  app.add_option("--run", o.run, "the JSON line's run number");
  app.add_option("--timeout-ms", o.timeout_ms, "per request");
  app.add_option("--threads", o.threads, "CAF scheduler threads of this process");
  app.add_option("--seed", o.seed, "random seed (0 = from the clock)");
  app.add_option("--preload-in-flight", o.preload_in_flight, "preload requests in flight per connection");
}

// Fills the parsed words into the options; false (with a message) if one is bad.
bool finish_options(bench_options& o, const arguments& a) {
  if (!velocity::bench::from_string(a.workload, o.workload)) {
    std::cerr << "error: unknown --workload '" << a.workload << "'\n";
    return false;
  }
  if (!velocity::from_string(a.level, o.level)) {
    std::cerr << "error: unknown --consistency '" << a.level << "'\n";
    return false;
  }
  o.endpoints.clear();
  size_t start = 0;
  while (start <= a.endpoints.size()) {
    size_t comma = a.endpoints.find(',', start);
    if (comma == std::string::npos) comma = a.endpoints.size();
    if (comma > start) o.endpoints.push_back(a.endpoints.substr(start, comma - start));
    start = comma + 1;
  }
  if (o.endpoints.empty() || o.connections == 0 || o.threads == 0 || o.threads > threads_max) {
    std::cerr << "error: need an endpoint, --connections >= 1 and --threads 1.." << threads_max << "\n";
    return false;
  }
  return true;
}

int run(bench_options& o) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", o.threads);
  caf::actor_system system{cfg};
  std::vector<velocity::router_actor> targets;
  velocity::client_options connect_options;
  connect_options.endpoints = o.endpoints;
  connect_options.timeout_ms = o.timeout_ms;
  int code = 0;
  for (uint32_t i = 0; i < o.connections; ++i) {
    // Connections spread over the endpoints (connection i starts at endpoint
    // i mod n and fails over to the others), as etcd's benchmark does: a
    // cluster's load lands on every node, not on the first one listed.
    connect_options.endpoints = o.endpoints;
    std::rotate(connect_options.endpoints.begin(),
                connect_options.endpoints.begin() +
                    static_cast<std::ptrdiff_t>(i % o.endpoints.size()),
                connect_options.endpoints.end());
    auto connected = velocity::connect_remote(system, connect_options);
    if (!connected.ok()) {
      std::cerr << "error: " << connected.error().to_string() << "\n";
      code = exit_run_failed;
      break;
    }
    targets.push_back(std::move(connected).value());
  }
  if (code == 0) {
    auto result = velocity::bench::run_workload(system, targets, o);
    if (!result.ok()) {
      std::cerr << "error: " << result.error().to_string() << "\n";
      code = exit_run_failed;
    } else {
      std::cout << velocity::bench::summary_line(o, *result) << std::endl;
      if (!result->total.first_error.empty())
        std::cerr << "first error: " << result->total.first_error << "\n";
      if (!o.jsonl.empty()) {
        std::ofstream out{o.jsonl, std::ios::app};
        out << velocity::bench::json_line(o, *result) << "\n";
        if (!out) {
          std::cerr << "error: cannot append to " << o.jsonl << "\n";
          code = exit_run_failed;
        }
      }
    }
  }
  for (auto& target : targets) caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bench_options options;
  arguments words;
  CLI::App app{"velocity-bench: closed-loop load generator for VelocityDB"};
  add_options(app, options, words);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_bad_options;
  }
  if (!finish_options(options, words)) return exit_bad_options;
  options.command_line = "velocity-bench";
  for (int i = 1; i < argc; ++i) options.command_line += std::string{" "} + argv[i];
  return run(options);
}
