// The RocksDB storage engine: the `persistent` storage mode.
//
// One RocksDB instance per node; one column family per `column` value, named by
// to_string(column) ("meta", "documents", ...; the "default" family exists but
// stays empty). One shared LRU block cache across all families is the document
// cache. Tuning and its reasons are in rocksdb_engine.cpp and docs/storage.md.
//
// Durability (storage/engine.hpp): write(batch, {.sync = true}) sets
// WriteOptions::sync; sync() fsyncs the write-ahead log (FlushWAL(true)). The
// WAL is one sequential file for all families, so batches become durable in
// the order they were written.
//
// Thread safety: every engine method may be called from any thread (RocksDB is
// internally synchronized). Iterators and snapshots are owned by one thread
// and must be destroyed before the engine (they point into the open DB).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/engine.hpp"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class Statistics;
}  // namespace rocksdb

namespace velocity {

struct rocksdb_options {
  std::string path;                         // directory
  size_t block_cache_bytes = 64 << 20;      // shared LRU block cache = the document cache
  bool create_if_missing = true;
  // Memtable size per column family before it is flushed to a file. Small
  // values (tests) make flushes and compactions happen early.
  size_t memtable_bytes = 16 << 20;
};

class rocksdb_engine final : public engine {
 public:
  // io_error naming the path and RocksDB's reason when the directory cannot be
  // created, locked or read; invalid_argument for an empty path.
  static status_or<std::unique_ptr<rocksdb_engine>> open(const rocksdb_options& options);

  ~rocksdb_engine() override;  // closes the DB; does not fsync (call sync() first)

  rocksdb_engine(const rocksdb_engine&) = delete;
  rocksdb_engine& operator=(const rocksdb_engine&) = delete;

  status get(column col, std::string_view key, std::string& out,
             const snapshot* view = nullptr) override;
  std::vector<status_or<std::string>> multi_get(column col, const std::vector<std::string>& keys,
                                               const snapshot* view = nullptr) override;
  std::unique_ptr<iterator> scan(column col, const scan_options& options) override;
  status write(const write_batch& batch, write_options options = {}) override;
  status sync() override;
  std::shared_ptr<const snapshot> make_snapshot() override;
  // Block cache usage/hits/misses and estimated keys per column family.
  std::string stats() override;

  // Flushes every memtable to files (tests and tools; not needed for durability).
  status flush();

 private:
  rocksdb_engine() = default;

  rocksdb::ColumnFamilyHandle* handle(column col) const;

  std::string path_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, column_count> handles_{};  // owned; freed before db_
  rocksdb::ColumnFamilyHandle* default_handle_ = nullptr;             // owned
  std::vector<rocksdb::ColumnFamilyHandle*> unknown_handles_;  // owned; families we do not use
};

}  // namespace velocity
