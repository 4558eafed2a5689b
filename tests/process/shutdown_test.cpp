// Graceful shutdown: SIGTERM while eight writers are active makes a persistent
// velocityd exit with code 0 within a few seconds, and after a restart on the
// same data directory every write it acknowledged is there (the workload.hpp
// model, the same checker as the kill -9 test).
//
// Thread safety: CAF_CHECK runs on the test thread only; writers are joined
// before their states are read.
#define CAF_SUITE process_shutdown
#include "caf/test/unit_test.hpp"

#include <chrono>
#include <iostream>
#include <random>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "process_support.hpp"
#include "workload.hpp"

using namespace velocity;
using namespace velocity::process_test;

namespace {

constexpr size_t writer_count = 8;
constexpr uint32_t term_after_ms_min = 300;
constexpr uint32_t term_after_ms_spread = 700;
// "Within a few seconds": drain, final fsync and close must fit in this.
constexpr uint32_t graceful_exit_ms_max = 5000;

struct client_system_config : caf::actor_system_config {
  client_system_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

}  // namespace

CAF_TEST(SIGTERM under load exits 0 promptly and keeps every acknowledged write) {
  client_system_config cfg;
  caf::actor_system system{cfg};
  auto seed = test_seed("graceful shutdown");
  std::mt19937_64 random{seed};
  temp_dir dir{"shutdown"};
  server_settings settings{"persistent", dir.path() + "/data", dir.path() + "/velocityd.log"};
  server_process server;
  auto started = server.start(settings);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  {
    auto checker = connect_checker(system, server.endpoint());
    CAF_REQUIRE(checker.ok());
    CAF_REQUIRE(create_workload_schema(*checker.value()).ok());
  }
  std::vector<writer_state> writers(writer_count);
  for (size_t i = 0; i < writer_count; ++i) writers[i].writer_index = static_cast<uint32_t>(i);
  auto term_after_ms = term_after_ms_min + static_cast<uint32_t>(random() % term_after_ms_spread);
  std::optional<int> exit_status;
  int64_t exit_ms = 0;
  run_round(system, server.endpoint(), random(), writers, term_after_ms, [&] {
    auto signalled = std::chrono::steady_clock::now();
    exit_status = server.terminate(graceful_exit_ms_max);
    exit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - signalled)
                  .count();
  });
  std::cout << "SIGTERM after " << term_after_ms << " ms: exit "
            << (exit_status ? std::to_string(*exit_status) : "none (killed)") << " after "
            << exit_ms << " ms, " << acked_writes(writers) << " acknowledged writes" << std::endl;
  CAF_CHECK(exit_status == std::optional<int>{0});
  CAF_CHECK(acked_writes(writers) > 0u);
  started = server.start(settings);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  auto checker = connect_checker(system, server.endpoint());
  CAF_REQUIRE(checker.ok());
  auto problems = check_recovered(*checker.value(), merged(writers));
  print_problems(problems);
  CAF_CHECK_EQUAL(problems.size(), 0u);
}
