// Implements swim.hpp: the probe cycle (SWIM 4.3, Lifeguard 4.1) and the
// handling of each message type. Rumors, suspicion, dissemination and
// push-pull are in swim_gossip.cpp.
//
// Thread safety: none (one owner).
#include "cluster/swim/swim.hpp"

#include <algorithm>
#include <utility>

#include "cluster/swim/swim_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::swim {

std::string validate(const config& cfg) {
  if (cfg.self == 0) return "self must not be 0";
  if (cfg.probe_interval_ticks == 0) return "probe_interval_ticks must be positive";
  if (cfg.probe_timeout_ticks == 0 || cfg.probe_timeout_ticks >= cfg.probe_interval_ticks)
    return "probe_timeout_ticks must be positive and below probe_interval_ticks";
  if (cfg.suspicion_mult == 0) return "suspicion_mult must be positive";
  if (cfg.suspicion_max_timeout_mult == 0) return "suspicion_max_timeout_mult must be positive";
  if (cfg.retransmit_mult == 0) return "retransmit_mult must be positive";
  if (cfg.gossip_interval_ticks > 0 && cfg.gossip_fanout == 0)
    return "gossip_fanout must be positive when gossiping";
  if (cfg.piggyback_updates_max == 0) return "piggyback_updates_max must be positive";
  if (cfg.meta.size() > meta_bytes_max) return "meta exceeds meta_bytes_max";
  return "";
}

std::string_view to_string(message_type t) {
  switch (t) {
    case message_type::ping: return "ping";
    case message_type::ack: return "ack";
    case message_type::ping_req: return "ping_req";
    case message_type::nack: return "nack";
    case message_type::push_pull: return "push_pull";
    case message_type::push_pull_reply: return "push_pull_reply";
    case message_type::gossip: return "gossip";
    case message_type::leave: return "leave";
  }
  return "unknown";
}

swim::impl::impl(const config& cfg)
    : cfg_(cfg), table_(cfg.self, cfg.meta), random_(cfg.random_seed) {
  VELOCITY_CHECK_EQ(validate(cfg), std::string{});
  // Staggered first deadlines, so members started together do not probe,
  // gossip and push-pull in lock step.
  next_probe_at_ = 1 + random_.below(cfg_.probe_interval_ticks);
  if (cfg_.gossip_interval_ticks > 0) next_gossip_at_ = 1 + random_.below(cfg_.gossip_interval_ticks);
  if (cfg_.push_pull_interval_ticks > 0)
    next_push_pull_at_ = 1 + random_.below(cfg_.push_pull_interval_ticks);
  if (cfg_.reconnect_interval_ticks > 0)
    next_reconnect_at_ = 1 + random_.below(cfg_.reconnect_interval_ticks);
}

void swim::impl::tick() {
  ++now_;
  if (left_) {  // only finish spreading the leave
    gossip_tick();
    return;
  }
  if (!joined_ && !seeds_.empty() && now_ >= next_join_at_) join(std::vector<member_id>{seeds_});
  if (probe_.active && !probe_.acked && !probe_.indirect_sent && now_ >= probe_.timeout_at)
    send_indirect_probes();
  if (now_ >= next_probe_at_) start_probe();
  expire_relays();
  expire_suspicions();
  gossip_tick();
  push_pull_tick();
}

member_id swim::impl::next_probe_target() {
  const std::vector<member_id>& candidates = reachable();
  for (size_t attempts = 0; attempts <= candidates.size() + probe_list_.size(); ++attempts) {
    if (probe_index_ >= probe_list_.size()) {
      // A new round: every reachable member once, in a fresh random order.
      probe_list_ = candidates;
      for (size_t i = probe_list_.size(); i > 1; --i)
        std::swap(probe_list_[i - 1], probe_list_[random_.below(i)]);
      probe_index_ = 0;
      if (probe_list_.empty()) return 0;
    }
    const member_id id = probe_list_[probe_index_++];
    const update* u = table_.find(id);
    if (u != nullptr && (u->state == member_state::alive || u->state == member_state::suspect))
      return id;
  }
  return 0;
}

