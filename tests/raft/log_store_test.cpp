// The durable Raft log store (cluster/raft/log_store.hpp) on both engines:
// round trips, step 2 of the ready contract (snapshot, then truncate and
// append, then hard state, in one batch), local compaction vs a leader's
// snapshot, durability across a crash or a reopen, corruption detection for
// every kind of value and key, CRC-32C check values, and stage_destroy.
//
// Thread safety: single-threaded tests. Each rocksdb engine lives in its own
// temp directory (pid + counter), so parallel ctest runs never share one.
#define CAF_SUITE raft_log_store
#include "caf/test/unit_test.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/raft/log_store.hpp"
#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"

using namespace velocity;
using namespace velocity::raft;

namespace {

constexpr uint32_t group_id = 7;
constexpr uint32_t neighbour_group_id = 8;  // its prefix is range_end of group 7's

// One engine under test: a memory engine, or a rocksdb engine in a fresh
// directory that restart() closes and reopens.
class engine_fixture {
 public:
  explicit engine_fixture(bool rocksdb) : rocksdb_(rocksdb) {
    if (!rocksdb_) {
      memory_ = std::make_unique<memory_engine>();
      return;
    }
    static std::atomic<uint64_t> counter{0};
    path_ = "/tmp/velocity-log-store-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter.fetch_add(1));
    std::filesystem::remove_all(path_);
    open_rocksdb();
  }
  ~engine_fixture() {
    rocks_.reset();
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  engine_fixture(const engine_fixture&) = delete;
  engine_fixture& operator=(const engine_fixture&) = delete;

  engine& get() { return rocksdb_ ? static_cast<engine&>(*rocks_) : *memory_; }
  const char* name() const { return rocksdb_ ? "rocksdb" : "memory"; }

  // What a process restart finds: the memory engine drops unsynced writes;
  // rocksdb is closed and reopened from its files.
  void restart() {
    if (!rocksdb_) {
      memory_->simulate_crash();
      return;
    }
    rocks_.reset();
    open_rocksdb();
  }

 private:
  void open_rocksdb() {
    rocksdb_options options;
    options.path = path_;
    options.block_cache_bytes = 1 << 20;
    options.memtable_bytes = 256 << 10;
    auto opened = rocksdb_engine::open(options);
    CAF_REQUIRE(opened.ok());
    rocks_ = std::move(opened).value();
  }

  bool rocksdb_;
  std::string path_;
  std::unique_ptr<memory_engine> memory_;
  std::unique_ptr<rocksdb_engine> rocks_;
};

void for_each_engine(const std::function<void(engine_fixture&)>& body) {
  for (bool rocksdb : {false, true}) {
    engine_fixture fixture{rocksdb};
    CAF_MESSAGE("engine: " << fixture.name());
    body(fixture);
  }
}

entry make_entry(index_t index, term_t term, entry_kind kind = entry_kind::normal) {
  return entry{term, index, kind, "data-" + std::to_string(index) + "-t" + std::to_string(term)};
}

std::vector<entry> make_entries(index_t first, index_t last, term_t term) {
  std::vector<entry> out;
  for (index_t i = first; i <= last; ++i) out.push_back(make_entry(i, term));
  return out;
}

raft::snapshot make_snapshot(index_t index, term_t term) {
  raft::snapshot snap;
  snap.meta.index = index;
  snap.meta.term = term;
  snap.meta.conf.voters = {1, 2, 5};
  snap.meta.conf.learners = {9};
  snap.data = std::string("state\0at ", 9) + std::to_string(index);
  return snap;
}

void persist(log_store& store, const ready& rd) {
  const status written = store.persist(rd);
  CAF_REQUIRE(written.ok());
}

durable_state load_ok(const log_store& store) {
  auto loaded = store.load();
  if (!loaded.ok()) CAF_FAIL("load failed: " << loaded.error().to_string());
  return std::move(loaded).value();
}

std::vector<index_t> indexes_of(const std::vector<entry>& entries) {
  std::vector<index_t> out;
  for (const entry& e : entries) out.push_back(e.index);
  return out;
}

using index_list = std::vector<index_t>;

// A ready holding entries [first, last] of `term` and a synced hard state.
ready append_ready(index_t first, index_t last, term_t term, index_t commit) {
  ready rd;
  rd.entries = make_entries(first, last, term);
  rd.hard = hard_state{term, 1, commit};
  rd.must_sync = true;
  return rd;
}

std::string log_key(uint32_t group, index_t index) {
  std::string key = keys::shard_prefix(group);
  keys::append_u64(key, index);
  return key;
}

std::string state_key(uint32_t group, std::string_view suffix) {
  return keys::shard_prefix(group) + std::string{suffix};
}

std::string raw_get(engine& e, column col, const std::string& key) {
  std::string value;
  const status got = e.get(col, key, value);
  CAF_REQUIRE(got.ok());
  return value;
}

void raw_put(engine& e, column col, const std::string& key, const std::string& value) {
  write_batch batch;
  batch.put(col, key, value);
  CAF_REQUIRE(e.write(batch).ok());
}

void raw_erase(engine& e, column col, const std::string& key) {
  write_batch batch;
  batch.erase(col, key);
  CAF_REQUIRE(e.write(batch).ok());
}

// load() must fail with corruption and a message containing `needle`.
void check_corruption(const log_store& store, const std::string& needle) {
  auto loaded = store.load();
  CAF_REQUIRE(!loaded.ok());
  const status error = loaded.error();
  CAF_CHECK_EQUAL(error.code(), error_code::corruption);
  const std::string message = error.message();
  if (message.find(needle) == std::string::npos)
    CAF_FAIL("message \"" << message << "\" does not name \"" << needle << "\"");
}

// A value sealed the way log_store.cpp documents it: crc32c(key, body) | body.
std::string seal(const std::string& key, const std::string& body) {
  std::string value;
  keys::append_u32(value, crc32c(body, crc32c(key)));
  return value + body;
}

// Bit-at-a-time CRC-32C, an independent reference for the table version.
uint32_t crc32c_bitwise(std::string_view bytes) {
  uint32_t crc = 0xffffffffu;
  for (char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
  }
  return ~crc;
}

}  // namespace

// ------------------------------------------------------------------ crc32c

CAF_TEST(crc32c matches the standard check values) {
  CAF_CHECK_EQUAL(crc32c("123456789"), 0xE3069283u);
  CAF_CHECK_EQUAL(crc32c(""), 0u);
  // RFC 3720 (iSCSI) appendix B.4 vectors.
  CAF_CHECK_EQUAL(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  CAF_CHECK_EQUAL(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CAF_CHECK_EQUAL(crc32c(ascending), 0x46DD794Eu);
}

CAF_TEST(crc32c agrees with a bitwise reference at every length and chains by seed) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (size_t length = 0; length <= bytes.size(); ++length) {
    const std::string_view prefix{bytes.data(), length};
    CAF_CHECK_EQUAL(crc32c(prefix), crc32c_bitwise(prefix));
  }
  for (size_t split = 0; split <= 40; ++split) {
    const std::string_view all{bytes.data(), 40};
    CAF_CHECK_EQUAL(crc32c(all.substr(split), crc32c(all.substr(0, split))), crc32c(all));
  }
}

// ------------------------------------------------------------------ round trips

CAF_TEST(an empty store loads the default durable state) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    const durable_state state = load_ok(store);
    CAF_CHECK(state.hard == hard_state{});
    CAF_CHECK(state.snap == raft::snapshot{});
    CAF_CHECK(state.entries.empty());
  });
}

