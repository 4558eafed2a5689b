// The in-memory engine (see memory_engine.hpp for the layout, the crash
// simulation and the thread-safety contract).
//
// Invariant kept here: a map whose shared_ptr is shared (use_count > 1) is
// never mutated; writable() clones it first. Every new reference to a live map
// is taken under mutex_, so a use_count of 1 seen under the mutex cannot grow
// behind our back.
#include "storage/memory_engine.hpp"

#include <atomic>
#include <sstream>
#include <utility>

namespace velocity {

namespace {

using column_map = memory_engine::column_map;
using const_map_pointer = std::shared_ptr<const column_map>;

size_t column_index(column col) {
  const auto index = static_cast<size_t>(col);
  VELOCITY_CHECK_LT(index, column_count);
  return index;
}

// A whole-engine view: one frozen map per column. The maps are shared with the
// engine until its next write to that column clones it.
class memory_snapshot final : public snapshot {
 public:
  memory_snapshot(const void* owner, std::array<const_map_pointer, column_count> maps)
      : owner_(owner), maps_(std::move(maps)) {}

  const void* owner() const { return owner_; }
  const const_map_pointer& map(column col) const { return maps_[column_index(col)]; }

 private:
  const void* owner_;  // the engine that made it, to catch cross-engine misuse
  std::array<const_map_pointer, column_count> maps_;
};

// Cursor over [lower, upper) of one frozen map, forward or reverse. Holding the
// map keeps the iterator valid while the engine keeps being written.
class memory_iterator final : public iterator {
 public:
  memory_iterator(const_map_pointer map, const scan_options& options)
      : map_(std::move(map)), lower_(options.lower), upper_(options.upper),
        reverse_(options.reverse) {
    if (!reverse_) {
      position_ = map_->lower_bound(lower_);
      valid_ = position_ != map_->end() && below_upper(position_->first);
      return;
    }
    position_ = upper_ ? map_->lower_bound(*upper_) : map_->end();
    step_back();
  }

  bool valid() const override { return valid_; }

  void next() override {
    VELOCITY_CHECK(valid_);
    if (!reverse_) {
      ++position_;
      valid_ = position_ != map_->end() && below_upper(position_->first);
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
    if (position_ == map_->begin()) {
      valid_ = false;
      return;
    }
    --position_;
    valid_ = position_->first >= lower_;
  }

  const_map_pointer map_;
  std::string lower_;
  std::optional<std::string> upper_;
  bool reverse_;
  column_map::const_iterator position_;
  bool valid_ = false;
};

}  // namespace

memory_engine::memory_engine() : memory_engine(memory_engine_options{}) {}

memory_engine::memory_engine(memory_engine_options options) : options_(options) {
  for (auto& map : columns_) map = std::make_shared<column_map>();
}

memory_engine::~memory_engine() = default;

memory_engine::column_map& memory_engine::writable(column col) {
  auto& map = columns_[column_index(col)];
  if (map.use_count() != 1) {
    // A snapshot or iterator still reads this version: leave it to them.
    map = std::make_shared<column_map>(*map);
    ++map_clones_;
  } else {
    // use_count() is a relaxed load; the acquire fence pairs with the release
    // in the last other owner's decrement, so its reads happen before our writes.
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  return *map;
}

std::shared_ptr<const column_map> memory_engine::read_map(column col,
                                                          const snapshot* view) const {
  if (view != nullptr) {
    const auto* own = dynamic_cast<const memory_snapshot*>(view);
    VELOCITY_CHECK(own != nullptr && own->owner() == this);
    return own->map(col);
  }
  std::lock_guard<std::mutex> guard{mutex_};
  return columns_[column_index(col)];
}

status memory_engine::get(column col, std::string_view key, std::string& out,
                          const snapshot* view) {
  const auto map = read_map(col, view);
  const auto found = map->find(key);
  if (found == map->end()) {
    return status{error_code::not_found,
                  "key not found in column " + std::string{to_string(col)}};
  }
  out = found->second;
  return {};
}

std::vector<status_or<std::string>> memory_engine::multi_get(
    column col, const std::vector<std::string>& keys, const snapshot* view) {
  // One map version for all keys: the answers are mutually consistent.
  const auto map = read_map(col, view);
  std::vector<status_or<std::string>> results;
  results.reserve(keys.size());
  for (const auto& key : keys) {
    const auto found = map->find(key);
    if (found == map->end()) {
      results.emplace_back(error_code::not_found,
                           "key not found in column " + std::string{to_string(col)});
    } else {
      results.emplace_back(found->second);
    }
  }
  return results;
}

std::unique_ptr<iterator> memory_engine::scan(column col, const scan_options& options) {
  return std::make_unique<memory_iterator>(read_map(col, options.view), options);
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
  std::array<const_map_pointer, column_count> maps;
  for (size_t index = 0; index < column_count; ++index) maps[index] = columns_[index];
  return std::make_shared<memory_snapshot>(this, std::move(maps));
}

std::string memory_engine::stats() {
  std::lock_guard<std::mutex> guard{mutex_};
  std::ostringstream out;
  out << "memory_engine keys:";
  for (size_t index = 0; index < column_count; ++index) {
    out << ' ' << to_string(static_cast<column>(index)) << '=' << columns_[index]->size();
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
  return columns_[column_index(col)]->size();
}

}  // namespace velocity
