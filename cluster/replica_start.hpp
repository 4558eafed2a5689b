// The Raft state a replica starts from: what its log store holds, checked
// against the configured group, or a new group's first state.
//
//   - Held state whose voters differ from the configuration is refused: a
//     data directory of another topology (a single node's started as a
//     cluster member, or the reverse) would make a second group with its own
//     leader. (Membership changes go through the log: not driven yet.)
//   - A new group starts from raft::bootstrap_state(voters). Documents the
//     state machine already applied up to index N without a Raft log (data
//     written before shards kept one, or a memory-mode restart over a kept
//     engine) become the group's snapshot at N, so the log continues after
//     them; a group of several voters cannot start that way (the others
//     would not hold those documents).
//   - The applied index handed to the core is the state machine's, but never
//     beyond what the held state knows is committed (max(hard.commit,
//     snapshot index)). A streamed snapshot install (storage/snapshot_stream
//     .hpp) can leave the state machine ahead of its Raft log when the node
//     stops before its core persisted the snapshot: then the local log may
//     end below the state machine, or hold stale uncommitted entries there,
//     and the core must neither be told they are applied (it would take
//     them for committed) nor trip over an applied index beyond its log.
//     Entries up to the state machine's index come again once committed,
//     and the shell skips them (the state machine already holds them).
//
// Pure: the shell loads and persists. Thread safety: pure function.
#pragma once

#include <optional>
#include <vector>

#include "cluster/raft/types.hpp"
#include "protocols/error.hpp"

namespace velocity::cluster {

struct start_state {
  raft::durable_state state;
  bool fresh = false;  // a new group's state: persist (synced) before starting
  raft::index_t applied = 0;  // the applied index to start the core with (see above)
};

// `held`: what the log store loaded (nullopt when nothing is durable, memory
// mode); `voters`: the configured voters; `applied`: the state machine's
// applied index. invalid_argument naming both voter sets, or the documents
// that cannot join a larger group.
status_or<start_state> replica_start_state(std::optional<raft::durable_state> held,
                                           std::vector<raft::node_id> voters,
                                           raft::index_t applied);

}  // namespace velocity::cluster
