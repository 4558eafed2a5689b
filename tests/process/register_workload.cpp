// Implementation of register_workload.hpp.
//
// Thread safety: run_register_thread touches only its own register_thread and
// clients, and reads run's flags.
#include "register_workload.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <thread>

namespace velocity::process_test {
namespace {

using sim::operation;

// A request forwarded to a leader that dies (or is cut off) before answering
// has an unknown outcome and is answered only at this deadline, so it bounds
// how long a thread is stuck, and with it the write gap the test measures.
// About one election timeout: requests that arrive during an election may
// time out instead, which only adds operations of unknown outcome.
constexpr uint32_t register_timeout_ms = 2000;
// After an error: do not hammer a node that is failing.
constexpr uint32_t error_pause_ms = 50;
// Bounds a runaway loop; the test stops threads long before.
constexpr uint64_t operations_max = 100000;
constexpr const char* field = "v";

std::optional<std::string> field_value(const document& doc) {
  auto found = doc.fields.find(field);
  if (found == doc.fields.end() || !found->second.is_string()) return std::nullopt;
  return found->second.as_string();
}

void note_failure(register_thread& state, const status& st) {
  ++state.failures;
  if (state.first_error.empty()) state.first_error = st.to_string();
  std::this_thread::sleep_for(std::chrono::milliseconds{error_pause_ms});
}

operation started(const register_run& run, operation::kind type, uint64_t client,
                  const std::string& key) {
  operation op;
  op.type = type;
  op.client = client;
  op.key = key;
  op.invoke_time = since_origin_ns(run);
  return op;
}

void do_write(client& c, register_run& run, register_thread& state, const std::string& key,
              std::string new_value) {
  auto op = started(run, operation::kind::write, state.thread_index, key);
  op.value = new_value;
  auto stored = c.update(register_collection, key, value_map{{field, std::move(new_value)}});
  op.complete_time = since_origin_ns(run);
  op.completed = stored.ok();
  state.history.push_back(std::move(op));
  if (!stored.ok()) note_failure(state, stored.error());
}

void do_cas(client& c, register_run& run, register_thread& state, const std::string& key,
            std::optional<std::string> expected, std::string new_value) {
  auto op = started(run, operation::kind::cas, state.thread_index, key);
  op.expected = expected;
  op.value = new_value;
  cmd::compare_and_swap cas;
  cas.collection = register_collection;
  cas.id = key;
  cas.condition.conditions.push_back(
      filter_condition{field, filter_op::eq, expected ? value{*expected} : value{}});
  cas.fields = value_map{{field, std::move(new_value)}};
  auto stored = c.compare_and_swap(std::move(cas));
  op.complete_time = since_origin_ns(run);
  bool refused = !stored.ok() && stored.error().code() == error_code::condition_failed;
  op.completed = stored.ok() || refused;
  op.ok = stored.ok();
  state.history.push_back(std::move(op));
  if (!stored.ok() && !refused) note_failure(state, stored.error());
}

// A node not marked down, or nullopt when all are.
std::optional<size_t> pick_node(const register_run& run, std::mt19937_64& random) {
  auto first = random() % run.endpoints.size();
  for (size_t step = 0; step < run.endpoints.size(); ++step) {
    auto n = (first + step) % run.endpoints.size();
    if (!run.node_down[n].load()) return n;
  }
  return std::nullopt;
}

}  // namespace

int64_t since_origin_ns(const register_run& run) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              run.origin)
      .count();
}

bool create_registers(client& c, register_run& run, std::vector<operation>& history,
                      std::string& error) {
  collection_schema schema;
  schema.collection = register_collection;
  auto created = c.create_schema(schema);
  if (!created.ok() && created.error().code() != error_code::already_exists) {
    error = "create schema: " + created.error().to_string();
    return false;
  }
  for (const auto& key : run.keys) {
    auto op = started(run, operation::kind::write, 0, key);
    op.value = "init";
    auto inserted = c.insert(register_collection, value_map{{field, "init"}}, key);
    op.complete_time = since_origin_ns(run);
    if (!inserted.ok()) {
      error = "insert " + key + ": " + inserted.error().to_string();
      return false;
    }
    history.push_back(std::move(op));
  }
  return true;
}

operation read_register(client& c, const register_run& run, uint64_t client_index,
                        const std::string& key) {
  auto op = started(run, operation::kind::read, client_index, key);
  auto got = c.get(register_collection, key);
  op.complete_time = since_origin_ns(run);
  if (got.ok()) op.value = field_value(got.value());
  else op.completed = got.error().code() == error_code::not_found;  // absent: nullopt
  return op;
}

void run_register_thread(caf::actor_system& system, register_run& run, uint64_t seed,
                         register_thread& state) {
  std::vector<std::unique_ptr<client>> clients;
  for (const auto& endpoint : run.endpoints) {
    client_options options;
    options.endpoints = {endpoint};
    options.timeout_ms = register_timeout_ms;
    auto connected = client::connect(system, options);
    if (!connected.ok()) {
      state.first_error = "connect " + endpoint + ": " + connected.error().to_string();
      return;
    }
    clients.push_back(std::move(connected.value()));
  }
  std::mt19937_64 random{seed};
  std::map<std::string, std::optional<std::string>> last_seen;  // for CAS expectations
  for (uint64_t n = 0; n < operations_max && !run.stop.load(); ++n) {
    auto node = pick_node(run, random);
    if (!node) {
      std::this_thread::sleep_for(std::chrono::milliseconds{error_pause_ms});
      continue;
    }
    auto& c = *clients[*node];
    const auto& key = run.keys[random() % run.keys.size()];
    auto value = "t" + std::to_string(state.thread_index) + "-" + std::to_string(n);
    auto dice = random() % 10;
    if (dice < 4) {
      auto op = read_register(c, run, state.thread_index, key);
      if (op.completed) last_seen[key] = op.value;
      else note_failure(state, status{error_code::unavailable, "read failed"});
      state.history.push_back(std::move(op));
    } else if (dice < 7) {
      do_write(c, run, state, key, std::move(value));
    } else {
      auto seen = last_seen.find(key);
      do_cas(c, run, state, key, seen == last_seen.end() ? "init" : seen->second,
             std::move(value));
    }
  }
}

uint64_t longest_write_gap_ms(const std::vector<operation>& history,
                              const std::vector<std::string>& keys, int64_t from_ns,
                              int64_t to_ns) {
  int64_t longest_ns = 0;
  for (const auto& key : keys) {
    std::vector<int64_t> acked{from_ns, to_ns};
    for (const auto& op : history) {
      bool wrote = op.completed && (op.type == operation::kind::write ||
                                    (op.type == operation::kind::cas && op.ok));
      if (wrote && op.key == key && op.complete_time > from_ns && op.complete_time < to_ns)
        acked.push_back(op.complete_time);
    }
    std::sort(acked.begin(), acked.end());
    for (size_t i = 1; i < acked.size(); ++i)
      longest_ns = std::max(longest_ns, acked[i] - acked[i - 1]);
  }
  return static_cast<uint64_t>(longest_ns / 1'000'000);
}

}  // namespace velocity::process_test
