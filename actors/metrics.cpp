// The metrics registry and its Prometheus text exposition (see metrics.hpp).
//
// Thread safety: series values are atomics; the family maps are guarded by
// mutex_, which update paths never take once they hold a series reference.
#include "actors/metrics.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "protocols/check.hpp"
#include "storage/engine.hpp"

namespace velocity {

namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

// Metric names may also contain ':' (Prometheus reserves it for rules, but
// it is valid); label names may not.
bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (i == 0 ? is_name_start(c) : is_name_char(c)) || (allow_colon && c == ':');
    if (!ok) return false;
  }
  return true;
}

// Label values escape backslash, double quote and newline.
void append_label_value(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// HELP text escapes backslash and newline.
void append_help(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

std::string render_labels(const metric_labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    VELOCITY_CHECK(valid_name(name, false));
    VELOCITY_CHECK(name != "le");  // reserved for histogram buckets
    if (!out.empty()) out += ',';
    out += name;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  }
  return out;
}

// `name{labels,extra}` or `name{extra}` or `name`.
void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        const std::string& labels, const std::string& extra = {}) {
  out += name;
  out += suffix;
  if (labels.empty() && extra.empty()) return;
  out += '{';
  out += labels;
  if (!labels.empty() && !extra.empty()) out += ',';
  out += extra;
  out += '}';
}

void atomic_add(std::atomic<double>& target, double amount) {
  target.fetch_add(amount, std::memory_order_relaxed);
}

}  // namespace

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  VELOCITY_CHECK(ec == std::errc{});
  return std::string(buffer, end);
}

histogram::histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  VELOCITY_CHECK(!upper_bounds_.empty());
  VELOCITY_CHECK(upper_bounds_.size() <= histogram_buckets_max);
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    VELOCITY_CHECK(std::isfinite(upper_bounds_[i]));
    if (i > 0) VELOCITY_CHECK(upper_bounds_[i - 1] < upper_bounds_[i]);
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1);
}

size_t histogram::bucket_of(double value) const {
  // Linear: at most histogram_buckets_max comparisons, and latencies mostly
  // land in the first buckets.
  size_t index = 0;
  while (index < upper_bounds_.size() && !(value <= upper_bounds_[index])) ++index;
  return index;
}

void histogram::observe(double value) {
  counts_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, value);
}

histogram_snapshot histogram::read() const {
  histogram_snapshot out;
  out.upper_bounds = upper_bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out.cumulative_counts.push_back(running);
  }
  out.count = running;
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

std::vector<double> exponential_buckets(double start, double factor, size_t count) {
  VELOCITY_CHECK(start > 0);
  VELOCITY_CHECK(factor > 1);
  VELOCITY_CHECK(count >= 1 && count <= histogram_buckets_max);
  std::vector<double> out;
  double bound = start;
  for (size_t i = 0; i < count; ++i, bound *= factor) out.push_back(bound);
  return out;
}

std::vector<double> latency_buckets_seconds() {
  // 50 us is below one loopback round trip; 2^16 * 50 us ~ 3.3 s is past
  // the default request timeout's useful range.
  return exponential_buckets(0.00005, 2, 17);
}

counter& metrics_registry::get_counter(std::string_view name, std::string_view help,
                                       const metric_labels& labels) {
  return *find_or_add(kind::counter, name, help, labels, nullptr).counter_value;
}

gauge& metrics_registry::get_gauge(std::string_view name, std::string_view help,
                                   const metric_labels& labels) {
  return *find_or_add(kind::gauge, name, help, labels, nullptr).gauge_value;
}

histogram& metrics_registry::get_histogram(std::string_view name, std::string_view help,
                                           const std::vector<double>& upper_bounds,
                                           const metric_labels& labels) {
  return *find_or_add(kind::histogram, name, help, labels, &upper_bounds).histogram_value;
}