CAF_TEST(hard state entries and snapshot with membership survive a restart) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    ready rd;
    rd.snap = make_snapshot(4, 2);
    rd.snapshot_from_leader = true;
    rd.entries = make_entries(5, 9, 3);
    rd.entries[1].kind = entry_kind::conf_change;
    rd.entries[2].data = std::string(200000, '\0') + "big";  // binary, larger than a memtable block
    rd.entries[3].data.clear();                                // a leader's no-op
    rd.hard = hard_state{3, 5, 8};
    rd.must_sync = true;
    persist(store, rd);
    f.restart();
    log_store reopened{f.get(), group_id};
    const durable_state state = load_ok(reopened);
    CAF_CHECK(state.hard == (hard_state{3, 5, 8}));
    CAF_CHECK(state.snap == *rd.snap);
    CAF_CHECK(state.entries == rd.entries);
  });
}

CAF_TEST(stage only fills the batch and persist without changes writes nothing) {
  memory_engine e;
  log_store store{e, group_id};
  write_batch batch;
  store.stage(append_ready(1, 3, 1, 0), batch);
  CAF_CHECK(!batch.empty());
  CAF_CHECK_EQUAL(e.key_count(column::raft_log), 0u);
  CAF_CHECK_EQUAL(e.key_count(column::raft_state), 0u);
  ready nothing;
  persist(store, nothing);
  CAF_CHECK_EQUAL(e.unsynced_batches(), 0u);
  CAF_CHECK(load_ok(store).entries.empty());
}

