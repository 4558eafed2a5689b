// velocity-bench: latency histogram, tallies, workload names and the output
// lines (JSON line for the peer report, one human summary line).
//
// Thread safety: plain values and pure functions.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

#include "protocols/check.hpp"
#include "schema/json.hpp"
#include "tools/velocity_bench.hpp"

namespace velocity::bench {
namespace {

// Milliseconds rounded to microseconds: what the report prints, and short JSON.
double ms_of_us(double us) { return std::round(us) / 1000.0; }
// Divides by a power of ten (not multiplies by 0.1) so the result prints short.
double round_to(double x, double scale) { return std::round(x * scale) / scale; }

constexpr std::array<std::pair<workload_kind, std::string_view>, 7> workload_names{{
    {workload_kind::put, "put"},
    {workload_kind::get, "get"},
    {workload_kind::cas, "cas"},
    {workload_kind::claim, "claim"},
    {workload_kind::submit, "submit"},
    {workload_kind::close, "close"},
    {workload_kind::preload, "preload"},
}};

}  // namespace

std::string_view to_string(workload_kind kind) {
  for (const auto& [k, name] : workload_names)
    if (k == kind) return name;
  return "unknown";
}

bool from_string(std::string_view name, workload_kind& out) {
  for (const auto& [k, known] : workload_names) {
    if (known == name) {
      out = k;
      return true;
    }
  }
  return false;
}

std::string workload_label(const bench_options& options) {
  if (!options.label.empty()) return options.label;
  switch (options.workload) {
    case workload_kind::get:
      // etcd's names: linearizable reads are our strong; serializable our local.
      if (options.level == consistency::strong) return "get-linearizable";
      if (options.level == consistency::local) return "get-serializable";
      return "get-" + std::string{to_string(options.level)};
    case workload_kind::cas: return "cas (hot " + std::to_string(options.cas_keys) + " keys)";
    case workload_kind::claim: return "assign";  // PostgreSQL's name for the same operation
    default: return std::string{to_string(options.workload)};
  }
}

size_t latency_histogram::bucket_of(uint64_t us) {
  if (us < exact_us) return static_cast<size_t>(us);
  const int exponent = std::bit_width(us) - 1;  // >= 7
  const int shift = exponent - 6;                // us >> shift is in [64, 128)
  const size_t power = static_cast<size_t>(exponent - 7);
  if (power >= powers) return bucket_count - 1;
  return exact_us + power * sub_buckets + static_cast<size_t>((us >> shift) - sub_buckets);
}

uint64_t latency_histogram::bucket_low_us(size_t bucket) {
  VELOCITY_CHECK(bucket < bucket_count);
  if (bucket < exact_us) return bucket;
  const size_t k = bucket - exact_us;
  const int shift = static_cast<int>(k / sub_buckets) + 1;
  return (sub_buckets + k % sub_buckets) << shift;
}

uint64_t latency_histogram::bucket_high_us(size_t bucket) {
  VELOCITY_CHECK(bucket < bucket_count);
  if (bucket < exact_us) return bucket + 1;
  const size_t k = bucket - exact_us;
  const int shift = static_cast<int>(k / sub_buckets) + 1;
  return (sub_buckets + k % sub_buckets + 1) << shift;
}

void latency_histogram::record_us(uint64_t us) {
  ++counts_[bucket_of(us)];
  ++count_;
  sum_us_ += us;
  max_us_ = std::max(max_us_, us);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_us_ += other.sum_us_;
  max_us_ = std::max(max_us_, other.max_us_);
}

double latency_histogram::quantile_us(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1));
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen > rank) {
      if (i < exact_us) return static_cast<double>(i);
      const double middle = (static_cast<double>(bucket_low_us(i)) + bucket_high_us(i)) / 2;
      return std::min(middle, static_cast<double>(max_us_));
    }
  }
  return static_cast<double>(max_us_);
}

void client_tally::merge(client_tally&& other) {
  latency.merge(other.latency);
  ops += other.ops;
  failed += other.failed;
  errors += other.errors;
  requests += other.requests;
  successes_total += other.successes_total;
  claimed_ids.insert(claimed_ids.end(), std::make_move_iterator(other.claimed_ids.begin()),
                     std::make_move_iterator(other.claimed_ids.end()));
  if (first_error.empty()) first_error = std::move(other.first_error);
}

