// kill -9 durability of a persistent velocityd, and proof that the checker can
// fail: sixteen writer threads insert and update; the test SIGKILLs the server
// at a seeded random moment, restarts it on the same data directory and checks
// every acknowledged write (workload.hpp states the model). A memory-mode
// server, which keeps nothing, must be caught losing data by the same checker.
//
// Thread safety: CAF_CHECK runs on the test thread only; writers are joined
// before their states are read.
#define CAF_SUITE process_durability
#include "caf/test/unit_test.hpp"

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

constexpr size_t writer_count = 16;
constexpr int kill_rounds = 5;
// The kill lands between these two times after the writers start: late enough
// that writes are flowing, early enough that the suite stays short.
constexpr uint32_t kill_after_ms_min = 200;
constexpr uint32_t kill_after_ms_spread = 1200;
constexpr uint32_t graceful_exit_wait_ms = 10000;

struct client_system_config : caf::actor_system_config {
  client_system_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

struct fixture {
  client_system_config cfg;
  caf::actor_system system{cfg};
};

std::vector<writer_state> make_writers(size_t count) {
  std::vector<writer_state> writers(count);
  for (size_t i = 0; i < count; ++i) writers[i].writer_index = static_cast<uint32_t>(i);
  return writers;
}

bool has_problem_starting_with(const std::vector<std::string>& problems, std::string_view prefix) {
  for (const auto& problem : problems)
    if (problem.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

CAF_TEST_FIXTURE_SCOPE(process_durability_tests, fixture)

CAF_TEST(every acknowledged write survives kill -9 and restarts of a persistent velocityd) {
  auto seed = test_seed("kill -9 durability");
  std::mt19937_64 random{seed};
  temp_dir dir{"durability"};
  server_settings settings{"persistent", dir.path() + "/data", dir.path() + "/velocityd.log"};
  server_process server;
  auto started = server.start(settings);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  {
    auto checker = connect_checker(system, server.endpoint());
    CAF_REQUIRE(checker.ok());
    CAF_REQUIRE(create_workload_schema(*checker.value()).ok());
  }
  auto writers = make_writers(writer_count);
  for (int round = 1; round <= kill_rounds; ++round) {
    auto kill_after_ms = kill_after_ms_min + static_cast<uint32_t>(random() % kill_after_ms_spread);
    auto acked_before = acked_writes(writers);
    run_round(system, server.endpoint(), random(), writers, kill_after_ms,
              [&] { server.kill_hard(); });
    auto acked_now = acked_writes(writers) - acked_before;
    std::cout << "round " << round << ": SIGKILL after " << kill_after_ms << " ms, " << acked_now
              << " acknowledged writes" << std::endl;
    CAF_CHECK(acked_now > 0);
    started = server.start(settings);
    CAF_REQUIRE_EQUAL(started.to_string(), "ok");
    auto checker = connect_checker(system, server.endpoint());
    CAF_REQUIRE(checker.ok());
    auto problems = check_recovered(*checker.value(), merged(writers));
    print_problems(problems);
    CAF_CHECK_EQUAL(problems.size(), 0u);
    CAF_REQUIRE(settle_expectations(*checker.value(), writers));
  }
  auto exit_status = server.terminate(graceful_exit_wait_ms);
  CAF_CHECK(exit_status == std::optional<int>{0});
}

CAF_TEST(the checker reports a lost write and a missing document and an unknown document) {
  temp_dir dir{"checker"};
  server_settings settings{"persistent", dir.path() + "/data", dir.path() + "/velocityd.log"};
  server_process server;
  auto started = server.start(settings);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  auto checker = connect_checker(system, server.endpoint());
  CAF_REQUIRE(checker.ok());
  auto& c = *checker.value();
  CAF_REQUIRE(create_workload_schema(c).ok());
  auto writers = make_writers(2);
  run_round(system, server.endpoint(), test_seed("checker"), writers, 300, [] {});
  auto expected = merged(writers);
  CAF_REQUIRE(expected.size() >= 2u);
  CAF_CHECK_EQUAL(check_recovered(c, expected).size(), 0u);
  // Corrupt the expectation three ways; each must be caught.
  expected.erase(std::next(expected.begin()));
  auto first = expected.begin();
  first->second.acked = first->second.attempts = first->second.last_acked_attempt =
      first->second.attempts + 1;
  expected["w99-0"] = doc_expectation{1, 1, 1};
  auto problems = check_recovered(c, expected);
  print_problems(problems);
  CAF_CHECK(has_problem_starting_with(problems, "lost write: " + first->first));
  CAF_CHECK(has_problem_starting_with(problems, "lost: w99-0"));
  CAF_CHECK(has_problem_starting_with(problems, "unknown document"));
  CAF_CHECK(server.terminate(graceful_exit_wait_ms) == std::optional<int>{0});
}

CAF_TEST(the checker catches a memory-mode velocityd losing everything on kill -9) {
  temp_dir dir{"memory-loss"};
  server_settings settings{"memory", "", dir.path() + "/velocityd.log"};
  server_process server;
  auto started = server.start(settings);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  {
    auto checker = connect_checker(system, server.endpoint());
    CAF_REQUIRE(checker.ok());
    CAF_REQUIRE(create_workload_schema(*checker.value()).ok());
  }
  auto writers = make_writers(4);
  run_round(system, server.endpoint(), test_seed("memory loss"), writers, 400,
            [&] { server.kill_hard(); });
  CAF_REQUIRE(acked_writes(writers) > 0);
  started = server.start(settings);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  auto checker = connect_checker(system, server.endpoint());
  CAF_REQUIRE(checker.ok());
  auto problems = check_recovered(*checker.value(), merged(writers));
  print_problems(problems);
  CAF_CHECK(has_problem_starting_with(problems, "collection lost"));
  CAF_CHECK(has_problem_starting_with(problems, "lost: "));
}

CAF_TEST_FIXTURE_SCOPE_END()
