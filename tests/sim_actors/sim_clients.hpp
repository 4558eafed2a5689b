// The clients of a level-(b) run. They enter through the routers
// (router_actor) of nodes that are up, as clients of a load balancer would,
// and record what they saw in the world's observations (sim_world.hpp).
//
// Collections: "registers" (documents r0..r<keys-1>, field "v") for the
// strong register history the linearizability checker replays, and "jobs"
// (field "state", index by_state) for inserts and claims.
//
// A workload client runs one operation at a time while world::clients_active:
// reads (get) at every level, updates, compare-and-swaps, inserts and
// deletes of registers (strong or quorum), eventual updates of registers of
// their own (e0..: an eventual write may be lost, so it stays out of the
// linearizable history), job inserts and claims. Local, eventual and quorum
// reads are recorded apart (world::seen.replica_reads) for their own checks. Every written value is unique
// ("c<client>.<n>"), so a read names the write it saw and a log entry names
// its request. Recording (one register per document): a definite answer is a
// completed operation (an update as a write, a delete as a write of
// "absent", an insert as a CAS from "absent", not_found as a read of
// "absent"); unavailable / not_leader / overloaded promise "never applied"
// (kept for the log check, left out of the history); any other failure
// (timeouts, a crashed router) is an operation of unknown outcome. An answer
// carrying a document other than the one the request named is a failure on
// the spot (a reply delivered to the wrong request).
//
// A script runs a fixed list of commands through random live routers, each
// retried until it gets an answer it accepts: the setup (schemas, registers)
// and the final reads after healing.
//
// Actor safety: each client's state is its own; the world is shared on the
// test coordinator's one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "command/commands.hpp"
#include "tests/sim_actors/sim_world.hpp"

namespace velocity::simb {

inline constexpr const char* register_collection = "registers";
inline constexpr const char* register_field = "v";
inline constexpr const char* jobs_collection = "jobs";
// The router's deadline for one request, and the client's own (longer) one.
inline constexpr uint32_t client_request_timeout_ms = 2000;
inline constexpr uint32_t client_wait_timeout_ms = 3000;

caf::actor spawn_client(caf::actor_system& system, world& w, uint64_t client);

struct script_step {
  enum class kind : uint8_t { setup, final_read, final_job_check };
  kind type = kind::setup;
  command cmd;
  std::string key;  // final_read: the register; final_job_check: the job id
};

// Sets *done once every step was accepted.
caf::actor spawn_script(caf::actor_system& system, world& w, std::vector<script_step> steps,
                        bool* done);

std::string register_key(size_t k);  // "r0", "r1", ...
// Registers only eventual writes change: "e0", "e1", ...
std::string eventual_register_key(size_t k);
std::vector<command> setup_commands(size_t keys);
command read_register(const std::string& key);
command get_job(const std::string& id);

}  // namespace velocity::simb