// ------------------------------------------------------------------ contract step 2

CAF_TEST(entries starting below the last index truncate the log from there) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    persist(store, append_ready(1, 6, 1, 2));
    persist(store, append_ready(3, 4, 2, 2));  // overwrites 3..4, drops 5..6
    const durable_state state = load_ok(store);
    std::vector<entry> expected = make_entries(1, 2, 1);
    for (const entry& e : make_entries(3, 4, 2)) expected.push_back(e);
    CAF_CHECK(state.entries == expected);
    CAF_CHECK(state.hard == (hard_state{2, 1, 2}));
  });
}

CAF_TEST(an append right after the last staged entry writes no range delete) {
  memory_engine e;
  log_store store{e, group_id};
  // Stages `rd`, writes the batch, and returns its range deletes.
  auto stage_write = [&](const ready& rd) {
    write_batch batch;
    store.stage(rd, batch);
    size_t range_deletes = 0;
    for (const auto& op : batch.ops())
      range_deletes += op.kind == write_batch::op_kind::erase_range ? 1 : 0;
    CAF_REQUIRE(e.write(batch, {}).ok());
    return range_deletes;
  };
  CAF_CHECK_EQUAL(stage_write(append_ready(1, 3, 1, 0)), 1u);  // the last index is not known yet
  CAF_CHECK_EQUAL(stage_write(append_ready(4, 6, 1, 2)), 0u);
  CAF_CHECK_EQUAL(stage_write(append_ready(5, 5, 2, 2)), 1u);  // a new leader overwrites 5..6
  CAF_CHECK_EQUAL(stage_write(append_ready(6, 7, 2, 2)), 0u);
  std::vector<entry> expected = make_entries(1, 4, 1);
  for (const entry& x : make_entries(5, 7, 2)) expected.push_back(x);
  CAF_CHECK(load_ok(store).entries == expected);
  // A leader's snapshot empties the log: what follows it needs no truncation.
  ready snap;
  snap.snap = make_snapshot(20, 3);
  snap.snapshot_from_leader = true;
  snap.entries = make_entries(21, 22, 3);
  CAF_CHECK_EQUAL(stage_write(snap), 1u);  // the snapshot's own
  CAF_CHECK(load_ok(store).entries == make_entries(21, 22, 3));
}

CAF_TEST(a local compaction drops covered entries and keeps later ones) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    persist(store, append_ready(1, 10, 1, 8));
    ready rd;
    rd.snap = make_snapshot(6, 1);
    rd.snapshot_from_leader = false;
    persist(store, rd);
    const durable_state state = load_ok(store);
    CAF_CHECK(state.snap == *rd.snap);
    CAF_CHECK(indexes_of(state.entries) == (index_list{7, 8, 9, 10}));
    CAF_CHECK(state.entries == make_entries(7, 10, 1));
    CAF_CHECK(state.hard == (hard_state{1, 1, 8}));
  });
}

CAF_TEST(a snapshot from the leader drops the whole log) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    persist(store, append_ready(1, 10, 1, 3));
    ready rd;
    rd.snap = make_snapshot(6, 2);  // entries 7..10 above it conflict with the leader
    rd.snapshot_from_leader = true;
    rd.hard = hard_state{2, 0, 6};
    persist(store, rd);
    durable_state state = load_ok(store);
    CAF_CHECK(state.snap == *rd.snap);
    CAF_CHECK(state.entries.empty());
    CAF_CHECK(state.hard == (hard_state{2, 0, 6}));
    // A snapshot beyond the whole log also leaves nothing behind.
    rd.snap = make_snapshot(40, 3);
    rd.hard = hard_state{3, 0, 40};
    persist(store, rd);
    state = load_ok(store);
    CAF_CHECK(state.snap == *rd.snap);
    CAF_CHECK(state.entries.empty());
  });
}

