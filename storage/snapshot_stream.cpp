// Implements snapshot_stream.hpp. The crash argument is in the header.
//
// Thread safety: as the header.
#include "storage/snapshot_stream.hpp"

#include <algorithm>
#include <utility>

#include "protocols/check.hpp"
#include "storage/keys.hpp"
#include "storage/shard_dump.hpp"

namespace velocity {

namespace {

constexpr uint32_t staging_id = 0xfffffffeu;
constexpr uint32_t marker_id = 0xfffffffdu;

bool streamed_column(column col) {
  return std::any_of(std::begin(shard_dump_columns), std::end(shard_dump_columns),
                     [&](column c) { return c == col; });
}

status malformed_item(size_t position, const std::string& what) {
  return status{error_code::malformed,
                "snapshot chunk item " + std::to_string(position) + ": " + what};
}

}  // namespace

size_t stream_item_bytes(const stream_item& item) {
  return item.key.size() + item.value.size() + stream_item_overhead_bytes;
}

shard_reader::shard_reader(engine& e, std::shared_ptr<const snapshot> view, uint32_t shard)
    : engine_(e), view_(std::move(view)), shard_(shard) {
  VELOCITY_CHECK(view_ != nullptr);
}

status_or<std::vector<stream_item>> shard_reader::next(size_t bytes_max) {
  std::vector<stream_item> out;
  size_t bytes = 0;
  const std::string prefix = keys::shard_prefix(shard_);
  while (!done()) {
    const column col = shard_dump_columns[column_index_];
    scan_options range;
    // The smallest key above the last one handed out.
    range.lower = after_ ? *after_ + std::string(1, '\0') : prefix;
    range.upper = keys::range_end(prefix);
    range.view = view_.get();
    auto it = engine_.scan(col, range);
    for (; it->valid(); it->next()) {
      stream_item item{col, std::string{it->key()}, std::string{it->value()}};
      const size_t item_bytes = stream_item_bytes(item);
      if (!out.empty() && bytes + item_bytes > bytes_max) return out;
      bytes += item_bytes;
      after_ = item.key;
      out.push_back(std::move(item));
    }
    if (status scanned = it->error(); !scanned.ok()) return scanned;
    ++column_index_;
    after_.reset();
  }
  return out;
}

std::string staging_prefix(uint32_t shard) {
  return keys::shard_prefix(staging_id) + keys::shard_prefix(shard);
}

std::string marker_key(uint32_t shard) {
  return keys::shard_prefix(marker_id) + keys::shard_prefix(shard);
}

void stage_clear_staging(uint32_t shard, write_batch& batch) {
  const std::string prefix = staging_prefix(shard);
  for (column col : shard_dump_columns) batch.erase_range(col, prefix, keys::range_end(prefix));
}

status stage_items(uint32_t shard, const std::vector<stream_item>& items, write_batch& batch) {
  const std::string prefix = keys::shard_prefix(shard);
  const std::string staging = keys::shard_prefix(staging_id);
  write_batch staged;
  for (size_t i = 0; i < items.size(); ++i) {
    const stream_item& item = items[i];
    if (!streamed_column(item.col))
      return malformed_item(i, "column " + std::string{to_string(item.col)} +
                                   " is not a state machine column");
    if (item.key.size() <= prefix.size() || item.key.compare(0, prefix.size(), prefix) != 0)
      return malformed_item(i, "key outside shard " + std::to_string(shard));
    staged.put(item.col, staging + item.key, item.value);
  }
  for (const auto& op : staged.ops()) batch.put(op.col, op.key, op.value);
  return status{};
}

void stage_marker(uint32_t shard, const install_marker& marker, write_batch& batch) {
  std::string value;
  keys::append_u64(value, marker.index);
  keys::append_u64(value, marker.term);
  batch.put(column::meta, marker_key(shard), value);
}

status_or<std::optional<install_marker>> read_marker(engine& e, uint32_t shard) {
  std::string value;
  status got = e.get(column::meta, marker_key(shard), value);
  if (got.code() == error_code::not_found) return std::optional<install_marker>{};
  if (!got.ok()) return got;
  auto index = keys::decode_u64(std::string_view{value}.substr(0, 8));
  auto term = value.size() == 16 ? keys::decode_u64(std::string_view{value}.substr(8)) : std::nullopt;
  if (!index || !term)
    return status{error_code::corruption,
                  "snapshot install marker of shard " + std::to_string(shard) + " is not 16 bytes"};
  return std::optional<install_marker>{install_marker{*index, *term}};
}

status finish_install(engine& e, uint32_t shard, size_t batch_bytes_max) {
  const std::string prefix = keys::shard_prefix(shard);
  const std::string staging = staging_prefix(shard);
  const std::string applied = keys::applied_key(shard);
  write_batch batch;
  for (column col : shard_dump_columns) batch.erase_range(col, prefix, keys::range_end(prefix));
  if (status erased = e.write(batch); !erased.ok()) return erased;
  batch.clear();
  std::optional<std::string> applied_value;
  const size_t strip = staging.size() - prefix.size();  // the reserved 4 bytes
  for (column col : shard_dump_columns) {
    scan_options range;
    range.lower = staging;
    range.upper = keys::range_end(staging);
    auto it = e.scan(col, range);
    for (; it->valid(); it->next()) {
      std::string key{it->key().substr(strip)};
      if (col == column::meta && key == applied) {
        applied_value = std::string{it->value()};  // written last (step 5)
        continue;
      }
      batch.put(col, key, it->value());
      if (batch.bytes() >= batch_bytes_max) {
        if (status written = e.write(batch); !written.ok()) return written;
        batch.clear();
      }
    }
    if (status scanned = it->error(); !scanned.ok()) return scanned;
  }
  if (!batch.empty()) {
    if (status written = e.write(batch); !written.ok()) return written;
    batch.clear();
  }
  if (applied_value) batch.put(column::meta, applied, *applied_value);
  batch.erase(column::meta, marker_key(shard));
  stage_clear_staging(shard, batch);
  return e.write(batch);
}

status_or<std::optional<install_marker>> recover_install(engine& e, uint32_t shard) {
  auto marker = read_marker(e, shard);
  if (!marker.ok()) return marker.error();
  if (*marker) {
    if (status finished = finish_install(e, shard); !finished.ok()) return finished;
    return marker;
  }
  write_batch batch;
  stage_clear_staging(shard, batch);
  if (status cleared = e.write(batch); !cleared.ok()) return cleared;
  return marker;
}

}  // namespace velocity
