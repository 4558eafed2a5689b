// The SWIM probe core (cluster/swim/swim.hpp) on a tiny in-test network that
// delivers every message in the tick it was sent, unless a test's rule drops
// it: probes and acks, indirect probes, suspicion and death, refutation,
// leave, push-pull, local health, the retransmit limit and the suspicion
// timeout that shrinks with confirmations.
#define CAF_SUITE swim
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "cluster/swim/swim.hpp"

using namespace velocity::swim;

namespace {

config config_of(member_id id) {
  config cfg;
  cfg.self = id;
  cfg.meta = "m" + std::to_string(id);
  cfg.random_seed = 1000 + id;
  return cfg;
}

struct seen_event {
  member_id at = 0;
  uint64_t tick = 0;
  event e{};
};

// Members and a lossless network with an optional drop rule.
struct net {
  std::map<member_id, std::unique_ptr<swim>> members;
  std::function<bool(member_id from, member_id to, const message&)> drop;
  std::vector<seen_event> events;
  std::vector<outgoing> sent;  // every message sent, dropped or not
  bool strip_rumors = false;   // deliver messages without their rumors
  uint64_t now = 0;

  swim& add(const config& cfg) {
    members[cfg.self] = std::make_unique<swim>(cfg);
    return *members[cfg.self];
  }
  swim& operator[](member_id id) { return *members.at(id); }

  void deliver() {
    for (int round = 0; round < 100; ++round) {
      std::vector<outgoing> pending;
      for (auto& [id, m] : members) {
        output out = m->take_output();
        for (event& e : out.events) events.push_back(seen_event{id, now, e});
        for (outgoing& o : out.messages) pending.push_back(std::move(o));
      }
      if (pending.empty()) return;
      for (const outgoing& o : pending) {
        sent.push_back(o);
        if (drop && drop(o.msg.from, o.to, o.msg)) continue;
        auto it = members.find(o.to);
        if (it == members.end()) continue;
        if (strip_rumors) {
          message bare = o.msg;
          bare.rumors.clear();
          it->second->step(bare);
        } else {
          it->second->step(o.msg);
        }
      }
    }
  }
  void run(uint64_t ticks) {
    for (uint64_t i = 0; i < ticks; ++i) {
      ++now;
      for (auto& [id, m] : members) m->tick();
      deliver();
    }
  }
  // Members 1..n, 2..n joined through member 1, run until all know all.
  void start(member_id n, const std::function<void(config&)>& adjust = {}) {
    for (member_id id = 1; id <= n; ++id) {
      config cfg = config_of(id);
      if (adjust) adjust(cfg);
      add(cfg);
    }
    for (member_id id = 2; id <= n; ++id) (*this)[id].join({1});
    deliver();
    run(30);
    for (auto& [id, m] : members) CAF_REQUIRE_EQUAL(m->table().reachable().size(), n - 1);
    events.clear();
    sent.clear();
  }
  size_t count(member_id at, change what, member_id about) const {
    size_t n = 0;
    for (const seen_event& s : events)
      if (s.at == at && s.e.what == what && s.e.member.id == about) ++n;
    return n;
  }
  const seen_event* first(member_id at, change what, member_id about) const {
    for (const seen_event& s : events)
      if (s.at == at && s.e.what == what && s.e.member.id == about) return &s;
    return nullptr;
  }
  member_state state(member_id at, member_id about) {
    const update* u = (*this)[at].table().find(about);
    CAF_REQUIRE(u != nullptr);
    return u->state;
  }
};

bool touches(member_id id, member_id from, member_id to) { return from == id || to == id; }

}  // namespace

CAF_TEST(a member joins through a seed and every member learns of it) {
  net n;
  n.start(5);
  for (member_id id = 1; id <= 5; ++id)
    for (member_id other = 1; other <= 5; ++other)
      CAF_CHECK(n.state(id, other) == member_state::alive);
}

