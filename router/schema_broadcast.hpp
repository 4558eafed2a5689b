// Schema changes across the shards of one node, and the merge of the shards'
// replies into one reply.
//
// Every shard holds the same schemas (each shard validates its own documents,
// and a list merge needs the index definitions everywhere), so create, alter
// and drop go to every shard. One router sends them all and CAF keeps the
// order of messages between two actors, so every shard applies the schema
// changes of a node in the same order.
//
// What shards legitimately answer differently, and the merge never compares:
// the schema document in a create or alter reply (its revision is the shard's
// own log index; its version and created time count the shard's own history).
// The merged reply carries a status and the schema value only. What must agree
// and is compared: the schema of the shards that applied the change (else
// internal: a bug).
//
// Not atomic across shards, but repairable. Each shard applies a change in one
// engine batch or not at all, yet a change can fail on some shards only: a new
// unique index (or one whose keys get too long) over documents that only some
// shards hold, an I/O error, a shard that does not answer in time. The other
// shards then hold the change. Re-applying the SAME change converges, because
// a shard that already holds it counts as done:
//   - create: a shard answering already_exists that holds exactly the
//     requested schema (canonical form; the router asks it, see
//     needs_held_schemas) holds the change;
//   - alter: a shard altered to the schema it already holds accepts it (no
//     index is built or dropped), so it answers ok;
//   - drop: a shard answering unknown_collection holds the drop.
// The merged reply, by how many shards hold the change afterwards:
//   - all, and at least one applied it now: ok, with the schema (no schema
//     for a drop);
//   - all, none applied it now: the lowest shard's own answer, as on one
//     shard (create: already_exists; drop: unknown_collection);
//   - none: the lowest refusing shard's failure: this request changed nothing;
//   - some: an "incomplete" failure with the lowest refusing shard's code,
//     naming the shards that hold the change, each refusal and the repair (fix
//     the cause, apply the same change again). Until repaired the shards
//     disagree: each checks writes to its documents against the schema it
//     holds, and get_schema answers shard 0's.
// Concurrent schema changes of one collection keep this outcome per shard
// exact (same order everywhere); only a create's classification of an
// already_exists shard looks at the schema held a moment later.
//
// Thread safety: pure values and functions.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "command/commands.hpp"
#include "protocols/error.hpp"
#include "schema/schema.hpp"

namespace velocity {

// Refusals described one by one in an "incomplete" message; the rest are
// counted, so the message stays short on a node with many shards.
inline constexpr size_t schema_refusals_described_max = 4;

// The schemas the shards hold of the changed collection, asked after the
// change when needs_held_schemas says so.
struct held_schemas {
  status st;  // not ok: the shards could not be asked (by_shard is empty)
  std::vector<std::optional<collection_schema>> by_shard;  // index = shard id; nullopt: none
};

// True for a schema change command (create, alter, drop).
bool is_schema_change(const command& c);

// True if the merge must know which schema the shards hold: a create that a
// shard answered with already_exists. REQUIRES: is_schema_change(change).
bool needs_held_schemas(const command& change, const std::vector<reply>& replies);

// replies[i] is shard i's reply to change; a shard that could not be asked
// (timeout, unreachable) has that failure as its status. held: see
// needs_held_schemas (ignored when it is false). REQUIRES: replies not empty,
// is_schema_change(change); when needs_held_schemas, held.st is a failure or
// held.by_shard has one entry per shard.
reply merge_schema_change(const command& change, const std::vector<reply>& replies,
                          const held_schemas& held);

}  // namespace velocity
