// A register workload for cluster process tests: threads that read, write and
// compare-and-swap the field "v" of a few pre-created documents through every
// node of a cluster, recording a history for tests/sim's linearizability
// checker (one register per document id).
//
// Recording: invoke and complete times come from one steady clock (ns since
// the workload's origin). A write or CAS that fails with anything but a
// definite answer (condition_failed) has an unknown outcome: completed =
// false. A failed read is dropped by the checker. Every written value is
// unique ("t<thread>-<n>"), so a read names the write it saw.
//
// A node marked down is not asked (clients of a load balancer that knows a
// node is gone), so a killed node does not flood the history with requests
// whose outcome is unknown only formally.
//
// Thread safety: each register_thread owns its history while it runs; read
// histories only after the threads are joined. node_down flags are atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "tests/sim/linearizability.hpp"
#include "velocity/client.hpp"

namespace velocity::process_test {

inline constexpr const char* register_collection = "registers";

struct register_run {
  std::vector<std::string> endpoints;        // one per node
  std::vector<std::string> keys;             // pre-created documents
  std::chrono::steady_clock::time_point origin{};
  std::unique_ptr<std::atomic<bool>[]> node_down;  // one flag per endpoint
  std::atomic<bool> stop{false};
};

struct register_thread {
  uint64_t thread_index = 0;
  std::vector<sim::operation> history;
  uint64_t failures = 0;
  std::string first_error;
};

// Nanoseconds since run.origin.
int64_t since_origin_ns(const register_run& run);

// Creates the collection and each key with v = "init", recording those
// inserts as completed writes of client 0. False (with a message) on failure.
bool create_registers(client& c, register_run& run, std::vector<sim::operation>& history,
                      std::string& error);

// The loop of one thread until run.stop: random reads (40%), writes (30%) and
// CAS (30%) on random keys through random nodes not marked down.
void run_register_thread(caf::actor_system& system, register_run& run, uint64_t seed,
                         register_thread& state);

// One strong read of key through c, recorded as client `client_index`.
sim::operation read_register(client& c, const register_run& run, uint64_t client_index,
                             const std::string& key);

// For each key, the longest time in [from_ns, to_ns] without an acknowledged
// write or successful CAS (the start of the window counts as a write). The
// maximum over keys, in ms.
uint64_t longest_write_gap_ms(const std::vector<sim::operation>& history,
                              const std::vector<std::string>& keys, int64_t from_ns, int64_t to_ns);

}  // namespace velocity::process_test