CAF_TEST(probes of a healthy member are acked and raise no suspicion) {
  net n;
  n.start(3);
  n.run(200);
  for (member_id id = 1; id <= 3; ++id) {
    const stats& s = n[id].counters();
    CAF_CHECK_GREATER_OR_EQUAL(s.probes_sent, 15u);  // one per 10 ticks
    CAF_CHECK_EQUAL(s.acks_received, s.probes_sent);
    CAF_CHECK_EQUAL(s.indirect_probes_sent, 0u);
    CAF_CHECK_EQUAL(s.suspicions_raised, 0u);
    CAF_CHECK_EQUAL(n[id].local_health(), 0u);
  }
}

CAF_TEST(an indirect probe saves a member whose direct link is lost) {
  net n;
  n.start(4);
  n.drop = [](member_id from, member_id to, const message&) {
    return (from == 1 && to == 2) || (from == 2 && to == 1);
  };
  n.run(400);
  CAF_CHECK(n.state(1, 2) == member_state::alive);
  CAF_CHECK(n.state(2, 1) == member_state::alive);
  CAF_CHECK_EQUAL(n.count(1, change::suspected, 2), 0u);
  CAF_CHECK_GREATER(n[1].counters().indirect_probes_sent, 0u);
  CAF_CHECK_GREATER(n[3].counters().relays_served + n[4].counters().relays_served, 0u);
  // Every probe but one still in flight was acked.
  CAF_CHECK_GREATER_OR_EQUAL(n[1].counters().acks_received + 1, n[1].counters().probes_sent);
}

CAF_TEST(a crashed member is suspected then declared dead once the suspicion times out) {
  net n;
  n.start(3);
  n.drop = [](member_id from, member_id to, const message&) { return touches(3, from, to); };
  n.members.erase(3);  // crashed: it neither answers nor probes
  const uint64_t crashed_at = n.now;
  n.run(400);
  const seen_event* suspected = n.first(1, change::suspected, 3);
  const seen_event* died = n.first(1, change::died, 3);
  CAF_REQUIRE(suspected != nullptr);
  CAF_REQUIRE(died != nullptr);
  // 3 members: min = 4 * max(1, log10 3) * 10 = 40 ticks; k = 0, so no
  // shrinking; then two last-chance pings, 5 ticks each. Member 2 may have
  // suspected first and spread the death.
  uint64_t first_suspicion = suspected->tick;
  if (const seen_event* other = n.first(2, change::suspected, 3))
    first_suspicion = std::min(first_suspicion, other->tick);
  // (Each ping waits probe_timeout scaled by local health, which the
  // failed probes of 3 raised.)
  CAF_CHECK_GREATER_OR_EQUAL(died->tick - first_suspicion, 50u);
  CAF_CHECK_LESS_OR_EQUAL(died->tick - first_suspicion, 40u + 2u * 5u * 9u);
  // Two members probe it, each once per round of two: suspected within about
  // two probe intervals (one to reach it, one for the probe to fail).
  CAF_CHECK_LESS_OR_EQUAL(suspected->tick - crashed_at, 3u * 10u);
  CAF_CHECK(n.state(2, 3) == member_state::dead);
  CAF_CHECK_EQUAL(n.count(1, change::suspected, 2), 0u);
}

CAF_TEST(a suspected member refutes with a higher incarnation that clears the suspicion) {
  net n;
  n.start(3);
  // Member 1 hears (from 3) that 2 is suspect at incarnation 0.
  message gossip;
  gossip.type = message_type::gossip;
  gossip.from = 3;
  gossip.to = 1;
  gossip.rumors.push_back(rumor{update{2, 0, member_state::suspect, 0, {}}, 3});
  n[1].step(gossip);
  CAF_CHECK(n.state(1, 2) == member_state::suspect);
  n.run(30);  // 1 gossips the suspicion; 2 refutes
  CAF_CHECK_EQUAL(n.count(2, change::refuted, 2), 1u);
  CAF_CHECK_EQUAL(n[2].table().self_update().incarnation, 1u);
  CAF_CHECK_EQUAL(n[2].counters().refutations, 1u);
  CAF_CHECK(n.state(1, 2) == member_state::alive);
  CAF_CHECK_EQUAL(n[1].table().find(2)->incarnation, 1u);
  CAF_CHECK_EQUAL(n.count(1, change::alive_again, 2), 1u);
  CAF_CHECK_EQUAL(n.count(1, change::died, 2), 0u);
}

