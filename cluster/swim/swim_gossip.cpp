// Implements swim.hpp's rumors: merging them into the table, suspicion
// timers with Lifeguard's confirmations (Lifeguard 4.2), the dissemination
// queue (SWIM 4.1), gossip rounds and push-pull anti-entropy.
//
// Thread safety: none (one owner).
#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "cluster/swim/swim_impl.hpp"
#include "protocols/check.hpp"

namespace velocity::swim {

namespace {

// What travels about a member that is not alive carries no metadata: the
// table keeps metadata from alive updates only.
rumor stripped(rumor r) {
  if (r.about.state != member_state::alive) {
    r.about.meta.clear();
    r.about.meta_version = 0;
  }
  return r;
}

bool same_entry(const update& a, const update& b) {
  return a.incarnation == b.incarnation && a.state == b.state && a.meta_version == b.meta_version &&
         a.meta == b.meta;
}

bool is_reachable(member_state s) { return s == member_state::alive || s == member_state::suspect; }

}  // namespace

void swim::impl::track_reachable(member_id id, bool was, bool is) {
  if (was == is) return;
  auto it = std::lower_bound(reachable_.begin(), reachable_.end(), id);
  if (is) {
    reachable_.insert(it, id);
  } else if (it != reachable_.end() && *it == id) {
    reachable_.erase(it);
  }
}

size_t swim::impl::cluster_size() const { return reachable().size() + 1; }

void swim::impl::absorb(const rumor& r) {
  const update& u = r.about;
  if (u.id == 0) return;
  if (u.id == cfg_.self) {
    if (table_.apply(u) != change::refuted) {
      // An accusation we already refuted: whoever still repeats it missed
      // the refutation (it ran out of retransmissions before reaching
      // them), so spread it again; the buddy system's ping brings such an
      // accusation straight here, and the ack carries the answer back.
      const update& me = table_.self_update();
      const bool accused = u.state == member_state::suspect || u.state == member_state::dead;
      if (accused && u.incarnation < me.incarnation && me.state == member_state::alive &&
          !queue_.count(cfg_.self))
        enqueue(rumor{me, 0});
      return;
    }
    ++stats_.refutations;
    if (cfg_.local_health) raise_health(1);  // Lifeguard: being suspected hints we are slow
    enqueue(rumor{table_.self_update(), 0});
    emit(change::refuted, cfg_.self);
    return;
  }
  const update* found = table_.find(u.id);
  const std::optional<update> before = found ? std::optional<update>{*found} : std::nullopt;
  const change what = table_.apply(u);
  const update& after = *table_.find(u.id);
  const bool changed = !before || !same_entry(*before, after);
  track_reachable(u.id, before && is_reachable(before->state), is_reachable(after.state));
  bool spread = changed;
  if (after.state == member_state::suspect) {
    auto it = suspicions_.find(u.id);
    if (it == suspicions_.end() || it->second.incarnation != after.incarnation) {
      start_suspicion(u.id, after.incarnation, r.source);
    } else if (u.state == member_state::suspect && u.incarnation == after.incarnation &&
               r.source != 0 && r.source != it->second.source &&
               it->second.confirmations.insert(r.source).second) {
      spread = true;  // memberlist passes a new confirmation on, too
    }
  } else {
    suspicions_.erase(u.id);
  }
  if (spread) enqueue(rumor{after, u.state == member_state::suspect ? r.source : member_id{0}});
  if (what == change::joined || what == change::alive_again) {
    const size_t at = random_.below(probe_list_.size() + 1);
    probe_list_.insert(probe_list_.begin() + static_cast<std::ptrdiff_t>(at), u.id);
    if (at < probe_index_) ++probe_index_;
  }
  if (what != change::none) emit(what, u.id);
}

void swim::impl::start_suspicion(member_id id, uint64_t incarnation, member_id source) {
  suspicion s;
  s.incarnation = incarnation;
  s.started = now_;
  s.min_ticks = suspicion_min_ticks();
  s.max_ticks = suspicion_max_ticks();
  s.source = source;
  // Lifeguard's k (memberlist: suspicion_mult - 2), unless the cluster is too
  // small to give that many confirmations.
  const size_t n = cluster_size();
  s.confirmations_expected = cfg_.suspicion_mult > 2 ? cfg_.suspicion_mult - 2 : 0;
  if (n < 2 + size_t{s.confirmations_expected}) s.confirmations_expected = 0;
  suspicions_[id] = std::move(s);
}

uint64_t swim::impl::suspicion_timeout(const suspicion& s) const {
  if (!cfg_.dogpile || s.confirmations_expected == 0) return s.min_ticks;
  // Lifeguard 4.2: from max down to min, log-scaled on the confirmations.
  const double fraction = std::log(static_cast<double>(s.confirmations.size()) + 1.0) /
                          std::log(static_cast<double>(s.confirmations_expected) + 1.0);
  const double span = static_cast<double>(s.max_ticks - s.min_ticks);
  const double raw = static_cast<double>(s.max_ticks) - fraction * span;
  const auto ticks = static_cast<uint64_t>(std::max(0.0, std::ceil(raw)));
  return std::max(s.min_ticks, ticks);
}

uint64_t swim::impl::suspicion_min_ticks() const {
  const double n = static_cast<double>(cluster_size());
  const double scale = std::max(1.0, std::log10(std::max(1.0, n)));
  return static_cast<uint64_t>(
      std::ceil(cfg_.suspicion_mult * scale * static_cast<double>(cfg_.probe_interval_ticks)));
}

uint64_t swim::impl::suspicion_max_ticks() const {
  return suspicion_min_ticks() * cfg_.suspicion_max_timeout_mult;
}

uint32_t swim::impl::retransmit_limit() const {
  const double n = static_cast<double>(cluster_size());
  return cfg_.retransmit_mult * static_cast<uint32_t>(std::ceil(std::log10(n + 1.0)));
}

void swim::impl::expire_suspicions() {
  std::vector<member_id> expired;
  for (auto& [id, s] : suspicions_) {
    if (now_ - s.started < suspicion_timeout(s) || now_ < s.last_chance_deadline) continue;
    if (s.last_chance_pings < cfg_.last_chance_pings) {
      // Its refutation may have missed us: ask the suspect itself, with the
      // accusation, so a live member answers with its refutation in the ack.
      ++s.last_chance_pings;
      s.last_chance_deadline = now_ + scaled(cfg_.probe_timeout_ticks);
      ++stats_.last_chance_pings;
      message ping;
      ping.type = message_type::ping;
      ping.sequence = ++sequence_;
      const rumor accusation{*table_.find(id), cfg_.self};
      send(id, std::move(ping), &accusation);
      continue;
    }
    expired.push_back(id);
  }
  for (member_id id : expired) {
    update dead = *table_.find(id);
    dead.state = member_state::dead;
    ++stats_.deaths_declared;
    absorb(stripped(rumor{dead, cfg_.self}));
  }
}

void swim::impl::merge_state(member_id from, const std::vector<rumor>& state) {
  for (const rumor& received : state) {
    rumor r = received;
    r.source = 0;
    // memberlist: a death heard by push-pull is only a suspicion here, so a
    // member the other side of a partition declared dead gets time to refute.
    if (r.about.state == member_state::dead && r.about.id != cfg_.self)
      r.about.state = member_state::suspect;
    if (r.about.state == member_state::suspect) r.source = from;
    absorb(r);
  }
}

std::vector<rumor> swim::impl::full_state() const {
  std::vector<rumor> state;
  state.reserve(std::min(table_.members().size(), updates_per_message_max));
  state.push_back(rumor{table_.self_update(), 0});
  for (const auto& [id, u] : table_.members()) {
    if (state.size() >= updates_per_message_max) break;
    if (id != cfg_.self) state.push_back(stripped(rumor{u, 0}));
  }
  return state;
}

void swim::impl::enqueue(const rumor& r) {
  const member_id id = r.about.id;
  auto it = queue_.find(id);
  if (it != queue_.end()) queue_order_.erase(queue_key{it->second.transmits, it->second.order, id});
  pending p;
  p.r = stripped(r);
  p.order = ++queue_counter_;
  queue_order_.insert(queue_key{0, p.order, id});
  queue_[id] = std::move(p);
}

std::vector<rumor> swim::impl::corrections(const std::vector<rumor>& received) const {
  std::vector<rumor> out;
  for (const rumor& r : received) {
    if (out.size() >= cfg_.piggyback_updates_max) break;
    if (r.about.state != member_state::suspect && r.about.state != member_state::dead) continue;
    const update* known = table_.find(r.about.id);
    if (known != nullptr && known->state == member_state::alive &&
        known->incarnation > r.about.incarnation)
      out.push_back(rumor{*known, 0});
  }
  return out;
}

void swim::impl::piggyback(message& m) {
  size_t bytes = 0;
  std::vector<member_id> carried;
  for (const rumor& r : m.rumors) {
    bytes += rumor_bytes(r);
    carried.push_back(r.about.id);
  }
  const uint32_t limit = retransmit_limit();
  std::vector<queue_key> taken;
  for (auto it = queue_order_.begin();
       it != queue_order_.end() && m.rumors.size() < cfg_.piggyback_updates_max; ++it) {
    const member_id id = std::get<2>(*it);
    if (std::find(carried.begin(), carried.end(), id) != carried.end()) continue;
    const rumor& r = queue_.at(id).r;
    // One rumor always fits, so an oversized one cannot block the queue.
    if (!m.rumors.empty() && bytes + rumor_bytes(r) > cfg_.piggyback_bytes_max) break;
    bytes += rumor_bytes(r);
    m.rumors.push_back(r);
    taken.push_back(*it);
  }
  stats_.rumors_sent += taken.size();
  for (const queue_key& key : taken) {
    queue_order_.erase(key);
    const member_id id = std::get<2>(key);
    pending& p = queue_.at(id);
    if (++p.transmits >= limit) {
      queue_.erase(id);
    } else {
      queue_order_.insert(queue_key{p.transmits, p.order, id});
    }
  }
}

void swim::impl::send(member_id to, message m, const rumor* first) {
  m.from = cfg_.self;
  m.to = to;
  if (first != nullptr) m.rumors.push_back(stripped(*first));
  if (m.type != message_type::push_pull && m.type != message_type::push_pull_reply) piggyback(m);
  ++stats_.messages_sent;
  out_.messages.push_back(outgoing{to, std::move(m)});
}

void swim::impl::emit(change what, member_id id) {
  out_.events.push_back(event{what, *table_.find(id)});
}

std::vector<member_id> swim::impl::pick(const std::vector<member_id>& from, size_t count,
                                        member_id except) {
  std::vector<member_id> chosen;
  if (from.size() > 4 * count + 2) {
    // Large lists: draw indices and skip repeats, instead of copying the
    // list (gossip picks 3 of up to thousands every 200 ms).
    for (size_t attempts = 0; chosen.size() < count && attempts < 16 * count; ++attempts) {
      const member_id id = from[random_.below(from.size())];
      if (id == except || id == cfg_.self ||
          std::find(chosen.begin(), chosen.end(), id) != chosen.end())
        continue;
      chosen.push_back(id);
    }
    return chosen;
  }
  for (member_id id : from)
    if (id != except && id != cfg_.self) chosen.push_back(id);
  const size_t wanted = std::min(count, chosen.size());
  for (size_t i = 0; i < wanted; ++i)  // a partial Fisher-Yates shuffle
    std::swap(chosen[i], chosen[i + random_.below(chosen.size() - i)]);
  chosen.resize(wanted);
  return chosen;
}

void swim::impl::gossip_tick() {
  if (cfg_.gossip_interval_ticks == 0 || now_ < next_gossip_at_) return;
  next_gossip_at_ = now_ + cfg_.gossip_interval_ticks;
  if (queue_.empty()) return;
  for (member_id to : pick(reachable(), cfg_.gossip_fanout, 0)) {
    if (queue_.empty()) break;
    message m;
    m.type = message_type::gossip;
    send(to, std::move(m));
  }
}

void swim::impl::push_pull_tick() {
  if (cfg_.push_pull_interval_ticks > 0 && now_ >= next_push_pull_at_) {
    // memberlist's pushPullScale: beyond 32 members, less often, so the
    // cluster's anti-entropy traffic grows like n log n, not n^2.
    const double n = static_cast<double>(cluster_size());
    const uint64_t scale =
        n <= 32 ? 1 : static_cast<uint64_t>(std::ceil(std::log2(n) - std::log2(32.0))) + 1;
    next_push_pull_at_ = now_ + cfg_.push_pull_interval_ticks * scale;
    std::vector<member_id> alive;
    for (member_id id : reachable())
      if (table_.find(id)->state == member_state::alive) alive.push_back(id);
    for (member_id to : pick(alive, 1, 0)) {
      message m;
      m.type = message_type::push_pull;
      m.rumors = full_state();
      ++stats_.push_pulls_sent;
      send(to, std::move(m));
    }
  }
  if (cfg_.reconnect_interval_ticks > 0 && now_ >= next_reconnect_at_) {
    next_reconnect_at_ = now_ + cfg_.reconnect_interval_ticks;
    std::vector<member_id> dead;
    for (const auto& [id, u] : table_.members())
      if (u.state == member_state::dead) dead.push_back(id);
    for (member_id to : pick(dead, 1, 0)) {
      message m;
      m.type = message_type::push_pull;
      m.rumors = full_state();
      ++stats_.push_pulls_sent;
      send(to, std::move(m));
    }
  }
}

}  // namespace velocity::swim