void swim::impl::start_probe() {
  finish_probe();
  const member_id target = next_probe_target();
  next_probe_at_ = now_ + scaled(cfg_.probe_interval_ticks);
  if (target == 0) return;
  probe_ = probe{};
  probe_.active = true;
  probe_.target = target;
  probe_.sequence = ++sequence_;
  probe_.timeout_at = now_ + scaled(cfg_.probe_timeout_ticks);
  message ping;
  ping.type = message_type::ping;
  ping.sequence = probe_.sequence;
  ++stats_.probes_sent;
  // Lifeguard's buddy system: a suspected member hears of it from its prober.
  const update* known = table_.find(target);
  if (cfg_.dogpile && known != nullptr && known->state == member_state::suspect) {
    const rumor accusation{*known, cfg_.self};
    send(target, std::move(ping), &accusation);
  } else {
    send(target, std::move(ping));
  }
}

void swim::impl::send_indirect_probes() {
  probe_.indirect_sent = true;
  std::vector<member_id> alive;
  for (member_id id : reachable()) {
    const update* u = table_.find(id);
    if (id != probe_.target && u->state == member_state::alive) alive.push_back(id);
  }
  for (member_id helper : pick(alive, cfg_.indirect_probes, probe_.target)) {
    message req;
    req.type = message_type::ping_req;
    req.sequence = probe_.sequence;
    req.target = probe_.target;
    send(helper, std::move(req));
    ++stats_.indirect_probes_sent;
    if (cfg_.local_health) ++probe_.nacks_expected;
  }
}

void swim::impl::finish_probe() {
  if (!probe_.active) return;
  probe_.active = false;
  if (probe_.acked) return;  // health already lowered by the ack
  if (cfg_.local_health) {
    // Lifeguard 4.1: missing nacks mean our own messages are not getting
    // through; with no indirect probers to tell, blame ourselves once.
    raise_health(probe_.nacks_expected > 0 ? probe_.nacks_expected - probe_.nacks_received : 1);
  }
  suspect_target(probe_.target);
}

void swim::impl::suspect_target(member_id target) {
  const update* known = table_.find(target);
  if (known == nullptr) return;
  if (known->state == member_state::alive) ++stats_.suspicions_raised;
  if (known->state != member_state::alive && known->state != member_state::suspect) return;
  update accused = *known;
  accused.state = member_state::suspect;
  accused.meta.clear();
  accused.meta_version = 0;
  absorb(rumor{accused, cfg_.self});
}

void swim::impl::expire_relays() {
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (now_ < it->second.deadline) {
      ++it;
      continue;
    }
    message nack;
    nack.type = message_type::nack;
    nack.sequence = it->second.origin_sequence;
    nack.target = it->second.target;
    ++stats_.nacks_sent;
    const member_id origin = it->second.origin;
    it = relays_.erase(it);
    send(origin, std::move(nack));
  }
}

void swim::impl::step(const message& m) {
  if (m.to != cfg_.self || m.from == cfg_.self || m.from == 0) return;
  if (m.type == message_type::ping) {
    message ack;
    ack.type = message_type::ack;
    ack.sequence = m.sequence;
    if (!left_) {
      for (const rumor& r : m.rumors) absorb(r);
      ack.rumors = corrections(m.rumors);  // first in the ack, whatever the queue holds
    }
    send(m.from, std::move(ack));
    return;
  }
  if (left_) return;
  switch (m.type) {
    case message_type::push_pull:
    case message_type::push_pull_reply:
      merge_state(m.from, m.rumors);
      if (m.type == message_type::push_pull_reply) {
        joined_ = true;
      } else {
        message reply;
        reply.type = message_type::push_pull_reply;
        reply.rumors = full_state();
        send(m.from, std::move(reply));
      }
      return;
    default: break;
  }
  for (const rumor& r : m.rumors) absorb(r);
  std::vector<rumor> answer = corrections(m.rumors);
  if (!answer.empty()) {
    message gossip;
    gossip.type = message_type::gossip;
    gossip.rumors = std::move(answer);
    send(m.from, std::move(gossip));
  }
  switch (m.type) {
    case message_type::ack: on_ack(m); break;
    case message_type::ping_req: on_ping_req(m); break;
    case message_type::nack:
      if (probe_.active && m.sequence == probe_.sequence) {
        ++probe_.nacks_received;
        ++stats_.nacks_received;
      }
      break;
    default: break;  // gossip and leave carry only rumors
  }
}

