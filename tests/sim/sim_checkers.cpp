// Implements sim_checkers.hpp.
//
// Thread safety: none (one run).
#include "tests/sim/sim_checkers.hpp"

#include <algorithm>
#include <sstream>

namespace velocity::sim {

std::string entry_text(const raft::entry& e) {
  std::ostringstream out;
  out << "i" << e.index << "/t" << e.term;
  if (e.kind == raft::entry_kind::conf_change) {
    const auto change = raft::decode_conf_change(e.data);
    if (change.ok())
      out << " conf_change(" << static_cast<int>(change->type) << " node " << change->node << ")";
    else
      out << " conf_change(undecodable)";
  } else if (e.data.empty()) {
    out << " no-op";
  } else if (const auto c = decode_command(e.data)) {
    out << " '" << describe_command(*c) << "'";
  } else {
    out << " <" << e.data.size() << " bytes, not a client command>";
  }
  return out.str();
}

void safety_checker::report(std::string property, std::string detail, int64_t now_us) {
  violations_.push_back({std::move(property), std::move(detail), now_us});
}

bool safety_checker::check_lease_read(raft::node_id node, raft::term_t term,
                                      raft::node_id newer_leader, raft::term_t newer_term,
                                      int64_t now_us) {
  if (newer_term <= term) return true;
  report("lease_read_deposed", "node " + std::to_string(node) + " granted a lease read in term " +
                                   std::to_string(term) + " while node " +
                                   std::to_string(newer_leader) + " led in term " +
                                   std::to_string(newer_term),
         now_us);
  return false;
}

void safety_checker::observe_leader(const raft::raft& core, int64_t now_us) {
  if (core.current_role() != raft::role::leader) return;
  const raft::term_t term = core.term();
  const auto [it, inserted] = leader_of_term_.emplace(term, core.id());
  if (!inserted && it->second != core.id()) {
    std::ostringstream out;
    out << "term " << term << " has two leaders: " << it->second << " and " << core.id();
    report("election_safety", out.str(), now_us);
    return;
  }
  if (inserted) {
    check_completeness(core, now_us);
    // Entries committed before this term were recorded by their own leaders;
    // entries of this term already committed at the first sighting (nothing
    // in between observed it) are this leader's own commits: record them.
    raft::index_t seen_first = core.commit_index();
    while (seen_first >= core.first_index() && core.term_at(seen_first) == term) --seen_first;
    leader_commit_seen_[core.id()] = seen_first;
  }
  raft::index_t& seen = leader_commit_seen_[core.id()];
  const raft::index_t commit = core.commit_index();
  for (raft::index_t i = std::max(seen, core.first_index() - 1) + 1; i <= commit; ++i) {
    if (auto e = core.entry_at(i)) record(core.id(), *e, term, now_us);
  }
  seen = std::max(seen, commit);
}

void safety_checker::check_completeness(const raft::raft& core, int64_t now_us) {
  const raft::index_t snap_index = core.snapshot_info().index;
  for (auto it = ledger_.upper_bound(snap_index); it != ledger_.end(); ++it) {
    const ledger_entry& known = it->second;
    if (known.commit_term == 0 || known.commit_term >= core.term()) continue;
    const auto held = core.entry_at(it->first);
    if (!held || held->term != known.e.term || held->data != known.e.data) {
      std::ostringstream out;
      out << "leader " << core.id() << " of term " << core.term() << " lacks entry "
          << entry_text(known.e) << " committed in term " << known.commit_term
          << (held ? "; it holds " + entry_text(*held) : std::string{"; it has no entry there"});
      report("leader_completeness", out.str(), now_us);
      return;
    }
  }
}

void safety_checker::record(raft::node_id node, const raft::entry& e, raft::term_t commit_term,
                            int64_t now_us) {
  auto [it, inserted] = ledger_.emplace(e.index, ledger_entry{e, commit_term});
  if (inserted) return;
  ledger_entry& known = it->second;
  if (known.e != e) {
    std::ostringstream out;
    out << "node " << node << " has committed/applied " << entry_text(e) << " but index "
        << e.index << " was committed as " << entry_text(known.e);
    report("state_machine_safety", out.str(), now_us);
    return;
  }
  if (known.commit_term == 0) known.commit_term = commit_term;
}

void safety_checker::observe_commit(raft::node_id node, raft::index_t previous,
                                    raft::index_t now, int64_t now_us) {
  if (now >= previous) return;
  std::ostringstream out;
  out << "node " << node << " commit index went from " << previous << " down to " << now;
  report("commit_monotonic", out.str(), now_us);
}

void safety_checker::observe_apply(raft::node_id node, const raft::entry& e, int64_t now_us) {
  record(node, e, 0, now_us);
}

void safety_checker::observe_restart(raft::node_id node, raft::index_t loaded_commit,
                                     raft::index_t durable_floor, int64_t now_us) {
  if (loaded_commit >= durable_floor) return;
  std::ostringstream out;
  out << "node " << node << " restarted with commit " << loaded_commit
      << " below its synced commit " << durable_floor;
  report("commit_monotonic", out.str(), now_us);
}

void safety_checker::check_log_matching(const std::vector<const raft::raft*>& cores,
                                        int64_t now_us) {
  for (size_t a = 0; a < cores.size(); ++a)
    for (size_t b = a + 1; b < cores.size(); ++b) {
      const raft::raft& x = *cores[a];
      const raft::raft& y = *cores[b];
      const raft::index_t low = std::max(x.first_index(), y.first_index());
      const raft::index_t high = std::min(x.last_index(), y.last_index());
      // The highest index where the terms agree: everything up to it must be equal.
      raft::index_t agree = 0;
      for (raft::index_t i = high; i >= low && i > 0; --i) {
        if (x.term_at(i) == y.term_at(i)) {
          agree = i;
          break;
        }
      }
      for (raft::index_t i = low; i <= agree; ++i) {
        const auto ex = x.entry_at(i);
        const auto ey = y.entry_at(i);
        if (ex && ey && *ex == *ey) continue;
        std::ostringstream out;
        out << "nodes " << x.id() << " and " << y.id() << " agree on the term at index "
            << agree << " but differ at " << i << ": "
            << (ex ? entry_text(*ex) : std::string{"none"}) << " vs "
            << (ey ? entry_text(*ey) : std::string{"none"});
        report("log_matching", out.str(), now_us);
        return;
      }
    }
}

bool safety_checker::check_apply(raft::node_id node, raft::index_t applied,
                                 raft::index_t durable_last_index,
                                 std::optional<raft::term_t> durable_term, const raft::entry& e,
                                 int64_t now_us) {
  const std::string who = "node " + std::to_string(node);
  if (e.index != applied + 1) {
    report("apply_order", who + " was given entry " + std::to_string(e.index) +
                              " to apply after " + std::to_string(applied),
           now_us);
    return false;
  }
  if (e.index > durable_last_index) {
    report("contract", who + " was given entry " + std::to_string(e.index) +
                           " to apply, but its durable log ends at " +
                           std::to_string(durable_last_index),
           now_us);
    return false;
  }
  if (durable_term != e.term) {
    report("contract", who + " was given entry " + entry_text(e) + " to apply, but its synced " +
                           "log holds " + (durable_term ? "term " + std::to_string(*durable_term)
                                                        : std::string{"nothing"}) + " there",
           now_us);
    return false;
  }
  if (e.kind == raft::entry_kind::normal && !e.data.empty() && !decode_command(e.data)) {
    report("state_machine_safety", who + " applies an entry that no client wrote: " +
                                       entry_text(e),
           now_us);
    return false;
  }
  return true;
}

bool safety_checker::check_snapshot(raft::node_id node, raft::index_t index,
                                    const kv_map& map, int64_t now_us) {
  const auto expected = replay(index, now_us);
  if (!expected) return false;
  if (map == *expected) return true;
  report("snapshot", "node " + std::to_string(node) + " restored '" + encode_map(map) +
                         "' at index " + std::to_string(index) + " but the committed log gives '" +
                         encode_map(*expected) + "'",
         now_us);
  return false;
}

bool safety_checker::check_convergence(const std::map<raft::node_id, const kv_map*>& maps,
                                       raft::index_t commit, int64_t now_us) {
  const auto expected = replay(commit, now_us);
  if (!expected) return false;
  for (const auto& [id, map] : maps) {
    if (*map == *expected) continue;
    report("convergence", "node " + std::to_string(id) + " holds '" + encode_map(*map) +
                              "' but the committed log gives '" + encode_map(*expected) + "'",
           now_us);
    return false;
  }
  return true;
}

bool safety_checker::check_identical_engines(const std::map<raft::node_id, std::string>& dumps,
                                             int64_t now_us) {
  if (dumps.empty()) return true;
  const auto& [first_id, first] = *dumps.begin();
  for (const auto& [id, dump] : dumps) {
    if (dump == first) continue;
    // The first differing byte, to find the key in a trace.
    size_t at = 0;
    while (at < dump.size() && at < first.size() && dump[at] == first[at]) ++at;
    report("engine_convergence", "node " + std::to_string(id) + "'s shard dump (" +
                                     std::to_string(dump.size()) + " bytes) differs from node " +
                                     std::to_string(first_id) + "'s (" +
                                     std::to_string(first.size()) + " bytes) at byte " +
                                     std::to_string(at),
           now_us);
    return false;
  }
  return true;
}

void safety_checker::check_acknowledged(const std::map<size_t, raft::entry_id>& acknowledged,
                                        const std::vector<operation>& history,
                                        const raft::raft& final_leader, raft::index_t commit,
                                        int64_t now_us) {
  for (const auto& [op, id] : acknowledged) {
    const raft::entry* e = committed(id.index);
    const bool in_ledger = id.index <= commit && e != nullptr && e->term == id.term;
    // Below the leader's snapshot the index is no longer held: the ledger speaks for it.
    const auto held = id.index >= final_leader.first_index()
                          ? final_leader.term_at(id.index)
                          : std::optional<raft::term_t>{id.term};
    if (in_ledger && held == id.term) continue;
    std::ostringstream out;
    out << "operation " << op;
    if (op < history.size())
      out << " (client " << history[op].client << ", value "
          << history[op].value.value_or("") << ")";
    out << " was acknowledged as entry " << id.index << "/t" << id.term << " but ";
    if (!in_ledger)
      out << "the committed log "
          << (e ? "has term " + std::to_string(e->term) + " there" : std::string{"lacks it"});
    else
      out << "the final leader " << final_leader.id() << " holds "
          << (held ? "term " + std::to_string(*held) : std::string{"nothing"}) << " there";
    report("acknowledged_write_lost", out.str(), now_us);
    return;
  }
}

std::optional<kv_map> safety_checker::replay(raft::index_t index, int64_t now_us) {
  kv_map map;
  for (raft::index_t i = 1; i <= index; ++i) {
    const auto it = ledger_.find(i);
    if (it == ledger_.end()) {
      report("state_machine_safety", "no replica applied index " + std::to_string(i) +
                                         " below the final commit " + std::to_string(index),
             now_us);
      return std::nullopt;
    }
    const raft::entry& e = it->second.e;
    if (e.kind != raft::entry_kind::normal || e.data.empty()) continue;
    if (auto c = decode_command(e.data)) apply_command(map, *c);
  }
  return map;
}

const raft::entry* safety_checker::committed(raft::index_t index) const {
  const auto it = ledger_.find(index);
  return it == ledger_.end() ? nullptr : &it->second.e;
}

}  // namespace velocity::sim
