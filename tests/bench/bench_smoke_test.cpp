// velocity-bench smoke test: every workload for about a second (small
// preloads) against an embedded memory node serving loopback TCP, with the
// bench in its own actor system and over two connections like the real tool.
// Each run's JSON line must parse, name the workload, and show ops > 0 with no
// errors; the job workloads' count checks must say OK.
//
// Thread safety: each test owns its node and actor systems.
#define CAF_SUITE bench_smoke
#include "caf/test/unit_test.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/send.hpp"
#include "schema/json.hpp"
#include "tools/velocity_bench.hpp"
#include "velocity/embedded_node.hpp"

using namespace velocity;
using namespace velocity::bench;

namespace {

struct smoke_fixture {
  std::unique_ptr<embedded_node> node;
  std::unique_ptr<caf::actor_system_config> config;
  std::unique_ptr<caf::actor_system> system;
  std::vector<router_actor> targets;

  smoke_fixture() {
    embedded_options options;
    options.node.listen = true;
    options.node.port = 0;
    auto started = embedded_node::start(std::move(options));
    CAF_REQUIRE(started.ok());
    node = std::move(started).value();
    config = std::make_unique<caf::actor_system_config>();
    config->load<caf::io::middleman>();
    config->set("scheduler.max-threads", 1);
    system = std::make_unique<caf::actor_system>(*config);
    client_options connect;
    connect.endpoints = {"127.0.0.1:" + std::to_string(node->port())};
    for (int i = 0; i < 2; ++i) {
      auto target = connect_remote(*system, connect);
      CAF_REQUIRE(target.ok());
      targets.push_back(std::move(target).value());
    }
  }
  ~smoke_fixture() {
    for (auto& t : targets) caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
    targets.clear();
    system.reset();
    node->stop().ignore();
  }

  // Runs a workload for ~1 s; its parsed JSON line.
  value_map run(workload_kind w, consistency level = consistency::strong) {
    bench_options o;
    o.workload = w;
    o.level = level;
    o.clients = 8;
    o.connections = 2;
    o.duration_s = 0.8;
    o.warmup_s = 0.2;
    o.keys = 500;
    o.cas_keys = 10;
    o.waiting = 20000;
    o.running = 20000;
    o.seed = 7;
    auto result = run_workload(*system, targets, o);
    CAF_REQUIRE(result.ok());
    auto parsed = parse_json(json_line(o, *result));
    CAF_REQUIRE(parsed.ok());
    return parsed->as_map();
  }
};

void check_ran(const value_map& line, const std::string& workload) {
  CAF_CHECK(line.at("workload") == value{workload});
  CAF_CHECK(line.at("ops").as_int() > 0);
  CAF_CHECK(line.at("ops_per_sec").as_number() > 0);
  CAF_CHECK(line.at("p99_ms").as_number() >= line.at("p50_ms").as_number());
  CAF_CHECK(line.at("errors") == value{0});
}

}  // namespace

CAF_TEST_FIXTURE_SCOPE(bench_smoke, smoke_fixture)

CAF_TEST(every kv workload runs against a node and reports ops) {
  check_ran(run(workload_kind::put), "put");
  check_ran(run(workload_kind::get), "get-linearizable");
  check_ran(run(workload_kind::get, consistency::local), "get-serializable");
  auto cas = run(workload_kind::cas);
  check_ran(cas, "cas (hot 10 keys)");
  // 8 clients on 10 hot keys with a cold version cache: at least the first try misses.
  CAF_CHECK(cas.at("requests_per_op").as_number() > 1.0);
}

CAF_TEST(every job workload runs and its count check holds) {
  for (auto [w, name] : {std::pair{workload_kind::claim, "assign"}, std::pair{workload_kind::submit, "submit"},
                         std::pair{workload_kind::close, "close"}}) {
    auto line = run(w);
    check_ran(line, name);
    CAF_CHECK(line.at("check") == value{"OK"});
  }
}

CAF_TEST(bad options are refused with a message) {
  bench_options o;
  o.clients = 0;
  auto result = run_workload(*system, targets, o);
  CAF_REQUIRE(!result.ok());
  const std::string message = result.error().message();
  CAF_CHECK(message.find("--clients") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
