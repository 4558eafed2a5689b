// A closed-loop write workload against a velocityd and the durability checker
// that compares what the server holds with what it acknowledged.
//
// Model: each document id belongs to one writer thread, which numbers its
// write attempts on that id 1, 2, 3... and stores the attempt number in the
// field "w". Applied writes are a subsequence of the attempts, so a stored
// document must satisfy
//   acked <= version <= attempts,  version <= w <= attempts,  w >= last_acked_attempt,
// and when nothing was attempted after the last acknowledgement, version ==
// acked and w == last_acked_attempt. A document whose id was never attempted
// must not exist; an acknowledged one must.
//
// Thread safety: each writer owns its writer_state while running; merge the
// states into one expectation_map only after the writers are joined.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "velocity/client.hpp"

namespace velocity::process_test {

inline constexpr const char* workload_collection = "durable";

struct doc_expectation {
  uint64_t attempts = 0;            // writes sent (last attempt number)
  uint64_t acked = 0;               // version of the last acknowledged write (0 = none)
  uint64_t last_acked_attempt = 0;  // attempt number of that write
};

using expectation_map = std::map<std::string, doc_expectation>;

// One writer's documents and counters; kept across rounds.
struct writer_state {
  uint32_t writer_index = 0;
  uint64_t next_id = 0;
  std::vector<std::string> ids;  // documents this writer may update
  expectation_map docs;
  uint64_t acked_writes = 0;
  uint64_t failed_writes = 0;    // unknown outcome (error, timeout, connection lost)
  std::string first_error;       // for the log
};

// Creates the workload collection (already_exists is fine: a restarted
// persistent server keeps it).
status create_workload_schema(client& c);

// Runs writer `state` against endpoint until `stop` is set: inserts new
// documents and updates its own, recording every attempt and acknowledgement.
// Bounded by the stop flag and by writes_max. Never throws.
void run_writer(caf::actor_system& system, const std::string& endpoint, uint64_t seed,
                const std::atomic<bool>& stop, writer_state& state);

// Every violation of the model by what the server at `c` holds (empty = sound):
// lost acknowledged writes, versions never attempted, unknown documents.
std::vector<std::string> check_recovered(client& c, const expectation_map& expected);

// After a successful check: the recovered state becomes exact (attempts that
// were not applied are forgotten, documents that do not exist are dropped).
// Returns false if the server could not be read.
bool settle_expectations(client& c, std::vector<writer_state>& writers);

// One round: starts a thread per writer against endpoint, lets them run for
// run_ms, calls interrupt() while they are still writing (kill or terminate
// the server), then stops and joins them. Writer i draws from seed + i.
void run_round(caf::actor_system& system, const std::string& endpoint, uint64_t seed,
               std::vector<writer_state>& writers, uint32_t run_ms,
               const std::function<void()>& interrupt);

// Acknowledged writes summed over writers.
uint64_t acked_writes(const std::vector<writer_state>& writers);

// A client for checks (strong reads), or the connect error.
status_or<std::unique_ptr<client>> connect_checker(caf::actor_system& system,
                                                   const std::string& endpoint);

// Prints at most a screenful of problems, for the test log.
void print_problems(const std::vector<std::string>& problems);

// All documents of the writers, merged.
expectation_map merged(const std::vector<writer_state>& writers);

}  // namespace velocity::process_test
