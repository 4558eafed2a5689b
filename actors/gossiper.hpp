// The gossiper: a node's membership actor, the shell of the pure SWIM core
// (cluster/swim/swim.hpp). It owns the core, ticks it on its own timer,
// carries its messages to the other nodes as `gossip` envelopes through the
// peer mux (over the peer transport's TCP connections, the Raft traffic's
// links: a node whose links are down is a node the cluster cannot use), and
// tells its listeners (the router) the member table after every change.
//
//   gossiper --gossip_out--> mux --envelope(kind gossip)--> the node's mux
//       --gossip_in--> its gossiper --step--> core
//   timer: every tick_ms, core.tick(); every led_poll_ticks, the local
//       shards' roles, so a node's metadata names the shards it leads
//   core events (joined, suspect, alive again, dead, left, metadata) -> log
//       lines, metrics, and a member_view to every listener (also once per
//       led poll, so the listeners' counters are at most that old)
//
// Members are the configured cluster members (their ids are the Raft node
// ids); a node joins through every other member as a seed. Metadata: the
// node's client, peer and ops addresses and the shards it leads
// (cluster/swim/member_meta.hpp).
//
// Actor safety: state is touched only by the gossiper.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/environment.hpp"
#include "actors/metrics.hpp"
#include "actors/peer_mux.hpp"
#include "actors/shard.hpp"
#include "caf/actor_system.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "cluster/swim/member_meta.hpp"
#include "cluster/swim/swim.hpp"

namespace velocity {

using gossip_tick_atom = caf::atom_constant<caf::atom("gsp_tick")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using gossip_leave_atom = caf::atom_constant<caf::atom("gsp_leave")>;
using gossip_subscribe_atom = caf::atom_constant<caf::atom("gsp_sub")>;
using gossip_meta_atom = caf::atom_constant<caf::atom("gsp_meta")>;
using gossip_led_atom = caf::atom_constant<caf::atom("gsp_led")>;
using member_view_atom = caf::atom_constant<caf::atom("mem_view")>;

// One member as this node's gossiper knows it.
struct member_entry {
  uint64_t id = 0;
  swim::member_state state = swim::member_state::alive;
  uint64_t incarnation = 0;
  swim::member_meta meta{};  // empty when its text was unreadable
};

// The member table and the gossiper's counters.
struct member_view {
  uint64_t self = 0;
  std::vector<member_entry> members;  // by id, this node included
  swim::stats counters{};
  uint32_t local_health = 0;          // Lifeguard's multiplier
  uint64_t false_suspicions = 0;      // suspected members that turned out alive
  uint64_t bytes_sent = 0;            // gossip payload bytes
  uint64_t bytes_received = 0;
  // The ids in a state (dead: also left).
  std::vector<uint64_t> ids_in(swim::member_state state) const;
  const member_entry* find(uint64_t id) const;
};

// Who wants the table after each change (the router).
using member_listener = caf::typed_actor<caf::reacts_to<member_view_atom, member_view>>;

using gossiper_actor =
    caf::typed_actor<caf::reacts_to<gossip_in_atom, peer_message>,        // from the mux
                     caf::reacts_to<gossip_tick_atom>,                     // its timer
                     caf::replies_to<members_atom>::with<member_view>,     // status, CLI
                     caf::replies_to<gossip_leave_atom>::with<bool>,       // a stopping node
                     caf::reacts_to<gossip_subscribe_atom, member_listener>,
                     caf::reacts_to<gossip_meta_atom, swim::member_meta>,  // the node's addresses
                     caf::reacts_to<gossip_led_atom, std::vector<uint32_t>>>;  // to itself

// Gossip timing of a node, in milliseconds (docs/cluster.md). Converted to
// ticks of tick_ms for the core; defaults are memberlist's LAN profile.
struct gossip_timing {
  uint32_t tick_ms = 100;
  uint32_t probe_interval_ms = 1000;
  uint32_t probe_timeout_ms = 500;
  uint32_t suspicion_mult = 4;
  uint32_t push_pull_interval_ms = 30000;
};

// "" or what is wrong (a timeout not below the interval, values below a tick).
std::string validate(const gossip_timing& timing);
// The core's config for `self` with these timings.
swim::config swim_config_for(uint64_t self, const gossip_timing& timing, uint64_t seed);

struct gossiper_options {
  uint64_t node = 0;
  std::vector<uint64_t> members;  // every member's id, this node's included
  gossip_timing timing{};
  swim::member_meta meta{};       // this node's addresses (more may follow: gossip_meta_atom)
  peer_mux_actor mux;
  std::vector<shard_actor> shards;  // polled for the shards this node leads
  std::shared_ptr<environment> env;  // the seed of the core's randomness
  std::shared_ptr<metrics_registry> metrics;  // may be null
};

gossiper_actor spawn_gossiper(caf::actor_system& system, gossiper_options options);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::member_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::swim::member_meta)