CAF_TEST(one ready applies snapshot then entries then hard state in that order) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    persist(store, append_ready(1, 9, 1, 2));
    // The leader's snapshot drops 1..9; the entries after it must survive
    // that drop, and the hard state's commit needs them (commit check).
    ready rd;
    rd.snap = make_snapshot(5, 2);
    rd.snapshot_from_leader = true;
    rd.entries = make_entries(6, 7, 3);
    rd.hard = hard_state{3, 2, 7};
    rd.must_sync = true;
    persist(store, rd);
    durable_state state = load_ok(store);
    CAF_CHECK(state.snap == *rd.snap);
    CAF_CHECK(state.entries == rd.entries);
    CAF_CHECK(state.hard == (hard_state{3, 2, 7}));
    // A local compaction and a truncation in one ready: 8..9 are appended
    // (term 4), the snapshot at 6 drops only what it covers.
    ready local;
    local.snap = make_snapshot(6, 3);
    local.entries = make_entries(7, 9, 4);
    persist(store, local);
    state = load_ok(store);
    CAF_CHECK(state.snap == *local.snap);
    CAF_CHECK(state.entries == local.entries);
  });
}

CAF_TEST(a crash loses an unsynced ready and keeps the synced ones) {
  memory_engine e;
  log_store store{e, group_id};
  persist(store, append_ready(1, 3, 1, 1));  // synced
  ready unsynced = append_ready(3, 5, 2, 3);
  unsynced.snap = make_snapshot(2, 1);
  unsynced.must_sync = false;
  persist(store, unsynced);
  CAF_CHECK_EQUAL(load_ok(store).entries.size(), 3u);  // visible before the crash
  e.simulate_crash();
  const durable_state state = load_ok(store);
  CAF_CHECK(state.entries == make_entries(1, 3, 1));
  CAF_CHECK(state.hard == (hard_state{1, 1, 1}));
  CAF_CHECK(state.snap == raft::snapshot{});
}

CAF_TEST(a synced ready makes earlier unsynced readies durable too) {
  memory_engine e;
  log_store store{e, group_id};
  ready first = append_ready(1, 2, 1, 0);
  first.must_sync = false;
  persist(store, first);
  persist(store, append_ready(3, 4, 1, 4));  // synced
  e.simulate_crash();
  CAF_CHECK(indexes_of(load_ok(store).entries) == (index_list{1, 2, 3, 4}));
  ready tail = append_ready(5, 5, 1, 4);
  tail.must_sync = false;
  persist(store, tail);
  ready only_sync;  // nothing to write, but asks for a sync
  only_sync.must_sync = true;
  persist(store, only_sync);
  CAF_CHECK_EQUAL(e.unsynced_batches(), 0u);
  e.simulate_crash();
  CAF_CHECK(indexes_of(load_ok(store).entries) == (index_list{1, 2, 3, 4, 5}));
}

// ------------------------------------------------------------------ corruption

CAF_TEST(one flipped byte in any value is corruption naming the key) {
  for_each_engine([](engine_fixture& f) {
    engine& e = f.get();
    log_store store{e, group_id};
    ready rd;
    rd.snap = make_snapshot(2, 1);
    rd.entries = make_entries(3, 5, 2);
    rd.hard = hard_state{2, 1, 4};
    persist(store, rd);
    struct target {
      column col;
      std::string key;
      std::string name;
    };
    const std::vector<target> targets{
        {column::raft_log, log_key(group_id, 4), "raft_log key (group 7, index 4)"},
        {column::raft_state, state_key(group_id, "hard"), "raft_state key (group 7, \"hard\")"},
        {column::raft_state, state_key(group_id, "snap"), "raft_state key (group 7, \"snap\")"}};
    for (const target& t : targets) {
      const std::string original = raw_get(e, t.col, t.key);
      for (size_t at = 0; at < original.size(); ++at) {
        for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
          std::string damaged = original;
          damaged[at] = static_cast<char>(static_cast<uint8_t>(damaged[at]) ^ mask);
          raw_put(e, t.col, t.key, damaged);
          check_corruption(store, t.name);
        }
      }
      raw_put(e, t.col, t.key, original.substr(0, original.size() - 1));  // truncated
      check_corruption(store, t.name);
      raw_put(e, t.col, t.key, "");
      check_corruption(store, t.name);
      raw_put(e, t.col, t.key, original);
      CAF_CHECK(load_ok(store).entries == rd.entries);
    }
  });
}

