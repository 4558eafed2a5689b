// Implements replica_start.hpp.
//
// Thread safety: pure function.
#include "cluster/replica_start.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace velocity::cluster {

namespace {

bool is_blank(const raft::durable_state& state) {
  return state.snap.meta.index == 0 && state.snap.meta.conf.empty() && state.entries.empty() &&
         state.hard == raft::hard_state{};
}

std::string id_list(const std::vector<raft::node_id>& ids) {
  std::string out;
  for (auto id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return "{" + out + "}";
}

}  // namespace

status_or<start_state> replica_start_state(std::optional<raft::durable_state> held,
                                           std::vector<raft::node_id> voters,
                                           raft::index_t applied) {
  std::sort(voters.begin(), voters.end());
  if (held && !is_blank(*held)) {
    const auto& held_voters = held->snap.meta.conf.voters;
    if (held_voters != voters)
      return status{error_code::invalid_argument,
                    "the data directory holds a Raft group with voters " + id_list(held_voters) +
                        " but the configuration makes it " + id_list(voters) +
                        " (a single node's data cannot join a cluster, nor the reverse)"};
    const raft::index_t committed = std::max(held->hard.commit, held->snap.meta.index);
    const raft::index_t start_applied = std::min(applied, committed);
    return start_state{std::move(*held), false, start_applied};
  }
  if (applied > 0 && voters.size() > 1)
    return status{error_code::invalid_argument,
                  "the engine holds documents up to log index " + std::to_string(applied) +
                      " but no Raft log: it cannot join a group of several replicas"};
  start_state out{raft::bootstrap_state(std::move(voters)), true, applied};
  if (applied > 0) {
    out.state.snap.meta.index = applied;
    out.state.snap.meta.term = 1;
    out.state.hard.term = 1;
    out.state.hard.commit = applied;
  }
  return out;
}

}  // namespace velocity::cluster
