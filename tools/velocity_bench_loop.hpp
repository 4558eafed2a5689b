// velocity-bench internals: the closed-loop client actors and the pipelined
// preload actors, plus the documents and schemas both write.
//
// Actor safety: each actor owns its state; the plan is shared read-only
// (shared_ptr<const>). An actor sends its client_tally to the collector exactly
// once, when it is done, then quits.
// Invariants: a closed-loop client has at most one operation outstanding (one
// request at a time, cas retries included); a preload actor at most its
// in_flight_max requests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "command/commands.hpp"
#include "schema/schema.hpp"
#include "tools/velocity_bench.hpp"

namespace velocity::bench {

// Steady-clock nanoseconds: the only clock of the measurement.
int64_t steady_now_ns();

// Everything a closed-loop client needs, shared by all clients of a run.
struct loop_plan {
  bench_options options;
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  value kv_value;        // the value every put / cas writes (value_bytes long)
  std::string run_tag;   // makes submitted ids unique across runs
};

// Ids of the preloaded documents (README: 100k keys, w-1.., r-1..).
std::string kv_id(uint64_t key);
std::string cas_id(uint64_t key);
std::string waiting_job_id(uint64_t n);  // "w-<n>", n from 1
std::string running_job_id(uint64_t n);  // "r-<n>", n from 1

collection_schema kv_schema();
collection_schema cas_schema();
collection_schema jobs_schema();

// A job document's fields: ~300 bytes of payload like the PostgreSQL rows.
value_map job_fields(int64_t state, int64_t priority_time_ns, uint64_t n,
                     const std::string& assigned_executor);
// [colony-0, et-0, state]: the queue index prefix of one state.
index_range job_state_range(int64_t state);

// Spawns one closed-loop client; it starts at once and sends its
// client_tally to `collector` when its next operation would start after the
// window end.
caf::actor spawn_loop_client(caf::actor_system& system, std::shared_ptr<const loop_plan> plan,
                             router_actor target, caf::actor collector, uint32_t index);

// Spawns a preload actor that sends make(i) for i = first, first + stride, ...
// below count, pipelined, and sends a client_tally (successes_total = written;
// already_exists counts as written) to `collector` when all are answered.
using command_maker = std::function<command(uint64_t)>;
caf::actor spawn_preloader(caf::actor_system& system, command_maker make, uint64_t first,
                           uint64_t stride, uint64_t count, uint32_t timeout_ms,
                           uint32_t in_flight_max, router_actor target, caf::actor collector);

}  // namespace velocity::bench

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::bench::client_tally)