metrics_registry::series& metrics_registry::find_or_add(kind type, std::string_view name,
                                                        std::string_view help,
                                                        const metric_labels& labels,
                                                        const std::vector<double>* upper_bounds) {
  VELOCITY_CHECK(valid_name(name, true));
  auto key = render_labels(labels);
  std::lock_guard<std::mutex> guard{mutex_};
  auto found = families_.find(name);
  if (found == families_.end()) {
    family f;
    f.type = type;
    f.help = std::string{help};
    if (upper_bounds) f.upper_bounds = *upper_bounds;
    found = families_.emplace(std::string{name}, std::move(f)).first;
  }
  auto& f = found->second;
  VELOCITY_CHECK(f.type == type);
  VELOCITY_CHECK(f.help == help);
  if (upper_bounds) VELOCITY_CHECK(f.upper_bounds == *upper_bounds);
  auto& s = f.series_by_labels[key];
  if (!s.counter_value && !s.gauge_value && !s.histogram_value) {
    switch (type) {
      case kind::counter: s.counter_value = std::make_unique<counter>(); break;
      case kind::gauge: s.gauge_value = std::make_unique<gauge>(); break;
      case kind::histogram: s.histogram_value = std::make_unique<histogram>(f.upper_bounds); break;
    }
  }
  return s;
}

void metrics_registry::expose_family(std::string& out, const std::string& name, const family& f) {
  static constexpr const char* type_names[] = {"counter", "gauge", "histogram"};
  out += "# HELP " + name + ' ';
  append_help(out, f.help);
  out += "\n# TYPE " + name + ' ' + type_names[static_cast<size_t>(f.type)] + '\n';
  for (const auto& [labels, s] : f.series_by_labels) {
    if (s.counter_value) {
      append_series_name(out, name, "", labels);
      out += ' ' + std::to_string(s.counter_value->value()) + '\n';
    } else if (s.gauge_value) {
      append_series_name(out, name, "", labels);
      out += ' ' + format_metric_value(s.gauge_value->value()) + '\n';
    } else {
      auto snap = s.histogram_value->read();
      for (size_t i = 0; i <= snap.upper_bounds.size(); ++i) {
        auto le = i < snap.upper_bounds.size() ? format_metric_value(snap.upper_bounds[i])
                                               : std::string{"+Inf"};
        append_series_name(out, name, "_bucket", labels, "le=\"" + le + '"');
        out += ' ' + std::to_string(snap.cumulative_counts[i]) + '\n';
      }
      append_series_name(out, name, "_sum", labels);
      out += ' ' + format_metric_value(snap.sum) + '\n';
      append_series_name(out, name, "_count", labels);
      out += ' ' + std::to_string(snap.count) + '\n';
    }
  }
}

std::string metrics_registry::expose() const {
  std::string out;
  std::lock_guard<std::mutex> guard{mutex_};
  for (const auto& [name, f] : families_) expose_family(out, name, f);
  return out;
}

std::vector<std::pair<std::string, uint64_t>> parse_engine_stats(std::string_view text) {
  std::vector<std::pair<std::string, uint64_t>> out;
  bool in_keys = false;
  size_t position = 0;
  while (position < text.size()) {
    auto end = text.find(' ', position);
    if (end == std::string_view::npos) end = text.size();
    auto token = text.substr(position, end - position);
    position = end + 1;
    if (token.empty()) continue;
    if (token.back() == ':') {
      in_keys = token.size() >= 5 && token.substr(token.size() - 5) == "keys:";
      continue;
    }
    auto equals = token.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    auto name = token.substr(0, equals);
    auto digits = token.substr(equals + 1);
    uint64_t number = 0;
    auto [last, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc{} || last != digits.data() + digits.size()) continue;
    bool is_column = false;
    for (size_t c = 0; c < column_count; ++c)
      if (name == to_string(static_cast<column>(c))) is_column = true;
    if (in_keys && is_column) out.emplace_back("keys." + std::string{name}, number);
    else out.emplace_back(std::string{name}, number);
  }
  return out;
}

}  // namespace velocity
