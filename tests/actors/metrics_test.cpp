// The metrics registry: exact Prometheus text for a small registry, histogram
// bucket math (inclusive upper bounds, +Inf, cumulative counts, sum), value
// formatting and escaping, monotonic advance_to, exact totals under
// concurrent writers, and parsing of the engines' stats() text.
#define CAF_SUITE metrics
#include "caf/test/unit_test.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "actors/metrics.hpp"
#include "storage/memory_engine.hpp"

using namespace velocity;

CAF_TEST(a small registry is exposed as exact prometheus text sorted by family and labels) {
  metrics_registry registry;
  registry.get_counter("velocity_test_requests_total", "Requests.", {{"op", "insert"}}).increment();
  registry.get_counter("velocity_test_requests_total", "Requests.", {{"op", "get"}}).increment(2);
  registry.get_gauge("velocity_test_in_flight", "In flight.").set(3);
  auto& latency = registry.get_histogram("velocity_test_latency_seconds", "Latency.", {0.25, 1});
  for (double v : {0.125, 0.25, 0.5, 2.0}) latency.observe(v);
  std::string expected =
      "# HELP velocity_test_in_flight In flight.\n"
      "# TYPE velocity_test_in_flight gauge\n"
      "velocity_test_in_flight 3\n"
      "# HELP velocity_test_latency_seconds Latency.\n"
      "# TYPE velocity_test_latency_seconds histogram\n"
      "velocity_test_latency_seconds_bucket{le=\"0.25\"} 2\n"
      "velocity_test_latency_seconds_bucket{le=\"1\"} 3\n"
      "velocity_test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
      "velocity_test_latency_seconds_sum 2.875\n"
      "velocity_test_latency_seconds_count 4\n"
      "# HELP velocity_test_requests_total Requests.\n"
      "# TYPE velocity_test_requests_total counter\n"
      "velocity_test_requests_total{op=\"get\"} 2\n"
      "velocity_test_requests_total{op=\"insert\"} 1\n";
  auto text = registry.expose();
  CAF_CHECK_EQUAL(text, expected);
}

CAF_TEST(a labeled histogram puts le after its labels and an empty one exposes zeros) {
  metrics_registry registry;
  registry.get_histogram("velocity_test_seconds", "H.", {0.5}, {{"op", "get"}});
  std::string expected =
      "# HELP velocity_test_seconds H.\n"
      "# TYPE velocity_test_seconds histogram\n"
      "velocity_test_seconds_bucket{op=\"get\",le=\"0.5\"} 0\n"
      "velocity_test_seconds_bucket{op=\"get\",le=\"+Inf\"} 0\n"
      "velocity_test_seconds_sum{op=\"get\"} 0\n"
      "velocity_test_seconds_count{op=\"get\"} 0\n";
  auto text = registry.expose();
  CAF_CHECK_EQUAL(text, expected);
}

CAF_TEST(a value equal to a bound lands in that bucket and a larger one in the next) {
  histogram h{{1, 2, 4}};
  CAF_CHECK_EQUAL(h.bucket_of(-5), 0u);
  CAF_CHECK_EQUAL(h.bucket_of(1), 0u);
  CAF_CHECK_EQUAL(h.bucket_of(1.0000001), 1u);
  CAF_CHECK_EQUAL(h.bucket_of(2), 1u);
  CAF_CHECK_EQUAL(h.bucket_of(4), 2u);
  CAF_CHECK_EQUAL(h.bucket_of(4.5), 3u);  // +Inf
  CAF_CHECK_EQUAL(h.bucket_of(std::numeric_limits<double>::infinity()), 3u);
  for (double v : {0.5, 1.0, 3.0, 3.5, 100.0}) h.observe(v);
  auto snap = h.read();
  CAF_CHECK(snap.cumulative_counts == (std::vector<uint64_t>{2, 2, 4, 5}));
  CAF_CHECK_EQUAL(snap.count, 5u);
  CAF_CHECK_EQUAL(snap.sum, 108.0);
}

CAF_TEST(exponential buckets multiply from the start and latency buckets span 50us to seconds) {
  auto b = exponential_buckets(1, 2, 4);
  CAF_CHECK(b == (std::vector<double>{1, 2, 4, 8}));
  auto latency = latency_buckets_seconds();
  CAF_REQUIRE(!latency.empty());
  CAF_CHECK_EQUAL(latency.front(), 0.00005);
  CAF_CHECK(latency.back() > 1.0);
  CAF_CHECK(latency.size() <= histogram_buckets_max);
}