std::string json_line(const bench_options& options, const bench_result& result) {
  const client_tally& t = result.total;
  const double window = result.window_s > 0 ? result.window_s : 1;
  value_map line{
      {"peer", value{"velocitydb"}},
      {"variant", value{options.variant}},
      {"workload", value{workload_label(options)}},
      {"run", value{int64_t{options.run}}},
      {"clients", value{int64_t{options.clients}}},
      {"tool", value{"velocity-bench 0.1"}},
      {"cmd", value{options.command_line}},
      {"consistency", value{std::string{to_string(options.level)}}},
  };
  if (options.workload == workload_kind::preload) {
    line["preloaded"] = value{static_cast<int64_t>(result.preloaded)};
    line["preload_s"] = value{round_to(result.preload_s, 1000)};
    line["errors"] = value{static_cast<int64_t>(t.errors)};
    return to_json(value{std::move(line)});
  }
  line["ops"] = value{static_cast<int64_t>(t.ops)};
  line["ops_per_sec"] = value{round_to(static_cast<double>(t.ops) / window, 10)};
  line["p50_ms"] = value{ms_of_us(t.latency.quantile_us(0.50))};
  line["p99_ms"] = value{ms_of_us(t.latency.quantile_us(0.99))};
  line["p999_ms"] = value{ms_of_us(t.latency.quantile_us(0.999))};
  line["avg_ms"] = value{ms_of_us(t.latency.mean_us())};
  line["max_ms"] = value{ms_of_us(static_cast<double>(t.latency.max_us()))};
  line["errors"] = value{static_cast<int64_t>(t.errors)};
  line["failed_in_window"] = value{static_cast<int64_t>(t.failed)};
  line["window_s"] = value{round_to(window, 1000)};
  line["warmup_s"] = value{options.warmup_s};
  if (options.workload == workload_kind::cas) {
    const uint64_t finished = t.ops + t.failed;
    line["requests_per_sec"] = value{round_to(static_cast<double>(t.requests) / window, 10)};
    line["requests_per_op"] =
        value{finished == 0 ? 0.0 : round_to(static_cast<double>(t.requests) / finished, 1000)};
  }
  if (!result.check.empty()) {
    line["check"] = value{result.check};
    line["check_detail"] = value{result.check_detail};
  }
  if (!t.first_error.empty()) line["first_error"] = value{t.first_error};
  line["note"] = value{"closed loop over " + std::to_string(options.connections) +
                       " connection(s); ops counted if started after warmup and done by the window end"};
  return to_json(value{std::move(line)});
}

std::string summary_line(const bench_options& options, const bench_result& result) {
  const client_tally& t = result.total;
  char buffer[512];
  if (options.workload == workload_kind::preload) {
    std::snprintf(buffer, sizeof(buffer), "preload: %llu documents in %.1f s, %llu errors",
                  static_cast<unsigned long long>(result.preloaded), result.preload_s,
                  static_cast<unsigned long long>(t.errors));
    return buffer;
  }
  const double window = result.window_s > 0 ? result.window_s : 1;
  std::snprintf(buffer, sizeof(buffer),
                "%s [%s] run %u: %.1f ops/s (%llu ops in %.1f s), p50 %.3f ms, p99 %.3f ms, "
                "p999 %.3f ms, errors %llu, failed %llu",
                workload_label(options).c_str(), options.variant.c_str(), options.run,
                static_cast<double>(t.ops) / window, static_cast<unsigned long long>(t.ops), window,
                ms_of_us(t.latency.quantile_us(0.5)), ms_of_us(t.latency.quantile_us(0.99)),
                ms_of_us(t.latency.quantile_us(0.999)), static_cast<unsigned long long>(t.errors),
                static_cast<unsigned long long>(t.failed));
  std::string out = buffer;
  if (options.workload == workload_kind::cas && t.ops + t.failed > 0) {
    std::snprintf(buffer, sizeof(buffer), ", %.2f requests/op",
                  static_cast<double>(t.requests) / static_cast<double>(t.ops + t.failed));
    out += buffer;
  }
  if (!result.check.empty()) out += ", check " + result.check_detail;
  return out;
}

}  // namespace velocity::bench
