// storage/snapshot_stream.hpp: the chunker hands out bounded chunks whose
// union is the shard's ranges at the snapshot (nothing of another shard); a
// staged install makes the follower's state machine columns byte-identical to
// the leader's; a crash after ANY write of the install, then recovery,
// leaves either the old state or the whole new one, never a mix, and never
// touches the Raft columns.
#define CAF_SUITE snapshot_stream
#include "caf/test/unit_test.hpp"

#include <string>
#include <utility>
#include <vector>

#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/shard_dump.hpp"
#include "storage/snapshot_stream.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

constexpr uint32_t shard = 3;
constexpr uint32_t other_shard = 4;

// A shard with a schema, an index and `documents` documents (values padded so
// a chunk holds only a few).
void fill(engine& e, uint32_t s, const std::string& value_prefix, int documents) {
  state_machine sm(e, s);
  CAF_REQUIRE(sm.open().ok());
  collection_schema schema;
  schema.collection = "jobs";
  schema.fields = {field_spec{"v", field_type::string, false, std::nullopt}};
  schema.indexes = {index_spec{"by_v", {"v"}, false}};
  uint64_t index = sm.applied_index();
  if (index == 0) CAF_REQUIRE(sm.apply(++index, cmd::create_schema{schema, 1}).ok());
  for (int i = 0; i < documents; ++i) {
    cmd::insert insert{"jobs", value_prefix + std::to_string(i),
                       value_map{{"v", value{value_prefix + std::string(40, 'x') + std::to_string(i)}}},
                       2};
    CAF_REQUIRE(sm.apply(++index, insert).ok());
  }
}

std::vector<stream_item> scan_all(engine& e, uint32_t s) {
  std::vector<stream_item> out;
  for (column col : shard_dump_columns) {
    scan_options range;
    range.lower = keys::shard_prefix(s);
    range.upper = keys::range_end(range.lower);
    for (auto it = e.scan(col, range); it->valid(); it->next())
      out.push_back(stream_item{col, std::string{it->key()}, std::string{it->value()}});
  }
  return out;
}

size_t count_range(engine& e, column col, const std::string& prefix) {
  scan_options range;
  range.lower = prefix;
  range.upper = keys::range_end(prefix);
  size_t n = 0;
  for (auto it = e.scan(col, range); it->valid(); it->next()) ++n;
  return n;
}

// An engine that makes each write durable at once and refuses every write
// from the `stop_at`-th on: "the process stopped after stop_at writes".
class stopping_engine final : public engine {
 public:
  stopping_engine(memory_engine& inner, size_t stop_at) : inner_(inner), stop_at_(stop_at) {}
  status get(column col, std::string_view key, std::string& out, const snapshot* view) override {
    return inner_.get(col, key, out, view);
  }
  std::vector<status_or<std::string>> multi_get(column col, const std::vector<std::string>& keys,
                                               const snapshot* view) override {
    return inner_.multi_get(col, keys, view);
  }
  std::unique_ptr<iterator> scan(column col, const scan_options& options) override {
    return inner_.scan(col, options);
  }
  status write(const write_batch& batch, write_options) override {
    if (writes_ >= stop_at_) return status{error_code::io_error, "stopped"};
    ++writes_;
    return inner_.write(batch, write_options{.sync = true});
  }
  status sync() override { return inner_.sync(); }
  std::shared_ptr<const snapshot> make_snapshot() override { return inner_.make_snapshot(); }
  size_t writes() const { return writes_; }

 private:
  memory_engine& inner_;
  size_t stop_at_;
  size_t writes_ = 0;
};

// The whole follower side, as the shard runs it: clear, stage chunk by
// chunk, marker, finish. Stops at the first failed write.
status stream_install(engine& leader, engine& follower, size_t chunk_bytes, size_t batch_bytes) {
  shard_reader reader(leader, leader.make_snapshot(), shard);
  write_batch batch;
  stage_clear_staging(shard, batch);
  if (status st = follower.write(batch); !st.ok()) return st;
  while (!reader.done()) {
    auto items = reader.next(chunk_bytes);
    if (!items.ok()) return items.error();
    batch.clear();
    if (status st = stage_items(shard, *items, batch); !st.ok()) return st;
    if (status st = follower.write(batch); !st.ok()) return st;
  }
  batch.clear();
  stage_marker(shard, install_marker{40, 2}, batch);
  if (status st = follower.write(batch); !st.ok()) return st;
  return finish_install(follower, shard, batch_bytes);
}

void add_raft_rows(engine& e) {
  write_batch raft;
  raft.put(column::raft_log, keys::shard_prefix(shard) + "log", "entry");
  raft.put(column::raft_state, keys::shard_prefix(shard) + "hard", "vote");
  CAF_REQUIRE(e.write(raft, write_options{.sync = true}).ok());
}

}  // namespace

CAF_TEST(chunks are bounded and their union is the shard at the snapshot) {
  memory_engine e;
  fill(e, shard, "a", 30);
  fill(e, other_shard, "b", 30);
  auto view = e.make_snapshot();
  const auto expected = scan_all(e, shard);
  fill(e, shard, "later", 5);  // after the snapshot: not streamed
  shard_reader reader(e, view, shard);
  std::vector<stream_item> streamed;
  size_t chunks = 0;
  constexpr size_t bytes_max = 400;
  while (!reader.done()) {
    auto items = reader.next(bytes_max);
    CAF_REQUIRE(items.ok());
    size_t bytes = 0;
    for (const auto& item : *items) bytes += stream_item_bytes(item);
    CAF_CHECK(bytes <= bytes_max || items->size() == 1);
    CAF_CHECK(!items->empty() || reader.done());
    for (auto& item : *items) streamed.push_back(std::move(item));
    ++chunks;
  }
  CAF_CHECK(chunks > 5);
  CAF_CHECK(streamed == expected);
  for (const auto& item : streamed) CAF_CHECK_EQUAL(item.key.substr(0, 4), keys::shard_prefix(shard));
}

