// The nemesis of sim_cluster.hpp: during the chaos phase, every
// nemesis_interval (jittered) it fires one of the fault kinds this seed
// enabled: partitions (symmetric splits, an isolated leader, one-way blocks),
// crashes (unsynced writes lost, restart later), pauses (events held, then
// replayed), clogged links, membership changes (add a learner, promote it,
// remove a node) and leadership transfers. Faults aim at the leader half the
// time, because that is where the subtle bugs are; in the deposed-leader
// profile, partitions mostly cut the leader off.
//
// Thread safety: none (one run).
#include <algorithm>
#include <sstream>

#include "tests/sim/sim_cluster.hpp"

namespace velocity::sim {

namespace {

// In the deposed-leader profile, the share of partition turns that cut the
// leader off (the rest draw the usual kinds).
constexpr int64_t deposed_leader_isolate_percent = 70;

enum class action : uint8_t { partition, crash, pause, clog, membership, transfer };

template <class T>
void shuffle(std::vector<T>& items, sim_rng& rng) {
  for (size_t i = items.size(); i > 1; --i)
    std::swap(items[i - 1], items[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(i) - 1))]);
}

}  // namespace

raft::node_id sim_cluster::pick_target() {
  sim_node* l = leader();
  if (l != nullptr && rng_.chance_percent(50)) return l->id();
  std::vector<raft::node_id> up;
  for (raft::node_id id : members())
    if (find(id)->up()) up.push_back(id);
  if (up.empty()) return raft::no_node;
  return rng_.pick(up);
}

void sim_cluster::on_nemesis() {
  if (phase_ != phase::chaos) return;
  std::vector<const raft::raft*> cores;
  for (raft::node_id id : members())
    if (find(id)->up()) cores.push_back(&find(id)->core());
  checker_.check_log_matching(cores, now_us_);

  std::vector<action> enabled;
  if (params_.partitions) enabled.push_back(action::partition);
  if (params_.crashes) enabled.push_back(action::crash);
  if (params_.pauses) enabled.push_back(action::pause);
  if (params_.clogs) enabled.push_back(action::clog);
  if (params_.membership_changes) enabled.push_back(action::membership);
  if (params_.transfers) enabled.push_back(action::transfer);
  if (!enabled.empty()) {
    switch (rng_.pick(enabled)) {
      case action::partition: nemesis_partition(); break;
      case action::crash: nemesis_crash(); break;
      case action::pause: nemesis_pause(); break;
      case action::clog: nemesis_clog(); break;
      case action::membership: nemesis_membership(); break;
      case action::transfer: nemesis_transfer(); break;
    }
  }
  event next;
  next.kind = event_kind::nemesis;
  next.time_us = now_us_ + rng_.uniform(params_.nemesis_interval_us / 2,
                                        params_.nemesis_interval_us * 3 / 2);
  schedule(std::move(next));
}

void sim_cluster::nemesis_partition() {
  std::vector<raft::node_id> ids = members();
  network_.heal_partitions();
  if (ids.size() < 2 || rng_.chance_percent(35)) {
    trace("nemesis: partitions healed");
    return;
  }
  // The deposed-leader profile mostly cuts the current leader off, so the
  // rest elect another while it still believes it leads (sim_options.hpp).
  sim_node* l = leader();
  if (params_.deposed_leader && l != nullptr && rng_.chance_percent(deposed_leader_isolate_percent)) {
    isolate(l->id(), ids);
    ++result_.stats.partitions;
    trace("nemesis: leader cut off: " + network_.describe());
    return;
  }
  const raft::node_id target = pick_target();
  switch (rng_.uniform(0, 3)) {
    case 0: {  // a random symmetric split
      shuffle(ids, rng_);
      const auto cut = static_cast<size_t>(rng_.uniform(1, static_cast<int64_t>(ids.size()) - 1));
      network_.partition({std::vector<raft::node_id>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(cut)),
                          std::vector<raft::node_id>(ids.begin() + static_cast<std::ptrdiff_t>(cut), ids.end())});
      break;
    }
    case 1:  // the target (often the leader) alone
      isolate(target, ids);
      break;
    case 2: {  // one way: the target hears nobody, or nobody hears it
      const bool deaf = rng_.chance_percent(50);
      for (raft::node_id id : ids)
        if (id != target) deaf ? network_.block(id, target) : network_.block(target, id);
      break;
    }
    default: {  // a few random directed links
      const int64_t links = rng_.uniform(1, static_cast<int64_t>(ids.size()));
      for (int64_t i = 0; i < links; ++i) {
        const raft::node_id from = rng_.pick(ids);
        const raft::node_id to = rng_.pick(ids);
        if (from != to) network_.block(from, to);
      }
    }
  }
  ++result_.stats.partitions;
  trace("nemesis: " + network_.describe());
}

