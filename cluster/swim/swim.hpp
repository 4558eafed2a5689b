// The SWIM failure detector and gossip of one member, as a pure, tick-driven
// state machine (issue 10; the shape of cluster/raft/raft.hpp). Papers:
// SWIM = Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent
// Infection-style Process Group Membership Protocol" (DSN 2002); Lifeguard =
// Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for More
// Accurate Failure Detection" (2018). HashiCorp memberlist's choices are
// followed where the papers leave room, and named where we differ.
//
// Inputs: tick(), step(from, message), join(seeds), leave(), set_meta().
// Output: take_output(): messages to send {to, message} and membership
// events, in the order they arose. The member table is membership.hpp's, whose
// merge rule (incarnation, then alive < suspect < dead < left) decides every
// update.
//
// Rules implemented:
//   - probing (SWIM 4.3): randomized round-robin over a shuffled list of the
//     alive and suspect members, each probed once per round, new members
//     inserted at a random position; a ping, an ack within probe_timeout,
//     else ping-req through `indirect_probes` random members; no ack by the
//     end of the probe interval makes the target suspect (SWIM 4.2);
//   - suspicion (SWIM 4.2, Lifeguard 4.2 "dogpile"): a suspicion times out
//     after between suspicion_min and suspicion_max ticks; the timeout starts
//     at the max and shrinks, log-scaled, with each independent confirmation
//     (another member suspecting the same incarnation), reaching the min at
//     `suspicion_mult - 2` confirmations (memberlist's k); expiry declares
//     the member dead; a member told it is suspect or dead refutes with a
//     higher incarnation;
//   - dissemination (SWIM 4.1): pending updates ride on every ping, ack,
//     ping-req, nack and gossip message, fewest transmissions first, within
//     a byte and count budget; each is sent retransmit_mult * ceil(log10(n+1))
//     times; one pending update per member (a newer one replaces it);
//     plus memberlist's gossip: every gossip_interval ticks the pending
//     updates go to gossip_fanout random members;
//   - anti-entropy (memberlist push-pull): every push_pull_interval ticks
//     (scaled up beyond 32 members as memberlist does) the full table goes to
//     a random alive member, which answers with its own; joining is a push-pull
//     to the seeds (resent every probe interval until one answers); every
//     reconnect_interval ticks a push-pull also goes to a random dead member
//     (Serf's reconnect), so the halves of a healed partition find each other;
//   - Lifeguard local health (LHA, Lifeguard 4.1): a multiplier in
//     [0, local_health_max] rises on a probe without ack (by the missing nacks
//     when ping-reqs were sent, else by one) and on refuting a suspicion of
//     ourselves, falls on every acked probe; the probe interval and timeout
//     are (multiplier + 1) times the configured ones. Indirect probers answer
//     nack when the target stays silent (Lifeguard 4.1), so a prober that
//     hears neither ack nor nack learns that it, not the target, is slow;
//   - Lifeguard's buddy system: a ping to a member we suspect carries that
//     suspicion first, so the member refutes at once;
//   - beyond memberlist: a member that hears an accusation it already
//     refuted spreads its refutation again; any member that receives an
//     accusation of a member it knows alive at a higher incarnation answers
//     the sender with that entry (first in the ack when the accusation came
//     with a ping: the buddy system's answer); and a suspicion expires into a
//     death only after `last_chance_pings` unanswered pings to the suspect
//     (buddy system), so an observer that missed every copy of a refutation
//     (it happens under loss: retransmissions are bounded) asks before it
//     declares; a truly dead member costs probe_timeout more per ping;
//   - graceful leave: a `left` update at a higher incarnation, sent at once to
//     gossip_fanout members and disseminated; left is never dead.
//
// Determinism: the same config (random_seed included) and the same calls give
// the same outputs. No clocks (time is tick()), threads, I/O or global state.
// Thread safety: none; one owner (the gossiper actor, or the simulator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/swim/membership.hpp"

