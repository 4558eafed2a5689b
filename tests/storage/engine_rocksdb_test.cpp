// The RocksDB engine's own behaviour: persistence across reopen, clear errors
// for unusable paths, column family names, statistics.
#define CAF_SUITE rocksdb_engine
#include "caf/test/unit_test.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "storage/rocksdb_engine.hpp"
#include "tests/storage/engine_test_support.hpp"

using namespace velocity;
using namespace velocity::test;

namespace {

constexpr column docs = column::documents;

std::unique_ptr<rocksdb_engine> open_at(const std::string& path) {
  rocksdb_options options;
  options.path = path;
  options.block_cache_bytes = 1 << 20;
  options.memtable_bytes = 64 << 10;
  auto opened = rocksdb_engine::open(options);
  if (!opened.ok()) CAF_MESSAGE("open failed: " << opened.error().to_string());
  CAF_REQUIRE(opened.ok());
  return std::move(opened).value();
}

}  // namespace

CAF_TEST(reopening after close keeps the data of every column) {
  temp_dir dir{"reopen"};
  const auto path = dir.path() + "/db";
  {
    auto e = open_at(path);
    put(*e, docs, "a", "1");
    put(*e, column::raft_log, "entry", "2");
    put(*e, column::meta, "m", "3");
    erase(*e, docs, "gone");
  }
  auto e = open_at(path);
  CAF_CHECK_EQUAL(read(*e, docs, "a"), "1");
  CAF_CHECK_EQUAL(read(*e, column::raft_log, "entry"), "2");
  CAF_CHECK_EQUAL(read(*e, column::meta, "m"), "3");
}

CAF_TEST(a sync write and a sync call survive reopen including flushed files) {
  temp_dir dir{"sync"};
  const auto path = dir.path() + "/db";
  {
    auto e = open_at(path);
    for (int index = 0; index < 2000; ++index) {
      put(*e, docs, "k" + std::to_string(index), std::string(100, 'x'));
    }
    CAF_REQUIRE(e->flush().ok());
    write_batch batch;
    batch.put(docs, "synced", "yes");
    batch.erase_range(docs, "k1", "k2");
    CAF_REQUIRE(e->write(batch, write_options{true}).ok());
    put(*e, docs, "grouped", "yes");
    CAF_REQUIRE(e->sync().ok());
  }
  auto e = open_at(path);
  CAF_CHECK_EQUAL(read(*e, docs, "synced"), "yes");
  CAF_CHECK_EQUAL(read(*e, docs, "grouped"), "yes");
  CAF_CHECK_EQUAL(read(*e, docs, "k1500"), "<absent>");
  CAF_CHECK_EQUAL(read(*e, docs, "k999"), std::string(100, 'x'));
  scan_options options;
  options.lower = "k";
  options.upper = "l";
  CAF_CHECK_EQUAL(collect(*e, docs, options).size(), 2000u - 1111u);
}

CAF_TEST(open gives a clear status for an unusable path) {
  temp_dir dir{"badpath"};
  rocksdb_options options;
  auto empty = rocksdb_engine::open(options);
  CAF_REQUIRE(!empty.ok());
  CAF_CHECK(empty.error().code() == error_code::invalid_argument);

  const auto file = dir.path() + "/plain_file";
  std::ofstream{file} << "not a directory";
  options.path = file + "/db";
  auto under_file = rocksdb_engine::open(options);
  CAF_REQUIRE(!under_file.ok());
  const auto message = under_file.error().message();
  CAF_MESSAGE("under a file: " << under_file.error().to_string());
  CAF_CHECK(under_file.error().code() == error_code::io_error);
  CAF_CHECK(message.find(options.path) != std::string::npos);

  options.path = dir.path() + "/missing";
  options.create_if_missing = false;
  auto missing = rocksdb_engine::open(options);
  CAF_REQUIRE(!missing.ok());
  CAF_MESSAGE("missing: " << missing.error().to_string());
  CAF_CHECK(missing.error().code() == error_code::invalid_argument);
}

CAF_TEST(a second open of a directory in use fails with io_error) {
  temp_dir dir{"locked"};
  auto first = open_at(dir.path() + "/db");
  rocksdb_options options;
  options.path = dir.path() + "/db";
  auto second = rocksdb_engine::open(options);
  CAF_REQUIRE(!second.ok());
  CAF_CHECK(second.error().code() == error_code::io_error);
}

