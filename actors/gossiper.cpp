// The gossiper (see gossiper.hpp).
//
// Actor safety: state is touched only by the gossiper.
#include "actors/gossiper.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <utility>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "cluster/swim/message_codec.hpp"
#include "spdlog/spdlog.h"

namespace velocity {

std::vector<uint64_t> member_view::ids_in(swim::member_state state) const {
  std::vector<uint64_t> out;
  for (const auto& m : members)
    if (m.state == state || (state == swim::member_state::dead && m.state == swim::member_state::left))
      out.push_back(m.id);
  return out;
}

const member_entry* member_view::find(uint64_t id) const {
  for (const auto& m : members)
    if (m.id == id) return &m;
  return nullptr;
}

std::string validate(const gossip_timing& t) {
  if (t.tick_ms == 0) return "gossip-tick-ms must be positive";
  if (t.probe_interval_ms < t.tick_ms || t.probe_timeout_ms < t.tick_ms)
    return "gossip-probe-interval-ms and gossip-probe-timeout-ms must be at least gossip-tick-ms";
  if (t.probe_timeout_ms >= t.probe_interval_ms)
    return "gossip-probe-timeout-ms must be below gossip-probe-interval-ms";
  if (t.suspicion_mult == 0) return "gossip-suspicion-mult must be positive";
  return "";
}

swim::config swim_config_for(uint64_t self, const gossip_timing& t, uint64_t seed) {
  swim::config cfg;
  cfg.self = self;
  cfg.random_seed = seed;
  cfg.probe_interval_ticks = t.probe_interval_ms / t.tick_ms;
  cfg.probe_timeout_ticks = t.probe_timeout_ms / t.tick_ms;
  if (cfg.probe_timeout_ticks >= cfg.probe_interval_ticks)
    cfg.probe_timeout_ticks = cfg.probe_interval_ticks - 1;
  cfg.suspicion_mult = t.suspicion_mult;
  cfg.push_pull_interval_ticks = t.push_pull_interval_ms / t.tick_ms;
  cfg.reconnect_interval_ticks = cfg.push_pull_interval_ticks;
  cfg.gossip_interval_ticks = std::max<uint32_t>(1, 200 / t.tick_ms);
  return cfg;
}

namespace {

// The shards' roles are asked every this many ticks.
constexpr uint32_t led_poll_ticks = 10;

struct gossip_metrics {
  counter* probes = nullptr;
  counter* indirect = nullptr;
  counter* suspicions = nullptr;
  counter* deaths = nullptr;
  counter* refutations = nullptr;
  counter* false_suspicions = nullptr;
  counter* bytes_sent = nullptr;
  counter* bytes_received = nullptr;
  gauge* local_health = nullptr;
  std::array<gauge*, 4> members{};  // by member_state
};

struct gossiper_state {
  gossiper_options options_;
  std::unique_ptr<swim::swim> core_;
  std::vector<member_listener> listeners_;
  std::map<uint64_t, swim::member_state> last_state_;  // for false suspicions
  uint64_t false_suspicions_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t dropped_ = 0;  // undecodable or misattributed payloads
  uint32_t ticks_ = 0;
  gossip_metrics metrics_;
};

using gossiper_pointer = gossiper_actor::stateful_pointer<gossiper_state>;

void init_metrics(gossip_metrics& m, metrics_registry* r) {
  if (r == nullptr) return;
  m.probes = &r->get_counter("velocity_gossip_probes_total", "SWIM probes (direct pings) sent.");
  m.indirect = &r->get_counter("velocity_gossip_indirect_probes_total",
                               "SWIM indirect probes (ping-req) sent.");
  m.suspicions = &r->get_counter("velocity_gossip_suspicions_total",
                                 "Members this node suspected after a failed probe.");
  m.deaths = &r->get_counter("velocity_gossip_deaths_total",
                             "Suspicions that expired here into a death.");
  m.refutations = &r->get_counter("velocity_gossip_refutations_total",
                                  "Accusations of this node it refuted.");
  m.false_suspicions = &r->get_counter(
      "velocity_gossip_false_suspicions_total",
      "Members seen suspect that refuted (alive after all): false positives.");
  m.bytes_sent = &r->get_counter("velocity_gossip_bytes_sent_total", "Gossip payload bytes sent.");
  m.bytes_received =
      &r->get_counter("velocity_gossip_bytes_received_total", "Gossip payload bytes received.");
  m.local_health = &r->get_gauge("velocity_gossip_local_health",
                                 "Lifeguard's local health multiplier (0: healthy).");
  for (auto state : {swim::member_state::alive, swim::member_state::suspect,
                     swim::member_state::dead, swim::member_state::left})
    m.members[static_cast<size_t>(state)] =
        &r->get_gauge("velocity_gossip_members", "Members this node knows, by state.",
                      {{"state", std::string{swim::to_string(state)}}});
}

member_view view_of(const gossiper_state& st) {
  member_view out;
  out.self = st.options_.node;
  for (const auto& [id, u] : st.core_->table().members()) {
    member_entry e;
    e.id = id;
    e.state = u.state;
    e.incarnation = u.incarnation;
    if (auto meta = swim::decode_member_meta(u.meta)) e.meta = std::move(*meta);
    out.members.push_back(std::move(e));
  }
  out.counters = st.core_->counters();
  out.local_health = st.core_->local_health();
  out.false_suspicions = st.false_suspicions_;
  out.bytes_sent = st.bytes_sent_;
  out.bytes_received = st.bytes_received_;
  return out;
}

void publish_metrics(gossiper_state& st) {
  auto& m = st.metrics_;
  if (m.probes == nullptr) return;
  const swim::stats& c = st.core_->counters();
  m.probes->advance_to(c.probes_sent);
  m.indirect->advance_to(c.indirect_probes_sent);
  m.suspicions->advance_to(c.suspicions_raised);
  m.deaths->advance_to(c.deaths_declared);
  m.refutations->advance_to(c.refutations);
  m.false_suspicions->advance_to(st.false_suspicions_);
  m.bytes_sent->advance_to(st.bytes_sent_);
  m.bytes_received->advance_to(st.bytes_received_);
  m.local_health->set(st.core_->local_health());
  std::array<double, 4> counts{};
  for (const auto& [id, u] : st.core_->table().members()) counts[static_cast<size_t>(u.state)] += 1;
  for (size_t i = 0; i < counts.size(); ++i) m.members[i]->set(counts[i]);
}

void log_event(const gossiper_state& st, const swim::event& e) {
  const auto node = st.options_.node;
  const auto& u = e.member;
  switch (e.what) {
    case swim::change::suspected:
      spdlog::warn("gossip on node {}: node {} is suspect (incarnation {})", node, u.id,
                   u.incarnation);
      break;
    case swim::change::died:
      spdlog::warn("gossip on node {}: node {} is dead (incarnation {})", node, u.id,
                   u.incarnation);
      break;
    case swim::change::meta_changed:
      spdlog::debug("gossip on node {}: node {} metadata {}", node, u.id, u.meta);
      break;
    default:
      spdlog::info("gossip on node {}: node {} {} (incarnation {})", node, u.id,
                   swim::to_string(e.what), u.incarnation);
      break;
  }
}

// Sends what the core produced and tells the listeners about changes (and,
// with `publish`, the table and counters anyway).
void drain(gossiper_pointer self, bool publish = false) {
  auto& st = self->state;
  swim::output out = st.core_->take_output();
  for (swim::outgoing& o : out.messages) {
    peer_message m;
    m.to = o.to;
    m.kind = payload_kind::gossip;
    m.payload = swim::encode_swim_message(o.msg);
    st.bytes_sent_ += m.payload.size();
    self->send(st.options_.mux, gossip_out_atom::value, std::move(m));
  }
  for (const swim::event& e : out.events) {
    log_event(st, e);
    auto& last = st.last_state_[e.member.id];
    if (e.what == swim::change::alive_again && last == swim::member_state::suspect)
      ++st.false_suspicions_;
    last = e.member.state;
  }
  publish_metrics(st);
  if ((out.events.empty() && !publish) || st.listeners_.empty()) return;
  member_view view = view_of(st);
  for (auto& l : st.listeners_) self->send(l, member_view_atom::value, view);
}

// This node's metadata with `led` as the shards it leads.
void update_meta(gossiper_pointer self, swim::member_meta meta) {
  auto& st = self->state;
  st.options_.meta = std::move(meta);
  std::string text = swim::encode_member_meta(st.options_.meta);
  if (text.size() > swim::meta_bytes_max) text.resize(0);  // never: addresses are short
  if (text == st.core_->table().self_update().meta) return;
  st.core_->set_meta(std::move(text));
  drain(self);
}

// Asks every local shard whether it leads; the answers come back as one
// gossip_led message.
void poll_led(gossiper_pointer self) {
  auto& shards = self->state.options_.shards;
  if (shards.empty()) return;
  struct gather {
    std::vector<uint32_t> led;
    size_t remaining = 0;
  };
  auto g = std::make_shared<gather>();
  g->remaining = shards.size();
  for (size_t i = 0; i < shards.size(); ++i) {
    auto done = [self, g] {
      if (--g->remaining > 0) return;
      std::sort(g->led.begin(), g->led.end());
      self->send(self, gossip_led_atom::value, std::move(g->led));
    };
    self->request(shards[i], std::chrono::milliseconds{1000}, shard_info_atom::value)
        .then(
            [g, i, done](const shard_info& info) {
              if (info.role == "leader") g->led.push_back(static_cast<uint32_t>(i));
              done();
            },
            [done](caf::error&) { done(); });
  }
}

gossiper_actor::behavior_type gossiper_impl(gossiper_pointer self, gossiper_options options) {
  auto& st = self->state;
  st.options_ = std::move(options);
  uint64_t seed = st.options_.env ? st.options_.env->random_u64() : st.options_.node;
  swim::config cfg = swim_config_for(st.options_.node, st.options_.timing, seed);
  cfg.meta = swim::encode_member_meta(st.options_.meta);
  st.core_ = std::make_unique<swim::swim>(cfg);
  init_metrics(st.metrics_, st.options_.metrics.get());
  std::vector<swim::member_id> seeds;
  for (uint64_t m : st.options_.members)
    if (m != st.options_.node) seeds.push_back(m);
  st.core_->join(seeds);
  drain(self);
  self->delayed_send(self, std::chrono::milliseconds{st.options_.timing.tick_ms},
                     gossip_tick_atom::value);
  return {
      [=](gossip_in_atom, const peer_message& in) {
        auto& s = self->state;
        auto decoded = swim::decode_swim_message(in.payload);
        if (!decoded.ok() || decoded->from != in.from) {
          ++s.dropped_;
          return;
        }
        s.bytes_received_ += in.payload.size();
        s.core_->step(decoded.value());
        drain(self);
      },
      [=](gossip_tick_atom) {
        auto& s = self->state;
        s.core_->tick();
        const bool second = ++s.ticks_ % led_poll_ticks == 0;
        if (second) poll_led(self);
        drain(self, second);
        self->delayed_send(self, std::chrono::milliseconds{s.options_.timing.tick_ms},
                           gossip_tick_atom::value);
      },
      [=](members_atom) { return view_of(self->state); },
      [=](gossip_leave_atom) {
        self->state.core_->leave();
        drain(self);
        return true;
      },
      [=](gossip_subscribe_atom, member_listener& listener) {
        self->send(listener, member_view_atom::value, view_of(self->state));
        self->state.listeners_.push_back(std::move(listener));
      },
      [=](gossip_meta_atom, swim::member_meta& meta) {
        meta.led = self->state.options_.meta.led;
        update_meta(self, std::move(meta));
      },
      [=](gossip_led_atom, std::vector<uint32_t>& led) {
        swim::member_meta meta = self->state.options_.meta;
        meta.led = std::move(led);
        update_meta(self, std::move(meta));
      },
  };
}

}  // namespace

gossiper_actor spawn_gossiper(caf::actor_system& system, gossiper_options options) {
  return system.spawn(gossiper_impl, std::move(options));
}

}  // namespace velocity