CAF_TEST(sample values print as shortest decimals and infinities as prometheus spells them) {
  CAF_CHECK_EQUAL(format_metric_value(3), "3");
  CAF_CHECK_EQUAL(format_metric_value(0.5), "0.5");
  CAF_CHECK_EQUAL(format_metric_value(-2.25), "-2.25");
  CAF_CHECK_EQUAL(format_metric_value(1e21), "1e+21");
  CAF_CHECK_EQUAL(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  CAF_CHECK_EQUAL(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  CAF_CHECK_EQUAL(format_metric_value(std::nan("")), "NaN");
}

CAF_TEST(label values and help text are escaped) {
  metrics_registry registry;
  registry.get_gauge("velocity_test_escape", "Back\\slash\nnewline.", {{"path", "a\"b\\c\nd"}})
      .set(1);
  std::string expected =
      "# HELP velocity_test_escape Back\\\\slash\\nnewline.\n"
      "# TYPE velocity_test_escape gauge\n"
      "velocity_test_escape{path=\"a\\\"b\\\\c\\nd\"} 1\n";
  auto text = registry.expose();
  CAF_CHECK_EQUAL(text, expected);
}

CAF_TEST(the same name and labels give the same series and a gauge moves both ways) {
  metrics_registry registry;
  auto& a = registry.get_gauge("velocity_test_gauge", "G.", {{"k", "v"}});
  auto& b = registry.get_gauge("velocity_test_gauge", "G.", {{"k", "v"}});
  CAF_CHECK(&a == &b);
  a.add(5);
  b.add(-2);
  CAF_CHECK_EQUAL(a.value(), 3.0);
  auto& other = registry.get_gauge("velocity_test_gauge", "G.", {{"k", "w"}});
  CAF_CHECK(&other != &a);
  CAF_CHECK_EQUAL(other.value(), 0.0);
}

CAF_TEST(advance to raises a counter to a total and never lowers it) {
  counter c;
  c.advance_to(10);
  CAF_CHECK_EQUAL(c.value(), 10u);
  c.advance_to(7);
  CAF_CHECK_EQUAL(c.value(), 10u);
  c.increment(2);
  CAF_CHECK_EQUAL(c.value(), 12u);
}

CAF_TEST(concurrent writers lose no increments or observations) {
  metrics_registry registry;
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  registry.get_gauge("velocity_test_other", "O.").set(1);  // the scraper never sees nothing
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&registry, t] {
      // Each thread looks its series up itself, as actors do.
      auto& c = registry.get_counter("velocity_test_total", "C.");
      auto& h = registry.get_histogram("velocity_test_seconds", "H.", {1, 2});
      for (int i = 0; i < per_thread; ++i) {
        c.increment();
        h.observe(t % 2 == 0 ? 0.5 : 1.5);
      }
    });
  }
  for (int i = 0; i < 50; ++i) CAF_CHECK(!registry.expose().empty());  // a scraper meanwhile
  for (auto& w : workers) w.join();
  CAF_CHECK_EQUAL(registry.get_counter("velocity_test_total", "C.").value(),
                  uint64_t{threads * per_thread});
  auto snap = registry.get_histogram("velocity_test_seconds", "H.", {1, 2}).read();
  CAF_CHECK_EQUAL(snap.count, uint64_t{threads * per_thread});
  CAF_CHECK_EQUAL(snap.cumulative_counts[0], uint64_t{threads / 2 * per_thread});
  CAF_CHECK_EQUAL(snap.sum, (0.5 + 1.5) * (threads / 2) * per_thread);
}

CAF_TEST(engine stats text parses into column key counts and named numbers) {
  auto rocks = parse_engine_stats(
      "rocksdb_engine path=/tmp/x block_cache_usage_bytes=4096 block_cache_capacity_bytes=67108864"
      " block_cache_hits=7 block_cache_misses=3 estimated_keys: meta=2 documents=10 indexes=10"
      " raft_log=0 raft_state=0");
  std::vector<std::pair<std::string, uint64_t>> expected{
      {"block_cache_usage_bytes", 4096}, {"block_cache_capacity_bytes", 67108864},
      {"block_cache_hits", 7},           {"block_cache_misses", 3},
      {"keys.meta", 2},                  {"keys.documents", 10},
      {"keys.indexes", 10},              {"keys.raft_log", 0},
      {"keys.raft_state", 0}};
  CAF_CHECK(rocks == expected);
  auto garbage = parse_engine_stats("x=-1 y=12z =3 novalue: z=5  w=");
  CAF_REQUIRE_EQUAL(garbage.size(), 1u);
  CAF_CHECK_EQUAL(garbage[0].first, "z");
}

CAF_TEST(the memory engine stats parse into its exact key counts and write totals) {
  memory_engine e;
  write_batch batch;
  batch.put(column::documents, "a", "1");
  batch.put(column::documents, "b", "2");
  batch.put(column::meta, "m", "3");
  CAF_REQUIRE(e.write(batch).ok());
  uint64_t documents = 99;
  uint64_t writes = 99;
  for (const auto& [name, number] : parse_engine_stats(e.stats())) {
    if (name == "keys.documents") documents = number;
    if (name == "writes") writes = number;
  }
  CAF_CHECK_EQUAL(documents, 2u);
  CAF_CHECK_EQUAL(writes, 1u);
}
