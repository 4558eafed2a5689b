// The phases of one run (sim_cluster.hpp) and the checks at its end:
//   chaos   : clients and the nemesis run for chaos_us;
//   healing : every fault removed, every member up and resumed, clients stop
//             (outstanding operations become unknown); a leader must commit a
//             new entry (the probe) and every member must apply the leader's
//             whole log within heal_ticks_max base ticks (liveness);
//   final   : log matching, identical maps on every member equal to the
//             ledger's replay, every acknowledged write in the final log, and
//             the history linearizable per key.
//
// Thread safety: none (one run).
#include <algorithm>
#include <sstream>

#include "tests/sim/sim_cluster.hpp"

namespace velocity::sim {

namespace {

// A run that needs more events than this is stuck in a loop (a bug).
constexpr uint64_t events_max = 4'000'000;
// The linearizability search budget per key. A crash storm can leave a key
// with a hundred writes of unknown outcome, which the search cannot finish;
// giving up there is reported (not a failure) and keeps a seed under a second.
constexpr uint64_t linearizability_states_max = 300'000;

}  // namespace

bool sim_cluster::stopped() const {
  return options_.stop_at_first_violation && checker_.failed();
}

sim_result sim_cluster::run() {
  result_.seed = options_.seed;
  result_.params = describe(params_);
  trace("seed " + std::to_string(options_.seed) + " " + result_.params);
  std::vector<raft::node_id> voters;
  for (size_t i = 0; i < params_.nodes; ++i) voters.push_back(next_node_id_++);
  const raft::durable_state initial = raft::bootstrap_state(voters);
  for (raft::node_id id : voters) create_node(id, initial);
  for (size_t c = 0; c < workload_.clients(); ++c) {
    event wake;
    wake.kind = event_kind::client_wake;
    wake.client = c;
    wake.time_us = rng_.uniform(0, think_us_max);
    schedule(std::move(wake));
  }
  event nemesis;
  nemesis.kind = event_kind::nemesis;
  nemesis.time_us = params_.nemesis_interval_us;
  schedule(std::move(nemesis));
  event heal;
  heal.kind = event_kind::heal;
  heal.time_us = params_.chaos_us;
  schedule(std::move(heal));

  while (!queue_.empty() && phase_ != phase::done && !stopped()) {
    std::pop_heap(queue_.begin(), queue_.end(), event_later{});
    event e = std::move(queue_.back());
    queue_.pop_back();
    now_us_ = e.time_us;
    dispatch(e);
    if (++result_.events > events_max) {
      checker_.report("event_budget", "more than " + std::to_string(events_max) + " events",
                      now_us_);
      break;
    }
  }
  result_.violations = checker_.violations();
  result_.history = workload_.history();
  result_.leaders = checker_.leaders_elected();
  for (const operation& op : result_.history) (op.completed ? result_.ops_completed : result_.ops_unknown)++;
  result_.stats.ops_completed = result_.ops_completed;
  std::ostringstream state;
  for (const auto& [id, n] : nodes_) {
    if (n->decommissioned) continue;
    if (!n->up()) continue;
    state << "node " << id << " applied " << n->applied() << ": " << encode_map(n->state())
          << " (" << n->dump().size() << " bytes)\n";
  }
  result_.final_state = state.str();
  return result_;
}

void sim_cluster::on_heal() {
  phase_ = phase::healing;
  heal_start_us_ = now_us_;
  trace("healing: all faults off, every member up");
  network_.heal_everything();
  for (size_t c = 0; c < workload_.clients(); ++c)
    if (workload_.client(c).busy) workload_.give_up(c);
  for (raft::node_id id : members()) {
    sim_node& n = *find(id);
    if (!n.up()) start_node(n);
    else if (n.paused) on_resume(n);
  }
  event check;
  check.kind = event_kind::heal_check;
  check.time_us = now_us_ + tick_base_us;
  schedule(std::move(check));
}

void sim_cluster::on_heal_check() {
  if (now_us_ - heal_start_us_ > params_.heal_ticks_max * tick_base_us) {
    std::ostringstream out;
    out << "no leader committed and spread a new entry within " << params_.heal_ticks_max
        << " ticks of healing (probe " << (probe_applied_ ? "applied" : "not applied") << ");";
    for (const auto& [id, n] : nodes_) {
      if (n->decommissioned) continue;
      out << " node " << id;
      if (!n->up()) {
        out << " down;";
        continue;
      }
      out << " " << raft::to_string(n->core().current_role()) << " t" << n->core().term()
          << " commit " << n->core().commit_index() << " last " << n->core().last_index()
          << " applied " << n->applied() << ";";
    }
    checker_.report("liveness", out.str(), now_us_);
    phase_ = phase::done;
    return;
  }
  sim_node* l = leader();
  if (!probe_applied_ && probe_) {
    sim_node* holder = find(probe_->node);
    if (holder == nullptr || !holder->up() || holder->core().term() != probe_->term)
      probe_.reset();  // its answer, if any, is ignored: a new probe has a new request
  }
  if (!probe_applied_ && !probe_ && l != nullptr) {
    command noop;
    noop.type = command::kind::noop;
    noop.request = next_request_++;
    const status proposed = l->replica().propose(noop.request, encode_command(noop));
    if (proposed.ok()) {
      probe_ = probe{l->id(), l->core().term(), noop.request};
      trace("healing: probe proposed at node " + std::to_string(l->id()) + " at " +
            std::to_string(l->core().last_index()));
    }
    observe(*l);
    carry_out(*l);
    observe(*l);
  }
  if (probe_applied_ && l != nullptr) {
    const raft::raft& core = l->core();
    bool converged = core.commit_index() == core.last_index();
    std::vector<raft::node_id> final_members = core.conf().voters;
    for (raft::node_id id : core.conf().learners) final_members.push_back(id);
    for (raft::node_id id : final_members) {
      sim_node* n = find(id);
      converged = converged && n != nullptr && n->up() && n->applied() == core.commit_index();
    }
    if (converged) {
      trace("healing: converged at " + std::to_string(core.commit_index()));
      result_.commit_index = core.commit_index();
      check_convergence(final_members, core.commit_index());
      final_checks();
      phase_ = phase::done;
      return;
    }
  }
  event next;
  next.kind = event_kind::heal_check;
  next.time_us = now_us_ + tick_base_us;
  schedule(std::move(next));
}

void sim_cluster::check_convergence(const std::vector<raft::node_id>& final_members,
                                    raft::index_t commit) {
  std::vector<const raft::raft*> cores;
  std::map<raft::node_id, kv_map> states;
  std::map<raft::node_id, const kv_map*> maps;
  std::map<raft::node_id, std::string> dumps;
  for (raft::node_id id : final_members) {
    cores.push_back(&find(id)->core());
    states.emplace(id, find(id)->state());
    maps.emplace(id, &states.at(id));
    dumps.emplace(id, find(id)->dump());
  }
  checker_.check_log_matching(cores, now_us_);
  if (!checker_.check_convergence(maps, commit, now_us_)) return;
  if (!checker_.check_identical_engines(dumps, now_us_)) return;
  sim_node* l = leader();
  VELOCITY_CHECK(l != nullptr);  // converged means a leader was found this turn
  checker_.check_acknowledged(workload_.acknowledged(), workload_.history(), l->core(), commit,
                              now_us_);
}

void sim_cluster::final_checks() {
  if (stopped()) return;
  // Every tick a running node's clock says has elapsed reached its core (the
  // driver delivers them in order and once each; this catches a loss).
  for (const auto& [id, n] : nodes_) {
    if (!n->up() || n->paused || n->decommissioned) continue;
    const int64_t due = n->ticks_due_before(now_us_);
    if (n->replica().ticks_delivered() >= due) continue;
    checker_.report("tick_clock", "node " + std::to_string(id) + " received " +
                                      std::to_string(n->replica().ticks_delivered()) +
                                      " ticks of the " + std::to_string(due) +
                                      " its clock counted",
                    now_us_);
  }
  const linearizability_result lin = check_linearizable(workload_.history(), linearizability_states_max);
  result_.linearizability_gave_up = lin.gave_up;
  if (!lin.linearizable)
    checker_.report("linearizability", "key " + lin.key + ": " + lin.explanation, now_us_);
}

std::string describe_history(const std::vector<operation>& history) {
  std::ostringstream out;
  for (const operation& op : history) {
    static constexpr const char* kinds[] = {"write", "read", "cas"};
    out << "client " << op.client << ' ' << kinds[static_cast<int>(op.type)] << ' ' << op.key;
    if (op.expected) out << " expect " << *op.expected;
    out << " value " << op.value.value_or("<absent>") << " ok " << op.ok << " ["
        << op.invoke_time << ", ";
    if (op.completed) out << op.complete_time << "]\n";
    else out << "unknown]\n";
  }
  return out.str();
}

std::string sim_result::summary() const {
  std::ostringstream out;
  out << "seed " << seed << (ok() ? " ok" : " FAILED") << " events=" << events
      << " commit=" << commit_index << " leaders=" << leaders << " crashes=" << crashes
      << " ops=" << ops_completed << "+" << ops_unknown << "?"
      << (linearizability_gave_up ? " linearizability=gave_up" : "");
  for (const violation& v : violations)
    out << "\n  violation " << v.property << " at " << v.time_us << "us: " << v.detail;
  return out.str();
}

sim_stats& sim_stats::operator+=(const sim_stats& other) {
  crashes += other.crashes;
  new_leader_crashes += other.new_leader_crashes;
  crashes_mid_fsync += other.crashes_mid_fsync;
  partitions += other.partitions;
  clogs += other.clogs;
  pauses += other.pauses;
  conf_changes_proposed += other.conf_changes_proposed;
  conf_changes_applied += other.conf_changes_applied;
  transfers_started += other.transfers_started;
  timeout_now_delivered += other.timeout_now_delivered;
  snapshot_installs += other.snapshot_installs;
  snapshot_multi_chunk += other.snapshot_multi_chunk;
  lease_reads += other.lease_reads;
  lease_reads_deposed += other.lease_reads_deposed;
  ticks_caught_up += other.ticks_caught_up;
  read_index_reads += other.read_index_reads;
  writes_ok += other.writes_ok;
  cas_ok += other.cas_ok;
  cas_failed += other.cas_failed;
  ops_completed += other.ops_completed;
  return *this;
}

sim_stats sim_stats::fired() const {
  const auto one = [](uint64_t count) -> uint64_t { return count > 0 ? 1 : 0; };
  sim_stats f;
  f.crashes = one(crashes);
  f.new_leader_crashes = one(new_leader_crashes);
  f.crashes_mid_fsync = one(crashes_mid_fsync);
  f.partitions = one(partitions);
  f.clogs = one(clogs);
  f.pauses = one(pauses);
  f.conf_changes_proposed = one(conf_changes_proposed);
  f.conf_changes_applied = one(conf_changes_applied);
  f.transfers_started = one(transfers_started);
  f.timeout_now_delivered = one(timeout_now_delivered);
  f.snapshot_installs = one(snapshot_installs);
  f.snapshot_multi_chunk = one(snapshot_multi_chunk);
  f.lease_reads = one(lease_reads);
  f.lease_reads_deposed = one(lease_reads_deposed);
  f.ticks_caught_up = one(ticks_caught_up);
  f.read_index_reads = one(read_index_reads);
  f.writes_ok = one(writes_ok);
  f.cas_ok = one(cas_ok);
  f.cas_failed = one(cas_failed);
  f.ops_completed = one(ops_completed);
  return f;
}

std::string sim_stats::describe() const {
  std::ostringstream out;
  out << "crashes=" << crashes;
  out << " new_leader_crashes=" << new_leader_crashes;
  out << " crashes_mid_fsync=" << crashes_mid_fsync;
  out << " partitions=" << partitions;
  out << " clogs=" << clogs;
  out << " pauses=" << pauses;
  out << " conf_changes_proposed=" << conf_changes_proposed;
  out << " conf_changes_applied=" << conf_changes_applied;
  out << " transfers_started=" << transfers_started;
  out << " timeout_now_delivered=" << timeout_now_delivered;
  out << " snapshot_installs=" << snapshot_installs;
  out << " snapshot_multi_chunk=" << snapshot_multi_chunk;
  out << " lease_reads=" << lease_reads;
  out << " lease_reads_deposed=" << lease_reads_deposed;
  out << " ticks_caught_up=" << ticks_caught_up;
  out << " read_index_reads=" << read_index_reads;
  out << " writes_ok=" << writes_ok;
  out << " cas_ok=" << cas_ok;
  out << " cas_failed=" << cas_failed;
  out << " ops_completed=" << ops_completed;
  return out.str();
}

sim_result run_seed(const sim_options& options) {
  sim_cluster cluster(options);
  return cluster.run();
}

}  // namespace velocity::sim
