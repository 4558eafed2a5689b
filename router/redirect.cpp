// Implements redirect.hpp.
//
// Thread safety: pure functions.
#include "router/redirect.hpp"

#include <algorithm>

namespace velocity {

int64_t retry_delay_ms(uint32_t attempt) { return int64_t{25} << std::min<uint32_t>(attempt, 4); }

redirect_step next_redirect(const replica_answer& a, uint64_t me, uint64_t asked,
                            uint32_t attempt, bool clustered) {
  redirect_step step;
  bool retryable = a.code == error_code::not_leader || a.never_sent ||
                   (a.code == error_code::unavailable && a.never_applied);
  if (!retryable || !clustered || attempt >= router_redirects_max) return step;
  if (a.leader != 0 && a.leader != me && a.leader != asked) {
    step.type = redirect_step::kind::forward;
    step.target = a.leader;
    return step;
  }
  // No leader known, or the one named is the one that refused: wait, then
  // ask this node's replica.
  step.type = redirect_step::kind::retry_local;
  step.delay_ms = retry_delay_ms(attempt);
  return step;
}

uint64_t cached_leader_after(const replica_answer& a, uint64_t me, uint64_t asked) {
  if (a.code == error_code::unavailable && a.never_applied)
    return a.never_sent || a.leader == me ? 0 : a.leader;
  switch (a.code) {
    case error_code::unavailable:
    case error_code::overloaded:
    case error_code::timeout:
    case error_code::io_error:
      return 0;
    case error_code::not_leader:
      return a.never_sent || a.leader == me ? 0 : a.leader;
    default:
      return a.never_sent || asked == me ? 0 : asked;
  }
}

}  // namespace velocity
