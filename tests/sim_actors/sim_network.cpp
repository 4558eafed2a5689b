// The simulated network and the per-node link actors (see sim_network.hpp).
//
// Actor safety: state in the world, on the test coordinator's one thread.
#include "tests/sim_actors/sim_network.hpp"

#include <chrono>
#include <string>
#include <utility>

#include "caf/event_based_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

namespace velocity::simb {

namespace {

bool alive(world& w, raft::node_id id, uint64_t incarnation) {
  if (id == 0 || id > w.nodes.size()) return false;
  const node_slot& n = w.node(id);
  return n.up && n.incarnation == incarnation;
}

int64_t draw_delay_ns(world& w, const peer_message& m) {
  int64_t delay = w.draw_between(w.net.delay_ns_min, w.net.delay_ns_max);
  if (w.clogged(m.from, m.to)) delay += w.draw_between(0, w.net.clog_delay_ns_max);
  return delay;
}

void schedule(caf::event_based_actor* self, world& w, const peer_message& m) {
  uint64_t incarnation = w.node(m.to).incarnation;
  self->delayed_send(self, std::chrono::nanoseconds{draw_delay_ns(w, m)},
                     net_deliver_atom::value, incarnation, m);
}

// The real transport answers a forward it cannot queue at once.
void bounce(world& w, const peer_message& m) {
  ++w.net_counters.undeliverable;
  peer_message back;
  back.from = m.to;
  back.to = m.from;
  back.kind = payload_kind::forward_reply;
  back.shard = m.shard;
  back.correlation = m.correlation;
  back.undeliverable = true;
  caf::anon_send(w.node(m.from).mux, peer_deliver_atom::value, std::move(back));
}

void on_send(caf::event_based_actor* self, world& w, uint64_t incarnation, peer_message& m) {
  ++w.net_counters.sent;
  if (!alive(w, m.from, incarnation)) return void(++w.net_counters.dropped);
  bool down = m.to == 0 || m.to > w.nodes.size() || !w.node(m.to).up || w.blocked(m.from, m.to);
  if (down) {
    ++w.net_counters.dropped;
    if (m.kind == payload_kind::forward_request) bounce(w, m);
    return;
  }
  if (w.chance_per_mille(w.net.loss_per_mille)) return void(++w.net_counters.dropped);
  schedule(self, w, m);
  bool may_repeat = m.kind == payload_kind::raft || m.kind == payload_kind::forward_reply;
  if (may_repeat && w.chance_per_mille(w.net.duplicate_per_mille)) {
    ++w.net_counters.duplicated;
    schedule(self, w, m);
  }
}

void on_deliver(world& w, uint64_t incarnation, peer_message& m) {
  if (!alive(w, m.to, incarnation) || w.blocked(m.from, m.to))
    return void(++w.net_counters.dropped);
  ++w.net_counters.delivered;
  w.events.add(static_cast<uint64_t>(w.now_ns()));
  w.events.add(m.from * 1000 + m.to * 10 + static_cast<uint64_t>(m.kind));
  w.events.add(m.correlation);
  w.events.add(m.payload);
  caf::anon_send(w.node(m.to).mux, peer_deliver_atom::value, std::move(m));
}

caf::behavior network_impl(caf::event_based_actor* self, world* w) {
  return {
      [=](net_send_atom, uint64_t incarnation, peer_message& m) {
        on_send(self, *w, incarnation, m);
      },
      [=](net_deliver_atom, uint64_t incarnation, peer_message& m) {
        on_deliver(*w, incarnation, m);
      },
  };
}

peer_transport_actor::behavior_type link_impl(peer_transport_actor::pointer, world* w,
                                              raft::node_id node, uint64_t incarnation) {
  return {
      [=](peer_send_atom, peer_message& m) {
        m.from = node;
        caf::anon_send(w->network, net_send_atom::value, incarnation, std::move(m));
      },
      [=](peer_stats_atom) { return peer_stats{}; },
  };
}

}  // namespace

caf::actor spawn_network(caf::actor_system& system, world& w) {
  return system.spawn(network_impl, &w);
}

peer_transport_actor spawn_link(caf::actor_system& system, world& w, raft::node_id node,
                                uint64_t incarnation) {
  return system.spawn(link_impl, &w, node, incarnation);
}

}  // namespace velocity::simb
