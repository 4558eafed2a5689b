// Micro-benchmarks of the Raft core (cluster/raft/raft.hpp), driven directly
// in one thread: no actors, no network, no faults.
//
//   raft_cluster_commit/<batch>/<disk> : a 3-replica group; each iteration
//       proposes <batch> entries of entry_payload_bytes on the leader and
//       delivers every message in a loop until the group is quiet and the
//       leader has committed them. Items = entries committed. <disk> is where
//       step 2 of THE READY CONTRACT goes: 0 = an in-memory durable_state per
//       replica, 1 = log_store (CRC, encoding, write batches) on a memory_engine
//       per replica.
//   raft_leader_propose/<batch> : the leader's own cost per proposal:
//       propose + take_ready + persist (in-memory) + advance, with the
//       followers' append acknowledgements made up on the spot (accepting
//       everything) so the leader commits without any follower work.
//
// Every replica compacts its log every compaction_interval_entries applied
// entries (an empty snapshot), so memory stays flat over long runs; that cost
// is inside the timings, as it would be in a node.
//
// Determinism: fixed seeds, replicas visited in id order. Single-threaded.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft/log_store.hpp"
#include "cluster/raft/raft.hpp"
#include "storage/memory_engine.hpp"

using namespace velocity;
using raft::durable_state;
using raft::index_t;
using raft::message;
using raft::node_id;
using raft::ready;

namespace {

constexpr size_t replica_count = 3;
constexpr size_t entry_payload_bytes = 100;
constexpr index_t compaction_interval_entries = 4096;
// An election needs at most 2 * election_ticks ticks; more means a broken core.
constexpr int election_ticks_max = 1000;
// Message delivery rounds per pump; a pump that does not settle is a bug.
constexpr int pump_rounds_max = 10000;
constexpr double bench_seconds_min = 0.5;

enum disk_kind : int64_t { in_memory = 0, log_store_on_memory_engine = 1 };

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "raft_bench: %s\n", what);
  std::exit(1);
}

// Step 2 of the ready contract on a plain durable_state.
void persist_in_memory(durable_state& disk, const ready& rd) {
  if (rd.snap) {
    disk.snap = *rd.snap;
    const index_t covered = rd.snap->meta.index;
    if (rd.snapshot_from_leader) {
      disk.entries.clear();
    } else {
      auto keep = std::find_if(disk.entries.begin(), disk.entries.end(),
                               [covered](const raft::entry& e) { return e.index > covered; });
      disk.entries.erase(disk.entries.begin(), keep);
    }
  }
  if (!rd.entries.empty()) {
    const index_t first = rd.entries.front().index;
    auto conflict = std::find_if(disk.entries.begin(), disk.entries.end(),
                                 [first](const raft::entry& e) { return e.index >= first; });
    disk.entries.erase(conflict, disk.entries.end());
    disk.entries.insert(disk.entries.end(), rd.entries.begin(), rd.entries.end());
  }
  if (rd.hard) disk.hard = *rd.hard;
}

raft::config replica_config(node_id id) {
  raft::config cfg;
  cfg.id = id;
  cfg.random_seed = 42;
  return cfg;
}

// One replica: the core and its durable storage.
struct replica {
  std::unique_ptr<raft::raft> core;
  durable_state disk;                      // disk_kind in_memory
  std::unique_ptr<memory_engine> engine;   // disk_kind log_store_on_memory_engine
  std::unique_ptr<raft::log_store> store;

  void persist(const ready& rd) {
    if (!store) {
      persist_in_memory(disk, rd);
      return;
    }
    if (!store->persist(rd).ok()) die("log_store::persist failed");
  }
};

// A group of replicas with ids 1..n and a message queue between them.
class bench_cluster {
 public:
  bench_cluster(size_t n, disk_kind disk) {
    std::vector<node_id> voters;
    for (node_id id = 1; id <= n; ++id) voters.push_back(id);
    for (node_id id = 1; id <= n; ++id) {
      replica r;
      if (disk == log_store_on_memory_engine) {
        // No undo records: this measures the store, not crash simulation.
        r.engine =
            std::make_unique<memory_engine>(memory_engine_options{.crash_simulation = false});
        r.store = std::make_unique<raft::log_store>(*r.engine, static_cast<uint32_t>(id));
      }
      r.core = std::make_unique<raft::raft>(replica_config(id), raft::bootstrap_state(voters), 0);
      replicas_.push_back(std::move(r));
    }
  }

  raft::raft& core(node_id id) { return *replicas_[id - 1].core; }

