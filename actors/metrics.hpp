// The metrics registry of a node: counters, gauges and fixed-bucket
// histograms, grouped into named families with label sets, and their
// Prometheus text exposition (format 0.0.4), written here.
//
// Writers are actors (router, log writer, transport brokers) on the hot path;
// the reader is the ops HTTP server's thread. So a series' value is atomics
// only (no lock on update), and the registry's maps are behind one mutex that
// is taken only to create or look up a series and to expose. Hot paths look a
// series up once and keep the reference.
//
// Thread safety: every method of every class here may be called from any
// thread. References returned by the registry stay valid as long as it lives.
// Invariants: a family has one kind and one help text; a histogram family has
// one set of bucket bounds (strictly increasing, finite); names follow the
// Prometheus grammar (checked: a bad name is a programmer error). Exposition
// lists families and, within each, series in lexicographic order, so the text
// is deterministic for a given set of values.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace velocity {

// Buckets per histogram. Every observation walks the bounds, and every
// scrape prints one line per bucket and series.
inline constexpr size_t histogram_buckets_max = 64;

// (label name, label value) pairs, in the order they are printed.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count.
class counter {
 public:
  void increment(uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  // For totals kept elsewhere (e.g. RocksDB tickers) and copied in at scrape
  // time: raises the value to `total`, never lowers it, so the series stays
  // monotonic even when two scrapes race.
  void advance_to(uint64_t total) {
    auto current = value_.load(std::memory_order_relaxed);
    while (current < total &&
           !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
    }
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

struct histogram_snapshot {
  std::vector<double> upper_bounds;
  std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf (== count)
  uint64_t count = 0;
  double sum = 0.0;
};

// Observations counted into fixed buckets. A value v lands in the first
// bucket whose upper bound b has v <= b (Prometheus' `le`), else in +Inf.
class histogram {
 public:
  // REQUIRES: 1..histogram_buckets_max bounds, finite and strictly increasing.
  explicit histogram(std::vector<double> upper_bounds);

  void observe(double value);

  // Count is derived from the buckets read, so the snapshot is self-consistent
  // even while other threads observe.
  histogram_snapshot read() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // The index of the bucket `value` lands in (upper_bounds().size() = +Inf).
  size_t bucket_of(double value) const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last = +Inf
  std::atomic<double> sum_{0.0};
};

// start, start*factor, ... (count bounds). REQUIRES: start > 0, factor > 1.
std::vector<double> exponential_buckets(double start, double factor, size_t count);

// Request and fsync latencies: 50 us .. ~3.3 s, doubling.
std::vector<double> latency_buckets_seconds();

class metrics_registry {
 public:
  metrics_registry() = default;
  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  // Finds or creates the series `name{labels}`. The first call for a name
  // fixes its kind and help (and a histogram's bounds); a later call that
  // disagrees is a programmer error.
  counter& get_counter(std::string_view name, std::string_view help, const metric_labels& labels = {});
  gauge& get_gauge(std::string_view name, std::string_view help, const metric_labels& labels = {});
  histogram& get_histogram(std::string_view name, std::string_view help,
                           const std::vector<double>& upper_bounds,
                           const metric_labels& labels = {});

  // Every family in Prometheus text format 0.0.4: HELP and TYPE lines, then
  // one line per series (histograms: _bucket per bound and +Inf, _sum, _count).
  std::string expose() const;

 private:
  enum class kind : uint8_t { counter, gauge, histogram };
  struct series {
    std::unique_ptr<counter> counter_value;
    std::unique_ptr<gauge> gauge_value;
    std::unique_ptr<histogram> histogram_value;
  };
  struct family {
    kind type = kind::counter;
    std::string help;
    std::vector<double> upper_bounds;  // histograms only
    std::map<std::string, series> series_by_labels;  // key: rendered `a="x",b="y"`
  };

  series& find_or_add(kind type, std::string_view name, std::string_view help,
                      const metric_labels& labels, const std::vector<double>* upper_bounds);
  static void expose_family(std::string& out, const std::string& name, const family& f);

  mutable std::mutex mutex_;
  std::map<std::string, family, std::less<>> families_;
};

// Prometheus sample value: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string format_metric_value(double value);

// Parses the `name=integer` tokens of engine::stats() (memory and RocksDB
// engines), e.g. "memory_engine keys: meta=3 documents=10 writes=5". A token
// after one ending in "keys:" whose name is a column name is reported as
// "keys.<column>"; others keep their name. Tokens that are not name=integer
// are skipped, so new fields in stats() never break the scrape.
std::vector<std::pair<std::string, uint64_t>> parse_engine_stats(std::string_view text);

}  // namespace velocity
