// velocity-bench: the closed-loop client actors (one operation outstanding
// each, latency per operation, the measured window) and the pipelined preload
// actors; the documents and schemas of the workloads.
//
// Actor safety: see velocity_bench_loop.hpp. Clients never block: every
// request continues in its response handler.
#include "tools/velocity_bench_loop.hpp"

#include <chrono>
#include <cstdio>
#include <random>
#include <utility>

#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "protocols/check.hpp"
#include "schema/json.hpp"

namespace velocity::bench {
namespace {

using start_atom = caf::atom_constant<caf::atom("start")>;

// Requests to the target carry no CAF timeout: the client actor (or a
// node's router) answers every request by its own deadline, and a CAF timeout
// per request would cost two events on CAF's clock thread.

constexpr std::string_view job_colony = "colony-0";
constexpr std::string_view job_executor_type = "et-0";
constexpr size_t job_payload_padding_bytes = 42;

std::string numbered(const char* format, uint64_t n) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, static_cast<unsigned long long>(n));
  return buffer;
}

collection_schema schema_from_text(std::string_view text) {
  auto parsed = parse_json(text);
  VELOCITY_CHECK(parsed.ok());
  auto schema = schema_from_value(parsed.value());
  VELOCITY_CHECK(schema.ok());
  return std::move(schema).value();
}

// The shape of pg/schema.sql's bench_payload(n), as a document value.
value job_payload(uint64_t n) {
  auto seed = static_cast<int64_t>(n);
  value_map conditions{{"colonyname", value{job_colony}}, {"executortype", value{job_executor_type}},
                       {"nodes", value{1}}, {"cpu", value{"1000m"}}, {"mem", value{"1Gi"}}};
  value_map payload{
      {"conditions", value{std::move(conditions)}},
      {"funcname", value{"compute"}},
      {"args", value{value_list{value{std::to_string(n)}, value{"input-data-0123456789"}}}},
      {"kwargs", value{value_map{{"seed", value{seed}}}}},
      {"maxwaittime", value{-1}},
      {"maxexectime", value{60}},
      {"maxretries", value{3}},
      {"label", value{"bench"}},
      {"env", value{value_map{{"PAYLOAD", value{std::string(job_payload_padding_bytes, 'x')}}}}},
  };
  return value{std::move(payload)};
}

enum class outcome : uint8_t { success, failed, error, retry };

struct loop_state {
  std::shared_ptr<const loop_plan> plan;
  router_actor target;
  caf::actor collector;
  uint32_t index = 0;
  std::mt19937_64 rng;
  std::vector<uint64_t> cas_versions;  // per client: the version last seen per hot key
  uint64_t sequence = 0;               // submit / close: this client's operation counter
  int64_t op_start_ns = 0;
  uint32_t op_requests = 0;
  uint64_t op_key = 0;
  client_tally tally;
};

using loop_actor = caf::stateful_actor<loop_state>;

client_request make_request(const loop_state& st, command body, consistency level) {
  client_request request;
  request.level = level;
  request.timeout_ms = st.plan->options.timeout_ms;
  request.body = std::move(body);
  return request;
}

uint64_t random_below(loop_state& st, uint64_t bound) {
  return std::uniform_int_distribution<uint64_t>{0, bound - 1}(st.rng);
}

client_request cas_request(loop_state& st) {
  cmd::compare_and_swap c;
  c.collection = std::string{cas_collection};
  c.id = cas_id(st.op_key);
  c.expected_version = st.cas_versions[st.op_key];
  c.fields = value_map{{"v", st.plan->kv_value}};
  c.merge = false;
  return make_request(st, command{std::move(c)}, consistency::strong);
}

