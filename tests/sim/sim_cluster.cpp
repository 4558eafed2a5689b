// Implements the event loop and node lifecycle of sim_cluster.hpp. The
// driver's effects are carried out in sim_effects.cpp, clients in
// sim_clients.cpp, faults in sim_nemesis.cpp, phases and final checks in
// sim_run.cpp.
//
// Thread safety: none (one run).
// Invariant: every node-bound event of a paused node is held in deferred_ and
// replayed in its original order on resume, so a pause delays ticks and
// messages but never drops them. Each node's tick clock keeps counting across
// a pause: a tick event hands the driver its own time (replica::tick_to), and
// before a lease read the driver itself delivers every tick elapsed by the
// read's time (raft.hpp: the shell must), so a later tick event finds its
// tick delivered already.
#include "tests/sim/sim_cluster.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

namespace velocity::sim {

sim_cluster::sim_cluster(const sim_options& options)
    : options_(options),
      rng_(options.seed),
      params_(draw_params(rng_)),
      initial_dump_(initial_dump(sim_node::group, params_.keys)),
      network_(params_),
      workload_(params_, params_.clients) {}

sim_cluster::~sim_cluster() = default;

void sim_cluster::schedule(event e) {
  e.seq = next_seq_++;
  queue_.push_back(std::move(e));
  std::push_heap(queue_.begin(), queue_.end(), event_later{});
}

void sim_cluster::trace(const std::string& line) {
  if (options_.trace == nullptr) return;
  *options_.trace << '[' << now_us_ << "us] " << line << '\n';
}

sim_node* sim_cluster::find(raft::node_id id) {
  const auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

std::vector<raft::node_id> sim_cluster::members() const {
  std::vector<raft::node_id> ids;
  for (const auto& [id, n] : nodes_)
    if (!n->decommissioned) ids.push_back(id);
  return ids;
}

sim_node* sim_cluster::leader() {
  sim_node* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n->up() || n->paused || n->decommissioned) continue;
    if (n->core().current_role() != raft::role::leader) continue;
    if (best == nullptr || n->core().term() > best->core().term()) best = n.get();
  }
  return best;
}

void sim_cluster::dispatch(event& e) {
  switch (e.kind) {
    case event_kind::tick:
    case event_kind::deliver:
    case event_kind::persist_done:
    case event_kind::client_request:
      dispatch_to_node(e);
      return;
    case event_kind::client_wake:
      on_client_wake(e.client);
      return;
    case event_kind::op_deadline:
      on_op_deadline(e.client, e.op_seq);
      return;
    case event_kind::nemesis:
      on_nemesis();
      return;
    case event_kind::crash:
      if (sim_node* n = find(e.node);
          n && n->up() && n->incarnation() == e.incarnation && phase_ == phase::chaos) {
        ++result_.stats.new_leader_crashes;
        crash_node(*n, true);
      }
      return;
    case event_kind::restart:
      if (sim_node* n = find(e.node); n && !n->up() && !n->decommissioned) start_node(*n);
      return;
    case event_kind::resume:
      if (sim_node* n = find(e.node); n && n->up() && n->paused) on_resume(*n);
      return;
    case event_kind::decommission:
      if (sim_node* n = find(e.node); n && !n->decommissioned) {
        trace("node " + std::to_string(e.node) + " decommissioned (its removal applied)");
        if (n->up()) crash_node(*n, false);
        n->decommissioned = true;
      }
      return;
    case event_kind::heal:
      on_heal();
      return;
    case event_kind::heal_check:
      on_heal_check();
      return;
  }
}

void sim_cluster::dispatch_to_node(event& e) {
  sim_node* n = find(e.node);
  if (e.kind == event_kind::client_request) {
    const client_state& c = workload_.client(e.client);
    if (!c.busy || c.op_seq != e.op_seq) return;  // abandoned operation
    if (n == nullptr || !n->up() || n->decommissioned) {
      const auto ids = members();
      retry(e.client, ids.empty() ? e.node : rng_.pick(ids));
      return;
    }
  }
  if (n == nullptr || !n->up() || n->decommissioned) return;
  if ((e.kind == event_kind::tick || e.kind == event_kind::persist_done) &&
      e.incarnation != n->incarnation())
    return;  // belongs to a crashed incarnation
  if (e.kind == event_kind::tick) {
    event next = e;
    next.time_us = now_us_ + n->tick_period_us();
    schedule(std::move(next));
  }
  if (n->paused) {
    deferred_[n->id()].push_back(std::move(e));
    return;
  }
  on_node_event(*n, e);
}

void sim_cluster::on_node_event(sim_node& n, event& e) {
  switch (e.kind) {
    case event_kind::tick:
      // e.time_us is the tick's time on the node's clock, also when held.
      n.replica().tick_to(sim_node::to_ns(e.time_us));
      break;
    case event_kind::deliver:
      // A partition that began while the message was in flight drops it.
      if (network_.blocked(e.message.from, e.message.to)) return;
      if (tracing()) trace("recv " + raft::describe(e.message));
      if (e.message.type == raft::message_type::snapshot_chunk && e.message.snap_done &&
          e.message.snap_offset > 0)
        ++result_.stats.snapshot_multi_chunk;
      if (e.message.type == raft::message_type::timeout_now) ++result_.stats.timeout_now_delivered;
      n.replica().step(e.message);
      break;
    case event_kind::persist_done:
      sync_node(n, e.token);
      break;
    case event_kind::client_request:
      on_client_request(e);
      break;
    default:
      VELOCITY_CHECK(false);
  }
  observe(n);
  carry_out(n);
  observe(n);
}

