// velocity-bench: the closed-loop load generator (the workloads and rules of
// /work/shared/bench/README.md, so that our rows sit next to etcd, Redis and
// PostgreSQL in the peer report).
//
// Closed loop: each of `clients` logical clients keeps exactly one operation
// outstanding. Clients are event-based CAF actors spread over `connections`
// remote client actors (TCP connections), so 64 clients need no 64 threads.
// Window: the first `warmup_s` seconds are discarded; an operation counts if it
// started at or after the window start and completed by the window end.
// Latency is per operation (for cas including its retries), kept in a
// log-linear histogram (below 1 % relative error).
//
// Thread safety: latency_histogram and the formatting helpers are plain values
// and pure functions. run_workload blocks the calling thread (never call it
// from an actor); each client actor owns its own tally until it sends it back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "caf/actor_system.hpp"
#include "protocols/consistency.hpp"
#include "protocols/error.hpp"

namespace velocity::bench {

enum class workload_kind : uint8_t { put, get, cas, claim, submit, close, preload };

std::string_view to_string(workload_kind kind);
bool from_string(std::string_view name, workload_kind& out);

// Requests per cas operation before the operation counts as failed (README).
inline constexpr uint32_t cas_requests_per_op_max = 16;
// Requests each preload connection keeps in flight (--preload-in-flight):
// enough to fill a group commit, and below the transport's per-connection
// window (256), beyond which the server simply stops reading until replies drain.
inline constexpr uint32_t preload_in_flight_default = 128;
// The client actor's pending_max.
inline constexpr uint32_t preload_in_flight_max = 4096;
// Logical clients: a bound on actors spawned by a typo.
inline constexpr uint32_t clients_max = 4096;

// Collections and the job queue index (README "Job-queue workloads").
inline constexpr std::string_view kv_collection = "bench_kv";
inline constexpr std::string_view cas_collection = "bench_cas";
inline constexpr std::string_view jobs_collection = "bench_jobs";
inline constexpr std::string_view jobs_queue_index = "queue";
inline constexpr int64_t job_state_waiting = 0;
inline constexpr int64_t job_state_running = 1;
inline constexpr int64_t job_state_closed = 2;

struct bench_options {
  std::vector<std::string> endpoints{"127.0.0.1:7400"};
  workload_kind workload = workload_kind::put;
  uint32_t clients = 64;
  uint32_t connections = 16;  // TCP connections; clients are spread over them
  double duration_s = 10;
  double warmup_s = 2;
  uint32_t value_bytes = 256;
  uint32_t keys = 100000;
  uint32_t cas_keys = 100;
  consistency level = consistency::strong;  // get and put; cas/claim/close are always strong
  uint32_t waiting = 200000;   // claim preload: waiting jobs
  uint32_t running = 600000;   // close preload: running jobs
  std::string jsonl;           // append one JSON line per run; empty = none
  std::string variant = "1-node";
  std::string label;           // JSON "workload"; empty = the default name (workload_label)
  uint32_t run = 1;
  uint32_t timeout_ms = 10000;
  uint32_t threads = 1;        // CAF scheduler threads of the bench process
  uint64_t seed = 0;           // 0 = from the clock
  uint32_t preload_in_flight = preload_in_flight_default;  // per connection
  std::string command_line;    // recorded as "cmd"
};

// The README's workload names: put, get-linearizable / get-serializable,
// "cas (hot N keys)", assign (our claim), submit, close.
std::string workload_label(const bench_options& options);

// Latency histogram over microseconds: exact below 128 us, then 64 linear
// sub-buckets per power of two (relative error < 1/64), up to ~2^36 us.
class latency_histogram {
 public:
  static constexpr uint32_t exact_us = 128;
  static constexpr uint32_t sub_buckets = 64;
  static constexpr uint32_t powers = 30;
  static constexpr size_t bucket_count = exact_us + sub_buckets * powers;

  void record_us(uint64_t us);
  void merge(const latency_histogram& other);
  uint64_t count() const { return count_; }
  double mean_us() const { return count_ == 0 ? 0 : static_cast<double>(sum_us_) / count_; }
  // The value at zero-based rank floor(q * (count - 1)) of the sorted samples
  // (the reference generator's definition), as the middle of its bucket. 0 if empty.
  double quantile_us(double q) const;
  uint64_t max_us() const { return max_us_; }

  static size_t bucket_of(uint64_t us);
  // [low, high) of a bucket in microseconds.
  static uint64_t bucket_low_us(size_t bucket);
  static uint64_t bucket_high_us(size_t bucket);

 private:
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(bucket_count, 0);
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  uint64_t max_us_ = 0;
};

// True if an operation [start, end] counts in the window [window_start, window_end].
inline bool in_window(int64_t start_ns, int64_t end_ns, int64_t window_start_ns,
                      int64_t window_end_ns) {
  return start_ns >= window_start_ns && end_ns <= window_end_ns;
}

// What one client measured; merged over clients into the run's result.
struct client_tally {
  latency_histogram latency;     // counted successful operations
  uint64_t ops = 0;              // successful operations in the window
  uint64_t failed = 0;           // in the window: cas out of attempts, claim found nothing, close condition failed
  uint64_t errors = 0;           // in the window: error replies, timeouts
  uint64_t requests = 0;         // requests of counted (ok or failed) operations
  uint64_t successes_total = 0;  // every successful op, warmup and stragglers included (for checks)
  std::vector<std::string> claimed_ids;  // claim: every id this client claimed
  std::string first_error;
  void merge(client_tally&& other);
};

struct bench_result {
  client_tally total;
  double window_s = 0;
  std::string check;         // "OK" / "MISMATCH" / empty when the workload has no check
  std::string check_detail;
  uint64_t preloaded = 0;    // preload: documents written
  double preload_s = 0;
};

// Runs one workload (including its schema and any preload it needs) against
// the targets (router or remote client actors). invalid_argument for bad
// options; the workload's first hard failure (schema creation, preload) otherwise.
status_or<bench_result> run_workload(caf::actor_system& system,
                                     const std::vector<router_actor>& targets,
                                     const bench_options& options);

// The JSON line of a run (README "Driving our database"), no trailing newline.
std::string json_line(const bench_options& options, const bench_result& result);
// One human line.
std::string summary_line(const bench_options& options, const bench_result& result);

}  // namespace velocity::bench