CAF_TEST(being suspected raises local health) {
  net n;
  n.start(3, [](config& cfg) { cfg.probe_interval_ticks = 1000000; });
  CAF_REQUIRE_EQUAL(n[2].local_health(), 0u);
  message gossip;
  gossip.type = message_type::gossip;
  gossip.from = 3;
  gossip.to = 2;
  gossip.rumors.push_back(rumor{update{2, 0, member_state::suspect, 0, {}}, 3});
  n[2].step(gossip);
  CAF_CHECK_EQUAL(n[2].local_health(), 1u);  // Lifeguard: an accusation hints we are slow
  CAF_CHECK_EQUAL(n[2].counters().refutations, 1u);
}

CAF_TEST(a member that left is left and never dead) {
  net n;
  n.start(4);
  n[4].leave();
  n.run(5);
  n.members.erase(4);
  n.drop = [](member_id from, member_id to, const message&) { return touches(4, from, to); };
  n.run(600);
  for (member_id id = 1; id <= 3; ++id) {
    CAF_CHECK(n.state(id, 4) == member_state::left);
    CAF_CHECK_EQUAL(n.count(id, change::died, 4), 0u);
    CAF_CHECK_EQUAL(n.count(id, change::suspected, 4), 0u);
  }
}

CAF_TEST(push pull converges a member that missed an update) {
  net n;
  n.start(3, [](config& cfg) {
    cfg.probe_interval_ticks = 1000000;  // no probes: nothing else would carry the update
    cfg.push_pull_interval_ticks = 50;
  });
  n.drop = [](member_id, member_id to, const message&) { return to == 3; };
  n[2].set_meta("new");
  n.run(20);  // the rumor is spent (4 transmissions at 3 members)
  CAF_CHECK_EQUAL(n[1].table().find(2)->meta, "new");
  CAF_CHECK_EQUAL(n[3].table().find(2)->meta, "m2");
  n.drop = nullptr;
  n.sent.clear();
  n.run(100);
  CAF_CHECK_EQUAL(n[3].table().find(2)->meta, "new");
  CAF_CHECK_EQUAL(n.count(3, change::meta_changed, 2), 1u);
  // It came by push-pull: no other message brought it to 3 after the heal.
  size_t by_push_pull = 0;
  for (const outgoing& o : n.sent)
    for (const rumor& r : o.msg.rumors) {
      if (r.about.id != 2 || r.about.meta != "new") continue;
      const bool full_state = o.msg.type == message_type::push_pull ||
                              o.msg.type == message_type::push_pull_reply;
      if (o.to != 3) continue;  // 3 passes it on once it has it
      CAF_CHECK(full_state);
      if (full_state) ++by_push_pull;
    }
  CAF_CHECK_GREATER(by_push_pull, 0u);
}

CAF_TEST(local health rises on missed acks and stretches the probe interval) {
  net n;
  // Long suspicions, so the members 1 cannot hear stay probe targets.
  n.start(4, [](config& cfg) { cfg.suspicion_mult = 100; });
  n.drop = [](member_id, member_id to, const message&) { return to == 1; };  // 1 is deaf
  n.run(600);
  CAF_CHECK_EQUAL(n[1].local_health(), 8u);  // at the max
  // The gaps between 1's last pings: (8 + 1) * 10 ticks.
  n.sent.clear();
  uint64_t start = n.now;
  std::vector<uint64_t> at;
  for (uint64_t t = 0; t < 300; ++t) {
    n.run(1);
    for (const outgoing& o : n.sent)
      if (o.msg.from == 1 && o.msg.type == message_type::ping) at.push_back(n.now - start);
    n.sent.clear();
  }
  CAF_REQUIRE_GREATER_OR_EQUAL(at.size(), 2u);
  for (size_t i = 1; i < at.size(); ++i) CAF_CHECK_EQUAL(at[i] - at[i - 1], 90u);
  // Without Lifeguard the same deafness leaves the multiplier at 0.
  net plain;
  plain.start(4, [](config& cfg) { cfg.local_health = false; });
  plain.drop = [](member_id, member_id to, const message&) { return to == 1; };
  plain.run(300);
  CAF_CHECK_EQUAL(plain[1].local_health(), 0u);
}

