// Implements swim_sim.hpp.
//
// One tick: messages whose delay ends now reach their members (a slow member
// only queues them, and reads its queue every slow_period_ticks), every
// running member ticks, then outputs are routed until none is left: a message
// is lost (loss_percent), cut (partition, a crashed or stopped receiver), or
// delivered after a delay of 0 (this tick: a LAN round trip is far below a
// 100 ms tick) to delay_ticks_max ticks.
//
// Thread safety: none; one run owns one simulation.
#include "tests/swim_sim/swim_sim.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>

#include "cluster/swim/swim.hpp"
#include "protocols/check.hpp"

namespace velocity::swim_sim {

using swim::member_id;
using swim::member_state;

namespace {

class random_source {
 public:
  explicit random_source(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance_percent(uint32_t percent) { return below(100) < percent; }

 private:
  std::mt19937_64 engine_;
};

struct member {
  std::unique_ptr<swim::swim> core;
  bool crashed = false;
  bool leaving = false;
  bool stopped = false;  // left and gone
  bool slow = false;
  bool was_slow = false;  // slow at some point of the run
  uint64_t slow_offset = 0;
  int side = 0;
  std::vector<swim::message> inbox{};
};

struct in_flight {
  member_id to = 0;
  swim::message msg{};
};

class simulation {
 public:
  explicit simulation(const options& o) : o_(o), random_(o.seed) {}
  result run();

 private:
  bool running(member_id id) const {
    const member& m = at(id);
    return !m.crashed && !m.stopped;
  }
  // Live: running and not leaving; the members whose tables are checked.
  bool live(member_id id) const { return running(id) && !at(id).leaving; }
  member& at(member_id id) { return members_[id - 1]; }
  const member& at(member_id id) const { return members_[id - 1]; }
  void tick();
  void drain();
  void route(member_id from, swim::outgoing&& out);
  void deliver(member_id to, const swim::message& msg);
  void record(member_id observer, const swim::event& e);
  bool everyone_knows_everyone() const;
  // Every live member holds the same settled table (see the definition).
  bool tables_identical() const;
  // Members join through member 1; false (a failure in `r`) if the warm-up
  // does not end with everyone knowing everyone.
  bool start_members(result& r);
  void start_faults();
  void check(result& r);