CAF_TEST(a staged install is byte identical to the leader and leaves the rest alone) {
  memory_engine leader;
  fill(leader, shard, "new", 25);
  memory_engine follower;
  fill(follower, shard, "old-and-longer", 40);
  fill(follower, other_shard, "b", 10);
  add_raft_rows(follower);
  const auto other_before = scan_all(follower, other_shard);
  CAF_REQUIRE(stream_install(leader, follower, 300, 500).ok());
  auto got = dump_shard(follower, shard).value();
  auto want = dump_shard(leader, shard).value();
  CAF_CHECK_EQUAL(got, want);
  auto other_after = scan_all(follower, other_shard);
  CAF_CHECK(other_after == other_before);
  CAF_CHECK_EQUAL(count_range(follower, column::raft_log, keys::shard_prefix(shard)), 1u);
  CAF_CHECK_EQUAL(count_range(follower, column::raft_state, keys::shard_prefix(shard)), 1u);
  for (column col : shard_dump_columns)
    CAF_CHECK_EQUAL(count_range(follower, col, staging_prefix(shard)), 0u);
  auto marker = read_marker(follower, shard);
  CAF_REQUIRE(marker.ok());
  CAF_CHECK(!marker->has_value());
  state_machine reopened(follower, shard);
  CAF_REQUIRE(reopened.open().ok());
  CAF_CHECK_EQUAL(reopened.applied_index(), 26u);
}

CAF_TEST(a stop after any write of an install recovers to the old or the new state) {
  memory_engine leader;
  fill(leader, shard, "new", 25);
  const std::string new_dump = dump_shard(leader, shard).value();
  size_t total_writes = 0;
  {
    memory_engine probe;
    fill(probe, shard, "old", 30);
    stopping_engine counting(probe, 1'000'000);
    CAF_REQUIRE(stream_install(leader, counting, 300, 500).ok());
    total_writes = counting.writes();
  }
  CAF_REQUIRE(total_writes > 10);
  size_t finished = 0;
  for (size_t stop_at = 0; stop_at <= total_writes; ++stop_at) {
    memory_engine follower;
    fill(follower, shard, "old", 30);
    fill(follower, other_shard, "b", 5);
    add_raft_rows(follower);
    CAF_REQUIRE(follower.sync().ok());
    const std::string old_dump = dump_shard(follower, shard).value();
    const auto other_before = scan_all(follower, other_shard);
    stopping_engine stopping(follower, stop_at);
    const bool completed = stream_install(leader, stopping, 300, 500).ok();
    CAF_CHECK_EQUAL(completed, stop_at == total_writes);
    follower.simulate_crash();  // nothing unsynced: every write was synced
    auto recovered = recover_install(follower, shard);
    CAF_REQUIRE(recovered.ok());
    const std::string after = dump_shard(follower, shard).value();
    CAF_CHECK(after == old_dump || after == new_dump);
    if (after == new_dump) ++finished;
    // The marker is written after the last chunk: once it is durable the
    // install always completes.
    if (stop_at > total_writes - 3) CAF_CHECK(after == new_dump);
    auto other_after = scan_all(follower, other_shard);
    CAF_CHECK(other_after == other_before);
    CAF_CHECK_EQUAL(count_range(follower, column::raft_log, keys::shard_prefix(shard)), 1u);
    CAF_CHECK_EQUAL(count_range(follower, column::raft_state, keys::shard_prefix(shard)), 1u);
    for (column col : shard_dump_columns)
      CAF_CHECK_EQUAL(count_range(follower, col, staging_prefix(shard)), 0u);
    state_machine reopened(follower, shard);
    CAF_CHECK(reopened.open().ok());
  }
  CAF_CHECK(finished >= 3);
}

CAF_TEST(unsynced install writes lost in a crash keep the old state) {
  memory_engine leader;
  fill(leader, shard, "new", 10);
  memory_engine follower;
  fill(follower, shard, "old", 12);
  CAF_REQUIRE(follower.sync().ok());
  const std::string old_dump = dump_shard(follower, shard).value();
  CAF_REQUIRE(stream_install(leader, follower, 300, 500).ok());
  follower.simulate_crash();  // the whole install was unsynced
  CAF_REQUIRE(recover_install(follower, shard).ok());
  auto after = dump_shard(follower, shard).value();
  CAF_CHECK_EQUAL(after, old_dump);
}

CAF_TEST(chunk items outside the shard or its columns are refused) {
  write_batch batch;
  std::vector<stream_item> other{{column::documents, keys::shard_prefix(other_shard) + "k", "v"}};
  CAF_CHECK_EQUAL(stage_items(shard, other, batch).code(), error_code::malformed);
  std::vector<stream_item> raft{{column::raft_log, keys::shard_prefix(shard) + "k", "v"}};
  CAF_CHECK_EQUAL(stage_items(shard, raft, batch).code(), error_code::malformed);
  std::vector<stream_item> bare{{column::meta, keys::shard_prefix(shard), "v"}};
  CAF_CHECK_EQUAL(stage_items(shard, bare, batch).code(), error_code::malformed);
  CAF_CHECK(batch.empty());
}

CAF_TEST(a damaged install marker is corruption) {
  memory_engine e;
  write_batch batch;
  batch.put(column::meta, marker_key(shard), "short");
  CAF_REQUIRE(e.write(batch).ok());
  CAF_CHECK_EQUAL(read_marker(e, shard).error().code(), error_code::corruption);
  CAF_CHECK_EQUAL(recover_install(e, shard).error().code(), error_code::corruption);
}