CAF_TEST(local health falls again once probes are acked) {
  net n;
  n.start(4);
  n.drop = [](member_id, member_id to, const message&) { return to == 1; };
  n.run(100);
  const uint32_t raised = n[1].local_health();
  CAF_CHECK_GREATER(raised, 2u);
  n.drop = nullptr;
  n.run(1000);
  CAF_CHECK_EQUAL(n[1].local_health(), 0u);
}

CAF_TEST(an update is piggybacked exactly retransmit_limit times) {
  net n;
  n.start(10, [](config& cfg) { cfg.probe_interval_ticks = 1000000; });
  CAF_REQUIRE_EQUAL(n[1].retransmit_limit(), 8u);  // 4 * ceil(log10(11))
  n.drop = [](member_id, member_id, const message&) { return true; };
  n[1].set_meta("v2");
  n.run(100);
  size_t carried = 0;
  for (const outgoing& o : n.sent)
    for (const rumor& r : o.msg.rumors)
      if (o.msg.from == 1 && o.msg.type != message_type::push_pull && r.about.id == 1 &&
          r.about.meta == "v2")
        ++carried;
  CAF_CHECK_EQUAL(carried, 8u);
}

CAF_TEST(a suspicion confirmed by independent members expires sooner) {
  auto run = [](std::vector<member_id> sources) {
    net n;
    n.start(10, [](config& cfg) { cfg.last_chance_pings = 0; });
    // Probes succeed, nothing else travels: the injected rumors are the only
    // confirmations, and member 5 never hears it is suspected.
    n.strip_rumors = true;
    n.drop = [](member_id, member_id, const message& m) {
      return m.type != message_type::ping && m.type != message_type::ack;
    };
    CAF_REQUIRE_EQUAL(n[1].suspicion_min_ticks(), 40u);   // 4 * log10(10) * 10
    CAF_REQUIRE_EQUAL(n[1].suspicion_max_ticks(), 240u);  // 6 * min
    for (member_id source : sources) {
      message m;
      m.type = message_type::gossip;
      m.from = source;
      m.to = 1;
      m.rumors.push_back(rumor{update{5, 0, member_state::suspect, 0, {}}, source});
      n[1].step(m);
    }
    const uint64_t start = n.now;
    n.run(300);
    const seen_event* died = n.first(1, change::died, 5);
    CAF_REQUIRE(died != nullptr);
    return died->tick - start;
  };
  CAF_CHECK_EQUAL(run({2}), 240u);        // no confirmation: the max
  CAF_CHECK_EQUAL(run({2, 3}), 114u);     // one of k = 2: 240 - 200 * log 2 / log 3, rounded up
  CAF_CHECK_EQUAL(run({2, 3, 4}), 40u);   // k confirmations: the min
  CAF_CHECK_EQUAL(run({2, 3, 4, 6}), 40u);
}

CAF_TEST(the same seeds give the same messages) {
  auto trace = [] {
    net n;
    n.start(6);
    n.drop = [](member_id from, member_id to, const message&) { return touches(6, from, to); };
    n.run(300);
    return n.sent;
  };
  const std::vector<outgoing> a = trace();
  const std::vector<outgoing> b = trace();
  CAF_REQUIRE_EQUAL(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) CAF_CHECK(a[i].to == b[i].to && a[i].msg == b[i].msg);
}

