// The durable Raft log store against a reference model: seeded random
// sequences of readies (appends, truncations, local compactions, snapshots
// from a leader, hard states, synced or not) with crashes in between. After
// every step, load() must give exactly the model's state: everything written
// while the engine is up, and after a crash exactly what the last sync covered.
//
// The random readies keep Raft's own invariants, as the core would: terms
// never decrease along the log, committed entries are never truncated, and a
// snapshot never ends below the commit index. The model is a plain
// durable_state changed by the contract's step 2 sentence by sentence.
//
// Thread safety: single-threaded. Determinism: one std::mt19937_64 per seed;
// a failure prints the seed and step.
#define CAF_SUITE raft_log_store_model
#include "caf/test/unit_test.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "cluster/raft/log_store.hpp"
#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"

using namespace velocity;
using namespace velocity::raft;

namespace {

constexpr uint32_t group_id = 3;
constexpr int seeds = 40;
constexpr int steps_per_seed = 150;
constexpr index_t entries_per_ready_max = 6;

// Step 2 of the ready contract on a plain durable_state (types.hpp).
void apply_to_model(durable_state& model, const ready& rd) {
  if (rd.snap) {
    const index_t covered = rd.snap->meta.index;
    model.snap = *rd.snap;
    std::erase_if(model.entries, [&](const entry& e) {
      return rd.snapshot_from_leader || e.index <= covered;
    });
  }
  if (!rd.entries.empty()) {
    const index_t first = rd.entries.front().index;
    std::erase_if(model.entries, [first](const entry& e) { return e.index >= first; });
    model.entries.insert(model.entries.end(), rd.entries.begin(), rd.entries.end());
  }
  if (rd.hard) model.hard = *rd.hard;
}

index_t last_index(const durable_state& s) {
  return s.entries.empty() ? s.snap.meta.index : s.entries.back().index;
}

term_t last_term(const durable_state& s) {
  return s.entries.empty() ? s.snap.meta.term : s.entries.back().term;
}

term_t term_at(const durable_state& s, index_t index) {
  if (index == s.snap.meta.index) return s.snap.meta.term;
  return s.entries[index - s.snap.meta.index - 1].term;
}

// Draws the next ready for a replica whose durable log is `model`.
class ready_source {
 public:
  explicit ready_source(uint64_t seed) : random_(seed) {}

  ready next(const durable_state& model) {
    ready rd;
    durable_state after = model;
    if (chance(10)) draw_snapshot(after, rd);
    if (chance(70)) draw_entries(after, rd);
    if (chance(60)) {
      const index_t commit_min = after.hard.commit;
      const index_t commit = commit_min + pick(last_index(after) - commit_min);
      rd.hard = hard_state{term_, pick(3), commit};
    }
    rd.must_sync = chance(50);
    return rd;
  }

  bool chance(int percent) { return static_cast<int>(random_() % 100) < percent; }
  // Uniform in [0, n].
  uint64_t pick(uint64_t n) { return random_() % (n + 1); }

 private:
  void draw_snapshot(durable_state& after, ready& rd) {
    const index_t commit = after.hard.commit;
    raft::snapshot snap;
    snap.data = "state-" + std::to_string(random_() % 1000);
    snap.meta.conf.voters = {1, 2, 3};
    if (chance(50)) {  // a local compaction: at or below the commit index
      if (commit <= after.snap.meta.index) return;
      snap.meta.index = after.snap.meta.index + 1 + pick(commit - after.snap.meta.index - 1);
      snap.meta.term = term_at(after, snap.meta.index);
    } else {  // from a leader: never behind what is committed here
      rd.snapshot_from_leader = true;
      term_ = std::max(term_ + pick(1), last_term(after));
      snap.meta.index = std::max(commit, after.snap.meta.index + 1) + pick(8);
      snap.meta.term = std::max<term_t>(term_, 1);
      term_ = snap.meta.term;
    }
    rd.snap = snap;
    apply_to_model(after, rd);
  }

  void draw_entries(durable_state& after, ready& rd) {
    // Truncate somewhere above the commit index (committed entries stay).
    const index_t floor = std::max(after.hard.commit, after.snap.meta.index) + 1;
    const index_t first = floor + pick(last_index(after) + 1 - floor);
    if (chance(20)) ++term_;  // a new leader overwrites the uncommitted tail
    term_ = std::max({term_, last_term(after), term_t{1}});
    const index_t count = 1 + pick(entries_per_ready_max - 1);
    for (index_t i = 0; i < count; ++i) {
      entry e{term_, first + i, chance(10) ? entry_kind::conf_change : entry_kind::normal,
              std::string(static_cast<size_t>(pick(40)), static_cast<char>('a' + i))};
      rd.entries.push_back(std::move(e));
    }
    ready only_entries;
    only_entries.entries = rd.entries;
    apply_to_model(after, only_entries);
  }

  std::mt19937_64 random_;
  term_t term_ = 1;
};

bool same_state(const durable_state& a, const durable_state& b) {
  return a.hard == b.hard && a.snap == b.snap && a.entries == b.entries;
}

void check_loads(const log_store& store, const durable_state& model, uint64_t seed, int step) {
  auto loaded = store.load();
  if (!loaded.ok())
    CAF_FAIL("seed " << seed << " step " << step << ": " << loaded.error().to_string());
  if (!same_state(*loaded, model))
    CAF_FAIL("seed " << seed << " step " << step << ": load() differs from the model (last "
                     << last_index(*loaded) << " vs " << last_index(model) << ")");
}

}  // namespace

CAF_TEST(random readies and crashes always load as the synced prefix of the model) {
  size_t crashes = 0;
  size_t truncations = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    memory_engine e;
    auto store = std::make_unique<log_store>(e, group_id);
    ready_source source{seed};
    durable_state written;  // every persisted ready
    durable_state synced;   // what a crash keeps
    for (int step = 0; step < steps_per_seed; ++step) {
      const ready rd = source.next(written);
      if (!rd.entries.empty() && rd.entries.front().index <= last_index(written)) ++truncations;
      CAF_REQUIRE(store->persist(rd).ok());
      apply_to_model(written, rd);
      if (rd.must_sync) synced = written;
      if (source.chance(10)) {
        e.simulate_crash();
        // The restarted process has a new store (log_store::stage's REQUIRES).
        store = std::make_unique<log_store>(e, group_id);
        written = synced;
        ++crashes;
      }
      check_loads(*store, written, seed, step);
    }
  }
  CAF_MESSAGE(crashes << " crashes, " << truncations << " truncating readies");
  CAF_CHECK_GREATER(crashes, 100u);
  CAF_CHECK_GREATER(truncations, 100u);
}

CAF_TEST(random readies on rocksdb load as the model across reopens) {
  const std::string path = "/tmp/velocity-log-store-model-" + std::to_string(::getpid());
  std::filesystem::remove_all(path);
  rocksdb_options options;
  options.path = path;
  options.memtable_bytes = 64 << 10;  // flushes to files happen during the run
  ready_source source{99};
  durable_state written;
  for (int round = 0; round < 4; ++round) {
    auto opened = rocksdb_engine::open(options);
    CAF_REQUIRE(opened.ok());
    log_store store{**opened, group_id};
    check_loads(store, written, 99, round * steps_per_seed);
    for (int step = 0; step < steps_per_seed; ++step) {
      const ready rd = source.next(written);
      CAF_REQUIRE(store.persist(rd).ok());
      apply_to_model(written, rd);
    }
    CAF_REQUIRE((*opened)->sync().ok());
    check_loads(store, written, 99, (round + 1) * steps_per_seed);
  }
  std::filesystem::remove_all(path);
}