  // Ticks replica 1 until it leads (pumping after every tick).
  raft::raft& elect() {
    for (int tick = 0; tick < election_ticks_max; ++tick) {
      core(1).tick();
      pump();
      if (core(1).current_role() == raft::role::leader) {
        pump();
        return core(1);
      }
    }
    die("replica 1 did not become leader");
  }

  // Handles readies and delivers messages until nothing is left to do.
  void pump() {
    for (int round = 0; round < pump_rounds_max; ++round) {
      bool busy = false;
      for (replica& r : replicas_) busy = handle_readies(r) || busy;
      std::vector<message> delivering;
      delivering.swap(queue_);
      for (const message& m : delivering) core(m.to).step(m);
      if (!busy && delivering.empty()) return;
    }
    die("the cluster did not settle");
  }

  // After a run: every replica holds the leader's whole log, durably (so the
  // numbers measured real replication, not messages lost on the way).
  void check_replicated(index_t last) {
    for (replica& r : replicas_) {
      if (r.core->last_index() != last) die("a follower is missing entries");
      durable_state disk = r.disk;
      if (r.store) {
        auto loaded = r.store->load();
        if (!loaded.ok()) die("log_store::load failed");
        disk = std::move(loaded).value();
      }
      const index_t durable_last =
          disk.entries.empty() ? disk.snap.meta.index : disk.entries.back().index;
      if (durable_last != last) die("a replica's durable log ends early");
    }
  }

  // Compacts every replica whose applied index moved far enough.
  void compact_when_due() {
    for (replica& r : replicas_) {
      const index_t applied = r.core->applied_index();
      if (applied < r.core->snapshot_info().index + compaction_interval_entries) continue;
      if (!r.core->compact(applied, {}).ok()) die("compact failed");
    }
    pump();
  }

 private:
  bool handle_readies(replica& r) {
    bool any = false;
    while (r.core->has_ready()) {
      any = true;
      ready rd = r.core->take_ready();
      move_into_queue(rd.messages);
      r.persist(rd);
      move_into_queue(rd.messages_after_persist);
      r.core->advance();
    }
    return any;
  }

  void move_into_queue(std::vector<message>& messages) {
    for (message& m : messages) queue_.push_back(std::move(m));
  }

  std::vector<replica> replicas_;
  std::vector<message> queue_;
};

void raft_cluster_commit(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  bench_cluster cluster{replica_count, static_cast<disk_kind>(state.range(1))};
  raft::raft& leader = cluster.elect();
  const std::string payload(entry_payload_bytes, 'x');
  for (auto _ : state) {
    index_t last = 0;
    for (size_t i = 0; i < batch; ++i) {
      auto proposed = leader.propose(payload);
      if (!proposed.ok()) die("propose failed");
      last = proposed->index;
    }
    cluster.pump();
    if (leader.commit_index() < last) die("a round ended with proposals uncommitted");
    cluster.compact_when_due();
  }
  cluster.check_replicated(leader.last_index());
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) *
                          static_cast<int64_t>(entry_payload_bytes));
  state.SetLabel(state.range(1) == in_memory ? "durable_state" : "log_store+memory_engine");
}

// The acknowledgement a caught-up follower would send for `append`.
message made_up_ack(const message& append) {
  message ack;
  ack.type = raft::message_type::append_response;
  ack.from = append.to;
  ack.to = append.from;
  ack.term = append.term;
  ack.index = append.entries.empty() ? append.index : append.entries.back().index;
  return ack;
}

void raft_leader_propose(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  bench_cluster cluster{replica_count, in_memory};
  raft::raft& leader = cluster.elect();
  durable_state disk;  // the leader's log from here on (its earlier log is not needed)
  const std::string payload(entry_payload_bytes, 'x');
  std::vector<message> acks;
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) {
      if (!leader.propose(payload).ok()) die("propose failed");
    }
    while (leader.has_ready()) {
      ready rd = leader.take_ready();
      for (const message& m : rd.messages) {
        if (m.type == raft::message_type::append) acks.push_back(made_up_ack(m));
      }
      persist_in_memory(disk, rd);
      leader.advance();
      for (const message& ack : acks) leader.step(ack);
      acks.clear();
    }
    const index_t applied = leader.applied_index();
    if (applied >= leader.snapshot_info().index + compaction_interval_entries) {
      if (!leader.compact(applied, {}).ok()) die("compact failed");
    }
  }
  if (leader.commit_index() != leader.last_index()) die("the leader did not commit everything");
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK(raft_cluster_commit)
    ->ArgsProduct({{1, 16, 256}, {in_memory, log_store_on_memory_engine}})
    ->MinTime(bench_seconds_min);
BENCHMARK(raft_leader_propose)->Arg(1)->Arg(16)->Arg(256)->MinTime(bench_seconds_min);

BENCHMARK_MAIN();
