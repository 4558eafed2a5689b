// Draws a run's parameters from its seed (sim_options.hpp). The ranges follow
// the issue: loss 0-30%, duplication 0-50%, delays with reordering, each fault
// kind on or off per seed, cluster sizes 1/3/5/7.
//
// Thread safety: pure functions of the rng state.
#include "tests/sim/sim_options.hpp"

#include <algorithm>
#include <sstream>

namespace velocity::sim {

namespace {

// The lease assumption (raft.hpp): fastest / slowest tick rate < election /
// lease. We keep a margin: the skew uses at most 80% of the allowed slack.
int64_t skew_allowed_percent(uint32_t election_ticks, uint32_t lease_ticks) {
  constexpr int64_t skew_percent_cap = 20;
  if (lease_ticks == 0) return skew_percent_cap;
  const int64_t slack_percent = (100 * static_cast<int64_t>(election_ticks)) / lease_ticks - 100;
  return std::clamp<int64_t>(slack_percent * 8 / 10, 0, skew_percent_cap);
}

// The share of seeds (outside crash storms) that use the deposed-leader
// profile. Without it, 5 seeds in 500 caught a read served without a quorum
// round (decisions version 2).
constexpr int64_t deposed_leader_percent = 15;

size_t draw_nodes(sim_rng& rng) {
  const int64_t roll = rng.uniform(0, 99);
  if (roll < 10) return 1;
  if (roll < 55) return 3;
  if (roll < 85) return 5;
  return 7;
}

void draw_raft(sim_rng& rng, sim_params& p) {
  p.election_ticks = static_cast<uint32_t>(rng.uniform(8, 16));
  p.heartbeat_ticks = static_cast<uint32_t>(rng.uniform(1, 3));
  p.pre_vote = rng.chance_percent(70);
  p.check_quorum = rng.chance_percent(75);
  p.lease_ticks = 0;
  if (p.check_quorum && rng.chance_percent(50))
    p.lease_ticks = static_cast<uint32_t>(rng.uniform(2, p.election_ticks / 2));
  p.skew_percent_max = rng.uniform(0, skew_allowed_percent(p.election_ticks, p.lease_ticks));
  p.inflight_messages_max = static_cast<size_t>(rng.uniform(1, 16));
  // One entry per append message a third of the time (the core sends at
  // least one), so a new leader's old-term entries and its no-op travel apart.
  p.append_bytes_max = rng.chance_percent(33) ? 1 : static_cast<size_t>(rng.uniform(64, 2048));
  // A snapshot is the shard's dump, 1 to 2 KB (a few keys): chunks of 80 to
  // 2560 bytes make a transfer take one to about 25 chunks. (Chunks of 8 to
  // 256 bytes, sized for the old key/value map, made transfers of up to 250
  // chunks, and then one seed of 1 to 6000 found the snapshot half of 6c5b924
  // reverted; 8 of 1 to 1000 do with these.)
  p.snapshot_chunk_bytes = static_cast<size_t>(rng.uniform(8, 256)) * 10;
  p.compact_every_entries = static_cast<uint64_t>(rng.uniform(4, 40));
}

void draw_faults(sim_rng& rng, sim_params& p) {
  p.loss_percent = rng.chance_percent(70) ? rng.uniform(0, 30) : 0;
  p.duplicate_percent = rng.chance_percent(50) ? rng.uniform(0, 50) : 0;
  p.delay_us_min = rng.uniform(50, 1'000);
  p.delay_us_max = p.delay_us_min + rng.uniform(500, 30'000);
  p.fsync_delay_us_max = rng.chance_percent(70) ? rng.uniform(100, 20'000) : 0;
  p.partitions = rng.chance_percent(60);
  p.crashes = rng.chance_percent(60);
  p.new_leader_crash_percent = p.crashes && rng.chance_percent(50) ? rng.uniform(10, 60) : 0;
  p.pauses = rng.chance_percent(40);
  p.clogs = rng.chance_percent(40);
  p.membership_changes = p.nodes >= 3 && rng.chance_percent(40);
  p.transfers = p.nodes >= 2 && rng.chance_percent(40);
  p.nemesis_interval_us = rng.uniform(50'000, 600'000);
  p.restart_delay_us_max = rng.uniform(50'000, 1'000'000);
}

// A crash storm: few nodes, leaders crashed soon after election, quick
// restarts, one entry per append. This is the shape of the figure-8 history
// (paper 5.4.2): old-term entries reach a majority while the new leader's
// no-op does not, then the leader dies.
void draw_crash_storm(sim_rng& rng, sim_params& p) {
  p.nodes = rng.chance_percent(75) ? 3 : 5;
  p.crashes = true;
  p.new_leader_crash_percent = rng.uniform(50, 90);
  p.partitions = rng.chance_percent(50);
  p.pauses = false;
  p.clogs = false;
  p.membership_changes = false;
  p.transfers = false;
  p.nemesis_interval_us = rng.uniform(20'000, 150'000);
  p.restart_delay_us_max = rng.uniform(20'000, 300'000);
  if (rng.chance_percent(70)) p.append_bytes_max = 1;
  p.chaos_us = rng.uniform(30'000'000, 60'000'000);
  p.loss_percent = rng.uniform(5, 30);
  // A slow disk widens the window in which an acknowledged but unsynced
  // append can be lost by a crash.
  p.fsync_delay_us_max = rng.uniform(1'000, 20'000);
}

// A deposed leader: the leader is cut off from the voters for long enough
// that they elect another, while it keeps believing it leads (check-quorum
// off, so it never steps down on its own) and clients keep reading from it
// and writing through the new leader. A read answered without a quorum round
// (paper 6.4; raft::injected_bug::read_without_quorum) then returns a value
// the new leader has already overwritten, which only the linearizability
// checker can see. Few keys, so reads and writes meet on the same key.
void draw_deposed_leader(sim_rng& rng, sim_params& p) {
  p.nodes = rng.chance_percent(60) ? 3 : 5;
  p.check_quorum = false;
  p.lease_ticks = 0;  // leases need check-quorum; the drawn skew fits lease 0 too
  p.partitions = true;
  p.crashes = false;
  p.new_leader_crash_percent = 0;
  p.membership_changes = false;
  p.transfers = false;
  // Long enough for an election on the majority side and reads after it.
  p.nemesis_interval_us = rng.uniform(300'000, 1'000'000);
  p.clients = static_cast<size_t>(rng.uniform(3, 8));
  p.keys = static_cast<size_t>(rng.uniform(1, 2));
}

}  // namespace

sim_params draw_params(sim_rng& rng) {
  sim_params p;
  p.nodes = draw_nodes(rng);
  draw_raft(rng, p);
  draw_faults(rng, p);
  p.chaos_us = rng.uniform(3'000'000, 10'000'000);
  p.crash_storm = rng.chance_percent(35);
  if (p.crash_storm) draw_crash_storm(rng, p);
  p.clients = static_cast<size_t>(rng.uniform(1, 8));
  p.keys = static_cast<size_t>(rng.uniform(1, 4));
  p.value_pad_bytes = static_cast<size_t>(rng.uniform(0, 40));
  p.deposed_leader = !p.crash_storm && rng.chance_percent(deposed_leader_percent);
  if (p.deposed_leader) draw_deposed_leader(rng, p);
  p.heal_ticks_max = 100 * static_cast<int64_t>(p.election_ticks);
  return p;
}

std::string describe(const sim_params& p) {
  std::ostringstream out;
  out << "v" << decisions_version << " nodes=" << p.nodes << " election=" << p.election_ticks
      << " heartbeat=" << p.heartbeat_ticks << " lease=" << p.lease_ticks
      << " pre_vote=" << p.pre_vote << " check_quorum=" << p.check_quorum
      << " inflight=" << p.inflight_messages_max << " append_bytes=" << p.append_bytes_max
      << " chunk_bytes=" << p.snapshot_chunk_bytes << " compact_every=" << p.compact_every_entries
      << " skew%=" << p.skew_percent_max << " loss%=" << p.loss_percent
      << " dup%=" << p.duplicate_percent << " delay_us=" << p.delay_us_min << ".."
      << p.delay_us_max << " fsync_us<=" << p.fsync_delay_us_max
      << " faults=" << (p.partitions ? "P" : "-") << (p.crashes ? "C" : "-")
      << (p.pauses ? "S" : "-") << (p.clogs ? "L" : "-") << (p.membership_changes ? "M" : "-")
      << (p.transfers ? "T" : "-") << " new_leader_crash%=" << p.new_leader_crash_percent
      << (p.crash_storm ? " crash_storm" : "") << (p.deposed_leader ? " deposed_leader" : "") << " restart_us<=" << p.restart_delay_us_max
      << " nemesis_us=" << p.nemesis_interval_us
      << " clients=" << p.clients << " keys=" << p.keys << " pad=" << p.value_pad_bytes << " chaos_us=" << p.chaos_us;
  return out.str();
}

}  // namespace velocity::sim