CAF_TEST(every column is a column family named after it) {
  temp_dir dir{"families"};
  const auto path = dir.path() + "/db";
  { auto e = open_at(path); }
  std::vector<std::string> names;
  const auto listed = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, path, &names);
  CAF_REQUIRE(listed.ok());
  for (size_t index = 0; index < column_count; ++index) {
    const std::string name{to_string(static_cast<column>(index))};
    CAF_CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
}

CAF_TEST(stats report block cache traffic and estimated keys per column) {
  temp_dir dir{"stats"};
  auto e = open_at(dir.path() + "/db");
  for (int index = 0; index < 500; ++index) put(*e, docs, "k" + std::to_string(index), "v");
  CAF_REQUIRE(e->flush().ok());
  for (int index = 0; index < 500; ++index) {
    CAF_REQUIRE_EQUAL(read(*e, docs, "k" + std::to_string(index)), "v");
  }
  const auto text = e->stats();
  CAF_MESSAGE(text);
  CAF_CHECK(text.find("block_cache_hits=0 ") == std::string::npos);
  CAF_CHECK(text.find("documents=500") != std::string::npos);
  CAF_CHECK(text.find("block_cache_usage_bytes=") != std::string::npos);
}

CAF_TEST(a snapshot keeps its view across flushes) {
  temp_dir dir{"snapflush"};
  auto e = open_at(dir.path() + "/db");
  put(*e, docs, "a", "old");
  auto view = e->make_snapshot();
  put(*e, docs, "a", "new");
  CAF_REQUIRE(e->flush().ok());
  CAF_CHECK_EQUAL(read(*e, docs, "a", view.get()), "old");
  CAF_CHECK_EQUAL(read(*e, docs, "a"), "new");
}

CAF_TEST(a directory with an unknown column family still opens) {
  temp_dir dir{"unknownfamily"};
  const auto path = dir.path() + "/db";
  { auto e = open_at(path); put(*e, docs, "a", "1"); }
  {
    // A newer version added a family we do not know about.
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{});
    for (size_t index = 0; index < column_count; ++index) {
      families.emplace_back(std::string{to_string(static_cast<column>(index))},
                            rocksdb::ColumnFamilyOptions{});
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    CAF_REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions{}, path, families, &handles, &raw).ok());
    rocksdb::ColumnFamilyHandle* future = nullptr;
    CAF_REQUIRE(raw->CreateColumnFamily(rocksdb::ColumnFamilyOptions{}, "future", &future).ok());
    handles.push_back(future);
    for (auto* family : handles) CAF_REQUIRE(raw->DestroyColumnFamilyHandle(family).ok());
    CAF_REQUIRE(raw->Close().ok());
    delete raw;
  }
  auto e = open_at(path);
  CAF_CHECK_EQUAL(read(*e, docs, "a"), "1");
}

CAF_TEST(a damaged table file reads as corruption and not as missing data) {
  temp_dir dir{"corrupt"};
  const auto path = dir.path() + "/db";
  {
    auto e = open_at(path);
    for (int index = 0; index < 1000; ++index) {
      put(*e, docs, "k" + std::to_string(1000 + index), std::string(100, 'a' + index % 26));
    }
    CAF_REQUIRE(e->flush().ok());
  }
  int damaged = 0;
  for (const auto& entry : std::filesystem::directory_iterator{path}) {
    if (entry.path().extension() != ".sst") continue;
    std::fstream file{entry.path(), std::ios::in | std::ios::out | std::ios::binary};
    file.seekp(64);
    const std::string garbage(256, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    ++damaged;
  }
  CAF_REQUIRE_GREATER(damaged, 0);
  rocksdb_options options;
  options.path = path;
  auto opened = rocksdb_engine::open(options);
  if (!opened.ok()) {
    CAF_MESSAGE("open reported: " << opened.error().to_string());
    CAF_CHECK(opened.error().code() == error_code::corruption);
    return;
  }
  auto& e = **opened;
  std::string out;
  const auto found = e.get(docs, "k1000", out);
  CAF_MESSAGE("get reported: " << found.to_string());
  CAF_CHECK(found.code() == error_code::corruption);
  auto it = e.scan(docs, scan_options{});
  while (it->valid()) it->next();
  const auto scanned = it->error();
  CAF_MESSAGE("scan reported: " << scanned.to_string());
  CAF_CHECK(scanned.code() == error_code::corruption);
}
