// Which consistency levels each operation accepts (docs/consistency.md).
//
//   reads  (get, list, count, health, status, get_schema): strong, quorum,
//          eventual, local
//   writes (insert, update, replace, delete):              strong, quorum, eventual
//          ("writes cannot be local": a local write would have no replica set
//          that agrees to it)
//   compare_and_swap, claim, create/alter/drop schema:     strong only (they
//          decide on the current state, which only the leader knows)
//
// A single node serves every accepted level from its local shard today; these
// rules are the contract the cluster must keep honouring, so they are checked
// the same way regardless of how many nodes or shards exist.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "command/commands.hpp"
#include "protocols/consistency.hpp"
#include "protocols/error.hpp"

namespace velocity {

// Every request kind a router answers: the commands plus the requests that are
// not commands (actors/messages.hpp health_request, status_request,
// get_schema_request).
enum class operation_kind : uint8_t {
  insert,
  get,
  update,
  replace,
  erase,
  compare_and_swap,
  list,
  count,
  claim,
  create_schema,
  alter_schema,
  drop_schema,
  health,
  status,
  get_schema,
};

// "insert", "delete", "compare_and_swap", "get_schema", ...
std::string_view to_string(operation_kind op);

operation_kind operation_of(const command& c);

// What an operation is allowed to ask for.
enum class consistency_class : uint8_t {
  read,         // every level
  write,        // every level except local
  strong_only,  // decides on current state: strong
};

consistency_class consistency_class_of(operation_kind op);

// ok, or invalid_consistency with a message naming the operation and the level,
// e.g. "insert cannot be local: writes cannot be local (use strong, quorum or
// eventual)" or "compare_and_swap is always strong; quorum is not allowed".
status check_consistency(operation_kind op, consistency level);
status check_consistency(const command& c, consistency level);

}  // namespace velocity
