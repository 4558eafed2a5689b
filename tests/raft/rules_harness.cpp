// Implements rules_harness.hpp: the in-memory disks, the application, the
// message pool and the ready-contract checks of the Raft rule suites.
// Thread safety: none (one test owns one cluster).
#include "tests/raft/rules_harness.hpp"

#include <algorithm>
#include <sstream>

#include "protocols/check.hpp"

namespace velocity::raft::testing {

namespace {

// Each node draws its election timeouts from its own fixed seed.
constexpr uint64_t seed_stride = 1000;
// Bound of process_all() passes: readies beget readies only through messages.
constexpr size_t process_passes_max = 1000;

bool holds_entry(const durable_state& disk, const entry& e) {
  if (e.index <= disk.snap.meta.index) return true;
  for (const auto& held : disk.entries)
    if (held.index == e.index) return held == e;
  return false;
}

}  // namespace

std::vector<entry> make_log(const std::vector<term_t>& terms) {
  std::vector<entry> log;
  for (size_t i = 0; i < terms.size(); ++i) {
    entry e;
    e.term = terms[i];
    e.index = i + 1;
    e.data = "t" + std::to_string(e.term) + "i" + std::to_string(e.index);
    log.push_back(std::move(e));
  }
  return log;
}

durable_state state_with_log(const std::vector<node_id>& voters, const std::vector<term_t>& terms,
                             hard_state hard) {
  durable_state state = bootstrap_state(voters);
  state.entries = make_log(terms);
  state.hard = hard;
  return state;
}

std::string encode_app(const std::vector<std::string>& app) {
  std::string out;
  for (const auto& item : app) out += std::to_string(item.size()) + ":" + item;
  return out;
}

std::vector<std::string> decode_app(const std::string& data) {
  std::vector<std::string> app;
  size_t pos = 0;
  while (pos < data.size()) {
    auto colon = data.find(':', pos);
    if (colon == std::string::npos) break;
    auto size = std::stoull(data.substr(pos, colon - pos));
    app.push_back(data.substr(colon + 1, size));
    pos = colon + 1 + size;
  }
  return app;
}

bool allowed_before_persist(message_type type) {
  switch (type) {
    case message_type::vote:
    case message_type::vote_response:
    case message_type::append_response:
    case message_type::snapshot_response:
      return false;
    default:
      return true;
  }
}

std::function<bool(const message&)> of_type(message_type type) {
  return [type](const message& m) { return m.type == type; };
}
std::function<bool(const message&)> to_node(node_id id) {
  return [id](const message& m) { return m.to == id; };
}
std::function<bool(const message&)> from_node(node_id id) {
  return [id](const message& m) { return m.from == id; };
}

// ---------------------------------------------------------------- nodes

cluster::cluster(size_t n, config base) : base_(base) {
  std::vector<node_id> voters;
  for (node_id id = 1; id <= n; ++id) voters.push_back(id);
  for (node_id id : voters) add_node(id, bootstrap_state(voters));
}

cluster::cluster(std::vector<durable_state> states, config base) : base_(base) {
  for (size_t i = 0; i < states.size(); ++i) add_node(i + 1, std::move(states[i]));
}

void cluster::add_node(node_id id, durable_state state) {
  node_state& node = nodes_[id];
  node.cfg = base_;
  node.cfg.id = id;
  node.cfg.random_seed = base_.random_seed * seed_stride + id;
  node.disk = state;
  node.synced = state;
  node.app = decode_app(state.snap.data);
  node.applied_index = state.snap.meta.index;
  node.core = std::make_unique<raft>(node.cfg, std::move(state), node.applied_index);
}

node_state& cluster::at(node_id id) {
  auto it = nodes_.find(id);
  VELOCITY_CHECK(it != nodes_.end());
  return it->second;
}

std::vector<node_id> cluster::ids() const {
  std::vector<node_id> out;
  for (const auto& [id, node] : nodes_) out.push_back(id);
  return out;
}

void cluster::tick(node_id id, size_t ticks) {
  for (size_t i = 0; i < ticks; ++i) core(id).tick();
}

void cluster::tick_all(size_t ticks) {
  for (size_t i = 0; i < ticks; ++i)
    for (auto& [id, node] : nodes_) node.core->tick();
}

node_id cluster::tick_until_leader() {
  for (size_t i = 0; i < election_ticks_max; ++i) {
    stabilize();
    if (auto id = leader(); id != no_node) return id;
    tick_all();
  }
  return no_node;
}

node_id cluster::leader() const {
  term_t top = 0;
  for (const auto& [id, node] : nodes_)
    if (!isolated_.count(id)) top = std::max(top, node.core->term());
  node_id found = no_node;
  for (const auto& [id, node] : nodes_) {
    if (isolated_.count(id) || node.core->current_role() != role::leader) continue;
    if (node.core->term() != top || found != no_node) return no_node;
    found = id;
  }
  return found;
}

// ---------------------------------------------------------------- readies

bool cluster::process_ready(node_id id) {
  if (!core(id).has_ready()) return false;
  ready rd = take(id);
  send(rd.messages);
  finish(id, rd);
  return true;
}

void cluster::process_all() {
  for (size_t pass = 0; pass < process_passes_max; ++pass) {
    bool any = false;
    for (auto& [id, node] : nodes_) any = process_ready(id) || any;
    if (!any) return;
  }
  add_violation(no_node, "readies keep coming without input (process_all livelock)");
}

ready cluster::take(node_id id) {
  ready rd = core(id).take_ready();
  check_ready(id, rd);
  return rd;
}

void cluster::send(const std::vector<message>& messages) {
  for (const auto& m : messages) enqueue(m);
}

void cluster::finish(node_id id, ready& rd) {
  check_committed(id, rd);
  persist(id, rd);
  send(rd.messages_after_persist);
  apply(id, rd);
  at(id).readies_handled++;
  core(id).advance();
}

void cluster::persist(node_id id, const ready& rd) {
  node_state& node = at(id);
  durable_state& disk = node.disk;
  if (rd.snap) {
    index_t snap_index = rd.snap->meta.index;
    if (rd.snapshot_from_leader) {
      disk.entries.clear();
    } else {
      std::erase_if(disk.entries, [&](const entry& e) { return e.index <= snap_index; });
    }
    disk.snap = *rd.snap;
  }
  if (!rd.entries.empty()) {
    index_t from = rd.entries.front().index;
    for (const auto& held : disk.entries) {
      if (held.index < from || held.index > disk.hard.commit) continue;
      auto it = std::find_if(rd.entries.begin(), rd.entries.end(),
                             [&](const entry& e) { return e.index == held.index; });
      if (it == rd.entries.end() || !(*it == held))
        add_violation(id, "ready truncates committed entry " + std::to_string(held.index));
    }
    std::erase_if(disk.entries, [&](const entry& e) { return e.index >= from; });
    disk.entries.insert(disk.entries.end(), rd.entries.begin(), rd.entries.end());
  }
  if (rd.hard) disk.hard = *rd.hard;
  if (rd.must_sync) node.synced = disk;
}

void cluster::apply(node_id id, const ready& rd) {
  node_state& node = at(id);
  if (rd.snapshot_from_leader && rd.snap) {
    node.app = decode_app(rd.snap->data);
    node.applied_index = rd.snap->meta.index;
  }
  for (const auto& e : rd.committed) {
    if (e.index != node.applied_index + 1)
      add_violation(id, "applied entry " + std::to_string(e.index) + " after " +
                            std::to_string(node.applied_index));
    node.applied_index = e.index;
    node.applied.push_back(e);
    if (e.kind == entry_kind::normal && !e.data.empty()) node.app.push_back(e.data);
  }
  node.reads.insert(node.reads.end(), rd.read_states.begin(), rd.read_states.end());
  node.dropped_reads.insert(node.dropped_reads.end(), rd.dropped_reads.begin(),
                            rd.dropped_reads.end());
}

void cluster::check_ready(node_id id, const ready& rd) {
  const durable_state& disk = at(id).disk;
  for (const auto& m : rd.messages) {
    if (!allowed_before_persist(m.type)) add_violation(id, "before persist: " + describe(m));
    // types.hpp: a heartbeat's commit never exceeds the follower's known match.
    if (m.type == message_type::heartbeat && m.commit > core(id).match_of(m.to).value_or(0))
      add_violation(id, "heartbeat commit beyond match: " + describe(m));
  }
  for (size_t i = 1; i < rd.entries.size(); ++i)
    if (rd.entries[i].index != rd.entries[i - 1].index + 1)
      add_violation(id, "ready entries not contiguous at " + std::to_string(rd.entries[i].index));
  if (!rd.entries.empty()) {
    index_t first = rd.entries.front().index;
    index_t base = rd.snap ? rd.snap->meta.index : disk.snap.meta.index;
    index_t last = disk.entries.empty() ? disk.snap.meta.index : disk.entries.back().index;
    if (rd.snap && rd.snapshot_from_leader) last = base;
    if (first <= base || first > last + 1)
      add_violation(id, "ready entries start at " + std::to_string(first) + ", log ends at " +
                            std::to_string(last));
  }
  bool vote_changed = rd.hard && (rd.hard->term != disk.hard.term || rd.hard->vote != disk.hard.vote);
  bool log_changed = !rd.entries.empty() || (rd.snap && rd.snapshot_from_leader);
  if ((vote_changed || log_changed) && !rd.must_sync)
    add_violation(id, "term, vote or log changed without must_sync");
  if (rd.hard && rd.hard->commit < disk.hard.commit)
    add_violation(id, "durable commit decreases to " + std::to_string(rd.hard->commit));
}

void cluster::check_committed(node_id id, const ready& rd) {
  const durable_state& disk = at(id).disk;
  for (const auto& e : rd.committed)
    if (!holds_entry(disk, e))
      add_violation(id, "committed entry " + std::to_string(e.index) +
                            " was not durable before its ready");
}

// ---------------------------------------------------------------- network

bool cluster::reachable(node_id from, node_id to) const {
  if (!nodes_.count(to) || isolated_.count(from) || isolated_.count(to)) return false;
  return !cut_.count({from, to}) && !cut_.count({to, from});
}

void cluster::enqueue(const message& m) {
  sent_.push_back(m);
  if (reachable(m.from, m.to)) pool_.push_back(m);
}

size_t cluster::deliver(const std::function<bool(const message&)>& pred) {
  auto batch = take_messages(pred);
  for (const auto& m : batch)
    if (reachable(m.from, m.to)) core(m.to).step(m);
  return batch.size();
}

size_t cluster::deliver_all() {
  return deliver([](const message&) { return true; });
}

size_t cluster::deliver_type(message_type type) { return deliver(of_type(type)); }

size_t cluster::deliver_between(node_id a, node_id b) {
  return deliver([a, b](const message& m) {
    return (m.from == a && m.to == b) || (m.from == b && m.to == a);
  });
}

size_t cluster::drop(const std::function<bool(const message&)>& pred) {
  return take_messages(pred).size();
}

std::vector<message> cluster::take_messages(const std::function<bool(const message&)>& pred) {
  std::vector<message> taken;
  std::vector<message> kept;
  for (auto& m : pool_) (pred(m) ? taken : kept).push_back(std::move(m));
  pool_ = std::move(kept);
  return taken;
}

void cluster::inject(const message& m) {
  if (nodes_.count(m.to)) core(m.to).step(m);
}

void cluster::stabilize() {
  stabilize_only([](const message&) { return true; });
}

void cluster::stabilize_only(const std::function<bool(const message&)>& pred) {
  for (size_t round = 0; round < stabilize_rounds_max; ++round) {
    process_all();
    if (pool_.empty()) return;
    deliver(pred);
    pool_.clear();
  }
  add_violation(no_node, "network never quiet (stabilize livelock)");
}

void cluster::isolate(node_id id) {
  isolated_.insert(id);
  drop([id](const message& m) { return m.from == id || m.to == id; });
}

void cluster::cut(node_id a, node_id b) {
  cut_.insert({a, b});
  drop([a, b](const message& m) {
    return (m.from == a && m.to == b) || (m.from == b && m.to == a);
  });
}

void cluster::heal() {
  isolated_.clear();
  cut_.clear();
}

size_t cluster::count_sent(const std::function<bool(const message&)>& pred) const {
  return static_cast<size_t>(std::count_if(sent_.begin(), sent_.end(), pred));
}

// ---------------------------------------------------------------- faults

void cluster::restart(node_id id, crash_mode mode) {
  node_state& node = at(id);
  if (mode == crash_mode::keep_synced) node.disk = node.synced;
  node.app = decode_app(node.disk.snap.data);
  node.applied_index = node.disk.snap.meta.index;
  node.applied.clear();
  node.reads.clear();
  node.dropped_reads.clear();
  node.core = std::make_unique<raft>(node.cfg, node.disk, node.applied_index);
}

// ---------------------------------------------------------------- application

entry_id cluster::propose(node_id id, const std::string& data) {
  auto result = core(id).propose(data);
  return result.ok() ? *result : entry_id{};
}

status cluster::compact(node_id id) {
  node_state& node = at(id);
  return node.core->compact(node.applied_index, encode_app(node.app));
}

config plain_config() {
  config cfg;
  cfg.pre_vote = false;
  cfg.check_quorum = false;
  return cfg;
}

node_id elect_without(cluster& c, node_id except) {
  for (size_t i = 0; i < election_ticks_max; ++i) {
    for (node_id id : c.ids())
      if (id != except) c.tick(id);
    c.stabilize();
    for (node_id id : c.ids())
      if (id != except && c.core(id).current_role() == role::leader) return id;
  }
  return no_node;
}

bool elect(cluster& c, node_id id) {
  for (size_t i = 0; i < election_ticks_max; ++i) {
    c.stabilize();
    if (c.core(id).current_role() == role::leader) return true;
    c.tick(id);
  }
  return false;
}

std::vector<entry> log_of(const raft& core) {
  std::vector<entry> out;
  for (index_t i = core.first_index(); i <= core.last_index(); ++i)
    if (auto e = core.entry_at(i)) out.push_back(*e);
  return out;
}

std::optional<message> last_sent(const cluster& c, message_type type, node_id from) {
  std::optional<message> found;
  for (const auto& m : c.sent())
    if (m.type == type && m.from == from) found = m;
  return found;
}

void cluster::add_violation(node_id id, const std::string& what) {
  violations_.push_back("node " + std::to_string(id) + ": " + what);
}

std::string cluster::violations_text() const {
  std::ostringstream out;
  for (const auto& v : violations_) out << v << "\n";
  return out.str();
}

}  // namespace velocity::raft::testing
