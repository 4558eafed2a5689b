// Helpers shared by the engine test suites (see engine_test_support.hpp).
#include "tests/storage/engine_test_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>

#include "caf/test/unit_test.hpp"
#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"

namespace velocity::test {

namespace {

std::atomic<uint64_t> temp_dir_counter{0};

// Small cache and memtables: tests want flushes to files early, not speed.
constexpr size_t test_block_cache_bytes = 4 << 20;
constexpr size_t test_memtable_bytes = 256 << 10;

}  // namespace

temp_dir::temp_dir(std::string_view purpose) {
  path_ = "/tmp/velocity-engines-" + std::to_string(::getpid()) + "-" +
          std::to_string(temp_dir_counter.fetch_add(1)) + "-" + std::string{purpose};
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void for_each_engine(const std::function<void(engine&, const std::string&)>& body) {
  {
    memory_engine memory;
    CAF_MESSAGE("engine: memory");
    body(memory, "memory");
  }
  temp_dir dir{"conformance"};
  rocksdb_options options;
  options.path = dir.path() + "/db";
  options.block_cache_bytes = test_block_cache_bytes;
  options.memtable_bytes = test_memtable_bytes;
  auto opened = rocksdb_engine::open(options);
  CAF_REQUIRE(opened.ok());
  CAF_MESSAGE("engine: rocksdb");
  body(**opened, "rocksdb");
}

void put(engine& e, column col, std::string_view key, std::string_view value) {
  write_batch batch;
  batch.put(col, key, value);
  const auto written = e.write(batch);
  CAF_REQUIRE(written.ok());
}

void erase(engine& e, column col, std::string_view key) {
  write_batch batch;
  batch.erase(col, key);
  const auto written = e.write(batch);
  CAF_REQUIRE(written.ok());
}

key_values collect(engine& e, column col, const scan_options& options) {
  key_values result;
  auto it = e.scan(col, options);
  for (; it->valid(); it->next()) result.emplace_back(it->key(), it->value());
  const auto failure = it->error();
  if (!failure.ok()) result.emplace_back("<error>", failure.to_string());
  return result;
}

std::string read(engine& e, column col, std::string_view key, const snapshot* view) {
  std::string out;
  const auto found = e.get(col, key, out, view);
  if (found.ok()) return out;
  if (found.code() == error_code::not_found) return "<absent>";
  return "<error: " + found.to_string() + ">";
}

key_values expected_scan(const column_model& model, const scan_options& options) {
  key_values result;
  for (const auto& [key, value] : model) {
    if (key < options.lower) continue;
    if (options.upper && !(key < *options.upper)) continue;
    result.emplace_back(key, value);
  }
  if (options.reverse) std::reverse(result.begin(), result.end());
  return result;
}

}  // namespace velocity::test
