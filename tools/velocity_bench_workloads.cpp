// velocity-bench: one run of a workload: its schema, the preload it needs,
// the closed loop over all clients, and the after-run checks (claim: no job
// claimed twice; submit / close: the counted documents moved as acknowledged).
//
// Thread safety: run_workload blocks its caller (a scoped_actor collects the
// tallies); call it from main or a test thread, never from an actor.
#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_set>

#include "caf/scoped_actor.hpp"
#include "tools/velocity_bench_loop.hpp"
#include "velocity/client.hpp"

namespace velocity::bench {
namespace {

// The longest a preload may take: generous for 800k documents on a slow,
// shared machine; the driver's own timeout bounds the whole run anyway.
constexpr auto preload_wait_max = std::chrono::minutes{20};
// Waiting for the clients' tallies beyond the window: the last operations may
// each take up to a full timeout (a cas up to cas_requests_per_op_max of them).
constexpr auto tally_wait_slack = std::chrono::seconds{5};

status check_options(const std::vector<router_actor>& targets, const bench_options& o) {
  if (targets.empty()) return {error_code::invalid_argument, "no target to send requests to"};
  if (o.clients == 0 || o.clients > clients_max)
    return {error_code::invalid_argument,
            "--clients must be 1.." + std::to_string(clients_max) + ", got " + std::to_string(o.clients)};
  if (!(o.duration_s > 0) || o.warmup_s < 0)
    return {error_code::invalid_argument, "--duration must be > 0 and --warmup >= 0"};
  if ((o.workload == workload_kind::put || o.workload == workload_kind::get) && o.keys == 0)
    return {error_code::invalid_argument, "--keys must be > 0 for put and get"};
  if (o.workload == workload_kind::cas && o.cas_keys == 0)
    return {error_code::invalid_argument, "--cas-keys must be > 0 for cas"};
  if (o.timeout_ms == 0) return {error_code::invalid_argument, "--timeout-ms must be > 0"};
  if (o.preload_in_flight == 0 || o.preload_in_flight > preload_in_flight_max)
    return {error_code::invalid_argument,
            "--preload-in-flight must be 1.." + std::to_string(preload_in_flight_max)};
  return {};
}

status ensure_schema(client& db, collection_schema schema) {
  auto created = db.create_schema(std::move(schema));
  if (created.ok() || created.error().code() == error_code::already_exists) return {};
  return created.error();
}

// Writes make(0..count-1) over every target, pipelined; the documents written.
status_or<uint64_t> preload(caf::actor_system& system, const std::vector<router_actor>& targets,
                            const command_maker& make, uint64_t count, const bench_options& o) {
  if (count == 0) return uint64_t{0};
  caf::scoped_actor self{system};
  const uint64_t stride = targets.size();
  for (uint64_t i = 0; i < stride; ++i)
    spawn_preloader(system, make, i, stride, count, o.timeout_ms, o.preload_in_flight, targets[i],
                    caf::actor_cast<caf::actor>(self));
  client_tally total;
  bool expired = false;
  for (uint64_t i = 0; i < stride && !expired; ++i) {
    self->receive([&](client_tally& t) { total.merge(std::move(t)); },
                  caf::after(preload_wait_max) >> [&] { expired = true; });
  }
  if (expired) return status{error_code::timeout, "preload did not finish within 20 minutes"};
  if (total.errors > 0)
    return status{error_code::internal, "preload: " + std::to_string(total.errors) +
                                            " writes failed, first: " + total.first_error};
  return total.successes_total;
}

command_maker kv_maker(std::string collection, bool cas, value v) {
  return [collection, cas, v](uint64_t i) {
    return command{cmd::insert{collection, cas ? cas_id(i) : kv_id(i), value_map{{"v", v}}, 0}};
  };
}

// w-1..w-N waiting and r-1..r-M running, the priority times of pg/schema.sql.
command_maker job_maker(bool running) {
  return [running](uint64_t i) {
    const uint64_t n = i + 1;
    const auto g = static_cast<int64_t>(n);
    if (running)
      return command{cmd::insert{std::string{jobs_collection}, running_job_id(n),
                                 job_fields(job_state_running, 1600000000000000000 + g * 1000, n,
                                            "exec-" + std::to_string(n % 16)),
                                 0}};
    return command{cmd::insert{std::string{jobs_collection}, waiting_job_id(n),
                               job_fields(job_state_waiting, 1700000000000000000 + g * 1000, n, {}), 0}};
  };
}

status_or<uint64_t> count_of(client& db, std::string_view collection,
                             std::optional<index_range> range = std::nullopt) {
  return db.count(std::string{collection}, std::move(range));
}

value kv_value_of(const bench_options& o) { return value{std::string(o.value_bytes, 'v')}; }

// Schemas and documents the workload needs; `everything` (the preload
// workload) writes all of them, the others only what is missing.
status_or<uint64_t> prepare(caf::actor_system& system, const std::vector<router_actor>& targets,
                            client& db, const bench_options& o, bool everything) {
  const workload_kind w = o.workload;
  const bool kv = everything ? o.keys > 0 : (w == workload_kind::put || w == workload_kind::get);
  const bool cas = everything ? o.cas_keys > 0 : w == workload_kind::cas;
  const bool jobs = everything ? (o.waiting > 0 || o.running > 0)
                               : (w == workload_kind::claim || w == workload_kind::submit ||
                                  w == workload_kind::close);
  uint64_t written = 0;
  struct step {
    bool wanted;
    collection_schema schema;
    std::string probe_id;  // the first document: present = loaded by an earlier preload
    uint64_t count;
    command_maker make;
  };
  std::vector<step> steps;
  if (kv) steps.push_back({true, kv_schema(), kv_id(0), o.keys, kv_maker(std::string{kv_collection}, false, kv_value_of(o))});
  if (cas) steps.push_back({true, cas_schema(), cas_id(0), o.cas_keys, kv_maker(std::string{cas_collection}, true, kv_value_of(o))});
  if (jobs) {
    const bool waiting = everything || w == workload_kind::claim;
    const bool running = everything || w == workload_kind::close;
    steps.push_back({waiting, jobs_schema(), waiting_job_id(1), o.waiting, job_maker(false)});
    steps.push_back({running, jobs_schema(), running_job_id(1), o.running, job_maker(true)});
  }
  for (auto& s : steps) {
    if (status made = ensure_schema(db, s.schema); !made.ok()) return made;
    if (!s.wanted || s.count == 0) continue;
    if (!everything) {
      auto present = db.get(s.schema.collection, s.probe_id);
      if (present.ok()) continue;
      if (present.error().code() != error_code::not_found) return present.error();
    }
    auto done = preload(system, targets, s.make, s.count, o);
    if (!done.ok()) return done.error();
    written += *done;
  }
  return written;
}

// Runs the clients over the window; their merged tally.
status_or<client_tally> closed_loop(caf::actor_system& system, const std::vector<router_actor>& targets,
                                    const bench_options& o) {
  auto plan = std::make_shared<loop_plan>();
  plan->options = o;
  plan->kv_value = kv_value_of(o);
  plan->run_tag = std::to_string(o.run) + "x" + std::to_string(o.seed % 1000000007);
  const int64_t now = steady_now_ns();
  plan->window_start_ns = now + static_cast<int64_t>(o.warmup_s * 1e9);
  plan->window_end_ns = plan->window_start_ns + static_cast<int64_t>(o.duration_s * 1e9);
  caf::scoped_actor self{system};
  for (uint32_t i = 0; i < o.clients; ++i)
    spawn_loop_client(system, plan, targets[i % targets.size()], caf::actor_cast<caf::actor>(self), i);
  client_tally total;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds{static_cast<int64_t>((o.warmup_s + o.duration_s) * 1000)} +
                        std::chrono::milliseconds{uint64_t{o.timeout_ms} * 2} + tally_wait_slack;
  for (uint32_t i = 0; i < o.clients; ++i) {
    bool expired = false;
    auto left = std::max(std::chrono::steady_clock::duration::zero(), deadline - std::chrono::steady_clock::now());
    self->receive([&](client_tally& t) { total.merge(std::move(t)); },
                  caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >> [&] { expired = true; });
    if (expired)
      return status{error_code::timeout,
                    std::to_string(o.clients - i) + " client(s) did not finish after the window"};
  }
  return total;
}

std::optional<int64_t> check_state(const bench_options& o) {
  switch (o.workload) {
    case workload_kind::claim: return job_state_waiting;
    case workload_kind::submit: return job_state_waiting;
    case workload_kind::close: return job_state_closed;
    default: return std::nullopt;
  }
}

// claim: successful claims == jobs that left the waiting state == distinct ids.
// submit: jobs that became waiting == successful inserts. close: jobs that
// became closed == successful closes.
void fill_check(bench_result& result, const bench_options& o, uint64_t before, uint64_t after) {
  const client_tally& t = result.total;
  const bool grew = o.workload != workload_kind::claim;
  const uint64_t moved = grew ? after - std::min(after, before) : before - std::min(before, after);
  bool ok = moved == t.successes_total && (grew ? after >= before : before >= after);
  std::string detail = "successes=" + std::to_string(t.successes_total) + " " +
                       (o.workload == workload_kind::claim ? "left_waiting=" : "documents_moved=") +
                       std::to_string(moved);
  if (o.workload == workload_kind::claim) {
    std::unordered_set<std::string> distinct(t.claimed_ids.begin(), t.claimed_ids.end());
    ok = ok && distinct.size() == t.claimed_ids.size() && distinct.size() == t.successes_total;
    detail += " distinct_ids=" + std::to_string(distinct.size());
  }
  result.check = ok ? "OK" : "MISMATCH";
  result.check_detail = result.check + " " + detail;
}

}  // namespace

status_or<bench_result> run_workload(caf::actor_system& system, const std::vector<router_actor>& targets,
                                     const bench_options& options) {
  bench_options o = options;
  if (status valid = check_options(targets, o); !valid.ok()) return valid;
  if (o.seed == 0) o.seed = static_cast<uint64_t>(steady_now_ns()) | 1;
  client_options facade_options;
  facade_options.timeout_ms = o.timeout_ms;
  client db{system, targets.front(), facade_options};
  bench_result result;
  const int64_t preload_start = steady_now_ns();
  auto prepared = prepare(system, targets, db, o, o.workload == workload_kind::preload);
  if (!prepared.ok()) return prepared.error();
  result.preloaded = *prepared;
  result.preload_s = static_cast<double>(steady_now_ns() - preload_start) / 1e9;
  if (o.workload == workload_kind::preload) return result;

  const auto state = check_state(o);
  uint64_t before = 0;
  if (state) {
    auto counted = count_of(db, jobs_collection, job_state_range(*state));
    if (!counted.ok()) return counted.error();
    before = *counted;
  }
  auto tally = closed_loop(system, targets, o);
  if (!tally.ok()) return tally.error();
  result.total = std::move(tally).value();
  result.window_s = o.duration_s;
  if (state) {
    auto counted = count_of(db, jobs_collection, job_state_range(*state));
    if (!counted.ok()) return counted.error();
    fill_check(result, o, before, *counted);
  }
  return result;
}

}  // namespace velocity::bench
