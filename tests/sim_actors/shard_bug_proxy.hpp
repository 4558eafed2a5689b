// Injected shell bugs for the level-(b) checkers' self-test: a proxy with
// the shard actor's interface, placed between a node's router / peer mux and
// one real shard actor. Without a bug the harness does not spawn it at all
// (the router and mux talk to the shards as in production); with one it
// forwards everything and misbehaves in one way (cluster_sim.hpp,
// injected_bug):
//   ack_before_apply         a write is answered ok once it is handed to the
//                            shard (the shard's real answer is ignored);
//   read_without_read_index  a get is answered from this replica's engine at
//                            once, leader or not, without a ReadIndex round;
//   propose_twice            every write is handed to the shard twice; the
//                            first answer goes back;
//   cas_fail_without_read_index  a CAS that this replica's engine refuses
//                            (state_machine::certain_failure) fails at once,
//                            leader or not: the shard's failed-write-as-read
//                            path without its ReadIndex.
// The bug fires only while *armed holds (the harness arms it for the chaos
// phase), so the setup's schemas and registers exist as in a correct run.
// The bugs live here, in the test harness, so production code has no switch
// that could enable them.
//
// Actor safety: the proxy's state is its own.
#pragma once

#include <cstdint>
#include <memory>

#include "actors/shard.hpp"
#include "caf/actor_system.hpp"
#include "storage/engine.hpp"
#include "tests/sim_actors/cluster_sim.hpp"

namespace velocity::simb {

shard_actor spawn_shard_bug_proxy(caf::actor_system& system, shard_actor shard,
                                  std::shared_ptr<engine> disk, uint32_t shard_id,
                                  injected_bug bug, const bool* armed);

}  // namespace velocity::simb
