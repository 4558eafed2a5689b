// The RocksDB engine (see rocksdb_engine.hpp): options with their reasons,
// status mapping, snapshots and bounded iterators.
//
// Thread safety: RocksDB's DB is internally synchronized; this file adds no
// shared mutable state besides counters owned by RocksDB.
// Invariants: handles_ are valid from a successful open() until the destructor,
// which destroys them before closing db_.
#include "storage/rocksdb_engine.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <sstream>
#include <utility>

namespace velocity {

namespace {

// ~10 bits per key gives ~1% false positives: most get() calls for absent keys
// (insert's existence check, unique index probes) never touch a data block.
constexpr double bloom_bits_per_key = 10.0;

// Two background jobs (one flush, one compaction) for a 2-core node whose
// actors need the CPU too; more jobs would only queue for cores.
constexpr int background_jobs_max = 2;

// Write SST files out in 1 MiB steps so a finished file never forces one
// huge fsync that stalls the WAL fsync of a group commit behind it.
constexpr uint64_t file_sync_step_bytes = 1 << 20;

// Rarely written families (meta, raft_state) would pin old WAL files forever;
// past this total the families holding the oldest WAL are flushed.
constexpr uint64_t wal_size_per_memtable_max = 4;

// Info LOG files kept on disk: enough for a post-mortem, bounded space.
constexpr size_t info_log_files_max = 4;

status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  std::string message = std::string{what} + ": " + s.ToString();
  if (s.IsNotFound()) return status{error_code::not_found, std::move(message)};
  if (s.IsCorruption()) return status{error_code::corruption, std::move(message)};
  return status{error_code::io_error, std::move(message)};
}

bool compression_supported(rocksdb::CompressionType type) {
  const auto supported = rocksdb::GetSupportedCompressions();
  return std::find(supported.begin(), supported.end(), type) != supported.end();
}

rocksdb::DBOptions make_db_options(const rocksdb_options& options,
                                   std::shared_ptr<rocksdb::Statistics> statistics) {
  rocksdb::DBOptions db;
  db.create_if_missing = options.create_if_missing;
  db.create_missing_column_families = true;
  db.max_background_jobs = background_jobs_max;
  db.bytes_per_sync = file_sync_step_bytes;
  db.max_total_wal_size = options.memtable_bytes * column_count * wal_size_per_memtable_max;
  db.keep_log_file_num = info_log_files_max;
  // Replay the WAL up to the first damaged record and stop: the recovered state
  // is always a prefix of the written batches, as the durability contract needs.
  db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Tickers only (cache hits and misses for stats()); histograms and timers
  // would cost time on every read.
  statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  db.statistics = std::move(statistics);
  return db;
}

rocksdb::ColumnFamilyOptions make_column_options(const rocksdb_options& options,
                                                 const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  // One cache for every family: the document cache the design asks for, with
  // one memory budget instead of one per family.
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(bloom_bits_per_key, false));
  // Index and filter blocks live in (and are bounded by) the block cache; the
  // level-0 ones are pinned because every read consults them.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.optimize_filters_for_memory = true;
  table.format_version = 5;

  rocksdb::ColumnFamilyOptions family;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  family.write_buffer_size = options.memtable_bytes;
  // Level sizes follow the last level, so ~90% of the data sits in the last
  // level and space amplification stays near 1.1 whatever the data size.
  family.level_compaction_dynamic_level_bytes = true;
  // LZ4 where data is rewritten often (cheap to compress); ZSTD for the
  // bottommost level, which holds most bytes and is rewritten rarely.
  const bool lz4 = compression_supported(rocksdb::kLZ4Compression);
  family.compression = lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  family.bottommost_compression = compression_supported(rocksdb::kZSTD)
                                      ? rocksdb::kZSTD
                                      : family.compression;
  return family;
}

// Whole-DB snapshot; released when the last owner lets go.
class rocksdb_snapshot final : public snapshot {
 public:
  rocksdb_snapshot(rocksdb::DB* db, const rocksdb::Snapshot* view) : db_(db), view_(view) {}
  ~rocksdb_snapshot() override { db_->ReleaseSnapshot(view_); }
  rocksdb_snapshot(const rocksdb_snapshot&) = delete;
  rocksdb_snapshot& operator=(const rocksdb_snapshot&) = delete;