CAF_TEST(a value moved to another key is corruption because the checksum covers the key) {
  memory_engine e;
  log_store store{e, group_id};
  persist(store, append_ready(1, 3, 1, 1));
  const std::string second = raw_get(e, column::raft_log, log_key(group_id, 2));
  raw_put(e, column::raft_log, log_key(group_id, 3), second);
  check_corruption(store, "raft_log key (group 7, index 3)");
}

CAF_TEST(a gap in the log or a log not following the snapshot is corruption) {
  for_each_engine([](engine_fixture& f) {
    engine& e = f.get();
    log_store store{e, group_id};
    ready rd;
    rd.snap = make_snapshot(2, 1);
    rd.entries = make_entries(3, 6, 1);
    persist(store, rd);
    const std::string fifth = raw_get(e, column::raft_log, log_key(group_id, 5));
    raw_erase(e, column::raft_log, log_key(group_id, 5));
    check_corruption(store, "gap in the log: index 5 is missing");
    raw_put(e, column::raft_log, log_key(group_id, 5), fifth);
    const std::string third = raw_get(e, column::raft_log, log_key(group_id, 3));
    raw_erase(e, column::raft_log, log_key(group_id, 3));
    check_corruption(store, "the first entry must be index 3");
    raw_put(e, column::raft_log, log_key(group_id, 3), third);
    // An entry the snapshot covers is still there.
    const std::string key2 = log_key(group_id, 2);
    const std::string third_body = third.substr(4);  // entry 3 sealed under key 2
    raw_put(e, column::raft_log, key2, seal(key2, third_body));
    check_corruption(store, "raft_log key (group 7, index 2)");
    raw_erase(e, column::raft_log, key2);
    CAF_CHECK_EQUAL(load_ok(store).entries.size(), 4u);
  });
}

CAF_TEST(well sealed but invalid contents are corruption) {
  memory_engine e;
  log_store store{e, group_id};
  persist(store, append_ready(1, 2, 3, 0));
  const std::string key2 = log_key(group_id, 2);
  std::string body = keys::encode_u64(3) + std::string(1, '\x07') + "x";  // unknown kind 7
  raw_put(e, column::raft_log, key2, seal(key2, body));
  check_corruption(store, "unknown entry kind 7");
  body = keys::encode_u64(2) + std::string(1, '\0');  // term 2 after term 3
  raw_put(e, column::raft_log, key2, seal(key2, body));
  check_corruption(store, "below the previous term");
  raw_erase(e, column::raft_log, key2);
  std::string odd_key = keys::shard_prefix(group_id) + "xyz";
  raw_put(e, column::raft_log, odd_key, seal(odd_key, body));
  check_corruption(store, "key has 7 bytes, expected 12");
  raw_erase(e, column::raft_log, odd_key);

  const std::string snap_key = state_key(group_id, "snap");
  std::string snap_body = keys::encode_u64(1) + keys::encode_u64(3);
  keys::append_u32(snap_body, 2);
  snap_body += keys::encode_u64(5) + keys::encode_u64(4);  // voters not sorted
  keys::append_u32(snap_body, 0);
  raw_put(e, column::raft_state, snap_key, seal(snap_key, snap_body));
  check_corruption(store, "membership is not sorted");
  std::string huge_count = keys::encode_u64(1) + keys::encode_u64(3);
  keys::append_u32(huge_count, 0xffffffffu);
  raw_put(e, column::raft_state, snap_key, seal(snap_key, huge_count));
  check_corruption(store, "snapshot value is truncated");
}

