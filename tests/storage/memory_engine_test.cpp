// The memory engine's own behaviour: crash simulation (synced writes survive,
// unsynced ones vanish, batch order respected), snapshots across a crash,
// copy-on-write bookkeeping and concurrent use.
#define CAF_SUITE memory_engine
#include "caf/test/unit_test.hpp"

#include <random>
#include <thread>

#include "storage/memory_engine.hpp"
#include "tests/storage/crash_checker.hpp"
#include "tests/storage/engine_test_support.hpp"

using namespace velocity;
using namespace velocity::test;

namespace {
constexpr column docs = column::documents;
}  // namespace

CAF_TEST(synced writes survive a crash and unsynced writes vanish) {
  memory_engine e;
  put(e, docs, "a", "1");
  write_batch synced;
  synced.put(docs, "b", "2");
  CAF_REQUIRE(e.write(synced, write_options{true}).ok());  // makes "a" durable too
  put(e, docs, "c", "3");
  put(e, docs, "d", "4");
  CAF_REQUIRE(e.sync().ok());
  put(e, docs, "e", "5");
  put(e, column::meta, "m", "6");
  CAF_CHECK_EQUAL(e.unsynced_batches(), 2u);
  e.simulate_crash();
  CAF_CHECK_EQUAL(e.unsynced_batches(), 0u);
  const key_values expected{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}};
  CAF_CHECK(collect(e, docs, {}) == expected);
  CAF_CHECK_EQUAL(read(e, column::meta, "m"), "<absent>");
}

CAF_TEST(a crash restores overwritten erased and range erased values) {
  memory_engine e;
  for (const char* key : {"a", "b", "c", "d"}) put(e, docs, key, std::string{"old-"} + key);
  CAF_REQUIRE(e.sync().ok());
  write_batch batch;
  batch.put(docs, "a", "new");
  batch.put(docs, "a", "newer");
  batch.erase(docs, "b");
  batch.erase_range(docs, "c", "z");
  batch.put(docs, "c", "recreated");
  CAF_REQUIRE(e.write(batch).ok());
  put(e, docs, "x", "later");
  erase(e, docs, "a");
  e.simulate_crash();
  const key_values expected{{"a", "old-a"}, {"b", "old-b"}, {"c", "old-c"}, {"d", "old-d"}};
  CAF_CHECK(collect(e, docs, {}) == expected);
}

CAF_TEST(snapshots and iterators taken before a crash stay readable) {
  memory_engine e;
  put(e, docs, "a", "durable");
  CAF_REQUIRE(e.sync().ok());
  put(e, docs, "b", "unsynced");
  auto view = e.make_snapshot();
  auto it = e.scan(docs, scan_options{});
  e.simulate_crash();
  CAF_CHECK_EQUAL(read(e, docs, "b", view.get()), "unsynced");
  CAF_CHECK_EQUAL(read(e, docs, "b"), "<absent>");
  key_values seen;
  for (; it->valid(); it->next()) seen.emplace_back(it->key(), it->value());
  const key_values before{{"a", "durable"}, {"b", "unsynced"}};
  CAF_CHECK(seen == before);
}

// Random group commits and crashes; after each crash the state must be exactly
// the prefix of batches up to the last durable point (checked by the same
// checker the RocksDB SIGKILL test uses, plus the exact head).
CAF_TEST(a crash keeps exactly the batches up to the last durable point) {
  for (uint64_t seed : {7u, 8u, 9u}) {
    std::mt19937_64 random{seed};
    memory_engine e;
    uint64_t next = 1;
    uint64_t durable = 0;
    for (int crash_round = 0; crash_round < 30; ++crash_round) {
      const auto writes = std::uniform_int_distribution<int>{0, 12}(random);
      for (int index = 0; index < writes; ++index, ++next) {
        const bool sync_write = random() % 4 == 0;
        CAF_REQUIRE(e.write(crash::make_batch(next), write_options{sync_write}).ok());
        if (sync_write) durable = next;
        if (random() % 5 == 0) {
          CAF_REQUIRE(e.sync().ok());
          durable = next;
        }
      }
      e.simulate_crash();
      const auto checked = crash::check_state(e, durable);
      if (!checked.ok()) CAF_MESSAGE("seed " << seed << ": " << checked.to_string());
      CAF_CHECK(checked.ok());
      auto head = crash::read_head(e);
      CAF_REQUIRE(head.ok());
      CAF_CHECK_EQUAL(*head, durable);
      next = durable + 1;
    }
  }
}

CAF_TEST(writes clone a column map only while a reader shares it) {
  memory_engine e;
  put(e, docs, "a", "1");
  put(e, docs, "b", "2");
  CAF_CHECK_EQUAL(e.map_clones(), 0u);
  {
    auto view = e.make_snapshot();
    put(e, docs, "c", "3");  // shared with the snapshot: clone once
    put(e, docs, "d", "4");  // now private again: no clone
    CAF_CHECK_EQUAL(e.map_clones(), 1u);
    CAF_CHECK_EQUAL(read(e, docs, "c", view.get()), "<absent>");
  }
  put(e, docs, "e", "5");  // snapshot gone: no clone
  CAF_CHECK_EQUAL(e.map_clones(), 1u);
  CAF_CHECK_EQUAL(e.key_count(docs), 5u);
  const auto text = e.stats();
  CAF_CHECK(text.find("documents=5") != std::string::npos);
}

CAF_TEST(a snapshot outlives its engine) {
  std::shared_ptr<const snapshot> view;
  std::unique_ptr<iterator> it;
  {
    memory_engine e;
    put(e, docs, "a", "1");
    view = e.make_snapshot();
    it = e.scan(docs, scan_options{});
  }
  CAF_REQUIRE(it->valid());
  CAF_CHECK_EQUAL(std::string{it->value()}, "1");
}

CAF_TEST(without crash simulation unsynced writes cost no undo records) {
  memory_engine e{memory_engine_options{false}};
  for (int index = 0; index < 100; ++index) put(e, docs, std::to_string(index), "v");
  CAF_CHECK_EQUAL(e.unsynced_batches(), 0u);
  CAF_CHECK_EQUAL(e.key_count(docs), 100u);
}

CAF_TEST(concurrent writers and scanners keep the engine consistent) {
  memory_engine e;
  constexpr int writers = 2;
  constexpr int writes_per_writer = 2000;
  std::vector<std::thread> threads;
  for (int writer = 0; writer < writers; ++writer) {
    threads.emplace_back([&e, writer] {
      for (int index = 0; index < writes_per_writer; ++index) {
        write_batch batch;
        batch.put(docs, "w" + std::to_string(writer) + "/" + std::to_string(index), "v");
        static_cast<void>(e.write(batch));
        if (index % 100 == 0) static_cast<void>(e.sync());
      }
    });
  }
  int scans_sorted = 0;
  for (int round = 0; round < 200; ++round) {
    auto seen = collect(e, docs, scan_options{});
    scans_sorted += std::is_sorted(seen.begin(), seen.end()) ? 1 : 0;
  }
  for (auto& thread : threads) thread.join();
  CAF_CHECK_EQUAL(scans_sorted, 200);
  CAF_CHECK_EQUAL(e.key_count(docs), static_cast<size_t>(writers * writes_per_writer));
}