namespace velocity::swim {

// Metadata bytes per member: addresses and a few tags, not documents. The
// decoder refuses more, so one member cannot blow up everyone's table.
inline constexpr size_t meta_bytes_max = 1024;
// Updates in one message: a push-pull carries the whole table, so this is the
// largest cluster the protocol serves (design target: 1,000 nodes).
inline constexpr size_t updates_per_message_max = 16384;
// Indirect probes this member serves for others at once; beyond it a
// ping-req is dropped (the asker then counts a missing nack).
inline constexpr size_t relays_max = 256;

// Every duration is in ticks. Defaults assume a tick of 100 ms and follow
// memberlist's LAN profile (DefaultLANConfig).
struct config {
  member_id self = 0;
  std::string meta{};
  uint64_t random_seed = 0;
  uint32_t probe_interval_ticks = 10;      // 1 s
  uint32_t probe_timeout_ticks = 5;        // 500 ms; < probe_interval_ticks
  uint32_t indirect_probes = 3;
  uint32_t suspicion_mult = 4;             // min = mult * max(1, log10(n)) * probe interval
  uint32_t suspicion_max_timeout_mult = 6; // max = this * min
  uint32_t retransmit_mult = 4;
  uint32_t gossip_interval_ticks = 2;      // 200 ms; 0: piggyback only (the SWIM paper)
  uint32_t gossip_fanout = 3;
  uint32_t push_pull_interval_ticks = 300; // 30 s; 0: never
  uint32_t reconnect_interval_ticks = 300; // 30 s; 0: never
  // Lifeguard: local health (LHA) and nacks; suspicion that shrinks with
  // confirmations (dogpile) and the buddy system. Off: plain SWIM with
  // memberlist's fixed suspicion timeout (the min).
  bool local_health = true;
  uint32_t local_health_max = 8;
  bool dogpile = true;
  // Before a suspicion becomes a death, this member pings the suspect itself
  // (the ping carries the accusation, so a live member refutes in its ack),
  // up to this many times, probe_timeout apart. 0: declare at once (memberlist).
  uint32_t last_chance_pings = 2;
  // Per outgoing message: pending updates it may carry.
  uint32_t piggyback_updates_max = 16;
  uint32_t piggyback_bytes_max = 1024;
};

// A config is usable when self != 0, the timeout is shorter than the
// interval and every multiplier is positive. Returns what is wrong, or "".
std::string validate(const config& cfg);

// One pending update as it travels: `source` is the member that raised a
// suspicion or death (Lifeguard counts distinct sources as confirmations);
// 0 for alive and left updates.
struct rumor {
  update about{};
  member_id source = 0;
  friend bool operator==(const rumor&, const rumor&) = default;
};

// Bytes a rumor counts against piggyback_bytes_max (an estimate of its
// encoded size: fixed fields plus metadata).
inline size_t rumor_bytes(const rumor& r) { return 40 + r.about.meta.size(); }

enum class message_type : uint8_t {
  ping = 0,             // are you alive? (sequence; `to` must be the receiver)
  ack = 1,              // answer to a ping, or relayed by an indirect prober
  ping_req = 2,         // please ping `target` for me and relay its ack
  nack = 3,             // the indirect prober heard no ack from `target`
  push_pull = 4,        // full state; answer with yours (`join`: first contact)
  push_pull_reply = 5,  // full state
  gossip = 6,           // pending updates only
  leave = 7,            // the sender's `left` update (and pending updates)
};
inline constexpr uint8_t message_type_max = 7;
std::string_view to_string(message_type t);

struct message {
  message_type type = message_type::ping;
  member_id from = 0;
  member_id to = 0;
  uint64_t sequence = 0;  // ping/ack/ping_req/nack: matches an ack to its probe
  member_id target = 0;   // ping_req, nack: the member to probe
  bool join = false;      // push_pull: the sender is joining
  // Piggybacked rumors; for push_pull(_reply) the sender's whole table.
  std::vector<rumor> rumors{};
  friend bool operator==(const message&, const message&) = default;
};

struct outgoing {
  member_id to = 0;
  message msg{};
};

// A change of the table, for subscribers. `what` is never change::none;
// change::refuted means this member raised its incarnation to answer an
// accusation. `member` is the entry after the change.
struct event {
  change what = change::none;
  update member{};
};

struct output {
  std::vector<outgoing> messages{};
  std::vector<event> events{};
};

struct stats {
  uint64_t probes_sent = 0;           // direct pings of our own probes
  uint64_t acks_received = 0;         // our probes that got an ack (direct or relayed)
  uint64_t indirect_probes_sent = 0;  // ping-reqs we sent
  uint64_t relays_served = 0;         // ping-reqs we acted on for others
  uint64_t nacks_sent = 0;
  uint64_t nacks_received = 0;
  uint64_t suspicions_raised = 0;     // targets we suspected from our own probes
  uint64_t deaths_declared = 0;       // suspicions that expired here
  uint64_t last_chance_pings = 0;     // pings to a suspect before declaring it dead
  uint64_t refutations = 0;           // accusations of ourselves we refuted
  uint64_t push_pulls_sent = 0;       // join, periodic and reconnect
  uint64_t messages_sent = 0;
  uint64_t rumors_sent = 0;           // piggybacked updates (not push-pull state)
};

class swim {
 public:
  // REQUIRES: validate(cfg).empty().
  explicit swim(const config& cfg);
  ~swim();
  swim(const swim&) = delete;
  swim& operator=(const swim&) = delete;

  // One unit of time: probes, their timeouts, suspicion expiry, gossip,
  // push-pull, join retries.
  void tick();
  // A message another member sent. The shell checks `from` against the
  // connection it came on (the envelope's fromNode); here a message to
  // another member, from member 0 or from ourselves is ignored, and once
  // this member has left only pings are still answered.
  void step(const message& m);
  // Contact these members (never self) with a push-pull until one answers.
  void join(const std::vector<member_id>& seeds);
  // Graceful leave: this member becomes `left`; the update goes out at once
  // and is disseminated by later ticks. Probing stops.
  void leave();
  // New metadata; its version rises and spreads.
  // REQUIRES: meta.size() <= meta_bytes_max.
  void set_meta(std::string meta);

  // Everything produced since the last call.
  output take_output();

  const membership& table() const;
  // The other members that are alive or suspect, sorted (table().reachable()
  // without building it).
  const std::vector<member_id>& reachable() const;
  member_id self() const;
  // Lifeguard's local health multiplier, in [0, local_health_max].
  uint32_t local_health() const;
  const stats& counters() const;
  // Ticks a suspicion of a member lasts with no confirmation, and with
  // enough, at the current cluster size.
  uint64_t suspicion_max_ticks() const;
  uint64_t suspicion_min_ticks() const;
  // Times a rumor is sent at the current cluster size.
  uint32_t retransmit_limit() const;
  uint64_t now() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace velocity::swim
