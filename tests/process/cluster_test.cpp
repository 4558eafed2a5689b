// A three-node velocityd cluster under real faults: kill -9 of the node that
// leads the most shards while clients write and read through every node, and
// SIGSTOP of a leader for longer than an election timeout.
//
// What is checked after kill -9 and restart: writes resume within a few
// election timeouts (the longest gap per register key is printed and
// bounded); no acknowledged write is lost, read through every node
// (workload.hpp's model); the restarted node's applied indexes reach the
// others'; and the history of reads, writes and CAS on a few registers is
// linearizable (tests/sim/linearizability.hpp).
// After SIGSTOP / SIGCONT: the others elected a new leader and acknowledged a
// write meanwhile; a strong read through the resumed old leader returns that
// write, never the older value (ReadIndex, not leases).
//
// Timing: raft-tick-ms=100, election-ticks=10, so an election timeout is
// 1-2 s. Every wait is bounded (cluster_wait_ms).
//
// Thread safety: CAF_CHECK runs on the test thread only; worker threads are
// joined before their states are read.
#define CAF_SUITE process_cluster
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "cluster_support.hpp"
#include "register_workload.hpp"
#include "workload.hpp"

using namespace velocity;
using namespace velocity::process_test;

namespace {

using clock_type = std::chrono::steady_clock;

constexpr uint32_t cluster_wait_ms = 30000;
constexpr size_t register_threads = 3;
constexpr size_t register_keys = 4;
constexpr uint32_t run_before_kill_ms = 1500;
constexpr uint32_t down_ms = 2500;
constexpr uint32_t run_after_restart_ms = 2000;
// "A few election timeouts" (1-2 s each) plus slack for two busy cores.
constexpr uint64_t write_gap_ms_max = 10000;
// SIGSTOP lasts at least this long (longer than an election timeout), and
// until a write was acknowledged without the stopped node.
constexpr uint32_t pause_ms = 3000;
constexpr uint32_t pause_write_timeout_ms = 1500;
constexpr uint32_t retry_pause_ms = 50;
// How long before SIGCONT the early read is sent (so it is in the socket).
constexpr uint32_t early_read_lead_ms = 200;
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

uint64_t ms_since(clock_type::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count());
}

// The index of the node leading the most shards, as `asked` reports them.
size_t node_leading_most(const std::vector<group_status>& groups, size_t node_count) {
  std::vector<size_t> led(node_count, 0);
  for (const auto& g : groups)
    if (g.leader >= 1 && g.leader <= node_count) ++led[g.leader - 1];
  return static_cast<size_t>(std::max_element(led.begin(), led.end()) - led.begin());
}

std::string describe(const std::vector<group_status>& groups) {
  std::string out;
  for (const auto& g : groups)
    out += " [shard " + std::to_string(g.shard) + " " + g.role + " leader " +
           std::to_string(g.leader) + " term " + std::to_string(g.term) + " applied " +
           std::to_string(g.applied) + "]";
  return out;
}

enum class read_outcome { fresh, stale, failed };

std::string to_string(read_outcome outcome) {
  switch (outcome) {
    case read_outcome::fresh: return "fresh";
    case read_outcome::stale: return "STALE";
    case read_outcome::failed: return "failed";
  }
  return "?";
}

// A strong read of the paused-test register: fresh if it shows the write
// acknowledged during the pause ("during"), stale if anything else.
read_outcome read_paused(client& c) {
  auto got = c.get(register_collection, "paused");
  if (!got.ok()) {
    std::cout << "read failed: " << got.error().to_string() << std::endl;
    return read_outcome::failed;
  }
  auto found = got->fields.find("v");
  if (found != got->fields.end() && found->second.is_string() &&
      found->second.as_string() == "during")
    return read_outcome::fresh;
  std::cout << "stale read: v = "
            << (found != got->fields.end() && found->second.is_string() ? found->second.as_string()
                                                                        : "(none)")
            << std::endl;
  return read_outcome::stale;
}

void stop_all(test_cluster& cluster) {
  for (size_t i = 0; i < cluster.size(); ++i)
    if (cluster.node(i).running())
      CAF_CHECK(cluster.node(i).terminate(graceful_exit_wait_ms) == std::optional<int>{0});
}

}  // namespace

CAF_TEST_FIXTURE_SCOPE(process_cluster_tests, fixture)