// The first request of a new operation.
client_request first_request(loop_state& st) {
  const bench_options& o = st.plan->options;
  switch (o.workload) {
    case workload_kind::put:
      st.op_key = random_below(st, o.keys);
      return make_request(st, command{cmd::replace{std::string{kv_collection}, kv_id(st.op_key),
                                                   value_map{{"v", st.plan->kv_value}}, {}, 0}},
                          o.level);
    case workload_kind::get:
      st.op_key = random_below(st, o.keys);
      return make_request(st, command{cmd::get{std::string{kv_collection}, kv_id(st.op_key)}}, o.level);
    case workload_kind::cas:
      st.op_key = random_below(st, o.cas_keys);
      return cas_request(st);
    case workload_kind::claim: {
      cmd::claim c{std::string{jobs_collection}, job_state_range(job_state_waiting), {},
                   value_map{{"state", value{job_state_running}},
                             {"assigned_executor", value{"exec-" + std::to_string(st.index)}}},
                   0};
      return make_request(st, command{std::move(c)}, consistency::strong);
    }
    case workload_kind::submit: {
      const uint64_t n = ++st.sequence;
      auto now = std::chrono::system_clock::now().time_since_epoch();
      auto fields = job_fields(job_state_waiting,
                               std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(), n, {});
      std::string id = "s-" + st.plan->run_tag + "-" + std::to_string(st.index) + "-" + std::to_string(n);
      return make_request(st, command{cmd::insert{std::string{jobs_collection}, std::move(id),
                                                  std::move(fields), 0}},
                          o.level);
    }
    case workload_kind::close: {
      // Client c closes r-(c+1), r-(c+1+clients), ...: no id is closed twice.
      const uint64_t n = st.index + 1 + uint64_t{o.clients} * st.sequence++;
      cmd::compare_and_swap c;
      c.collection = std::string{jobs_collection};
      c.id = running_job_id(n);
      c.condition.conditions.push_back({"state", filter_op::eq, value{job_state_running}});
      c.fields = value_map{{"state", value{job_state_closed}}};
      return make_request(st, command{std::move(c)}, consistency::strong);
    }
    case workload_kind::preload: break;
  }
  VELOCITY_CHECK(!"first_request called for the preload workload");
  return {};
}

// Judges a reply; on retry, `next` is the operation's next request.
outcome judge(loop_state& st, const client_response& response, client_request& next) {
  const reply& r = response.result;
  const error_code code = r.st.code();
  switch (st.plan->options.workload) {
    case workload_kind::put:
      if (code == error_code::not_found && st.op_requests == 1) {  // not preloaded: insert it
        next = make_request(st, command{cmd::insert{std::string{kv_collection}, kv_id(st.op_key),
                                                    value_map{{"v", st.plan->kv_value}}, 0}},
                            st.plan->options.level);
        return outcome::retry;
      }
      break;
    case workload_kind::cas:
      if (r.ok() && r.doc) st.cas_versions[st.op_key] = r.doc->version;
      if (code == error_code::version_conflict) {
        st.cas_versions[st.op_key] = r.current_version;
        if (st.op_requests >= cas_requests_per_op_max) return outcome::failed;
        next = cas_request(st);
        return outcome::retry;
      }
      break;
    case workload_kind::claim:
      if (r.ok() && !r.claimed) return outcome::failed;  // the queue was empty
      if (r.ok() && r.doc) st.tally.claimed_ids.push_back(r.doc->id);
      break;
    case workload_kind::close:
      if (code == error_code::condition_failed || code == error_code::not_found) return outcome::failed;
      break;
    default: break;
  }
  return r.ok() ? outcome::success : outcome::error;
}

void begin_operation(loop_actor* self);

void end_operation(loop_actor* self, outcome result, std::string error_text) {
  auto& st = self->state;
  const int64_t end_ns = steady_now_ns();
  if (result == outcome::success) ++st.tally.successes_total;
  if (in_window(st.op_start_ns, end_ns, st.plan->window_start_ns, st.plan->window_end_ns)) {
    if (result == outcome::success) {
      ++st.tally.ops;
      st.tally.latency.record_us(static_cast<uint64_t>((end_ns - st.op_start_ns) / 1000));
    } else if (result == outcome::failed) {
      ++st.tally.failed;
    } else {
      ++st.tally.errors;
    }
    if (result != outcome::error) st.tally.requests += st.op_requests;
  }
  if (result == outcome::error && st.tally.first_error.empty()) st.tally.first_error = std::move(error_text);
  begin_operation(self);
}

void send_request(loop_actor* self, client_request request) {
  auto& st = self->state;
  ++st.op_requests;
  self->request(st.target, caf::infinite, request_atom::value, std::move(request))
      .then(
          [self](const client_response& response) {
            client_request next;
            outcome result = judge(self->state, response, next);
            if (result == outcome::retry) {
              send_request(self, std::move(next));
              return;
            }
            end_operation(self, result, response.result.st.to_string());
          },
          [self](caf::error& err) { end_operation(self, outcome::error, self->system().render(err)); });
}

void begin_operation(loop_actor* self) {
  auto& st = self->state;
  st.op_start_ns = steady_now_ns();
  if (st.op_start_ns >= st.plan->window_end_ns) {
    self->send(st.collector, std::move(st.tally));
    self->quit();
    return;
  }
  st.op_requests = 0;
  send_request(self, first_request(st));
}

caf::behavior loop_client(loop_actor* self, std::shared_ptr<const loop_plan> plan, router_actor target,
                          caf::actor collector, uint32_t index) {
  auto& st = self->state;
  st.rng.seed(plan->options.seed * 1000003 + index);
  st.cas_versions.assign(plan->options.workload == workload_kind::cas ? plan->options.cas_keys : 0, 0);
  st.plan = std::move(plan);
  st.target = std::move(target);
  st.collector = std::move(collector);
  st.index = index;
  self->send(self, start_atom::value);
  return {[self](start_atom) { begin_operation(self); }};
}

