// A shard's whole document state as one string, and back: what a Raft
// snapshot of the document state machine carries (the replica driver's
// capture effect asks for it; a restore effect hands it to another replica).
//
// The dump holds every key the state machine writes for the shard, in the
// three columns it owns (column::meta, column::documents, column::indexes;
// storage/keys.hpp), each under the shard's 4-byte prefix and in key order.
// The Raft columns (raft_log, raft_state) share the prefix but belong to the
// log store and are never part of it.
//
// Format (all integers big-endian):
//   "VSD1" | repeated { u8 column | u32 key bytes | key | u32 value bytes | value }
// Keys come in (column, key) order, every key starts with the shard prefix.
//
// restore_shard stages, in one batch, the erasure of the shard's three ranges
// and the dump's keys, so the engine holds either the old state or the new one
// after any crash. A state_machine open on the shard must be reopened after it
// (state_machine.hpp: a snapshot install rewrites its ranges).
//
// Thread safety: pure functions over the engine (the engine is thread-safe;
// the caller must keep other writers of the shard out while dumping).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity {

// The columns a dump covers, in dump order.
inline constexpr column shard_dump_columns[] = {column::meta, column::documents, column::indexes};

// The shard's state; io_error (from the scan) on failure.
status_or<std::string> dump_shard(engine& e, uint32_t shard);

// Adds to `batch` what replaces the shard's state by `dump`. malformed (the
// message names the offset) when the dump is not one of dump_shard's, or
// holds a key of another shard or column; nothing is added then.
status stage_restore_shard(std::string_view dump, uint32_t shard, write_batch& batch);

}  // namespace velocity
