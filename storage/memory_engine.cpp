// The in-memory engine (see memory_engine.hpp for the layout, the crash
// simulation and the thread-safety contract).
//
// Invariant kept here: a column version with readers > 0 is never mutated;
// writable() clones it first. Leases are only created under mutex_ from the
// live version, or from a version that already has a lease (a snapshot's), so
// a count of 0 seen under the mutex cannot grow behind our back. A lease's
// release decrement pairs with the writer's acquire load, so the reader's last
// reads happen before the writer's next mutation.
#include "storage/memory_engine.hpp"

#include <atomic>
#include <sstream>
#include <utility>

namespace velocity {

struct memory_engine::column_version {
  column_version() = default;
  explicit column_version(const column_map& source) : map(source) {}

  column_map map;
  std::atomic<uint32_t> readers{0};  // live leases (snapshots and iterators)
};

namespace {

using column_map = memory_engine::column_map;
using column_version = memory_engine::column_version;

size_t column_index(column col) {
  const auto index = static_cast<size_t>(col);
  VELOCITY_CHECK_LT(index, column_count);
  return index;
}

// Shared ownership of a version plus one reader count on it: while any lease
// exists, writers clone instead of mutating.
class lease {
 public:
  lease() = default;
  explicit lease(std::shared_ptr<column_version> version) : version_(std::move(version)) {
    version_->readers.fetch_add(1, std::memory_order_relaxed);
  }
  lease(const lease& other) : lease(other.version_) {}
  lease& operator=(const lease&) = delete;
  ~lease() {
    if (version_) version_->readers.fetch_sub(1, std::memory_order_release);
  }

  const column_map& map() const { return version_->map; }

 private:
  std::shared_ptr<column_version> version_;
};

// A whole-engine view: one leased version per column.
class memory_snapshot final : public snapshot {
 public:
  memory_snapshot(const void* owner, std::array<lease, column_count> columns)
      : owner_(owner), columns_(std::move(columns)) {}

  const void* owner() const { return owner_; }
  const lease& column_lease(column col) const { return columns_[column_index(col)]; }

 private:
  const void* owner_;  // the engine that made it, to catch cross-engine misuse
  std::array<lease, column_count> columns_;
};

// Cursor over [lower, upper) of one leased version, forward or reverse. The
// lease keeps the iterator valid while the engine keeps being written.
class memory_iterator final : public iterator {
 public:
  memory_iterator(lease version, const scan_options& options)
      : version_(std::move(version)), lower_(options.lower), upper_(options.upper),
        reverse_(options.reverse) {
    const auto& map = version_.map();
    if (!reverse_) {
      position_ = map.lower_bound(lower_);
      valid_ = position_ != map.end() && below_upper(position_->first);
      return;
    }
    position_ = upper_ ? map.lower_bound(*upper_) : map.end();
    step_back();
  }

  bool valid() const override { return valid_; }

  void next() override {
    VELOCITY_CHECK(valid_);
    if (!reverse_) {
      ++position_;
      valid_ = position_ != version_.map().end() && below_upper(position_->first);
      return;
    }
    step_back();
  }

  std::string_view key() const override {
    VELOCITY_CHECK(valid_);
    return position_->first;
  }

  std::string_view value() const override {
    VELOCITY_CHECK(valid_);
    return position_->second;
  }

  velocity::status error() const override { return {}; }

 private:
  bool below_upper(const std::string& key) const { return !upper_ || key < *upper_; }

  // Moves to the previous key; invalid once we fall below lower_.
  void step_back() {
    if (position_ == version_.map().begin()) {
      valid_ = false;
      return;
    }
    --position_;
    valid_ = position_->first >= lower_;
  }

