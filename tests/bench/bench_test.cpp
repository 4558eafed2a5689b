// velocity-bench unit tests: the latency histogram's buckets and quantiles,
// the window rule, the JSON line and workload names.
//
// Thread safety: plain values only.
#define CAF_SUITE bench_stats
#include "caf/test/unit_test.hpp"

#include <random>

#include "schema/json.hpp"
#include "tools/velocity_bench.hpp"

using namespace velocity;
using namespace velocity::bench;

CAF_TEST(histogram buckets cover every value and stay within one sixty - fourth) {
  for (uint64_t us : std::vector<uint64_t>{0, 1, 127, 128, 129, 255, 256, 1000, 123456, uint64_t{1} << 35}) {
    const size_t b = latency_histogram::bucket_of(us);
    CAF_CHECK(latency_histogram::bucket_low_us(b) <= us);
    CAF_CHECK(us < latency_histogram::bucket_high_us(b));
    const double width = static_cast<double>(latency_histogram::bucket_high_us(b) - latency_histogram::bucket_low_us(b));
    CAF_CHECK(width <= 1 || width / static_cast<double>(latency_histogram::bucket_low_us(b)) <= 1.0 / 64);
  }
  CAF_CHECK_EQUAL(latency_histogram::bucket_of(uint64_t{1} << 62), latency_histogram::bucket_count - 1);
}

CAF_TEST(histogram quantiles match the sorted samples within the bucket error) {
  std::mt19937_64 rng{42};
  std::vector<uint64_t> samples;
  latency_histogram h;
  for (int i = 0; i < 20000; ++i) {
    auto us = static_cast<uint64_t>(std::lognormal_distribution<double>{7.0, 1.0}(rng));
    samples.push_back(us);
    h.record_us(us);
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const auto exact = static_cast<double>(samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1))]);
    const double got = h.quantile_us(q);
    CAF_CHECK(std::abs(got - exact) <= std::max(1.0, exact / 64));
  }
  CAF_CHECK_EQUAL(h.count(), 20000u);
  CAF_CHECK_EQUAL(h.max_us(), samples.back());
  latency_histogram other;
  other.record_us(5);
  h.merge(other);
  CAF_CHECK_EQUAL(h.count(), 20001u);
  CAF_CHECK_EQUAL(latency_histogram{}.quantile_us(0.5), 0.0);
}

CAF_TEST(an operation counts only if it started in the window and finished by its end) {
  CAF_CHECK(in_window(100, 200, 100, 200));
  CAF_CHECK(!in_window(99, 150, 100, 200));   // started in the warmup
  CAF_CHECK(!in_window(150, 201, 100, 200));  // straddles the end
}

CAF_TEST(the json line carries the peer report fields) {
  bench_options o;
  o.workload = workload_kind::cas;
  o.variant = "memory 1-node";
  o.command_line = "velocity-bench --workload cas \"quoted\"";
  bench_result r;
  r.window_s = 2;
  r.total.ops = 100;
  r.total.failed = 0;
  r.total.requests = 230;
  for (int i = 0; i < 100; ++i) r.total.latency.record_us(1000 + i);
  auto parsed = parse_json(json_line(o, r));
  CAF_REQUIRE(parsed.ok());
  const value_map& line = parsed->as_map();
  CAF_CHECK(line.at("peer") == value{"velocitydb"});
  CAF_CHECK(line.at("workload") == value{"cas (hot 100 keys)"});
  CAF_CHECK(line.at("ops_per_sec") == value{50.0});
  CAF_CHECK(line.at("requests_per_op") == value{2.3});
  CAF_CHECK(line.at("cmd") == value{o.command_line});
  CAF_CHECK(line.at("p50_ms").as_number() > 1.0 && line.at("p50_ms").as_number() < 1.1);
  o.workload = workload_kind::get;
  o.level = consistency::local;
  CAF_CHECK_EQUAL(workload_label(o), "get-serializable");
  o.label = "get P=1";
  CAF_CHECK_EQUAL(workload_label(o), "get P=1");
}
