// Implements types.hpp: membership queries, the conf change codec and its
// application, message sizing and descriptions, names of enums, the
// bootstrap state of a new cluster, ready::empty and config validation.
//
// Thread safety: free functions over values; no shared state.
// Invariants: membership id lists stay sorted and duplicate-free, and no id is
// both voter and learner (apply_conf_change preserves it).
#include "cluster/raft/types.hpp"

#include <algorithm>
#include <sstream>

namespace velocity::raft {
namespace {

// Conf change wire format: version byte, kind byte, node id as 8 bytes little
// endian. Fixed size so a truncated or padded value is detected.
constexpr uint8_t conf_change_version = 1;
constexpr size_t conf_change_bytes = 10;

// Fixed per-message overhead counted by message_bytes (header fields).
constexpr size_t message_overhead_bytes = 64;

void insert_sorted(std::vector<node_id>& ids, node_id id) {
  ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
}

void erase_id(std::vector<node_id>& ids, node_id id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it != ids.end() && *it == id) ids.erase(it);
}

bool sorted_contains(const std::vector<node_id>& ids, node_id id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

std::string_view kind_name(conf_change::kind k) {
  switch (k) {
    case conf_change::kind::add_learner:
      return "add_learner";
    case conf_change::kind::promote_learner:
      return "promote_learner";
    case conf_change::kind::remove_node:
      return "remove_node";
  }
  return "unknown";
}

}  // namespace

bool membership::is_voter(node_id id) const { return sorted_contains(voters, id); }

bool membership::is_learner(node_id id) const { return sorted_contains(learners, id); }

bool well_formed(const membership& conf) {
  auto valid = [](const std::vector<node_id>& ids) {
    return std::is_sorted(ids.begin(), ids.end()) &&
           std::adjacent_find(ids.begin(), ids.end()) == ids.end() &&
           std::find(ids.begin(), ids.end(), no_node) == ids.end();
  };
  if (!valid(conf.voters) || !valid(conf.learners)) return false;
  for (node_id l : conf.learners)
    if (conf.is_voter(l)) return false;
  return true;
}

std::string encode_conf_change(const conf_change& change) {
  std::string out(conf_change_bytes, '\0');
  out[0] = static_cast<char>(conf_change_version);
  out[1] = static_cast<char>(change.type);
  for (size_t i = 0; i < 8; ++i)
    out[2 + i] = static_cast<char>(static_cast<uint8_t>(change.node >> (8 * i)));
  return out;
}

status_or<conf_change> decode_conf_change(std::string_view bytes) {
  if (bytes.size() != conf_change_bytes)
    return status{error_code::malformed, "conf change: expected " +
                                             std::to_string(conf_change_bytes) + " bytes, got " +
                                             std::to_string(bytes.size())};
  if (static_cast<uint8_t>(bytes[0]) != conf_change_version)
    return status{error_code::malformed,
                  "conf change: unknown version " +
                      std::to_string(static_cast<uint8_t>(bytes[0]))};
  auto kind_byte = static_cast<uint8_t>(bytes[1]);
  if (kind_byte > static_cast<uint8_t>(conf_change::kind::remove_node))
    return status{error_code::malformed, "conf change: unknown kind " + std::to_string(kind_byte)};
  conf_change change;
  change.type = static_cast<conf_change::kind>(kind_byte);
  for (size_t i = 0; i < 8; ++i)
    change.node |= static_cast<node_id>(static_cast<uint8_t>(bytes[2 + i])) << (8 * i);
  if (change.node == no_node) return status{error_code::malformed, "conf change: node id 0"};
  return change;
}

status_or<membership> apply_conf_change(const membership& current, const conf_change& change) {
  auto fail = [&](const std::string& why) {
    return status{error_code::invalid_argument, std::string{kind_name(change.type)} + " " +
                                                    std::to_string(change.node) + ": " + why};
  };
  if (change.node == no_node) return fail("node id 0 is reserved");
  membership next = current;
  switch (change.type) {
    case conf_change::kind::add_learner:
      if (current.contains(change.node)) return fail("node is already a member");
      insert_sorted(next.learners, change.node);
      return next;
    case conf_change::kind::promote_learner:
      if (!current.is_learner(change.node)) return fail("node is not a learner");
      erase_id(next.learners, change.node);
      insert_sorted(next.voters, change.node);
      return next;
    case conf_change::kind::remove_node:
      if (!current.contains(change.node)) return fail("node is not a member");
      if (current.is_voter(change.node) && current.voters.size() == 1)
        return fail("cannot remove the last voter");
      erase_id(next.voters, change.node);
      erase_id(next.learners, change.node);
      return next;
  }
  return fail("unknown kind");
}

size_t message_bytes(const message& m) {
  size_t total = message_overhead_bytes + m.snap_data.size();
  for (const auto& e : m.entries) total += entry_bytes(e);
  return total;
}

std::string describe(const message& m) {
  std::ostringstream out;
  out << to_string(m.type) << ' ' << m.from << "->" << m.to << " t" << m.term;
  switch (m.type) {
    case message_type::pre_vote:
    case message_type::vote:
      out << " last " << m.index << '/' << m.log_term;
      if (m.force) out << " force";
      break;
    case message_type::append:
      out << " i" << m.index << "/t" << m.log_term << " n" << m.entries.size() << " c"
          << m.commit;
      break;
    case message_type::append_response:
      out << " i" << m.index;
      if (m.reject) out << " reject hint " << m.reject_hint << "/t" << m.log_term;
      break;
    case message_type::heartbeat:
      out << " c" << m.commit << " ctx" << m.context;
      break;
    case message_type::heartbeat_response:
      out << " ctx" << m.context;
      break;
    case message_type::snapshot_chunk:
      out << " snap " << m.snap_meta.index << '/' << m.snap_meta.term << " off "
          << m.snap_offset << " len " << m.snap_data.size() << " of " << m.snap_total_bytes;
      if (m.snap_done) out << " done";
      break;
    case message_type::snapshot_response:
      out << " snap " << m.index << " off " << m.snap_offset;
      if (m.snap_done) out << " done";
      break;
    case message_type::commit_notice:
      out << " c" << m.commit;
      break;
    case message_type::pre_vote_response:
    case message_type::vote_response:
    case message_type::timeout_now:
      break;
  }
  if (m.reject && m.type != message_type::append_response) out << " reject";
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const message& m) { return out << describe(m); }

std::string_view to_string(message_type t) {
  switch (t) {
    case message_type::pre_vote:
      return "pre_vote";
    case message_type::pre_vote_response:
      return "pre_vote_response";
    case message_type::vote:
      return "vote";
    case message_type::vote_response:
      return "vote_response";
    case message_type::append:
      return "append";
    case message_type::append_response:
      return "append_response";
    case message_type::heartbeat:
      return "heartbeat";
    case message_type::heartbeat_response:
      return "heartbeat_response";
    case message_type::snapshot_chunk:
      return "snapshot_chunk";
    case message_type::snapshot_response:
      return "snapshot_response";
    case message_type::timeout_now:
      return "timeout_now";
    case message_type::commit_notice:
      return "commit_notice";
  }
  return "unknown";
}

std::string_view to_string(role r) {
  switch (r) {
    case role::follower:
      return "follower";
    case role::pre_candidate:
      return "pre_candidate";
    case role::candidate:
      return "candidate";
    case role::leader:
      return "leader";
  }
  return "unknown";
}

std::string_view to_string(injected_bug b) {
  switch (b) {
    case injected_bug::none:
      return "none";
    case injected_bug::commit_previous_term_by_counting:
      return "commit_previous_term_by_counting";
    case injected_bug::vote_ignores_log:
      return "vote_ignores_log";
    case injected_bug::ack_before_persist:
      return "ack_before_persist";
    case injected_bug::read_without_quorum:
      return "read_without_quorum";
  }
  return "unknown";
}

bool ready::empty() const {
  return !snap && entries.empty() && !hard && messages.empty() &&
         messages_after_persist.empty() && committed.empty() && read_states.empty() &&
         dropped_reads.empty();
}

durable_state bootstrap_state(std::vector<node_id> initial_voters) {
  std::sort(initial_voters.begin(), initial_voters.end());
  initial_voters.erase(std::unique(initial_voters.begin(), initial_voters.end()),
                       initial_voters.end());
  durable_state state;
  state.snap.meta.conf.voters = std::move(initial_voters);
  return state;
}

status validate(const config& c) {
  auto bad = [](const std::string& why) {
    return status{error_code::invalid_argument, "raft config: " + why};
  };
  if (c.id == no_node) return bad("id must not be 0");
  if (c.heartbeat_ticks < 1) return bad("heartbeat_ticks must be at least 1");
  if (c.election_ticks <= c.heartbeat_ticks)
    return bad("election_ticks (" + std::to_string(c.election_ticks) +
               ") must exceed heartbeat_ticks (" + std::to_string(c.heartbeat_ticks) + ")");
  if (c.election_ticks > election_ticks_limit)
    return bad("election_ticks (" + std::to_string(c.election_ticks) + ") must be at most " +
               std::to_string(election_ticks_limit));
  if (c.lease_ticks == 1)
    return bad("lease_ticks 1 gives no lease (a lease runs lease_ticks - 1 ticks); use 0 or 2+");
  if (c.lease_ticks > 0 && c.lease_ticks >= c.election_ticks)
    return bad("lease_ticks (" + std::to_string(c.lease_ticks) +
               ") must be below election_ticks (" + std::to_string(c.election_ticks) + ")");
  if (c.lease_ticks > 0 && !c.check_quorum) return bad("lease_ticks needs check_quorum");
  if (c.inflight_messages_max == 0) return bad("inflight_messages_max must be positive");
  if (c.inflight_bytes_max == 0) return bad("inflight_bytes_max must be positive");
  if (c.append_bytes_max == 0) return bad("append_bytes_max must be positive");
  if (c.uncommitted_bytes_max == 0) return bad("uncommitted_bytes_max must be positive");
  if (c.snapshot_chunk_bytes == 0) return bad("snapshot_chunk_bytes must be positive");
  return status{};
}

}  // namespace velocity::raft