CAF_TEST(kill -9 of the node leading the most shards loses no acknowledged write) {
  auto seed = test_seed("cluster kill -9");
  std::mt19937_64 random{seed};
  test_cluster cluster{cluster_options{"cluster-kill"}};
  auto started = cluster.start(cluster_wait_ms);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  register_run run;
  run.origin = clock_type::now();
  run.node_down = std::make_unique<std::atomic<bool>[]>(cluster.size());
  for (size_t i = 0; i < cluster.size(); ++i) run.endpoints.push_back(cluster.endpoint(i));
  for (size_t k = 0; k < register_keys; ++k) run.keys.push_back("r" + std::to_string(k));
  std::vector<sim::operation> history;
  {
    auto setup = connect_checker(system, cluster.endpoint(0));
    CAF_REQUIRE(setup.ok());
    CAF_REQUIRE(create_workload_schema(*setup.value()).ok());
    std::string error;
    CAF_REQUIRE(create_registers(*setup.value(), run, history, error));
  }
  std::vector<writer_state> writers(cluster.size());
  std::vector<register_thread> readers(register_threads);
  std::atomic<bool> writers_stop{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < writers.size(); ++i) {
    writers[i].writer_index = static_cast<uint32_t>(i);
    threads.emplace_back([&, i, s = random()] {
      run_writer(system, cluster.endpoint(i), s, writers_stop, writers[i]);
    });
  }
  for (size_t i = 0; i < readers.size(); ++i) {
    readers[i].thread_index = i + 1;
    threads.emplace_back([&, i, s = random()] { run_register_thread(system, run, s, readers[i]); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{run_before_kill_ms});
  auto groups = cluster.group_statuses(0, cluster_wait_ms);
  CAF_REQUIRE(groups.ok());
  auto victim = node_leading_most(groups.value(), cluster.size());
  std::cout << "before the kill:" << describe(groups.value()) << "; killing node "
            << cluster.node_id(victim) << std::endl;
  run.node_down[victim] = true;
  auto killed_ns = since_origin_ns(run);
  cluster.kill_node(victim);
  std::this_thread::sleep_for(std::chrono::milliseconds{down_ms});
  auto restarted_at = clock_type::now();
  auto restarted = cluster.start_node(victim);
  CAF_REQUIRE_EQUAL(restarted.to_string(), "ok");
  auto ready = cluster.wait_ready(cluster_wait_ms);
  CAF_REQUIRE_EQUAL(ready.to_string(), "ok");
  std::cout << "restarted node " << cluster.node_id(victim) << " ready after "
            << ms_since(restarted_at) << " ms" << std::endl;
  run.node_down[victim] = false;
  std::this_thread::sleep_for(std::chrono::milliseconds{run_after_restart_ms});
  run.stop = true;
  writers_stop = true;
  auto stopped_ns = since_origin_ns(run);
  for (auto& thread : threads) thread.join();

  auto writes_stopped_at = clock_type::now();
  auto caught_up = cluster.wait_caught_up(victim, cluster_wait_ms);
  CAF_CHECK_EQUAL(caught_up.to_string(), "ok");
  std::cout << "restarted node caught up " << ms_since(restarted_at) << " ms after its restart, "
            << ms_since(writes_stopped_at) << " ms after the writes stopped" << std::endl;
  for (const auto& reader : readers) {
    history.insert(history.end(), reader.history.begin(), reader.history.end());
    std::cout << "register thread " << reader.thread_index << ": " << reader.history.size()
              << " operations, " << reader.failures << " failed"
              << (reader.first_error.empty() ? "" : " (first: " + reader.first_error + ")")
              << std::endl;
  }
  for (const auto& writer : writers)
    std::cout << "writer " << writer.writer_index << ": " << writer.acked_writes << " acked, "
              << writer.failed_writes << " failed" << std::endl;
  auto gap_ms = longest_write_gap_ms(history, run.keys, killed_ns, stopped_ns);
  std::cout << "longest gap between acknowledged writes of a register after the kill: " << gap_ms
            << " ms" << std::endl;
  CAF_CHECK(gap_ms < write_gap_ms_max);
  CAF_CHECK(acked_writes(writers) > 0);

  // Every node serves every acknowledged write, and the registers' final
  // values as reads in the history.
  auto expected = merged(writers);
  for (size_t i = 0; i < cluster.size(); ++i) {
    auto checker = connect_checker(system, cluster.endpoint(i));
    CAF_REQUIRE(checker.ok());
    auto problems = check_recovered(*checker.value(), expected);
    std::cout << "through node " << cluster.node_id(i) << ": " << problems.size() << " problems"
              << std::endl;
    print_problems(problems);
    CAF_CHECK_EQUAL(problems.size(), 0u);
    for (const auto& key : run.keys) {
      auto read = read_register(*checker.value(), run, 100 + i, key);
      CAF_CHECK(read.completed);
      history.push_back(std::move(read));
    }
  }
  auto verdict = sim::check_linearizable(history);
  std::cout << "linearizability over " << history.size() << " operations: "
            << (verdict.linearizable ? "linearizable" : "NOT linearizable") << ", "
            << verdict.states_explored << " states" << (verdict.gave_up ? " (gave up)" : "")
            << std::endl;
  if (!verdict.linearizable) std::cout << verdict.key << ": " << verdict.explanation << std::endl;
  CAF_CHECK(verdict.linearizable);
  CAF_CHECK(!verdict.gave_up);
  stop_all(cluster);
}

CAF_TEST(a leader resumed from SIGSTOP serves no stale strong read) {
  // One shard, so the stopped leader leads the register's group.
  test_cluster cluster{cluster_options{"cluster-pause", 3, 1}};
  auto started = cluster.start(cluster_wait_ms);
  CAF_REQUIRE_EQUAL(started.to_string(), "ok");
  register_run run;
  run.origin = clock_type::now();
  run.keys = {"paused"};
  std::vector<sim::operation> ignored;
  auto groups = cluster.group_statuses(0, cluster_wait_ms);
  CAF_REQUIRE(groups.ok() && groups->size() == 1u);
  auto old_leader = static_cast<size_t>(groups->front().leader - 1);
  auto old_term = groups->front().term;
  auto other = (old_leader + 1) % cluster.size();
  auto to_old = connect_checker(system, cluster.endpoint(old_leader));
  // A write forwarded to the stopped leader has an unknown outcome and is
  // answered only at its deadline; a short one lets the next attempt find the
  // new leader while the old one is still stopped.
  client_options during_options;
  during_options.endpoints = {cluster.endpoint(other)};
  during_options.timeout_ms = pause_write_timeout_ms;
  auto to_other = client::connect(system, during_options);
  CAF_REQUIRE(to_old.ok() && to_other.ok());
  std::string error;
  CAF_REQUIRE(create_registers(*to_old.value(), run, ignored, error));
  std::cout << "pausing leader node " << cluster.node_id(old_leader) << " (term " << old_term
            << ")" << std::endl;
  auto paused_at = clock_type::now();
  cluster.node(old_leader).pause();
  // The others elect a leader and acknowledge a write while it is stopped.
  size_t attempts = 0;
  bool written = false;
  while (!written && ms_since(paused_at) < cluster_wait_ms) {
    ++attempts;
    auto stored = to_other.value()->update(register_collection, "paused",
                                           value_map{{"v", "during"}});
    written = stored.ok();
    if (!written) std::this_thread::sleep_for(std::chrono::milliseconds{retry_pause_ms});
  }
  CAF_REQUIRE(written);
  auto acked_ms = ms_since(paused_at);
  auto now_groups = cluster.group_statuses(other, cluster_wait_ms);
  CAF_REQUIRE(now_groups.ok() && now_groups->size() == 1u);
  auto new_leader = now_groups->front().leader;
  auto new_term = now_groups->front().term;
  std::cout << "write acknowledged " << acked_ms << " ms into the pause (attempt " << attempts
            << "); leader now node " << new_leader << " (term " << new_term << ")" << std::endl;
  CAF_CHECK(cluster.node(old_leader).running());
  CAF_CHECK_NOT_EQUAL(new_leader, cluster.node_id(old_leader));
  CAF_CHECK(new_term > old_term);
  if (ms_since(paused_at) < pause_ms)
    std::this_thread::sleep_for(std::chrono::milliseconds{pause_ms - ms_since(paused_at)});
  // One read waits in the stopped node's socket, so the node handles it first
  // thing on resuming, before it hears of the new term.
  auto early_reader = connect_checker(system, cluster.endpoint(old_leader));
  CAF_REQUIRE(early_reader.ok());
  auto early = read_outcome::failed;
  std::thread early_thread{[&] { early = read_paused(*early_reader.value()); }};
  std::this_thread::sleep_for(std::chrono::milliseconds{early_read_lead_ms});
  cluster.node(old_leader).resume();
  auto resumed_at = clock_type::now();
  early_thread.join();
  std::cout << "the read sent during the pause: " << to_string(early) << " " << ms_since(resumed_at)
            << " ms after SIGCONT" << std::endl;
  CAF_CHECK(early != read_outcome::stale);
  // Then reads through the resumed node until one succeeds: none may be stale.
  auto later = read_outcome::failed;
  size_t failed = 0;
  while (later == read_outcome::failed && ms_since(resumed_at) < cluster_wait_ms) {
    later = read_paused(*to_old.value());
    if (later == read_outcome::failed) {
      ++failed;
      std::this_thread::sleep_for(std::chrono::milliseconds{retry_pause_ms});
    }
  }
  std::cout << "a read through the resumed node: " << to_string(later) << " "
            << ms_since(resumed_at) << " ms after SIGCONT, after " << failed << " failed attempts"
            << std::endl;
  CAF_CHECK(later == read_outcome::fresh);
  auto ready = cluster.wait_ready(cluster_wait_ms);
  CAF_CHECK_EQUAL(ready.to_string(), "ok");
  stop_all(cluster);
}

CAF_TEST_FIXTURE_SCOPE_END()
