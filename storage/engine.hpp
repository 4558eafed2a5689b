// The storage engine interface: an ordered key space split into a fixed set of
// namespaces (RocksDB column families), with atomic write batches, snapshots
// and an explicit durability call.
//
// Durability contract (what "acknowledged" may rely on):
//   - write(batch) is atomic: after any crash, either every operation of the
//     batch is visible or none is. It is visible to readers of this engine as
//     soon as write returns. It is NOT durable on return unless
//     write_options::sync was set.
//   - write(batch, {.sync = true}) returns only after the batch and every
//     batch written before it are durable (survive process crash and power loss).
//   - sync() makes every batch written before the call durable. Group commit is
//     many write(batch) calls followed by one sync().
//   - Batches become durable in the order they were written: a crash never
//     keeps a later batch while losing an earlier one.
//
// Thread safety: every method may be called from any thread; writes are
// serialized inside the engine. Iterators and snapshots are owned by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/error.hpp"

namespace velocity {

// Fixed namespaces. Every key inside starts with the 4-byte big-endian shard id
// (command/keys.hpp), so one shard is one contiguous range in each namespace.
enum class column : uint8_t {
  meta = 0,        // applied index, collection counters, system data
  documents = 1,   // encoded documents
  indexes = 2,     // secondary index entries
  raft_log = 3,    // Raft log entries (issue 4)
  raft_state = 4,  // Raft hard state and snapshot metadata (issue 4)
};
inline constexpr size_t column_count = 5;
std::string_view to_string(column c);

// An ordered list of puts and deletes applied atomically by engine::write.
class write_batch {
 public:
  enum class op_kind : uint8_t { put, erase, erase_range };
  struct op {
    op_kind kind;
    column col;
    std::string key;
    std::string value;  // put: the value; erase_range: the exclusive upper key
  };

  void put(column col, std::string_view key, std::string_view value);
  void erase(column col, std::string_view key);
  // Removes every key in [begin, end).
  void erase_range(column col, std::string_view begin, std::string_view end);

  const std::vector<op>& ops() const { return ops_; }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  size_t bytes() const { return bytes_; }  // keys + values, for limits and metrics
  void clear() {
    ops_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<op> ops_;
  size_t bytes_ = 0;
};

struct write_options {
  bool sync = false;  // see the durability contract above
};

// A consistent, read-only view of the whole engine at one moment.
class snapshot {
 public:
  virtual ~snapshot() = default;
};

struct scan_options {
  std::string lower;                // inclusive lower bound ("" = start of column)
  std::optional<std::string> upper; // exclusive upper bound (nullopt = end of column)
  bool reverse = false;             // visit keys from upper down to lower
  const snapshot* view = nullptr;   // read at this snapshot instead of the latest state
  bool keys_only = false;           // a hint: value() may be empty when set
};

// Forward or reverse cursor over [lower, upper). Usage:
//   for (auto it = e.scan(col, opts); it->valid(); it->next()) use(it->key(), it->value());
//   then check it->error() for an I/O error that ended the scan early.
class iterator {
 public:
  virtual ~iterator() = default;
  virtual bool valid() const = 0;
  virtual void next() = 0;  // REQUIRES: valid()
  virtual std::string_view key() const = 0;    // REQUIRES: valid(); stable until next()
  virtual std::string_view value() const = 0;  // REQUIRES: valid(); stable until next()
  virtual velocity::status error() const = 0;  // ok unless an I/O error ended the scan
};

class engine {
 public:
  virtual ~engine() = default;

  // not_found if the key is absent; io_error / corruption on failure.
  virtual status get(column col, std::string_view key, std::string& out,
                     const snapshot* view = nullptr) = 0;

  // One result per key, in order; absent keys give not_found.
  virtual std::vector<status_or<std::string>> multi_get(column col,
                                                       const std::vector<std::string>& keys,
                                                       const snapshot* view = nullptr) = 0;

  virtual std::unique_ptr<iterator> scan(column col, const scan_options& options) = 0;

  virtual status write(const write_batch& batch, write_options options = {}) = 0;

  // Makes every batch written so far durable (see the contract above).
  virtual status sync() = 0;

  // The snapshot stays valid until the returned pointer is destroyed, even if
  // the engine keeps being written.
  virtual std::shared_ptr<const snapshot> make_snapshot() = 0;

  // Human-readable statistics for metrics pages (may be empty).
  virtual std::string stats() { return {}; }
};

}  // namespace velocity
