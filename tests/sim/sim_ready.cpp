// THE READY CONTRACT (cluster/raft/types.hpp) as the simulator carries it
// out for one node:
//   take_ready -> send `messages` now -> write step 2 unsynced -> (fsync delay,
//   drawn per ready; a crash in between loses the write) -> sync ->
//   `messages_after_persist` -> restore a leader's snapshot -> apply
//   `committed` -> serve `read_states`, fail `dropped_reads` -> advance ->
//   maybe compact (every K applied entries).
// Only readies that must sync wait for the fsync; the others complete at once
// (their writes, if any, stay unsynced until a later sync, as in the shard).
//
// Thread safety: none (one run).
#include <sstream>

#include "tests/sim/sim_cluster.hpp"

namespace velocity::sim {

void sim_cluster::drive(sim_node& n) {
  while (n.up() && !n.paused && !n.in_flight && n.core().has_ready() && !stopped()) {
    raft::ready rd = n.core().take_ready();
    if (tracing() && (!rd.entries.empty() || rd.hard || rd.snap)) {
      std::ostringstream out;
      out << "node " << n.id() << " persists " << rd.entries.size() << " entries";
      if (!rd.entries.empty())
        out << " [" << rd.entries.front().index << ".." << rd.entries.back().index << "]";
      if (rd.hard)
        out << " hard(t" << rd.hard->term << " v" << rd.hard->vote << " c" << rd.hard->commit
            << ")";
      if (rd.snap)
        out << " snap(i" << rd.snap->meta.index << (rd.snapshot_from_leader ? " leader)" : ")");
      out << (rd.must_sync ? " sync" : "");
      trace(out.str());
    }
    for (const raft::message& m : rd.messages) send(m);
    n.write(rd);
    if (rd.must_sync && params_.fsync_delay_us_max > 0) {
      n.in_flight = std::move(rd);
      event done;
      done.kind = event_kind::persist_done;
      done.node = n.id();
      done.incarnation = n.incarnation();
      done.time_us = now_us_ + rng_.uniform(0, params_.fsync_delay_us_max);
      schedule(std::move(done));
      return;
    }
    finish_ready(n, rd);
  }
}

void sim_cluster::finish_ready(sim_node& n, raft::ready& rd) {
  if (rd.must_sync) n.sync();
  for (const raft::message& m : rd.messages_after_persist) send(m);
  if (rd.snap && rd.snapshot_from_leader) {
    trace("node " + std::to_string(n.id()) + " restores snapshot at " +
          std::to_string(rd.snap->meta.index));
    ++result_.stats.snapshot_installs;
    if (!n.restore(*rd.snap))
      checker_.report("snapshot", "node " + std::to_string(n.id()) +
                                      " got snapshot data that is not an encoded map",
                      now_us_);
    else
      checker_.check_snapshot(n.id(), rd.snap->meta.index, n.state(), now_us_);
  }
  apply_committed(n, rd);
  for (const raft::read_state& rs : rd.read_states) {
    const auto it = n.reads.find(rs.request_id);
    if (it != n.reads.end()) it->second.index = rs.index;
  }
  serve_reads(n);
  for (uint64_t request : rd.dropped_reads) {
    const auto it = n.reads.find(request);
    if (it == n.reads.end()) continue;
    const pending_read read = it->second;
    n.reads.erase(it);
    const client_state& c = workload_.client(read.client);
    if (!c.busy || c.op_seq != read.op_seq) continue;
    trace("client " + std::to_string(read.client) + " gives up (read dropped)");
    workload_.give_up(read.client);
    finish_op(read.client);
  }
  n.core().advance();
  maybe_compact(n);
}

void sim_cluster::apply_committed(sim_node& n, const raft::ready& rd) {
  for (const raft::entry& e : rd.committed) {
    if (!checker_.check_apply(n.id(), n.applied(), n.durable_last_index(),
                              n.durable_term_at(e.index), e, now_us_))
      return;
    const bool effect = n.apply(e);
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
    if (probe_ && probe_->first == n.id() && probe_->second.index == e.index) {
      if (probe_->second.term == e.term) probe_applied_ = true;
      else probe_.reset();
    }
    complete_proposals(n, e, effect);
  }
}

void sim_cluster::complete_proposals(sim_node& n, const raft::entry& e, bool effect) {
  const auto [first, last] = n.proposals.equal_range(e.index);
  std::vector<pending_proposal> hits;
  for (auto it = first; it != last; ++it) hits.push_back(it->second);
  n.proposals.erase(first, last);
  for (const pending_proposal& p : hits) {
    const client_state& c = workload_.client(p.client);
    if (!c.busy || c.op_seq != p.op_seq) continue;
    if (p.id.term == e.term) {
      const bool cas = workload_.op(c.op).type == operation::kind::cas;
      if (!cas) ++result_.stats.writes_ok;
      else ++(effect ? result_.stats.cas_ok : result_.stats.cas_failed);
      workload_.complete_write(p.client, now_us_, effect, p.id);
      trace("client " + std::to_string(p.client) + " done: entry " + std::to_string(e.index) +
            (effect ? " took effect" : " had no effect"));
      finish_op(p.client);
    } else {
      // Another entry won this index: ours can never commit; propose again.
      const raft::node_id hint = n.core().leader_hint();
      retry(p.client, hint != raft::no_node ? hint : n.id());
    }
  }
}

void sim_cluster::serve_reads(sim_node& n) {
  for (auto it = n.reads.begin(); it != n.reads.end();) {
    const pending_read& read = it->second;
    if (!read.index || *read.index > n.applied()) {
      ++it;
      continue;
    }
    const client_state& c = workload_.client(read.client);
    if (c.busy && c.op_seq == read.op_seq) {
      ++(c.lease_read ? result_.stats.lease_reads : result_.stats.read_index_reads);
      const auto value = n.state().find(read.key);
      std::optional<std::string> result;
      if (value != n.state().end()) result = value->second;
      workload_.complete_read(read.client, now_us_, result);
      trace("client " + std::to_string(read.client) + " read " + read.key + " = " +
            result.value_or("<absent>") + " at node " + std::to_string(n.id()) +
            " (read index " + std::to_string(*read.index) + ")");
      finish_op(read.client);
    }
    it = n.reads.erase(it);
  }
}

void sim_cluster::maybe_compact(sim_node& n) {
  raft::raft& core = n.core();
  if (n.applied() < core.snapshot_info().index + params_.compact_every_entries) return;
  if (core.applied_index() != n.applied()) return;
  const status compacted = core.compact(n.applied(), encode_map(n.state()));
  if (!compacted.ok())
    checker_.report("contract", "compact(" + std::to_string(n.applied()) + ") on node " +
                                    std::to_string(n.id()) + " refused: " +
                                    compacted.to_string(),
                    now_us_);
}

}  // namespace velocity::sim
