// A small deterministic in-test cluster for the core's own smoke tests
// (internals_core_test.cpp): N raft cores, an in-memory disk per node written
// as THE READY CONTRACT (types.hpp) says, an application that records the data
// of applied entries, and a FIFO network with cuttable links.
//
// Thread safety: none; one test owns one cluster.
// Invariants: a node's disk holds exactly what its readies asked to persist;
// `app` holds the data of every applied normal entry in log order (restored
// from the snapshot, whose data is these strings joined by '\n').
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/raft/raft.hpp"
#include "protocols/check.hpp"

namespace velocity::raft::internals {

// A cluster still exchanging messages after this many rounds is livelocked.
inline constexpr size_t deliver_rounds_max = 10'000;

inline std::string join_app(const std::vector<std::string>& app) {
  std::string out;
  for (const auto& s : app) out += s + "\n";
  return out;
}

inline std::vector<std::string> split_app(const std::string& data) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    out.push_back(data.substr(start, i - start));
    start = i + 1;
  }
  return out;
}

struct test_node {
  config cfg;
  std::unique_ptr<raft> core;
  durable_state disk;
  std::vector<std::string> app;
  index_t applied = 0;
  std::vector<read_state> reads;
  std::vector<uint64_t> dropped;
  bool down = false;
};

class test_cluster {
 public:
  explicit test_cluster(size_t voters, config base = {}) : base_(base) {
    std::vector<node_id> ids;
    for (node_id id = 1; id <= voters; ++id) ids.push_back(id);
    for (node_id id : ids) start(id, bootstrap_state(ids));
  }

  // Starts (or restarts from its disk) node `id`.
  void start(node_id id, durable_state disk) {
    test_node& n = nodes_[id];
    n.cfg = base_;
    n.cfg.id = id;
    n.cfg.random_seed = 7 * id + 1;
    n.disk = std::move(disk);
    n.app = split_app(n.disk.snap.data);
    n.applied = n.disk.snap.meta.index;
    n.core = std::make_unique<raft>(n.cfg, n.disk, n.applied);
    n.down = false;
  }
  void restart(node_id id) { start(id, nodes_[id].disk); }

  test_node& node(node_id id) { return nodes_.at(id); }
  raft& core(node_id id) { return *nodes_.at(id).core; }
  void cut(node_id a, node_id b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void isolate(node_id a) {
    for (auto& [id, n] : nodes_)
      if (id != a) cut(a, id);
  }
  void heal() { cut_.clear(); }

  // Handles readies and delivers messages until nothing moves.
  void stabilize() {
    for (size_t round = 0; round < deliver_rounds_max; ++round) {
      bool moved = false;
      for (auto& [id, n] : nodes_) moved |= handle_ready(n);
      if (!network_.empty()) moved = true;
      std::deque<message> batch;
      batch.swap(network_);
      for (const auto& m : batch) {
        if (cut_.count({m.from, m.to}) != 0) continue;
        auto it = nodes_.find(m.to);
        if (it == nodes_.end() || it->second.down) continue;
        it->second.core->step(m);
      }
      if (!moved) return;
    }
    VELOCITY_CHECK(false && "cluster livelocked");
  }

  void tick(size_t ticks = 1) {
    for (size_t t = 0; t < ticks; ++t) {
      for (auto& [id, n] : nodes_)
        if (!n.down) n.core->tick();
      stabilize();
    }
  }

  // The leader with the highest term, or no_node.
  node_id leader() {
    node_id best = no_node;
    term_t best_term = 0;
    for (auto& [id, n] : nodes_) {
      if (n.down || n.core->current_role() != role::leader) continue;
      if (n.core->term() >= best_term) {
        best = id;
        best_term = n.core->term();
      }
    }
    return best;
  }

  node_id tick_until_leader(size_t ticks_max = 200) {
    for (size_t t = 0; t < ticks_max; ++t) {
      if (node_id l = leader(); l != no_node) return l;
      tick();
    }
    return leader();
  }

  size_t readies() const { return readies_; }

 private:
  void persist(test_node& n, const ready& rd) {
    if (rd.snap) {
      auto& entries = n.disk.entries;
      index_t index = rd.snap->meta.index;
      if (rd.snapshot_from_leader) {
        entries.clear();
      } else {
        while (!entries.empty() && entries.front().index <= index) entries.erase(entries.begin());
      }
      n.disk.snap = *rd.snap;
    }
    if (!rd.entries.empty()) {
      auto& entries = n.disk.entries;
      while (!entries.empty() && entries.back().index >= rd.entries.front().index)
        entries.pop_back();
      for (const auto& e : rd.entries) entries.push_back(e);
    }
    if (rd.hard) n.disk.hard = *rd.hard;
  }

  bool handle_ready(test_node& n) {
    if (n.down || !n.core->has_ready()) return false;
    ready rd = n.core->take_ready();
    ++readies_;
    for (const auto& m : rd.messages) network_.push_back(m);
    persist(n, rd);
    for (const auto& m : rd.messages_after_persist) network_.push_back(m);
    if (rd.snapshot_from_leader) {
      n.app = split_app(rd.snap->data);
      n.applied = rd.snap->meta.index;
    }
    for (const auto& e : rd.committed) {
      VELOCITY_CHECK_EQ(e.index, n.applied + 1);
      n.applied = e.index;
      if (e.kind == entry_kind::normal && !e.data.empty()) n.app.push_back(e.data);
    }
    for (const auto& r : rd.read_states) n.reads.push_back(r);
    for (auto id : rd.dropped_reads) n.dropped.push_back(id);
    n.core->advance();
    return true;
  }

  config base_;
  std::map<node_id, test_node> nodes_;
  std::deque<message> network_;
  std::set<std::pair<node_id, node_id>> cut_;
  size_t readies_ = 0;
};

}  // namespace velocity::raft::internals