  lease version_;
  std::string lower_;
  std::optional<std::string> upper_;
  bool reverse_;
  column_map::const_iterator position_;
  bool valid_ = false;
};

status missing(column col) {
  return status{error_code::not_found, "key not found in column " + std::string{to_string(col)}};
}

const memory_snapshot& own_snapshot(const snapshot& view, const void* owner) {
  const auto* own = dynamic_cast<const memory_snapshot*>(&view);
  VELOCITY_CHECK(own != nullptr && own->owner() == owner);
  return *own;
}

}  // namespace

memory_engine::memory_engine() : memory_engine(memory_engine_options{}) {}

memory_engine::memory_engine(memory_engine_options options) : options_(options) {
  for (auto& version : columns_) version = std::make_shared<column_version>();
}

memory_engine::~memory_engine() = default;

memory_engine::column_map& memory_engine::writable(column col) {
  auto& version = columns_[column_index(col)];
  // Acquire: pairs with the release in ~lease, so a reader that just let go
  // has finished reading before we mutate.
  if (version->readers.load(std::memory_order_acquire) != 0) {
    version = std::make_shared<column_version>(version->map);
    ++map_clones_;
  }
  return version->map;
}

const memory_engine::column_map& memory_engine::snapshot_map(column col,
                                                             const snapshot& view) const {
  return own_snapshot(view, this).column_lease(col).map();
}

status memory_engine::get(column col, std::string_view key, std::string& out,
                          const snapshot* view) {
  if (view != nullptr) {
    const auto& map = snapshot_map(col, *view);
    const auto found = map.find(key);
    if (found == map.end()) return missing(col);
    out = found->second;
    return {};
  }
  // Under the mutex instead of a lease: a lease would make the next write clone.
  std::lock_guard<std::mutex> guard{mutex_};
  const auto& map = columns_[column_index(col)]->map;
  const auto found = map.find(key);
  if (found == map.end()) return missing(col);
  out = found->second;
  return {};
}

std::vector<status_or<std::string>> memory_engine::multi_get(
    column col, const std::vector<std::string>& keys, const snapshot* view) {
  std::vector<status_or<std::string>> results;
  results.reserve(keys.size());
  const auto lookup = [&](const column_map& map) {
    for (const auto& key : keys) {
      const auto found = map.find(key);
      if (found == map.end()) {
        results.emplace_back(missing(col));
      } else {
        results.emplace_back(found->second);
      }
    }
  };
  if (view != nullptr) {
    lookup(snapshot_map(col, *view));
    return results;
  }
  // One lock for all keys: the answers are mutually consistent.
  std::lock_guard<std::mutex> guard{mutex_};
  lookup(columns_[column_index(col)]->map);
  return results;
}

std::unique_ptr<iterator> memory_engine::scan(column col, const scan_options& options) {
  if (options.view != nullptr) {
    // The snapshot's version already has a lease, so no lock is needed.
    return std::make_unique<memory_iterator>(
        own_snapshot(*options.view, this).column_lease(col), options);
  }
  std::unique_lock<std::mutex> guard{mutex_};
  lease version{columns_[column_index(col)]};
  guard.unlock();
  return std::make_unique<memory_iterator>(std::move(version), options);
}

void memory_engine::erase_range_locked(column col, const std::string& begin,
                                       const std::string& end, undo_batch* undo) {
  // An empty or inverted range removes nothing (RocksDB would reject or ignore it).
  if (!(begin < end)) return;
  auto& map = writable(col);
  auto position = map.lower_bound(begin);
  while (position != map.end() && position->first < end) {
    if (undo != nullptr) undo->push_back(undo_entry{col, position->first, position->second});
    position = map.erase(position);
  }
}

void memory_engine::apply(const write_batch::op& op, undo_batch* undo) {
  switch (op.kind) {
    case write_batch::op_kind::put: {
      auto& map = writable(op.col);
      auto found = map.find(op.key);
      if (found == map.end()) {
        if (undo != nullptr) undo->push_back(undo_entry{op.col, op.key, std::nullopt});
        map.emplace(op.key, op.value);
      } else {
        if (undo != nullptr) undo->push_back(undo_entry{op.col, op.key, found->second});
        found->second = op.value;
      }
      return;
    }
    case write_batch::op_kind::erase: {
      auto& map = writable(op.col);
      auto found = map.find(op.key);
      if (found == map.end()) return;
      if (undo != nullptr) undo->push_back(undo_entry{op.col, op.key, found->second});
      map.erase(found);
      return;
    }
    case write_batch::op_kind::erase_range:
      erase_range_locked(op.col, op.key, op.value, undo);
      return;
  }
  VELOCITY_CHECK(false && "unknown write_batch op kind");
}

status memory_engine::write(const write_batch& batch, write_options options) {
  std::lock_guard<std::mutex> guard{mutex_};
  // Under the mutex the whole batch lands before any reader looks: atomic.
  const bool record = options_.crash_simulation && !options.sync;
  undo_batch undo;
  for (const auto& op : batch.ops()) apply(op, record ? &undo : nullptr);
  ++writes_;
  if (options.sync) {
    // This batch and every earlier one are now durable.
    undo_log_.clear();
    ++syncs_;
  } else if (record) {
    undo_log_.push_back(std::move(undo));
  }
  return {};
}

status memory_engine::sync() {
  std::lock_guard<std::mutex> guard{mutex_};
  undo_log_.clear();
  ++syncs_;
  return {};
}

void memory_engine::simulate_crash() {
  std::lock_guard<std::mutex> guard{mutex_};
  VELOCITY_CHECK(options_.crash_simulation);
  // Newest batch first, newest entry first: each entry restores the state its
  // operation saw, so the result is the state after the last durable batch.
  for (auto batch = undo_log_.rbegin(); batch != undo_log_.rend(); ++batch) {
    for (auto entry = batch->rbegin(); entry != batch->rend(); ++entry) {
      auto& map = writable(entry->col);
      if (entry->previous) {
        map.insert_or_assign(entry->key, *entry->previous);
      } else {
        map.erase(entry->key);
      }
    }
  }
  undo_log_.clear();
}

std::shared_ptr<const snapshot> memory_engine::make_snapshot() {
  std::lock_guard<std::mutex> guard{mutex_};
  static_assert(column_count == 5, "make_snapshot leases every column");
  std::array<lease, column_count> leases{lease{columns_[0]}, lease{columns_[1]}, lease{columns_[2]},
                                         lease{columns_[3]}, lease{columns_[4]}};
  return std::make_shared<memory_snapshot>(this, std::move(leases));
}

std::string memory_engine::stats() {
  std::lock_guard<std::mutex> guard{mutex_};
  std::ostringstream out;
  out << "memory_engine keys:";
  for (size_t index = 0; index < column_count; ++index) {
    out << ' ' << to_string(static_cast<column>(index)) << '=' << columns_[index]->map.size();
  }
  out << " writes=" << writes_ << " syncs=" << syncs_ << " unsynced_batches=" << undo_log_.size()
      << " map_clones=" << map_clones_;
  return out.str();
}

size_t memory_engine::unsynced_batches() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return undo_log_.size();
}

size_t memory_engine::map_clones() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return map_clones_;
}

size_t memory_engine::key_count(column col) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return columns_[column_index(col)]->map.size();
}

}  // namespace velocity