CAF_TEST(an accusation already refuted is answered with the refutation again) {
  net n;
  n.start(3, [](config& cfg) { cfg.probe_interval_ticks = 1000000; });
  message accuse;
  accuse.type = message_type::gossip;
  accuse.from = 3;
  accuse.to = 2;
  accuse.rumors.push_back(rumor{update{2, 0, member_state::suspect, 0, {}}, 3});
  n.drop = [](member_id, member_id, const message&) { return true; };
  n[2].step(accuse);
  n.run(50);  // the refutation is spent, and reached no one
  CAF_REQUIRE_EQUAL(n[2].table().self_update().incarnation, 1u);
  // Member 1 still suspects 2 at incarnation 0 and pings it (the buddy system).
  n.drop = nullptr;
  n.sent.clear();
  message ping;
  ping.type = message_type::ping;
  ping.from = 1;
  ping.to = 2;
  ping.sequence = 99;
  ping.rumors.push_back(rumor{update{2, 0, member_state::suspect, 0, {}}, 1});
  n[2].step(ping);
  n.deliver();
  bool answered = false;
  for (const outgoing& o : n.sent)
    if (o.msg.type == message_type::ack && o.to == 1)
      for (const rumor& r : o.msg.rumors)
        if (r.about.id == 2 && r.about.incarnation == 1 && r.about.state == member_state::alive)
          answered = true;
  CAF_CHECK(answered);
  CAF_CHECK_EQUAL(n[2].table().self_update().incarnation, 1u);  // no new incarnation
  CAF_CHECK_EQUAL(n[2].counters().refutations, 1u);
}

CAF_TEST(a suspect is pinged before it is declared dead and a refutation in the ack saves it) {
  net n;
  n.start(3);
  n.drop = [](member_id, member_id, const message&) { return true; };  // 1 hears nothing
  // Run until member 1's first suspicion expires: it pings the suspect.
  member_id asked = 0;
  for (int t = 0; t < 400 && asked == 0; ++t) {
    n.sent.clear();
    n.run(1);
    if (n[1].counters().last_chance_pings == 0) continue;
    for (const outgoing& o : n.sent)
      if (o.msg.from == 1 && o.msg.type == message_type::ping && !o.msg.rumors.empty() &&
          o.msg.rumors.front().about.id == o.to &&
          o.msg.rumors.front().about.state == member_state::suspect)
        asked = o.to;
  }
  CAF_REQUIRE_NOT_EQUAL(asked, 0u);
  CAF_CHECK_EQUAL(n.count(1, change::died, asked), 0u);
  // The suspect answers with its refutation.
  message ack;
  ack.type = message_type::ack;
  ack.from = asked;
  ack.to = 1;
  ack.rumors.push_back(rumor{update{asked, 1, member_state::alive, 0, "m"}, 0});
  n[1].step(ack);
  n.deliver();
  CAF_CHECK(n.state(1, asked) == member_state::alive);
  n.run(600);  // local health stretches 1's probes, so the other's suspicion comes late
  // The other member never answers: dead after its two pings.
  const member_id other = asked == 2 ? 3 : 2;
  CAF_CHECK_EQUAL(n.count(1, change::died, other), 1u);
  CAF_CHECK_GREATER_OR_EQUAL(n[1].counters().last_chance_pings, 3u);
}

CAF_TEST(a member answers an accusation of a member it knows refuted with the refutation) {
  net n;
  n.start(3, [](config& cfg) { cfg.probe_interval_ticks = 1000000; });
  // Member 1 knows 2 alive at incarnation 1.
  message news;
  news.type = message_type::gossip;
  news.from = 2;
  news.to = 1;
  news.rumors.push_back(rumor{update{2, 1, member_state::alive, 0, "m2"}, 0});
  n[1].step(news);
  n.drop = [](member_id, member_id, const message&) { return true; };
  n.run(50);  // the news is spent
  n.sent.clear();
  // Member 3 still accuses 2 at incarnation 0, in a gossip and in a ping.
  for (message_type type : {message_type::gossip, message_type::ping}) {
    message accuse;
    accuse.type = type;
    accuse.from = 3;
    accuse.to = 1;
    accuse.rumors.push_back(rumor{update{2, 0, member_state::suspect, 0, {}}, 3});
    n[1].step(accuse);
  }
  n.deliver();
  size_t answers = 0;
  for (const outgoing& o : n.sent)
    if (o.msg.from == 1 && o.to == 3 && !o.msg.rumors.empty() &&
        o.msg.rumors.front() == rumor{update{2, 1, member_state::alive, 0, "m2"}, 0})
      ++answers;
  CAF_CHECK_EQUAL(answers, 2u);  // a gossip back, and the ack
  CAF_CHECK(n.state(1, 2) == member_state::alive);
}