CAF_TEST(a commit index beyond the durable log is corruption) {
  for_each_engine([](engine_fixture& f) {
    log_store store{f.get(), group_id};
    persist(store, append_ready(1, 5, 1, 5));
    CAF_CHECK_EQUAL(load_ok(store).hard.commit, 5u);
    ready rd;
    rd.hard = hard_state{1, 1, 6};
    persist(store, rd);
    check_corruption(store, "commit index 6 is beyond the last durable index 5");
  });
}

// ------------------------------------------------------------------ errors and groups

namespace {

// An engine whose reads fail on demand (io_error), otherwise a memory engine.
class failing_engine final : public engine {
 public:
  bool fail_get = false;
  bool fail_scan = false;
  memory_engine inner;

  status get(column col, std::string_view key, std::string& out,
             const velocity::snapshot* view) override {
    if (fail_get) return status{error_code::io_error, "disk gone (get)"};
    return inner.get(col, key, out, view);
  }
  std::vector<status_or<std::string>> multi_get(column col, const std::vector<std::string>& keys,
                                               const velocity::snapshot* view) override {
    return inner.multi_get(col, keys, view);
  }
  std::unique_ptr<iterator> scan(column col, const scan_options& options) override;
  status write(const write_batch& batch, write_options options) override {
    return inner.write(batch, options);
  }
  status sync() override { return inner.sync(); }
  std::shared_ptr<const velocity::snapshot> make_snapshot() override {
    return inner.make_snapshot();
  }
};

class failed_iterator final : public iterator {
 public:
  bool valid() const override { return false; }
  void next() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  status error() const override { return status{error_code::io_error, "disk gone (scan)"}; }
};

std::unique_ptr<iterator> failing_engine::scan(column col, const scan_options& options) {
  if (fail_scan) return std::make_unique<failed_iterator>();
  return inner.scan(col, options);
}

}  // namespace

CAF_TEST(engine read errors reach the caller as io_error) {
  failing_engine e;
  log_store store{e, group_id};
  persist(store, append_ready(1, 2, 1, 1));
  e.fail_get = true;
  auto loaded = store.load();
  CAF_REQUIRE(!loaded.ok());
  CAF_CHECK_EQUAL(loaded.error().code(), error_code::io_error);
  e.fail_get = false;
  e.fail_scan = true;
  loaded = store.load();
  CAF_REQUIRE(!loaded.ok());
  CAF_CHECK_EQUAL(loaded.error().code(), error_code::io_error);
  e.fail_scan = false;
  CAF_CHECK_EQUAL(load_ok(store).entries.size(), 2u);
}

CAF_TEST(groups are independent and stage_destroy removes exactly one group) {
  for_each_engine([](engine_fixture& f) {
    engine& e = f.get();
    log_store mine{e, group_id};
    log_store neighbour{e, neighbour_group_id};
    ready rd = append_ready(1, 4, 1, 2);
    rd.snap = make_snapshot(0, 0);  // index 0: the bootstrap membership
    persist(mine, rd);
    persist(neighbour, append_ready(1, 6, 2, 5));
    ready leader_snap;
    leader_snap.snap = make_snapshot(3, 1);
    leader_snap.snapshot_from_leader = true;
    persist(mine, leader_snap);  // drops all of group 7's log, none of group 8's
    CAF_CHECK_EQUAL(load_ok(neighbour).entries.size(), 6u);
    persist(mine, append_ready(4, 5, 1, 4));
    write_batch batch;
    mine.stage_destroy(batch);
    CAF_REQUIRE(e.write(batch, write_options{.sync = true}).ok());
    const durable_state gone = load_ok(mine);
    CAF_CHECK(gone.entries.empty());
    CAF_CHECK(gone.hard == hard_state{});
    CAF_CHECK(gone.snap == raft::snapshot{});
    f.restart();
    log_store reopened{f.get(), neighbour_group_id};
    const durable_state kept = load_ok(reopened);
    CAF_CHECK(kept.entries == make_entries(1, 6, 2));
    CAF_CHECK(kept.hard == (hard_state{2, 1, 5}));
    const std::string prefix = keys::shard_prefix(group_id);
    for (column col : {column::raft_log, column::raft_state}) {
      scan_options options;
      options.lower = prefix;
      options.upper = keys::range_end(prefix);
      CAF_CHECK(!f.get().scan(col, options)->valid());
    }
  });
}