  options o_;
  random_source random_;
  std::vector<member> members_{};
  uint64_t now_ = 0;
  std::vector<in_flight> immediate_{};
  std::map<uint64_t, std::vector<in_flight>> scheduled_{};
  bool partitioned_ = false;
  // After warm-up.
  bool faults_started_ = false;
  uint64_t faults_at_ = 0;
  uint64_t messages_after_warmup_ = 0;
  std::vector<member_id> crashed_{};
  std::vector<member_id> leavers_{};
  std::map<member_id, uint64_t> first_suspicion_{};              // crashed member -> tick
  std::map<member_id, std::map<member_id, uint64_t>> dead_at_{};  // crashed -> observer -> tick
  std::set<member_id> healthy_suspected_{};
  std::set<member_id> healthy_dead_{};
  uint64_t healthy_suspect_events_ = 0;
  uint64_t healthy_fast_suspect_events_ = 0;
  uint64_t healthy_dead_events_ = 0;
  uint64_t leaver_accusations_ = 0;
};

void simulation::deliver(member_id to, const swim::message& msg) {
  member& m = at(to);
  if (m.crashed || m.stopped) return;
  if (m.slow && faults_started_) {
    m.inbox.push_back(msg);
    return;
  }
  m.core->step(msg);
}

void simulation::route(member_id from, swim::outgoing&& out) {
  if (faults_started_) ++messages_after_warmup_;
  const member_id to = out.to;
  if (to == 0 || to > members_.size()) return;
  if (random_.chance_percent(o_.loss_percent)) return;
  if (partitioned_ && at(from).side != at(to).side) return;
  const uint64_t delay = o_.delay_ticks_max == 0 ? 0 : random_.below(o_.delay_ticks_max + 1);
  if (delay == 0) {
    immediate_.push_back(in_flight{to, std::move(out.msg)});
  } else {
    scheduled_[now_ + delay].push_back(in_flight{to, std::move(out.msg)});
  }
}

void simulation::record(member_id observer, const swim::event& e) {
  if (o_.trace)
    std::cout << "tick " << now_ << " member " << observer << ": " << swim::to_string(e.what)
              << " " << e.member.id << " (incarnation " << e.member.incarnation << ")\n";
  if (!faults_started_) return;
  const member_id about = e.member.id;
  if (about == observer) return;
  const member& m = at(about);
  const bool suspected = e.what == swim::change::suspected;
  const bool died = e.what == swim::change::died;
  if (m.crashed) {
    if (suspected && !first_suspicion_.count(about)) first_suspicion_[about] = now_;
    if (died && !dead_at_[about].count(observer)) dead_at_[about][observer] = now_;
  } else if (m.leaving || m.stopped) {
    if (suspected || died) ++leaver_accusations_;
  } else if (suspected) {
    ++healthy_suspect_events_;
    healthy_suspected_.insert(about);
    if (!m.was_slow) ++healthy_fast_suspect_events_;
  } else if (died) {
    ++healthy_dead_events_;
    healthy_dead_.insert(about);
  }
}

void simulation::drain() {
  for (int round = 0; round < 64; ++round) {
    bool any = false;
    for (member_id id = 1; id <= members_.size(); ++id) {
      if (!running(id)) continue;
      swim::output out = at(id).core->take_output();
      for (const swim::event& e : out.events) record(id, e);
      for (swim::outgoing& msg : out.messages) {
        any = true;
        route(id, std::move(msg));
      }
    }
    if (!any && immediate_.empty()) return;
    std::vector<in_flight> now = std::move(immediate_);
    immediate_.clear();
    for (const in_flight& f : now) deliver(f.to, f.msg);
  }
}

void simulation::tick() {
  ++now_;
  auto due = scheduled_.find(now_);
  if (due != scheduled_.end()) {
    std::vector<in_flight> arriving = std::move(due->second);
    scheduled_.erase(due);
    for (const in_flight& f : arriving) deliver(f.to, f.msg);
  }
  for (member_id id = 1; id <= members_.size(); ++id) {
    member& m = at(id);
    if (!running(id)) continue;
    if (m.slow && (now_ + m.slow_offset) % o_.slow_period_ticks == 0) {
      std::vector<swim::message> inbox = std::move(m.inbox);
      m.inbox.clear();
      for (const swim::message& msg : inbox) m.core->step(msg);
    }
    m.core->tick();
  }
  drain();
}

bool simulation::everyone_knows_everyone() const {
  for (const member& m : members_)
    if (m.core->reachable().size() + 1 != members_.size()) return false;
  return true;
}

bool simulation::tables_identical() const {
  const swim::membership* first = nullptr;
  for (member_id id = 1; id <= members_.size(); ++id) {
    if (!live(id)) continue;
    const swim::membership& table = at(id).core->table();
    // Settled: no open suspicion, the crashed dead, the leavers left, and
    // every other member alive.
    for (const auto& [other, u] : table.members()) {
      const member& m = at(other);
      const member_state expected = m.crashed ? member_state::dead
                                    : m.leaving ? member_state::left
                                                : member_state::alive;
      if (u.state != expected) return false;
    }
    if (first == nullptr) {
      first = &table;
      continue;
    }
    if (table.members().size() != first->members().size()) return false;
    auto a = table.members().begin();
    auto b = first->members().begin();
    // States only: an alive member's incarnation may lag where its
    // refutation did not reach (harmless; the next push-pull brings it).
    for (; a != table.members().end(); ++a, ++b)
      if (a->first != b->first || a->second.state != b->second.state) return false;
  }
  return true;
}

// Picks distinct members other than member 1 (the seed and the metadata
// writer stays healthy) for crashes, leaves and slowness.
void simulation::start_faults() {
  faults_started_ = true;
  faults_at_ = now_;
  std::vector<member_id> pool;
  for (member_id id = 2; id <= members_.size(); ++id) pool.push_back(id);
  for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[random_.below(i)]);
  size_t next = 0;
  auto take = [&](uint32_t count, std::vector<member_id>& into) {
    for (uint32_t i = 0; i < count && next < pool.size(); ++i) into.push_back(pool[next++]);
  };
  take(o_.crashes, crashed_);
  take(o_.leaves, leavers_);
  std::vector<member_id> slow;
  take(o_.slow, slow);
  at(1).core->set_meta("m1-v2");
  for (member_id id : crashed_) at(id).crashed = true;
  for (member_id id : leavers_) {
    at(id).leaving = true;
    at(id).core->leave();
  }
  for (member_id id : slow) {
    at(id).slow = true;
    at(id).was_slow = true;
    at(id).slow_offset = random_.below(o_.slow_period_ticks);
  }
  if (o_.partition) {
    for (member& m : members_) m.side = static_cast<int>(random_.below(2));
    at(1).side = 0;
  }
}

bool simulation::start_members(result& r) {
  for (member_id id = 1; id <= o_.members; ++id) {
    swim::config cfg;
    cfg.self = id;
    cfg.meta = "m" + std::to_string(id);
    cfg.random_seed = o_.seed * 1000003 + id;
    cfg.local_health = o_.lifeguard;
    cfg.dogpile = o_.lifeguard;
    members_.push_back(member{std::make_unique<swim::swim>(cfg)});
  }
  for (member_id id = 2; id <= o_.members; ++id) at(id).core->join({1});
  drain();
  while (!everyone_knows_everyone()) {
    if (now_ >= o_.warmup_ticks_max) {
      r.ok = false;
      r.failures.push_back("warm-up: not every member knows every other after " +
                           std::to_string(now_) + " ticks");
      r.ticks = now_;
      return false;
    }
    tick();
  }
  r.join_ticks = now_;
  return true;
}

result simulation::run() {
  VELOCITY_CHECK(o_.members >= 2);
  VELOCITY_CHECK(o_.slow_period_ticks >= 1);
  result r;
  r.seed = o_.seed;
  if (!start_members(r)) return r;
  tick();
  start_faults();
  // The partition starts once the leavers have stopped, so a leave is never
  // cut off from everyone (a leave no one hears is a crash).
  const uint64_t partition_at = faults_at_ + 30;
  const uint64_t heal_at = o_.partition ? partition_at + o_.partition_ticks : faults_at_;
  // Slow members recover after a detection bound, so the run can end with a
  // settled table (a member that stays slow flaps between suspect and alive
  // for ever, which is Lifeguard's point, not a failure to converge).
  const uint64_t bound = detection_bound_ticks(o_);
  const uint64_t slow_until = o_.slow > 0 ? heal_at + bound : 0;
  const uint64_t settled_from = std::max(heal_at, slow_until);
  const uint64_t end = heal_at + bound + (o_.partition ? 1000 : 0) + (o_.slow > 0 ? 600 : 0);
  uint64_t stop_leavers_at = faults_at_ + 20;
  while (now_ < end) {
    tick();
    if (now_ == stop_leavers_at)
      for (member_id id : leavers_) at(id).stopped = true;
    if (o_.partition && now_ == partition_at) partitioned_ = true;
    if (now_ == slow_until)
      for (member& m : members_) {
        if (!m.slow) continue;
        m.slow = false;
        std::vector<swim::message> inbox = std::move(m.inbox);
        m.inbox.clear();
        if (!m.crashed && !m.stopped)
          for (const swim::message& msg : inbox) m.core->step(msg);
      }
    if (partitioned_ && now_ >= heal_at) partitioned_ = false;
    if (r.dissemination_ticks < 0) {
      bool all = true;
      for (member_id id = 1; id <= members_.size() && all; ++id)
        if (live(id) && at(id).core->table().find(1)->meta != "m1-v2") all = false;
      if (all) r.dissemination_ticks = static_cast<int64_t>(now_ - faults_at_);
    }
    if (r.converge_ticks < 0 && now_ >= settled_from && now_ > stop_leavers_at &&
        now_ % 10 == 0 && tables_identical())
      r.converge_ticks = static_cast<int64_t>(now_ - settled_from);
    if (now_ % 10 == 0)
      for (const member& m : members_)
        r.local_health_max_seen = std::max(r.local_health_max_seen, m.core->local_health());
  }
  r.ticks = now_;
  check(r);
  return r;
}

void simulation::check(result& r) {
  auto fail = [&](std::string text) {
    r.ok = false;
    r.failures.push_back(std::move(text));
  };
  const uint64_t bound = detection_bound_ticks(o_);
  double suspicion_sum = 0;
  double dead_sum = 0;
  for (member_id x : crashed_) {
    auto first = first_suspicion_.find(x);
    if (first == first_suspicion_.end()) {
      fail("crashed member " + std::to_string(x) + " was never suspected");
      continue;
    }
    suspicion_sum += static_cast<double>(first->second - faults_at_);
    uint64_t last = 0;
    for (member_id id = 1; id <= members_.size(); ++id) {
      if (!live(id)) continue;
      auto seen = dead_at_[x].find(id);
      if (seen == dead_at_[x].end()) {
        fail("member " + std::to_string(id) + " never declared crashed member " +
             std::to_string(x) + " dead");
        continue;
      }
      last = std::max(last, seen->second - faults_at_);
    }
    // A member cut off by a partition hears of the crash after the heal at
    // the earliest, so a partitioned run's bound counts from the heal.
    const uint64_t allowed = bound + (o_.partition ? 30 + o_.partition_ticks : 0);
    if (last > allowed)
      fail("crashed member " + std::to_string(x) + " dead everywhere only after " +
           std::to_string(last) + " ticks (bound " + std::to_string(allowed) + ")");
    dead_sum += static_cast<double>(last);
    r.all_dead_ticks_max = std::max(r.all_dead_ticks_max, last);
  }
  if (!crashed_.empty()) {
    r.first_suspicion_ticks = suspicion_sum / static_cast<double>(crashed_.size());
    r.all_dead_ticks = dead_sum / static_cast<double>(crashed_.size());
  }
  for (member_id x : leavers_)
    for (member_id id = 1; id <= members_.size(); ++id)
      if (live(id) && at(id).core->table().find(x)->state != member_state::left)
        fail("member " + std::to_string(id) + " holds left member " + std::to_string(x) + " as " +
             std::string(swim::to_string(at(id).core->table().find(x)->state)));
  for (member_id x : healthy_dead_)
    if (!at(x).was_slow) ++r.healthy_fast_dead;
  for (member_id x : healthy_suspected_)
    if (!at(x).was_slow) ++r.healthy_fast_suspected;
  r.healthy_fast_suspect_events = healthy_fast_suspect_events_;
  r.healthy_suspected = healthy_suspected_.size();
  r.healthy_dead = healthy_dead_.size();
  r.healthy_suspect_events = healthy_suspect_events_;
  r.healthy_dead_events = healthy_dead_events_;
  if (o_.lifeguard && o_.loss_percent <= 5 && !o_.partition && r.healthy_fast_dead > 0)
    fail(std::to_string(r.healthy_fast_dead) + " healthy members were declared dead");
  if (r.converge_ticks < 0) fail("the live members' tables never became identical");
  uint64_t refutations = 0;
  for (const member& m : members_) refutations += m.core->counters().refutations;
  r.refutations = refutations;
  const double seconds = static_cast<double>(now_ - faults_at_) / 10.0;
  r.messages_per_member_second =
      static_cast<double>(messages_after_warmup_) / static_cast<double>(members_.size()) / seconds;
}

}  // namespace

uint64_t detection_bound_ticks(const options& o) {
  // The core's own formula at this size (probe interval 10 ticks, mult 4,
  // max 6 x min with Lifeguard), then 30 probe intervals for the first
  // failed probe (local health can stretch them) and dissemination. The
  // same without Lifeguard, so runs with and without last equally long and
  // their false positives compare.
  const double scale = std::max(1.0, std::log10(static_cast<double>(o.members)));
  const auto min = static_cast<uint64_t>(std::ceil(4.0 * scale * 10.0));
  return 6 * min + 300;
}

options mixed_options(uint64_t seed) {
  random_source random{seed ^ 0x5157494d53494dULL};
  options o;
  o.seed = seed;
  o.members = 8 + static_cast<uint32_t>(random.below(17));
  o.loss_percent = static_cast<uint32_t>(random.below(6));
  o.delay_ticks_max = static_cast<uint32_t>(random.below(3));
  o.crashes = 1 + static_cast<uint32_t>(random.below(2));
  o.leaves = static_cast<uint32_t>(random.below(2));
  o.slow = static_cast<uint32_t>(random.below(2));
  o.slow_period_ticks = 5 + static_cast<uint32_t>(random.below(11));
  o.partition = random.below(3) == 0;
  o.partition_ticks = 200 + static_cast<uint32_t>(random.below(300));
  return o;
}

result run(const options& o) { return simulation{o}.run(); }

std::string describe(const result& r) {
  std::ostringstream out;
  out << "seed " << r.seed << (r.ok ? " ok" : " FAILED") << " ticks " << r.ticks << " join "
      << r.join_ticks << " dissemination " << r.dissemination_ticks << " first_suspicion "
      << r.first_suspicion_ticks << " all_dead " << r.all_dead_ticks << " healthy_suspected "
      << r.healthy_suspected << " healthy_dead " << r.healthy_dead << " (fast "
      << r.healthy_fast_dead << ") converge " << r.converge_ticks << " msgs/member/s "
      << r.messages_per_member_second << " refutations " << r.refutations << " lhm_max "
      << r.local_health_max_seen << " fast_suspected " << r.healthy_fast_suspected;
  for (const std::string& f : r.failures) out << "\n  " << f;
  return out.str();
}

}  // namespace velocity::swim_sim
