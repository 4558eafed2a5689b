// The log writer: the one actor that blocks on the disk. Shards write their
// batches to the shared engine without syncing, then ask the log writer to
// make them durable. Group commit: the first sync request of a round makes
// the writer send itself a flush message; every request that reaches the
// mailbox before that flush is covered by the same engine::sync() and answered
// together. So N shards with M writes in flight cost about one fsync per round,
// not N * M.
//
// Spawned detached (its own thread), so an fsync never stalls the scheduler.
//
// Invariants: a sync request is answered only after an engine::sync() that
// started after the request arrived has returned (so it covers every write the
// requester made before asking); requests are answered in arrival order;
// pending_ never exceeds log_writer_pending_max (beyond: overloaded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "actors/environment.hpp"
#include "actors/metrics.hpp"
#include "caf/actor_system.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity {

// Requests waiting for one fsync. Shards bound their own backlogs, so this is
// a safety net against a runaway caller, not a tuning knob.
inline constexpr size_t log_writer_pending_max = 1 << 16;

using sync_atom = caf::atom_constant<caf::atom("sync")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using lw_stats_atom = caf::atom_constant<caf::atom("lw_stats")>;

// The answer to a sync request: ok once durable, or the engine's error.
struct sync_result {
  status st;
};

struct log_writer_stats {
  uint64_t batches = 0;        // fsyncs run (one per group)
  uint64_t requests = 0;       // sync requests answered
  uint64_t fsync_ns_total = 0; // summed fsync latency (monotonic clock)
  uint64_t fsync_ns_max = 0;
  uint64_t failures = 0;       // fsyncs that returned an error
};

using log_writer_actor =
    caf::typed_actor<caf::replies_to<sync_atom>::with<sync_result>,
                     caf::reacts_to<flush_atom>,
                     caf::replies_to<lw_stats_atom>::with<log_writer_stats>>;

// Spawns the log writer over `e` (which it keeps alive). detached = false
// only for the deterministic test coordinator, which runs every actor itself.
// `metrics` (optional) receives the requests per fsync, the fsync latency and
// the failed fsyncs.
log_writer_actor spawn_log_writer(caf::actor_system& system, std::shared_ptr<engine> e,
                                  std::shared_ptr<environment> env, bool detached = true,
                                  std::shared_ptr<metrics_registry> metrics = nullptr);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::sync_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::log_writer_stats)
