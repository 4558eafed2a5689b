// Implements membership.hpp.
//
// Thread safety: none (one owner).
#include "cluster/swim/membership.hpp"

#include <optional>
#include <tuple>
#include <utility>

#include "protocols/check.hpp"

namespace velocity::swim {

namespace {

// The order of entries about one member: incarnation, then state.
auto rank(const update& u) { return std::make_tuple(u.incarnation, static_cast<int>(u.state)); }

}  // namespace

std::string_view to_string(member_state s) {
  switch (s) {
    case member_state::alive: return "alive";
    case member_state::suspect: return "suspect";
    case member_state::dead: return "dead";
    case member_state::left: return "left";
  }
  return "unknown";
}

std::string_view to_string(change c) {
  switch (c) {
    case change::none: return "none";
    case change::joined: return "joined";
    case change::alive_again: return "alive_again";
    case change::suspected: return "suspected";
    case change::died: return "died";
    case change::left: return "left";
    case change::meta_changed: return "meta_changed";
    case change::refuted: return "refuted";
  }
  return "unknown";
}

membership::membership(member_id self, std::string meta) : self_(self) {
  VELOCITY_CHECK(self != 0);
  update me;
  me.id = self;
  me.meta = std::move(meta);
  members_.emplace(self, std::move(me));
}

namespace {

change entered(member_state s) {
  switch (s) {
    case member_state::alive: return change::alive_again;
    case member_state::suspect: return change::suspected;
    case member_state::dead: return change::died;
    case member_state::left: return change::left;
  }
  return change::none;
}

}  // namespace

change membership::apply(const update& u) {
  if (u.id == 0) return change::none;
  if (u.id == self_) return apply_to_self(u);
  const bool alive = u.state == member_state::alive;
  auto it = members_.find(u.id);
  if (it == members_.end()) {
    update added = u;
    if (!alive) {
      added.meta.clear();
      added.meta_version = 0;
    }
    members_.emplace(u.id, std::move(added));
    meta_incarnation_[u.id] = alive ? std::optional{u.incarnation} : std::nullopt;
    return alive ? change::joined : entered(u.state);
  }
  update& known = it->second;
  // Metadata: the highest (incarnation, meta_version) of the alive updates,
  // whatever the state; so the table stays the maximum of what was seen.
  bool meta_changed = false;
  std::optional<uint64_t>& meta_incarnation = meta_incarnation_[u.id];
  if (alive && (!meta_incarnation || std::make_tuple(u.incarnation, u.meta_version) >
                                         std::make_tuple(*meta_incarnation, known.meta_version))) {
    meta_changed = u.meta != known.meta;
    known.meta = u.meta;
    known.meta_version = u.meta_version;
    meta_incarnation = u.incarnation;
  }
  if (rank(u) > rank(known)) {
    const member_state before = known.state;
    known.incarnation = u.incarnation;
    known.state = u.state;
    if (u.state != before) return entered(u.state);
  }
  return meta_changed && known.state == member_state::alive ? change::meta_changed : change::none;
}

change membership::apply_to_self(const update& u) {
  update& me = members_.at(self_);
  if (me.state == member_state::left) return change::none;  // gone: nothing to refute
  const bool accused = u.state == member_state::suspect || u.state == member_state::dead;
  // Someone remembers a later incarnation of this member (from before a
  // restart): go above it too, or the others would prefer that one.
  const bool outdated = u.incarnation > me.incarnation;
  if (!accused && !outdated) return change::none;
  if (accused && u.incarnation < me.incarnation) return change::none;  // already refuted
  me.incarnation = u.incarnation + 1;
  return change::refuted;
}

update membership::leave() {
  update& me = members_.at(self_);
  me.incarnation += 1;
  me.state = member_state::left;
  return me;
}

void membership::set_meta(std::string meta) {
  update& me = members_.at(self_);
  me.meta = std::move(meta);
  me.meta_version += 1;
}

const update* membership::find(member_id id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

std::vector<member_id> membership::reachable() const {
  std::vector<member_id> out;
  for (const auto& [id, m] : members_)
    if (id != self_ && (m.state == member_state::alive || m.state == member_state::suspect))
      out.push_back(id);
  return out;
}

}  // namespace velocity::swim