void swim::impl::on_ack(const message& m) {
  if (probe_.active && !probe_.acked && m.sequence == probe_.sequence) {
    probe_.acked = true;
    ++stats_.acks_received;
    lower_health();
    return;
  }
  auto it = relays_.find(m.sequence);
  if (it == relays_.end() || m.from != it->second.target) return;
  message ack;
  ack.type = message_type::ack;
  ack.sequence = it->second.origin_sequence;
  const member_id origin = it->second.origin;
  relays_.erase(it);
  send(origin, std::move(ack));
}

void swim::impl::on_ping_req(const message& m) {
  if (m.target == 0 || m.target == cfg_.self || relays_.size() >= relays_max) return;
  const uint64_t sequence = ++sequence_;
  relays_[sequence] = relay{m.from, m.sequence, m.target, now_ + scaled(cfg_.probe_timeout_ticks)};
  ++stats_.relays_served;
  message ping;
  ping.type = message_type::ping;
  ping.sequence = sequence;
  send(m.target, std::move(ping));
}

void swim::impl::join(const std::vector<member_id>& seeds) {
  if (left_) return;
  seeds_.clear();
  for (member_id seed : seeds)
    if (seed != 0 && seed != cfg_.self) seeds_.push_back(seed);
  next_join_at_ = now_ + cfg_.probe_interval_ticks;
  for (member_id seed : seeds_) {
    message m;
    m.type = message_type::push_pull;
    m.join = true;
    m.rumors = full_state();
    ++stats_.push_pulls_sent;
    send(seed, std::move(m));
  }
}

void swim::impl::leave() {
  if (left_) return;
  const rumor bye{table_.leave(), 0};
  left_ = true;
  probe_ = probe{};
  relays_.clear();
  enqueue(bye);
  emit(change::left, cfg_.self);
  for (member_id to : pick(reachable(), std::max<uint32_t>(cfg_.gossip_fanout, 3), 0)) {
    message m;
    m.type = message_type::leave;
    send(to, std::move(m), &bye);
  }
}

void swim::impl::set_meta(std::string meta) {
  VELOCITY_CHECK_LE(meta.size(), meta_bytes_max);
  if (left_) return;
  table_.set_meta(std::move(meta));
  enqueue(rumor{table_.self_update(), 0});
  emit(change::meta_changed, cfg_.self);
}

void swim::impl::raise_health(uint32_t by) {
  health_ = std::min(cfg_.local_health_max, health_ + by);
}

void swim::impl::lower_health() {
  if (health_ > 0) --health_;
}

// ---------------------------------------------------------------- facade

swim::swim(const config& cfg) : impl_(std::make_unique<impl>(cfg)) {}
swim::~swim() = default;
void swim::tick() { impl_->tick(); }
void swim::step(const message& m) { impl_->step(m); }
void swim::join(const std::vector<member_id>& seeds) { impl_->join(seeds); }
void swim::leave() { impl_->leave(); }
void swim::set_meta(std::string meta) { impl_->set_meta(std::move(meta)); }
output swim::take_output() { return std::exchange(impl_->out_, output{}); }
const membership& swim::table() const { return impl_->table_; }
const std::vector<member_id>& swim::reachable() const { return impl_->reachable(); }
member_id swim::self() const { return impl_->cfg_.self; }
uint32_t swim::local_health() const { return impl_->health_; }
const stats& swim::counters() const { return impl_->stats_; }
uint64_t swim::suspicion_max_ticks() const { return impl_->suspicion_max_ticks(); }
uint64_t swim::suspicion_min_ticks() const { return impl_->suspicion_min_ticks(); }
uint32_t swim::retransmit_limit() const { return impl_->retransmit_limit(); }
uint64_t swim::now() const { return impl_->now_; }

}  // namespace velocity::swim
