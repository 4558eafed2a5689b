// Implements replica_reads.hpp.
//
// Thread safety: none (see the header).
#include "router/replica_reads.hpp"

#include <algorithm>

#include "protocols/check.hpp"

namespace velocity {

std::vector<uint64_t> eventual_read_order(const std::vector<uint64_t>& replicas, uint64_t me,
                                          const std::vector<uint64_t>& dead) {
  std::vector<uint64_t> live;
  std::vector<uint64_t> last;
  bool mine = false;
  for (uint64_t node : replicas) {
    if (node == me) mine = true;
    else if (std::find(dead.begin(), dead.end(), node) != dead.end()) last.push_back(node);
    else live.push_back(node);
  }
  std::vector<uint64_t> order;
  if (mine) order.push_back(me);
  order.insert(order.end(), live.begin(), live.end());
  order.insert(order.end(), last.begin(), last.end());
  return order;
}

bool eventual_read_retries(error_code code) {
  return code == error_code::unavailable || code == error_code::overloaded ||
         code == error_code::timeout;
}

quorum_read::quorum_read(uint32_t shard, size_t replicas) : shard_(shard), replicas_(replicas) {
  VELOCITY_CHECK(replicas > 0);
}

void quorum_read::on_answer(uint64_t node, reply r, uint64_t applied) {
  if (finished()) return;
  // A read's own outcomes (not_found, unknown_collection, ...) are answers;
  // only a replica that could not serve counts as none.
  const error_code code = r.st.code();
  if (code == error_code::unavailable || code == error_code::overloaded ||
      code == error_code::timeout || code == error_code::not_leader ||
      code == error_code::io_error || code == error_code::internal) {
    ++failed_;
    failures_ += std::string{failures_.empty() ? "" : "; "} + "node " + std::to_string(node) +
                 ": " + r.st.to_string();
    return;
  }
  ++answered_;
  if (!best_ || applied > best_applied_) {
    best_ = std::move(r);
    best_applied_ = applied;
  }
}

bool quorum_read::finished() const {
  return answered_ >= majority() || failed_ > replicas_ - majority();
}

reply quorum_read::result() {
  VELOCITY_CHECK(finished());
  if (answered_ >= majority()) return std::move(*best_);
  reply out;
  out.st = status{error_code::unavailable,
                  "quorum read of shard " + std::to_string(shard_) + ": " +
                      std::to_string(answered_) + " of " + std::to_string(replicas_) +
                      " replicas answered, " + std::to_string(majority()) + " needed (" +
                      failures_ + ")"};
  return out;
}

}  // namespace velocity