void sim_cluster::on_resume(sim_node& n) {
  trace("node " + std::to_string(n.id()) + " resumes");
  n.paused = false;
  std::vector<event> held = std::move(deferred_[n.id()]);
  deferred_.erase(n.id());
  for (event& e : held) {
    if (!n.up() || n.paused) break;
    if ((e.kind == event_kind::tick || e.kind == event_kind::persist_done) &&
        e.incarnation != n.incarnation())
      continue;
    if (e.kind == event_kind::client_request) {
      const client_state& c = workload_.client(e.client);
      if (!c.busy || c.op_seq != e.op_seq) continue;
    }
    on_node_event(n, e);
    if (stopped()) return;
  }
  if (n.up() && !n.paused) carry_out(n);  // effects formed before the pause
}

sim_node& sim_cluster::create_node(raft::node_id id, const raft::durable_state& initial) {
  cluster::replica_config cfg;
  cfg.raft.id = id;
  cfg.raft.election_ticks = params_.election_ticks;
  cfg.raft.heartbeat_ticks = params_.heartbeat_ticks;
  cfg.raft.lease_ticks = params_.lease_ticks;
  cfg.raft.pre_vote = params_.pre_vote;
  cfg.raft.check_quorum = params_.check_quorum;
  cfg.raft.inflight_messages_max = params_.inflight_messages_max;
  cfg.raft.append_bytes_max = params_.append_bytes_max;
  cfg.raft.snapshot_chunk_bytes = params_.snapshot_chunk_bytes;
  cfg.raft.bug = options_.bug;
  // The driver's compaction policy: every K applied entries, never by bytes.
  cfg.compact_entries = params_.compact_every_entries;
  cfg.compact_bytes = std::numeric_limits<uint64_t>::max();
  if (const status valid = raft::validate(cfg.raft); !valid.ok())
    checker_.report("config", valid.to_string(), now_us_);
  // Clock skew: each node's tick period differs by up to skew_percent_max.
  const int64_t period_us = tick_base_us * (100 + rng_.uniform(0, params_.skew_percent_max)) / 100;
  auto node = std::make_unique<sim_node>(cfg, period_us, initial_dump_, params_.keys);
  sim_node& n = *node;
  nodes_.emplace(id, std::move(node));
  if (const status written = n.bootstrap(initial); !written.ok())
    checker_.report("recovery", "bootstrap of node " + std::to_string(id) + ": " +
                                    written.to_string(), now_us_);
  start_node(n);
  return n;
}

void sim_cluster::start_node(sim_node& n) {
  raft::index_t loaded_commit = 0;
  const uint64_t random_seed = rng_.next();
  const int64_t first_tick_us = now_us_ + rng_.uniform(1, n.tick_period_us());
  const status started = n.start(random_seed, first_tick_us, &loaded_commit);
  if (!started.ok()) {
    checker_.report("recovery", "node " + std::to_string(n.id()) + " cannot load its disk: " +
                                    started.to_string(), now_us_);
    return;
  }
  trace("node " + std::to_string(n.id()) + " starts (incarnation " +
        std::to_string(n.incarnation()) + ", commit " + std::to_string(loaded_commit) +
        ", snapshot " + std::to_string(n.applied()) + ")");
  checker_.observe_restart(n.id(), loaded_commit, n.durable_commit_floor(), now_us_);
  if (n.applied() > 0) checker_.check_snapshot(n.id(), n.applied(), n.state(), now_us_);
  event tick;
  tick.kind = event_kind::tick;
  tick.node = n.id();
  tick.incarnation = n.incarnation();
  tick.time_us = first_tick_us;
  schedule(std::move(tick));
  observe(n);
  carry_out(n);
  observe(n);
}

void sim_cluster::crash_node(sim_node& n, bool restart_later) {
  trace("node " + std::to_string(n.id()) + " crashes");
  give_up_at(n);
  if (n.replica().persist_in_flight()) ++result_.stats.crashes_mid_fsync;
  n.crash();
  deferred_.erase(n.id());
  ++result_.crashes;
  if (!restart_later) return;
  event restart;
  restart.kind = event_kind::restart;
  restart.node = n.id();
  restart.time_us = now_us_ + rng_.uniform(10'000, params_.restart_delay_us_max);
  schedule(std::move(restart));
}

void sim_cluster::send(const raft::message& m) {
  if (tracing()) trace("send " + raft::describe(m));
  if (find(m.to) == nullptr) return;
  for (int64_t arrival : network_.plan(m.from, m.to, now_us_, rng_)) {
    event e;
    e.kind = event_kind::deliver;
    e.node = m.to;
    e.time_us = arrival;
    e.message = m;
    schedule(std::move(e));
  }
}

void sim_cluster::observe(sim_node& n) {
  if (!n.up()) return;
  const raft::raft& core = n.core();
  if (tracing() && (core.current_role() != n.role_seen || core.term() != n.term_seen)) {
    std::ostringstream out;
    out << "node " << n.id() << " is " << raft::to_string(core.current_role()) << " in term "
        << core.term() << " (commit " << core.commit_index() << ", last " << core.last_index()
        << ")";
    trace(out.str());
  }
  if (core.current_role() == raft::role::leader && n.role_seen != raft::role::leader &&
      phase_ == phase::chaos && rng_.chance_percent(params_.new_leader_crash_percent)) {
    event crash;
    crash.kind = event_kind::crash;
    crash.node = n.id();
    crash.incarnation = n.incarnation();
    crash.time_us = now_us_ + rng_.uniform(0, 6 * params_.delay_us_max);
    schedule(std::move(crash));
  }
  n.role_seen = core.current_role();
  n.term_seen = core.term();
  checker_.observe_leader(core, now_us_);
  checker_.observe_commit(n.id(), n.commit_seen, core.commit_index(), now_us_);
  n.commit_seen = std::max(n.commit_seen, core.commit_index());
}

}  // namespace velocity::sim