struct preload_state {
  command_maker make;
  uint64_t next = 0;
  uint64_t stride = 1;
  uint64_t count = 0;
  uint32_t timeout_ms = 0;
  uint32_t in_flight = 0;
  uint32_t in_flight_max = 1;
  router_actor target;
  caf::actor collector;
  client_tally tally;
};

using preload_actor = caf::stateful_actor<preload_state>;

void preload_fill(preload_actor* self) {
  auto& st = self->state;
  while (st.in_flight < st.in_flight_max && st.next < st.count) {
    client_request request;
    request.timeout_ms = st.timeout_ms;
    request.body = st.make(st.next);
    st.next += st.stride;
    ++st.in_flight;
    self->request(st.target, caf::infinite, request_atom::value, std::move(request))
        .then(
            [self](const client_response& response) {
              auto& s = self->state;
              --s.in_flight;
              const error_code code = response.result.st.code();
              if (code == error_code::ok || code == error_code::already_exists) {
                ++s.tally.successes_total;
              } else {
                ++s.tally.errors;
                if (s.tally.first_error.empty()) s.tally.first_error = response.result.st.to_string();
              }
              preload_fill(self);
            },
            [self](caf::error& err) {
              auto& s = self->state;
              --s.in_flight;
              ++s.tally.errors;
              if (s.tally.first_error.empty()) s.tally.first_error = self->system().render(err);
              preload_fill(self);
            });
  }
  if (st.in_flight == 0 && st.next >= st.count) {
    self->send(st.collector, std::move(st.tally));
    self->quit();
  }
}

caf::behavior preloader(preload_actor* self, command_maker make, uint64_t first, uint64_t stride,
                        uint64_t count, uint32_t timeout_ms, uint32_t in_flight_max, router_actor target,
                        caf::actor collector) {
  auto& st = self->state;
  st.in_flight_max = in_flight_max;
  st.make = std::move(make);
  st.next = first;
  st.stride = stride;
  st.count = count;
  st.timeout_ms = timeout_ms;
  st.target = std::move(target);
  st.collector = std::move(collector);
  self->send(self, start_atom::value);
  return {[self](start_atom) { preload_fill(self); }};
}

}  // namespace

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string kv_id(uint64_t key) { return numbered("k%08llu", key); }
std::string cas_id(uint64_t key) { return numbered("c%08llu", key); }
std::string waiting_job_id(uint64_t n) { return numbered("w-%llu", n); }
std::string running_job_id(uint64_t n) { return numbered("r-%llu", n); }

collection_schema kv_schema() {
  return schema_from_text(R"({"collection": "bench_kv", "fields": {"v": {"type": "any"}}})");
}

collection_schema cas_schema() {
  return schema_from_text(R"({"collection": "bench_cas", "fields": {"v": {"type": "any"}}})");
}

collection_schema jobs_schema() {
  return schema_from_text(R"({"collection": "bench_jobs",
      "fields": {"colony": {"type": "string"}, "executor_type": {"type": "string"},
                 "state": {"type": "int"}, "priority_time": {"type": "timestamp"},
                 "assigned_executor": {"type": "string"}, "payload": {"type": "map"}},
      "indexes": [{"name": "queue", "fields": ["colony", "executor_type", "state", "priority_time"]}]})");
}

value_map job_fields(int64_t state, int64_t priority_time_ns, uint64_t n,
                     const std::string& assigned_executor) {
  value_map fields{{"colony", value{job_colony}},
                   {"executor_type", value{job_executor_type}},
                   {"state", value{state}},
                   {"priority_time", value{priority_time_ns}},
                   {"payload", job_payload(n)}};
  if (!assigned_executor.empty()) fields["assigned_executor"] = value{assigned_executor};
  return fields;
}

index_range job_state_range(int64_t state) {
  std::vector<value> prefix{value{job_colony}, value{job_executor_type}, value{state}};
  return index_range{std::string{jobs_queue_index}, prefix, prefix};
}

caf::actor spawn_loop_client(caf::actor_system& system, std::shared_ptr<const loop_plan> plan,
                             router_actor target, caf::actor collector, uint32_t index) {
  return system.spawn(loop_client, std::move(plan), std::move(target), std::move(collector), index);
}

caf::actor spawn_preloader(caf::actor_system& system, command_maker make, uint64_t first,
                           uint64_t stride, uint64_t count, uint32_t timeout_ms,
                           uint32_t in_flight_max, router_actor target, caf::actor collector) {
  return system.spawn(preloader, std::move(make), first, stride, count, timeout_ms, in_flight_max,
                      std::move(target), std::move(collector));
}

}  // namespace velocity::bench
