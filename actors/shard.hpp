// The shard actor: one per shard, the only owner of that shard's document
// state machine over the node's shared engine.
//
// Write path, shaped as Raft will need it: propose (assign the next log index)
// -> apply (one engine batch, not synced) -> durable (persistent mode: the log
// writer's group commit confirms the fsync) -> reply. Pipelined: the shard
// keeps applying while earlier writes wait for their fsync, and releases
// replies strictly in log order as syncs complete. In memory mode nothing is
// ever synced and replies go out at once. A read is answered at once unless
// replies are still waiting for durability; then it waits behind them, so a
// client never sees a write that could still be lost.
//
// Actor safety: state is touched only by the shard actor.
// Invariants: pending_ is sorted by index and never longer than
// shard_backlog_max (beyond it the shard answers overloaded); durable_index_
// <= state machine applied index; after an engine write fails the shard
// answers every request with unavailable (the state machine must be reopened).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "actors/environment.hpp"
#include "actors/log_writer.hpp"
#include "caf/actor_system.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "command/commands.hpp"
#include "protocols/error.hpp"
#include "schema/schema.hpp"
#include "storage/engine.hpp"

namespace velocity {

// Replies waiting for an fsync per shard. Bounds memory and latency under
// overload; the client sees overloaded and backs off.
inline constexpr size_t shard_backlog_max = 4096;

using apply_atom = caf::atom_constant<caf::atom("apply")>;
using schema_atom = caf::atom_constant<caf::atom("schema")>;
using shard_info_atom = caf::atom_constant<caf::atom("shard_info")>;

struct shard_request {
  command cmd;
};

struct shard_reply {
  reply result;
};

struct schema_reply {
  std::optional<collection_schema> schema;  // nullopt: no such collection
};

struct shard_info {
  uint32_t shard_id = 0;
  uint64_t applied_index = 0;
  uint64_t durable_index = 0;  // memory mode: equals applied_index
  size_t backlog = 0;          // replies waiting for durability
  bool failed = false;
};

using shard_actor =
    caf::typed_actor<caf::replies_to<apply_atom, shard_request>::with<shard_reply>,
                     caf::replies_to<schema_atom, std::string>::with<schema_reply>,
                     caf::replies_to<shard_info_atom>::with<shard_info>>;

struct shard_options {
  uint32_t shard_id = 0;
  std::shared_ptr<engine> engine_;  // shared by every shard of the node
  // Persistent mode: the group-commit actor. A null handle means memory mode
  // (answer without waiting for durability).
  log_writer_actor log_writer;
};

// Opens the shard's state machine (recovering its applied index and schemas
// from the engine) and spawns the actor. The engine's error if recovery fails.
status_or<shard_actor> spawn_shard(caf::actor_system& system, shard_options options);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::shard_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::shard_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::schema_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::shard_info)