  const rocksdb::DB* db() const { return db_; }
  const rocksdb::Snapshot* view() const { return view_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* view_;
};

const rocksdb::Snapshot* unwrap(const snapshot* view, const rocksdb::DB* db) {
  if (view == nullptr) return nullptr;
  const auto* own = dynamic_cast<const rocksdb_snapshot*>(view);
  VELOCITY_CHECK(own != nullptr && own->db() == db);
  return own->view();
}

// Cursor over [lower, upper) using RocksDB's own bounds, so the iterator stops
// at the bound without reading (or decompressing) blocks past it. Without a
// snapshot RocksDB pins the state at creation, so writes never disturb it.
class rocksdb_iterator final : public iterator {
 public:
  rocksdb_iterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                   const scan_options& options, const rocksdb::Snapshot* view)
      : lower_(options.lower), upper_(options.upper), reverse_(options.reverse) {
    lower_slice_ = rocksdb::Slice{lower_};
    rocksdb::ReadOptions read;
    read.snapshot = view;
    read.iterate_lower_bound = &lower_slice_;
    if (upper_) {
      upper_slice_ = rocksdb::Slice{*upper_};
      read.iterate_upper_bound = &upper_slice_;
    }
    cursor_.reset(db->NewIterator(read, family));
    // With bounds set, SeekToFirst/SeekToLast start at the bounds.
    if (reverse_) {
      cursor_->SeekToLast();
    } else {
      cursor_->SeekToFirst();
    }
    settle();
  }

  bool valid() const override { return valid_; }

  void next() override {
    VELOCITY_CHECK(valid_);
    if (reverse_) {
      cursor_->Prev();
    } else {
      cursor_->Next();
    }
    settle();
  }

  std::string_view key() const override {
    VELOCITY_CHECK(valid_);
    const auto key = cursor_->key();
    return {key.data(), key.size()};
  }

  std::string_view value() const override {
    VELOCITY_CHECK(valid_);
    const auto value = cursor_->value();
    return {value.data(), value.size()};
  }

  velocity::status error() const override {
    const auto s = cursor_->status();
    if (s.ok()) return {};
    return from_rocksdb(s, "scan failed");
  }

 private:
  // Caches validity after each move. RocksDB enforces the bounds already; the
  // explicit check keeps an empty or inverted range empty whatever the seek
  // direction.
  void settle() {
    valid_ = cursor_->Valid();
    if (!valid_) return;
    const auto key = cursor_->key();
    valid_ = key.compare(lower_slice_) >= 0 && (!upper_ || key.compare(upper_slice_) < 0);
  }

  // The bounds are referenced by the ReadOptions inside cursor_: declared first
  // so they outlive it.
  std::string lower_;
  std::optional<std::string> upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  bool reverse_;
  std::unique_ptr<rocksdb::Iterator> cursor_;
  bool valid_ = false;
};

}  // namespace

status_or<std::unique_ptr<rocksdb_engine>> rocksdb_engine::open(const rocksdb_options& options) {
  if (options.path.empty()) {
    return status{error_code::invalid_argument, "rocksdb_options.path is empty"};
  }
  std::unique_ptr<rocksdb_engine> engine{new rocksdb_engine};
  engine->path_ = options.path;
  engine->block_cache_ = rocksdb::NewLRUCache(options.block_cache_bytes);
  engine->statistics_ = rocksdb::CreateDBStatistics();
  const auto db_options = make_db_options(options, engine->statistics_);
  const auto family_options = make_column_options(options, engine->block_cache_);

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, family_options);
  for (size_t index = 0; index < column_count; ++index) {
    families.emplace_back(std::string{to_string(static_cast<column>(index))}, family_options);
  }
  // A directory written by a newer version may hold families we do not know.
  // RocksDB refuses to open without naming every family, so open those too
  // and leave them alone. (Listing fails for a new directory: nothing to add.)
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const auto& name : existing) {
      const auto known = std::find_if(families.begin(), families.end(),
                                       [&name](const auto& family) { return family.name == name; });
      if (known == families.end()) families.emplace_back(name, family_options);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const auto opened = rocksdb::DB::Open(db_options, options.path, families, &handles, &db);
  if (!opened.ok()) {
    auto failure = from_rocksdb(opened, "cannot open RocksDB at '" + options.path + "'");
    // A missing directory with create_if_missing=false is the caller's choice,
    // not a disk failure.
    if (opened.IsInvalidArgument()) {
      return status{error_code::invalid_argument, failure.message()};
    }
    return failure;
  }
  VELOCITY_CHECK_EQ(handles.size(), families.size());
  engine->db_.reset(db);
  engine->default_handle_ = handles[0];
  for (size_t index = 0; index < column_count; ++index) {
    engine->handles_[index] = handles[index + 1];
  }
  engine->unknown_handles_.assign(handles.begin() + column_count + 1, handles.end());
  return engine;
}

