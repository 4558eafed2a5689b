// storage/shard_dump.hpp: a shard's document state dumped and restored into
// another engine is the same bytes, replaces what was there, leaves other
// shards and the Raft columns alone, and a damaged dump is refused.
#define CAF_SUITE shard_dump
#include "caf/test/unit_test.hpp"

#include <string>
#include <utility>
#include <vector>

#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/shard_dump.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

constexpr uint32_t shard = 3;
constexpr uint32_t other_shard = 4;

using rows = std::vector<std::pair<std::string, std::string>>;

// Every (key, value) of `col` under the shard's prefix.
rows scan_shard(engine& e, column col, uint32_t s) {
  scan_options range;
  range.lower = keys::shard_prefix(s);
  range.upper = keys::range_end(range.lower);
  rows out;
  for (auto it = e.scan(col, range); it->valid(); it->next())
    out.emplace_back(std::string{it->key()}, std::string{it->value()});
  return out;
}

// A shard with a schema, an index and a few documents (one changed, one erased).
void fill(engine& e, uint32_t s, const std::string& value_prefix) {
  state_machine sm(e, s);
  CAF_REQUIRE(sm.open().ok());
  collection_schema schema;
  schema.collection = "jobs";
  schema.fields = {field_spec{"v", field_type::string, false, std::nullopt}};
  schema.indexes = {index_spec{"by_v", {"v"}, false}};
  uint64_t index = 0;
  CAF_REQUIRE(sm.apply(++index, cmd::create_schema{schema, 1}).ok());
  for (int i = 0; i < 4; ++i) {
    cmd::insert insert{"jobs", "d" + std::to_string(i),
                       value_map{{"v", value{value_prefix + std::to_string(i)}}}, 2};
    CAF_REQUIRE(sm.apply(++index, insert).ok());
  }
  cmd::replace replace{"jobs", "d1", value_map{{"v", value{"changed"}}}, std::nullopt, 3};
  CAF_REQUIRE(sm.apply(++index, replace).ok());
  CAF_REQUIRE(sm.apply(++index, cmd::erase{"jobs", "d2", std::nullopt, 4}).ok());
}

void restore(engine& e, const std::string& dump) {
  write_batch batch;
  CAF_REQUIRE(stage_restore_shard(dump, shard, batch).ok());
  CAF_REQUIRE(e.write(batch).ok());
}

}  // namespace

CAF_TEST(a dump restored into an empty engine is byte identical) {
  memory_engine source;
  fill(source, shard, "a");
  fill(source, other_shard, "b");
  auto dump = dump_shard(source, shard);
  CAF_REQUIRE(dump.ok());
  memory_engine target;
  restore(target, *dump);
  for (column col : shard_dump_columns) {
    CAF_CHECK(!scan_shard(source, col, shard).empty());
    // Copies first: CAF_CHECK_EQUAL keeps references to its operands.
    auto restored = scan_shard(target, col, shard);
    auto original = scan_shard(source, col, shard);
    CAF_CHECK_EQUAL(restored, original);
    CAF_CHECK(scan_shard(target, col, other_shard).empty());
  }
  // The restored state machine reopens at the same applied index and reads the same.
  state_machine reopened(target, shard);
  CAF_REQUIRE(reopened.open().ok());
  CAF_CHECK_EQUAL(reopened.applied_index(), 7u);
  reply got = reopened.apply(0, cmd::get{"jobs", "d1"});
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(got.doc->fields.at("v").as_string(), "changed");
  // Dumping the restored shard gives the same bytes again.
  auto again = dump_shard(target, shard);
  CAF_REQUIRE(again.ok());
  std::string again_bytes = again.value();
  CAF_CHECK_EQUAL(again_bytes, *dump);
}

CAF_TEST(a restore replaces the shard and leaves other shards and the raft columns alone) {
  memory_engine source;
  fill(source, shard, "new");
  memory_engine target;
  fill(target, shard, "old-and-longer");
  fill(target, other_shard, "b");
  write_batch raft;
  raft.put(column::raft_log, keys::shard_prefix(shard) + "log", "entry");
  raft.put(column::raft_state, keys::shard_prefix(shard) + "hard", "state");
  CAF_REQUIRE(target.write(raft).ok());
  const rows other_before = scan_shard(target, column::documents, other_shard);
  restore(target, dump_shard(source, shard).value());
  for (column col : shard_dump_columns) {
    // Copies first: CAF_CHECK_EQUAL keeps references to its operands.
    auto restored = scan_shard(target, col, shard);
    auto original = scan_shard(source, col, shard);
    CAF_CHECK_EQUAL(restored, original);
  }
  const rows other_after = scan_shard(target, column::documents, other_shard);
  CAF_CHECK_EQUAL(other_after, other_before);
  const size_t log_rows = scan_shard(target, column::raft_log, shard).size();
  const size_t state_rows = scan_shard(target, column::raft_state, shard).size();
  CAF_CHECK_EQUAL(log_rows, 1u);
  CAF_CHECK_EQUAL(state_rows, 1u);
}

CAF_TEST(an empty shard dumps to a header that restores to an empty shard) {
  memory_engine source;
  const std::string dump = dump_shard(source, shard).value();
  CAF_CHECK_EQUAL(dump, "VSD1");
  memory_engine target;
  fill(target, shard, "x");
  restore(target, dump);
  for (column col : shard_dump_columns) CAF_CHECK(scan_shard(target, col, shard).empty());
}

CAF_TEST(a damaged dump is refused and stages nothing) {
  memory_engine source;
  fill(source, shard, "a");
  const std::string dump = dump_shard(source, shard).value();
  std::vector<std::string> damaged = {
      "",                                // no header
      "VSD2" + dump.substr(4),           // wrong header
      dump.substr(0, dump.size() - 1),   // truncated value
      dump.substr(0, 7),                 // truncated key length
  };
  std::string wrong_column = dump;
  wrong_column[4] = static_cast<char>(column::raft_log);
  damaged.push_back(wrong_column);
  for (const std::string& bad : damaged) {
    write_batch batch;
    const status refused = stage_restore_shard(bad, shard, batch);
    CAF_CHECK_EQUAL(refused.code(), error_code::malformed);
    CAF_CHECK(batch.empty());
  }
  // A dump of shard 3 does not restore into shard 4 (its keys are outside).
  write_batch batch;
  CAF_CHECK_EQUAL(stage_restore_shard(dump, other_shard, batch).code(), error_code::malformed);
  CAF_CHECK(batch.empty());
}
