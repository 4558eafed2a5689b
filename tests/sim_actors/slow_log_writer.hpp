// Fsync latency for a level-(b) run: a proxy with the log writer's interface
// between a node's shards and its real log writer (actors/log_writer.hpp).
// Each sync request waits a delay drawn from the run's generator (0 to
// world::fsync_ns_max) before it is passed on, so a node crash can fall
// between a shard's engine write and its fsync, as on a real disk; the real
// log writer's group commit then covers every write made before it syncs.
// Requests are passed on in arrival order whatever their delays (the real
// writer answers in arrival order too).
//
// Actor safety: the proxy's state is its own; the world is shared on the
// test coordinator's one thread.
#pragma once

#include "actors/log_writer.hpp"
#include "caf/actor_system.hpp"
#include "tests/sim_actors/sim_world.hpp"

namespace velocity::simb {

log_writer_actor spawn_slow_log_writer(caf::actor_system& system, world& w,
                                       log_writer_actor real);

}  // namespace velocity::simb
