// The simulator's shell around cluster::replica: carries out, in order, the
// effects the driver returns after each event (the driver, not this file,
// carries THE READY CONTRACT of cluster/raft/types.hpp):
//   send    -> the simulated network;
//   persist -> the engine write, unsynced; with `sync`, the fsync completes
//              after a drawn delay (0 to fsync_delay_us_max; a crash in
//              between loses the write), then persisted(token);
//   restore -> the shard dump of the leader's snapshot replaces the
//              application (checked against the ledger);
//   apply   -> the document state machine (checked: order, durability, a
//              client command, the reply the model expects), and the client
//              operation its request answers;
//              With `hold`, the client's answer waits for release;
//   release -> the client operation a held apply answers;
//   read    -> the client's read served by a get on the state machine;
//   fail    -> the client retries (its proposal lost its index to another
//              leader's entry) or gives up (outcome unknown);
//   capture -> the shard's dump, handed back with compact(index, data).
//
// Thread safety: none (one run).
#include <sstream>

#include "tests/sim/sim_cluster.hpp"

namespace velocity::sim {

void sim_cluster::carry_out(sim_node& n) {
  // A paused process carries out nothing; on_resume picks the effects up.
  while (n.up() && !n.paused && n.replica().has_effects() && !stopped()) {
    for (cluster::effect& fx : n.replica().take_effects()) {
      switch (fx.type) {
        case cluster::effect::kind::send:
          for (const raft::message& m : fx.messages) send(m);
          break;
        case cluster::effect::kind::persist:
          on_persist(n, fx);
          break;
        case cluster::effect::kind::restore:
          on_restore(n, *fx.snapshot);
          break;
        case cluster::effect::kind::apply:
          on_apply(n, fx.entry, fx.request, fx.hold);
          break;
        case cluster::effect::kind::release:
          on_release(n, fx.request);
          break;
        case cluster::effect::kind::read:
          on_read(n, fx.request);
          break;
        case cluster::effect::kind::fail:
          on_fail(n, fx.request, fx.error);
          break;
        case cluster::effect::kind::capture:
          on_capture(n, fx.index);
          break;
      }
    }
  }
}

void sim_cluster::on_persist(sim_node& n, cluster::effect& fx) {
  if (tracing()) {
    std::ostringstream out;
    out << "node " << n.id() << " persists " << fx.batch.size() << " writes ("
        << fx.batch.bytes() << " bytes)" << (fx.sync ? " sync" : "");
    trace(out.str());
  }
  n.write(fx.batch);
  if (!fx.sync) return;
  if (params_.fsync_delay_us_max == 0) {
    sync_node(n, fx.token);
    return;
  }
  event done;
  done.kind = event_kind::persist_done;
  done.node = n.id();
  done.incarnation = n.incarnation();
  done.token = fx.token;
  done.time_us = now_us_ + rng_.uniform(0, params_.fsync_delay_us_max);
  schedule(std::move(done));
}

void sim_cluster::sync_node(sim_node& n, uint64_t token) {
  if (const status synced = n.sync(); !synced.ok())
    checker_.report("recovery", "node " + std::to_string(n.id()) +
                                    " could not load its disk after a sync: " + synced.to_string(),
                    now_us_);
  n.replica().persisted(token);
}

void sim_cluster::on_restore(sim_node& n, const raft::snapshot& snap) {
  trace("node " + std::to_string(n.id()) + " restores snapshot at " +
        std::to_string(snap.meta.index));
  ++result_.stats.snapshot_installs;
  if (const status restored = n.restore(snap); !restored.ok())
    checker_.report("snapshot", "node " + std::to_string(n.id()) +
                                    " cannot restore the snapshot data: " + restored.to_string(),
                    now_us_);
  else
    checker_.check_snapshot(n.id(), snap.meta.index, n.state(), now_us_);
}

void sim_cluster::on_apply(sim_node& n, const raft::entry& e, uint64_t request, bool hold) {
  if (!checker_.check_apply(n.id(), n.applied(), n.durable_last_index(),
                            n.durable_term_at(e.index), e, now_us_))
    return;
  status unexpected;
  const bool took_effect = n.apply(e, &unexpected);
  if (!unexpected.ok())
    checker_.report("application", "node " + std::to_string(n.id()) + " applied " +
                                       entry_text(e) + ": " + unexpected.to_string(),
                    now_us_);
  if (tracing()) trace("node " + std::to_string(n.id()) + " applies " + entry_text(e));
  checker_.observe_apply(n.id(), e, now_us_);
  if (e.kind == raft::entry_kind::conf_change && e.index > conf_change_counted_) {
    conf_change_counted_ = e.index;
    ++result_.stats.conf_changes_applied;
  }
  if (e.kind == raft::entry_kind::conf_change) {
    const auto change = raft::decode_conf_change(e.data);
    if (change.ok() && change->type == raft::conf_change::kind::remove_node) {
      event gone;
      gone.kind = event_kind::decommission;
      gone.node = change->node;
      gone.time_us = now_us_;
      schedule(std::move(gone));
    }
  }
  if (request == 0) return;
  if (probe_ && probe_->request == request) probe_applied_ = true;
  if (hold) {
    n.held[request] = {took_effect, raft::entry_id{e.index, e.term}};
    return;
  }
  complete_apply(n, request, took_effect, raft::entry_id{e.index, e.term});
}

void sim_cluster::on_release(sim_node& n, uint64_t request) {
  const auto it = n.held.find(request);
  if (it == n.held.end()) return;
  const auto [took_effect, id] = it->second;
  n.held.erase(it);
  complete_apply(n, request, took_effect, id);
}

void sim_cluster::complete_apply(sim_node& n, uint64_t request, bool took_effect,
                                 raft::entry_id id) {
  const auto it = n.requests.find(request);
  if (it == n.requests.end()) return;
  const pending_request p = it->second;
  n.requests.erase(it);
  const client_state& c = workload_.client(p.client);
  if (!c.busy || c.op_seq != p.op_seq) return;
  const bool cas = workload_.op(c.op).type == operation::kind::cas;
  if (!cas) ++result_.stats.writes_ok;
  else ++(took_effect ? result_.stats.cas_ok : result_.stats.cas_failed);
  workload_.complete_write(p.client, now_us_, took_effect, id);
  trace("client " + std::to_string(p.client) + " done: entry " + std::to_string(id.index) +
        (took_effect ? " took effect" : " had no effect"));
  finish_op(p.client);
}

void sim_cluster::on_read(sim_node& n, uint64_t request) {
  const auto it = n.requests.find(request);
  if (it == n.requests.end()) return;
  const pending_request read = it->second;
  n.requests.erase(it);
  const client_state& c = workload_.client(read.client);
  if (!c.busy || c.op_seq != read.op_seq) return;
  ++(c.lease_read ? result_.stats.lease_reads : result_.stats.read_index_reads);
  const std::optional<std::string> result = n.read(read.key);
  workload_.complete_read(read.client, now_us_, result);
  trace("client " + std::to_string(read.client) + " read " + read.key + " = " +
        result.value_or("<absent>") + " at node " + std::to_string(n.id()) + " (applied " +
        std::to_string(n.applied()) + ")");
  finish_op(read.client);
}

void sim_cluster::on_fail(sim_node& n, uint64_t request, const status& error) {
  if (probe_ && probe_->request == request) probe_.reset();  // propose another
  n.held.erase(request);
  const auto it = n.requests.find(request);
  if (it == n.requests.end()) return;
  const pending_request p = it->second;
  n.requests.erase(it);
  const client_state& c = workload_.client(p.client);
  if (!c.busy || c.op_seq != p.op_seq) return;
  if (!p.read && error.code() == error_code::unavailable) {
    // Another leader's entry took the proposal's index: it can never
    // commit, so propose it again.
    const raft::node_id hint = n.core().leader_hint();
    retry(p.client, hint != raft::no_node ? hint : n.id());
    return;
  }
  // A dropped read, or a proposal whose outcome is unknown (covered by an
  // installed snapshot).
  trace("client " + std::to_string(p.client) + " gives up (" + error.to_string() + ")");
  workload_.give_up(p.client);
  finish_op(p.client);
}

void sim_cluster::on_capture(sim_node& n, raft::index_t index) {
  if (index != n.applied())
    checker_.report("contract", "node " + std::to_string(n.id()) + " was asked to capture at " +
                                    std::to_string(index) + " with the application at " +
                                    std::to_string(n.applied()),
                    now_us_);
  n.replica().compact(index, n.dump());
}

}  // namespace velocity::sim
