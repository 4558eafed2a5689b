// Implementation of workload.hpp: writer threads over the blocking client
// facade and the checker over paged lists of the collection.
//
// Thread safety: run_writer touches only its own writer_state and client.
#include "workload.hpp"

#include <chrono>
#include <iostream>
#include <thread>

namespace velocity::process_test {
namespace {

// A writer writes at most this many times per round; rounds are stopped by the
// parent long before on a healthy machine, this only bounds a runaway loop.
constexpr uint64_t writes_per_round_max = 200000;
// After an error the server is probably gone: do not spin against it.
constexpr uint32_t error_pause_ms = 20;
// Writers' own deadline: long enough for a busy fsync, short enough that a
// dead server does not hold a round up.
constexpr uint32_t writer_timeout_ms = 3000;
constexpr uint32_t list_page_documents = 1000;
constexpr int list_pages_max = 1000;
// One insert per this many writes; the rest update the writer's documents.
constexpr uint64_t insert_one_in = 3;
constexpr size_t problems_printed_max = 20;
constexpr uint32_t checker_timeout_ms = 10000;

std::string describe(const status& st) { return st.to_string(); }

void record_failure(writer_state& state, const status& st) {
  ++state.failed_writes;
  if (state.first_error.empty()) state.first_error = describe(st);
  std::this_thread::sleep_for(std::chrono::milliseconds{error_pause_ms});
}

void insert_one(client& c, writer_state& state) {
  std::string id = "w" + std::to_string(state.writer_index) + "-" + std::to_string(state.next_id++);
  auto& expected = state.docs[id];
  expected.attempts = 1;
  value_map fields{{"w", int64_t{1}}, {"writer", int64_t{state.writer_index}}};
  auto stored = c.insert(workload_collection, std::move(fields), id);
  if (!stored.ok()) return record_failure(state, stored.error());
  expected.acked = stored->version;
  expected.last_acked_attempt = 1;
  state.ids.push_back(id);
  ++state.acked_writes;
}

void update_one(client& c, writer_state& state, const std::string& id) {
  auto& expected = state.docs[id];
  auto attempt = ++expected.attempts;
  auto stored = c.update(workload_collection, id, value_map{{"w", static_cast<int64_t>(attempt)}});
  if (!stored.ok()) return record_failure(state, stored.error());
  expected.acked = stored->version;
  expected.last_acked_attempt = attempt;
  ++state.acked_writes;
}

// Every stored document by id. unknown_collection reads as an empty
// collection (a server that lost everything); other errors are problems.
bool read_all(client& c, std::map<std::string, document>& stored, std::vector<std::string>& problems) {
  list_options options;
  options.limit = list_page_documents;
  for (int page = 0; page < list_pages_max; ++page) {
    auto listed = c.list(workload_collection, options);
    if (!listed.ok()) {
      if (listed.error().code() == error_code::unknown_collection) {
        problems.push_back("collection lost: " + describe(listed.error()));
        return true;
      }
      problems.push_back("cannot list: " + describe(listed.error()));
      return false;
    }
    for (auto& doc : listed->docs) stored.emplace(doc.id, std::move(doc));
    if (listed->next_cursor.empty()) return true;
    options.cursor = listed->next_cursor;
  }
  problems.push_back("more than " + std::to_string(list_pages_max) + " pages");
  return false;
}

uint64_t attempt_field(const document& doc) {
  auto found = doc.fields.find("w");
  if (found == doc.fields.end() || !found->second.is_int() || found->second.as_int() < 0) return 0;
  return static_cast<uint64_t>(found->second.as_int());
}

void check_one(const std::string& id, const doc_expectation& e,
               const std::map<std::string, document>& stored, std::vector<std::string>& problems) {
  auto found = stored.find(id);
  if (found == stored.end()) {
    if (e.acked > 0)
      problems.push_back("lost: " + id + " acknowledged at version " + std::to_string(e.acked) +
                         " is missing");
    return;
  }
  auto version = found->second.version;
  auto w = attempt_field(found->second);
  auto facts = id + " (acked " + std::to_string(e.acked) + " at attempt " +
               std::to_string(e.last_acked_attempt) + ", attempts " + std::to_string(e.attempts) +
               "; stored version " + std::to_string(version) + ", w " + std::to_string(w) + ")";
  if (version < e.acked) problems.push_back("lost write: " + facts);
  if (version > e.attempts) problems.push_back("version never attempted: " + facts);
  if (w > e.attempts || w < version || w < e.last_acked_attempt)
    problems.push_back("content does not match any attempted write: " + facts);
  if (e.attempts == e.last_acked_attempt && (version != e.acked || w != e.last_acked_attempt))
    problems.push_back("no write after the acknowledgement, yet state differs: " + facts);
}

}  // namespace

status create_workload_schema(client& c) {
  collection_schema schema;
  schema.collection = workload_collection;
  auto created = c.create_schema(schema);
  if (created.ok() || created.error().code() == error_code::already_exists) return {};
  return created.error();
}

void run_writer(caf::actor_system& system, const std::string& endpoint, uint64_t seed,
                const std::atomic<bool>& stop, writer_state& state) {
  client_options options;
  options.endpoints = {endpoint};
  options.timeout_ms = writer_timeout_ms;
  auto connected = client::connect(system, options);
  if (!connected.ok()) {
    state.first_error = "connect: " + describe(connected.error());
    return;
  }
  auto& c = *connected.value();
  std::mt19937_64 random{seed};
  for (uint64_t n = 0; n < writes_per_round_max && !stop.load(); ++n) {
    if (state.ids.empty() || random() % insert_one_in == 0)
      insert_one(c, state);
    else
      update_one(c, state, state.ids[random() % state.ids.size()]);
  }
}

std::vector<std::string> check_recovered(client& c, const expectation_map& expected) {
  std::vector<std::string> problems;
  std::map<std::string, document> stored;
  if (!read_all(c, stored, problems)) return problems;
  for (const auto& [id, e] : expected) check_one(id, e, stored, problems);
  for (const auto& [id, doc] : stored)
    if (!expected.contains(id))
      problems.push_back("unknown document " + id + " at version " + std::to_string(doc.version) +
                         " was never written");
  return problems;
}

bool settle_expectations(client& c, std::vector<writer_state>& writers) {
  std::vector<std::string> problems;
  std::map<std::string, document> stored;
  if (!read_all(c, stored, problems) || !problems.empty()) return false;
  for (auto& writer : writers) {
    writer.ids.clear();
    for (auto it = writer.docs.begin(); it != writer.docs.end();) {
      auto found = stored.find(it->first);
      if (found == stored.end()) {
        it = writer.docs.erase(it);
        continue;
      }
      auto w = attempt_field(found->second);
      it->second = doc_expectation{w, found->second.version, w};
      writer.ids.push_back(it->first);
      ++it;
    }
  }
  return true;
}

void run_round(caf::actor_system& system, const std::string& endpoint, uint64_t seed,
               std::vector<writer_state>& writers, uint32_t run_ms,
               const std::function<void()>& interrupt) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.reserve(writers.size());
  for (size_t i = 0; i < writers.size(); ++i)
    threads.emplace_back([&, i] { run_writer(system, endpoint, seed + i, stop, writers[i]); });
  std::this_thread::sleep_for(std::chrono::milliseconds{run_ms});
  interrupt();
  stop = true;
  for (auto& thread : threads) thread.join();
}

uint64_t acked_writes(const std::vector<writer_state>& writers) {
  uint64_t total = 0;
  for (const auto& writer : writers) total += writer.acked_writes;
  return total;
}

status_or<std::unique_ptr<client>> connect_checker(caf::actor_system& system,
                                                   const std::string& endpoint) {
  client_options options;
  options.endpoints = {endpoint};
  options.timeout_ms = checker_timeout_ms;
  return client::connect(system, options);
}

void print_problems(const std::vector<std::string>& problems) {
  for (size_t i = 0; i < problems.size() && i < problems_printed_max; ++i)
    std::cout << "  problem: " << problems[i] << '\n';
  if (problems.size() > problems_printed_max)
    std::cout << "  ... and " << problems.size() - problems_printed_max << " more\n";
  std::cout << std::flush;
}

expectation_map merged(const std::vector<writer_state>& writers) {
  expectation_map out;
  for (const auto& writer : writers) out.insert(writer.docs.begin(), writer.docs.end());
  return out;
}

}  // namespace velocity::process_test