rocksdb_engine::~rocksdb_engine() {
  if (!db_) return;
  for (auto* family : handles_) {
    if (family != nullptr) db_->DestroyColumnFamilyHandle(family).PermitUncheckedError();
  }
  for (auto* family : unknown_handles_) db_->DestroyColumnFamilyHandle(family).PermitUncheckedError();
  if (default_handle_ != nullptr) {
    db_->DestroyColumnFamilyHandle(default_handle_).PermitUncheckedError();
  }
  // Close() reports errors we cannot act on here; the WAL already holds every
  // write, so nothing acknowledged depends on it.
  db_->Close().PermitUncheckedError();
}

rocksdb::ColumnFamilyHandle* rocksdb_engine::handle(column col) const {
  const auto index = static_cast<size_t>(col);
  VELOCITY_CHECK_LT(index, column_count);
  return handles_[index];
}

status rocksdb_engine::get(column col, std::string_view key, std::string& out,
                           const snapshot* view) {
  rocksdb::ReadOptions read;
  read.snapshot = unwrap(view, db_.get());
  const auto s = db_->Get(read, handle(col), rocksdb::Slice{key.data(), key.size()}, &out);
  if (s.ok()) return {};
  return from_rocksdb(s, "get in column " + std::string{to_string(col)});
}

std::vector<status_or<std::string>> rocksdb_engine::multi_get(
    column col, const std::vector<std::string>& keys, const snapshot* view) {
  std::vector<status_or<std::string>> results;
  results.reserve(keys.size());
  if (keys.empty()) return results;
  rocksdb::ReadOptions read;
  read.snapshot = unwrap(view, db_.get());
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  // The batched MultiGet reads all keys at one implicit snapshot.
  db_->MultiGet(read, handle(col), keys.size(), slices.data(), values.data(), statuses.data());
  for (size_t index = 0; index < keys.size(); ++index) {
    if (statuses[index].ok()) {
      results.emplace_back(values[index].ToString());
    } else {
      results.emplace_back(
          from_rocksdb(statuses[index], "multi_get in column " + std::string{to_string(col)}));
    }
  }
  return results;
}

std::unique_ptr<iterator> rocksdb_engine::scan(column col, const scan_options& options) {
  return std::make_unique<rocksdb_iterator>(db_.get(), handle(col), options,
                                            unwrap(options.view, db_.get()));
}

status rocksdb_engine::write(const write_batch& batch, write_options options) {
  rocksdb::WriteBatch rocks;
  for (const auto& op : batch.ops()) {
    rocksdb::Status added;
    switch (op.kind) {
      case write_batch::op_kind::put:
        added = rocks.Put(handle(op.col), op.key, op.value);
        break;
      case write_batch::op_kind::erase:
        added = rocks.Delete(handle(op.col), op.key);
        break;
      case write_batch::op_kind::erase_range:
        // An empty or inverted range removes nothing; RocksDB would reject it.
        if (op.key < op.value) added = rocks.DeleteRange(handle(op.col), op.key, op.value);
        break;
    }
    if (!added.ok()) return from_rocksdb(added, "building write batch");
  }
  rocksdb::WriteOptions write;
  write.sync = options.sync;
  const auto s = db_->Write(write, &rocks);
  if (s.ok()) return {};
  return from_rocksdb(s, "write");
}

status rocksdb_engine::sync() {
  // FlushWAL(true) writes any buffered WAL bytes and fsyncs every live WAL
  // file: each batch written before this call is then on disk.
  const auto s = db_->FlushWAL(true);
  if (s.ok()) return {};
  return from_rocksdb(s, "sync of the write-ahead log");
}

std::shared_ptr<const snapshot> rocksdb_engine::make_snapshot() {
  return std::make_shared<rocksdb_snapshot>(db_.get(), db_->GetSnapshot());
}

status rocksdb_engine::flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> families(handles_.begin(), handles_.end());
  const auto s = db_->Flush(rocksdb::FlushOptions{}, families);
  if (s.ok()) return {};
  return from_rocksdb(s, "flush");
}

std::string rocksdb_engine::stats() {
  std::ostringstream out;
  out << "rocksdb_engine path=" << path_ << " block_cache_usage_bytes=" << block_cache_->GetUsage()
      << " block_cache_capacity_bytes=" << block_cache_->GetCapacity()
      << " block_cache_hits=" << statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT)
      << " block_cache_misses=" << statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS)
      << " estimated_keys:";
  for (size_t index = 0; index < column_count; ++index) {
    uint64_t keys = 0;
    if (!db_->GetIntProperty(handles_[index], "rocksdb.estimate-num-keys", &keys)) keys = 0;
    out << ' ' << to_string(static_cast<column>(index)) << '=' << keys;
  }
  return out.str();
}

}  // namespace velocity