void sim_cluster::isolate(raft::node_id target, const std::vector<raft::node_id>& ids) {
  std::vector<raft::node_id> rest;
  for (raft::node_id id : ids)
    if (id != target) rest.push_back(id);
  network_.partition({{target}, rest});
}

void sim_cluster::nemesis_crash() {
  const raft::node_id target = pick_target();
  if (target == raft::no_node) return;
  ++result_.stats.crashes;
  crash_node(*find(target), true);
}

void sim_cluster::nemesis_pause() {
  const raft::node_id target = pick_target();
  if (target == raft::no_node) return;
  sim_node& n = *find(target);
  if (n.paused) return;
  n.paused = true;
  ++result_.stats.pauses;
  trace("nemesis: node " + std::to_string(target) + " paused");
  event resume;
  resume.kind = event_kind::resume;
  resume.node = target;
  resume.time_us = now_us_ + rng_.uniform(20'000, 800'000);
  schedule(std::move(resume));
}

void sim_cluster::nemesis_clog() {
  const std::vector<raft::node_id> ids = members();
  const raft::node_id target = pick_target();
  if (ids.size() < 2 || target == raft::no_node) return;
  const int64_t until_us = now_us_ + rng_.uniform(50'000, 1'000'000);
  bool clogged = true;
  if (rng_.chance_percent(50)) {
    for (raft::node_id id : ids)
      if (id != target) network_.clog(target, id, until_us);
  } else {
    const raft::node_id other = rng_.pick(ids);
    if (other != target) network_.clog(target, other, until_us);
    else clogged = false;  // drew itself: nothing clogged this turn
  }
  if (clogged) ++result_.stats.clogs;
  trace("nemesis: " + network_.describe());
}

void sim_cluster::nemesis_transfer() {
  sim_node* l = leader();
  if (l == nullptr) return;
  std::vector<raft::node_id> voters;
  for (raft::node_id id : l->core().conf().voters)
    if (id != l->id()) voters.push_back(id);
  if (voters.empty()) return;
  const raft::node_id target = rng_.pick(voters);
  const status started = l->replica().transfer_leadership(target);
  if (started.ok()) ++result_.stats.transfers_started;
  trace("nemesis: transfer leadership " + std::to_string(l->id()) + " -> " +
        std::to_string(target) + ": " + (started.ok() ? "started" : started.to_string()));
  observe(*l);
  carry_out(*l);
  observe(*l);
}

void sim_cluster::nemesis_membership() {
  sim_node* l = leader();
  if (l == nullptr) return;
  const raft::membership conf = l->core().conf();
  // Keep at least three voters so the cluster keeps tolerating a failure,
  // and never more than members_max nodes alive at once.
  std::vector<raft::conf_change> options;
  if (members().size() < members_max)
    options.push_back({raft::conf_change::kind::add_learner, next_node_id_});
  for (raft::node_id id : conf.learners) {
    options.push_back({raft::conf_change::kind::promote_learner, id});
    options.push_back({raft::conf_change::kind::remove_node, id});
  }
  if (conf.voters.size() > 3)
    for (raft::node_id id : conf.voters) options.push_back({raft::conf_change::kind::remove_node, id});
  if (options.empty()) return;
  const raft::conf_change change = rng_.pick(options);
  // Nobody waits for the answer (the request id is only unique).
  const status proposed = l->replica().propose_conf_change(next_request_++, change);
  std::ostringstream out;
  out << "nemesis: conf change " << static_cast<int>(change.type) << " node " << change.node
      << " at leader " << l->id() << ": "
      << (proposed.ok() ? "proposed at " + std::to_string(l->core().last_index())
                        : proposed.to_string());
  trace(out.str());
  if (proposed.ok()) ++result_.stats.conf_changes_proposed;
  if (proposed.ok() && change.type == raft::conf_change::kind::add_learner) {
    // The new node starts empty and learns everything from the leader.
    ++next_node_id_;
    create_node(change.node, raft::durable_state{});
  }
  observe(*l);
  carry_out(*l);
  observe(*l);
}

}  // namespace velocity::sim
