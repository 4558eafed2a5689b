// The SWIM simulation: N members (up to a few thousand), each the pure core
// (cluster/swim/swim.hpp), driven tick by tick over a simulated network that
// loses, delays and partitions messages, with crashed, leaving and slow
// members. One seed decides every random choice of a run (the network's and,
// through their configs, the members'), so a seed replays exactly.
//
// A run: every member joins through member 1; warm-up until every member
// knows every other as alive; then at once member 1 changes its metadata
// (dissemination), `crashes` members crash, `leaves` members leave (they
// run 20 more ticks to spread it, then stop), `slow` members start
// processing their inbox only every slow_period_ticks ticks, and with
// `partition` the members split in two random halves for partition_ticks,
// from 30 ticks on (once the leavers are gone: a leave no one hears is a
// crash). The run
// continues until every check can be decided, and measures as it goes.
//
// Checks (a failed check fails the seed): every crashed member is dead at
// every live member within detection_bound_ticks() (plus partition_ticks when
// partitioned: a member cut off hears of it after the heal); a left member is left,
// never dead or suspected, everywhere; with loss <= 5 %, Lifeguard on and no
// partition, no healthy member that is not slow is ever declared dead; at the
// end every live member holds the same table (the state of every member;
// an alive member's incarnation may lag where its refutation did not reach,
// until the next push-pull), so a healed partition has converged. Slow members recover one
// detection bound after the faults (a member that stays slow flaps for ever)
// and the tables are compared from then on.
//
// Thread safety: none; a run owns everything it uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace velocity::swim_sim {

struct options {
  uint64_t seed = 1;
  uint32_t members = 32;
  uint32_t loss_percent = 0;       // each message, independently
  uint32_t delay_ticks_max = 0;    // each message waits uniform [0, max] ticks
  uint32_t crashes = 1;
  uint32_t leaves = 0;
  uint32_t slow = 0;               // slow members (healthy, but late)
  uint32_t slow_period_ticks = 10; // a slow member reads its inbox every this many ticks
  bool partition = false;
  uint32_t partition_ticks = 300;
  bool lifeguard = true;           // local health, nacks, dogpile, buddy system
  uint64_t warmup_ticks_max = 3000;
  bool trace = false;              // print every membership event
};

// The profile the CTest seeds use: small and medium clusters with every
// fault kind, all drawn from the seed.
options mixed_options(uint64_t seed);

struct result {
  uint64_t seed = 0;
  bool ok = true;
  std::vector<std::string> failures{};
  uint64_t ticks = 0;                  // the whole run
  uint64_t join_ticks = 0;             // until every member knew every member
  int64_t dissemination_ticks = -1;    // metadata change until every live member has it
  // Crashes: averaged over the crashed members (-1: none).
  double first_suspicion_ticks = -1;   // crash -> first live member suspects it
  double all_dead_ticks = -1;          // crash -> every live member has it dead
  uint64_t all_dead_ticks_max = 0;
  // False positives, about members that never crashed or left (slow ones
  // included): distinct members, and events summed over observers.
  uint64_t healthy_suspected = 0;
  uint64_t healthy_dead = 0;
  uint64_t healthy_suspect_events = 0;
  uint64_t healthy_dead_events = 0;
  uint64_t healthy_fast_dead = 0;      // of healthy_dead: members that were not slow
  uint64_t healthy_fast_suspected = 0; // of healthy_suspected: members that were not slow
  uint64_t healthy_fast_suspect_events = 0;
  int64_t converge_ticks = -1;         // last fault over (heal, slow members recovered) -> identical tables
  double messages_per_member_second = 0;  // after warm-up, a tick being 100 ms
  uint64_t refutations = 0;
  uint32_t local_health_max_seen = 0;
};

result run(const options& o);
// The bound every crashed member must be dead everywhere within.
uint64_t detection_bound_ticks(const options& o);
// One line per run: the seed and every measure, then the failures.
std::string describe(const result& r);

}  // namespace velocity::swim_sim
