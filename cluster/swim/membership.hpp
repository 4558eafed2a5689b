// SWIM membership: what one member knows of every member, and the rule that
// merges a piece of gossip into it (the table of cluster/swim/swim.hpp, whose
// probe cycle, suspicion timers and dissemination build on this).
//
// Every update names a member, its incarnation and a state. At one
// incarnation the states are ordered alive < suspect < dead < left, and an
// update replaces what is known only if (incarnation, state) is higher, so a
// member's entry is the maximum of every update seen about it: the table is
// the same whatever order the updates arrive in, and applying one twice
// changes nothing (the tests check both). Only the member itself raises its
// incarnation: told it is suspect or dead (at its incarnation or above), it
// refutes by becoming alive at a higher one, which every other member then
// prefers. A member that left (graceful) or died rejoins only with a higher
// incarnation. Metadata (addresses, shards: opaque here) travels with alive
// updates and is versioned by (incarnation, meta_version); only the member
// itself writes it, so one version never names two different metadata.
//
// Pure: no clocks, threads or I/O. Thread safety: none; one owner.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace velocity::swim {

using member_id = uint64_t;  // the node id (raft::node_id)

enum class member_state : uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };
std::string_view to_string(member_state s);

// One piece of gossip about a member (also a member's table entry).
struct update {
  member_id id = 0;
  uint64_t incarnation = 0;
  member_state state = member_state::alive;
  // Alive updates only: the member's metadata and its version within the
  // incarnation.
  uint64_t meta_version = 0;
  std::string meta{};
  friend bool operator==(const update&, const update&) = default;
};

// What applying an update changed, for the events the gossiper publishes.
enum class change : uint8_t {
  none,          // stale or already known
  joined,        // a member not known before
  alive_again,   // suspect, dead or left before; alive now
  suspected,
  died,
  left,
  meta_changed,  // still alive, newer metadata
  refuted,       // about this member: it raised its incarnation (spread self_update())
};
std::string_view to_string(change c);

class membership {
 public:
  // REQUIRES: self != 0.
  membership(member_id self, std::string meta);

  // Merges one update (see the header comment). Updates about this member
  // never lower it: a suspicion or death at its incarnation or above is
  // refuted, anything else about it is ignored.
  change apply(const update& u);

  // This member as it should be gossiped now.
  const update& self_update() const { return members_.at(self_); }
  // Graceful leave: this member is `left` at a higher incarnation; spread
  // the returned update before going away.
  update leave();
  // New metadata for this member (its version rises); spread self_update().
  void set_meta(std::string meta);

  // nullptr when unknown.
  const update* find(member_id id) const;
  // Every member this one knows of, itself included, by id.
  const std::map<member_id, update>& members() const { return members_; }
  // Members other than this one that are alive or suspect (probe targets).
  std::vector<member_id> reachable() const;
  member_id self() const { return self_; }

 private:
  change apply_to_self(const update& u);

  member_id self_;
  std::map<member_id, update> members_;
  // Per other member: the incarnation of the alive update its metadata came
  // from (nullopt: no alive update seen yet, so any alive update's wins).
  std::map<member_id, std::optional<uint64_t>> meta_incarnation_;
};

}  // namespace velocity::swim
