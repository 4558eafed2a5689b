// The state of one SWIM member (swim.hpp's pimpl), shared by swim.cpp (the
// probe cycle and message handling) and swim_gossip.cpp (rumors, suspicion,
// dissemination, push-pull). Internal: include swim.hpp instead.
//
// Invariants:
//   - queue_ and queue_order_ hold the same rumors: one pending rumor per
//     member, ordered by (transmissions, age);
//   - suspicions_ has an entry for a member iff the table has it suspect,
//     at the entry's incarnation;
//   - reachable_ is table_.reachable() (sorted), kept in step by absorb();
//   - every random choice comes from random_, in call order.
// Thread safety: none (one owner).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "cluster/swim/swim.hpp"

namespace velocity::swim {

// splitmix64 (Steele, Lea, Flood 2014): small, fast, and the same stream on
// every platform, unlike the standard distributions.
class random_source {
 public:
  explicit random_source(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); REQUIRES n > 0. The modulo bias (n / 2^64) is
  // irrelevant for choosing members.
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

class swim::impl {
 public:
  explicit impl(const config& cfg);

  // ---- swim.cpp: the probe cycle and messages
  void tick();
  void step(const message& m);
  void join(const std::vector<member_id>& seeds);
  void leave();
  void set_meta(std::string meta);

  // ---- swim_gossip.cpp: rumors, suspicion, dissemination, push-pull
  // Merges one rumor (from a message or raised here) into the table and
  // keeps suspicions, the probe list, the queue and the events in step.
  void absorb(const rumor& r);
  // A push-pull's whole table from `from`.
  void merge_state(member_id from, const std::vector<rumor>& state);
  std::vector<rumor> full_state() const;
  void enqueue(const rumor& r);
  // Appends pending rumors to `m` within the budget, counting transmissions,
  // skipping members `m` already carries a rumor about.
  void piggyback(message& m);
  // What the sender of `received` should hear back: our entry for every
  // member it accuses (suspect or dead) that we know alive at a higher
  // incarnation, so a refutation it missed reaches it directly.
  std::vector<rumor> corrections(const std::vector<rumor>& received) const;
  void expire_suspicions();
  void gossip_tick();
  void push_pull_tick();
  uint64_t suspicion_min_ticks() const;
  uint64_t suspicion_max_ticks() const;
  uint32_t retransmit_limit() const;
  size_t cluster_size() const;  // alive and suspect members, self included
  const std::vector<member_id>& reachable() const { return reachable_; }
  void track_reachable(member_id id, bool was, bool is);
  // Up to `count` distinct members of `from` other than `except`, at random.
  std::vector<member_id> pick(const std::vector<member_id>& from, size_t count, member_id except);
  void send(member_id to, message m, const rumor* first = nullptr);
  void emit(change what, member_id id);
  void raise_health(uint32_t by);
  void lower_health();

  // ---- state
  struct probe {
    bool active = false;
    member_id target = 0;
    uint64_t sequence = 0;
    uint64_t timeout_at = 0;  // when the ping-reqs go out
    bool acked = false;
    bool indirect_sent = false;
    uint32_t nacks_expected = 0;
    uint32_t nacks_received = 0;
  };
  struct relay {
    member_id origin = 0;
    uint64_t origin_sequence = 0;
    member_id target = 0;
    uint64_t deadline = 0;
  };
  struct suspicion {
    uint64_t incarnation = 0;
    uint64_t started = 0;
    uint64_t min_ticks = 0;
    uint64_t max_ticks = 0;
    uint32_t confirmations_expected = 0;  // Lifeguard's k
    member_id source = 0;                 // who raised it first
    std::set<member_id> confirmations{};  // other members that agreed
    uint32_t last_chance_pings = 0;       // sent once the timeout passed
    uint64_t last_chance_deadline = 0;    // waiting for an answer until then
  };
  struct pending {
    rumor r{};
    uint32_t transmits = 0;
    uint64_t order = 0;
  };
  using queue_key = std::tuple<uint32_t, uint64_t, member_id>;  // transmits, order, id

  // Ticks suspicion `s` lasts with the confirmations it has now.
  uint64_t suspicion_timeout(const suspicion& s) const;
  void start_suspicion(member_id id, uint64_t incarnation, member_id source);
  void start_probe();
  void finish_probe();
  void send_indirect_probes();
  void expire_relays();
  void suspect_target(member_id target);
  member_id next_probe_target();
  void on_ack(const message& m);
  void on_ping_req(const message& m);
  uint64_t scaled(uint32_t ticks) const { return uint64_t{ticks} * (health_ + 1); }

  config cfg_;
  membership table_;
  random_source random_;
  uint64_t now_ = 0;
  output out_{};
  stats stats_{};
  uint32_t health_ = 0;
  bool left_ = false;

  std::vector<member_id> seeds_{};
  bool joined_ = false;
  uint64_t next_join_at_ = 0;

  std::vector<member_id> probe_list_{};
  size_t probe_index_ = 0;
  uint64_t next_probe_at_ = 0;
  probe probe_{};
  uint64_t sequence_ = 0;
  std::map<uint64_t, relay> relays_{};  // by the sequence of our ping

  std::map<member_id, suspicion> suspicions_{};
  std::map<member_id, pending> queue_{};
  std::set<queue_key> queue_order_{};
  uint64_t queue_counter_ = 0;

  // table_.reachable(), kept in step by absorb(): probing and gossip ask for
  // it every few ticks, and building it walks the whole table.
  std::vector<member_id> reachable_{};

  uint64_t next_gossip_at_ = 0;
  uint64_t next_push_pull_at_ = 0;
  uint64_t next_reconnect_at_ = 0;
};

}  // namespace velocity::swim
