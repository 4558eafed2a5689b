// Where a request for a shard goes next, from a replica's answer: the
// router's redirect and retry policy in a cluster, and its leader cache.
//
// Safety rule: only what certainly never reached a Raft log is retried: a
// not_leader refusal, a forward that could not even be queued to its node
// (never_sent), and an `unavailable` the replica marks never_applied (a
// proposal another leader's entry overwrote, one refused during a leadership
// transfer). Anything else is the answer (a timeout has an unknown outcome
// and is never retried; a failed shard's `unavailable` is not marked), so
// nothing is applied twice.
//
// Pure: no CAF, clocks or randomness. Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "protocols/error.hpp"

namespace velocity {

// Redirects one request follows before its last answer is taken as final.
inline constexpr uint32_t router_redirects_max = 16;

// What a replica (on this node, or reached through the peer mux) answered.
struct replica_answer {
  error_code code = error_code::ok;
  uint64_t leader = 0;     // with not_leader: the leader it knows (0: unknown)
  bool never_sent = false; // a forward that was never queued to its node
  bool never_applied = false;  // the replica says it never reached a log (shard_reply)
};

struct redirect_step {
  enum class kind : uint8_t {
    answer,       // the answer is final
    forward,      // ask node `target` now
    retry_local,  // wait `delay_ms`, then ask this node's replica
  };
  kind type = kind::answer;
  uint64_t target = 0;
  int64_t delay_ms = 0;
};

// `asked`: the node just asked (0 or `me`: this node's replica); `attempt`:
// redirects followed so far; `clustered`: other nodes exist.
redirect_step next_redirect(const replica_answer& a, uint64_t me, uint64_t asked,
                            uint32_t attempt, bool clustered);

// The leader cache after an answer: the node to ask first next time (0: this
// node's replica, which learns the leader from heartbeats). A replica that
// answered leads (or did a moment ago); not_leader names the one it knows;
// a failure, timeout or unreachable node is forgotten.
uint64_t cached_leader_after(const replica_answer& a, uint64_t me, uint64_t asked);

// 25 ms doubling to 400 ms: the wait while an election runs.
int64_t retry_delay_ms(uint32_t attempt);

}  // namespace velocity
