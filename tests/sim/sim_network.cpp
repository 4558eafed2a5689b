// Implements sim_network.hpp.
//
// Thread safety: none (one run).
#include "tests/sim/sim_network.hpp"

#include <algorithm>
#include <sstream>

namespace velocity::sim {

sim_network::sim_network(const sim_params& params)
    : loss_percent_(params.loss_percent),
      duplicate_percent_(params.duplicate_percent),
      delay_us_min_(params.delay_us_min),
      delay_us_max_(params.delay_us_max) {}

std::vector<int64_t> sim_network::plan(raft::node_id from, raft::node_id to, int64_t now_us,
                                       sim_rng& rng) {
  std::vector<int64_t> arrivals;
  if (blocked(from, to) || rng.chance_percent(loss_percent_)) return arrivals;
  const size_t copies = rng.chance_percent(duplicate_percent_) ? 2 : 1;
  const auto clog = clogs_.find({from, to});
  for (size_t i = 0; i < copies; ++i) {
    int64_t arrival = now_us + rng.uniform(delay_us_min_, delay_us_max_);
    // A clogged link holds its messages until the clog ends, then releases
    // them in a burst (still with their own small delay, so reordered).
    if (clog != clogs_.end() && clog->second > now_us)
      arrival = std::max(arrival, clog->second + rng.uniform(0, delay_us_max_));
    arrivals.push_back(arrival);
  }
  return arrivals;
}

bool sim_network::blocked(raft::node_id from, raft::node_id to) const {
  return blocked_.count({from, to}) > 0;
}

void sim_network::partition(const std::vector<std::vector<raft::node_id>>& groups) {
  for (size_t a = 0; a < groups.size(); ++a)
    for (size_t b = 0; b < groups.size(); ++b) {
      if (a == b) continue;
      for (raft::node_id from : groups[a])
        for (raft::node_id to : groups[b]) blocked_.insert({from, to});
    }
}

void sim_network::block(raft::node_id from, raft::node_id to) { blocked_.insert({from, to}); }

void sim_network::clog(raft::node_id from, raft::node_id to, int64_t until_us) {
  auto& end = clogs_[{from, to}];
  end = std::max(end, until_us);
}

void sim_network::heal_partitions() { blocked_.clear(); }

void sim_network::heal_everything() {
  blocked_.clear();
  clogs_.clear();
  loss_percent_ = 0;
  duplicate_percent_ = 0;
}

std::string sim_network::describe() const {
  std::ostringstream out;
  out << "blocked=[";
  bool first = true;
  for (const auto& [from, to] : blocked_) {
    out << (first ? "" : " ") << from << '>' << to;
    first = false;
  }
  out << "] clogged=[";
  first = true;
  for (const auto& [l, end] : clogs_) {
    out << (first ? "" : " ") << l.first << '>' << l.second << '@' << end;
    first = false;
  }
  out << ']';
  return out.str();
}

}  // namespace velocity::sim
