// Implements shard_dump.hpp.
//
// Thread safety: pure functions.
#include "storage/shard_dump.hpp"

#include <algorithm>
#include <vector>

#include "storage/keys.hpp"

namespace velocity {

namespace {

constexpr std::string_view dump_magic = "VSD1";

void append_u32(std::string& out, size_t x) { keys::append_u32(out, static_cast<uint32_t>(x)); }

bool read_u32(std::string_view in, size_t& offset, uint32_t& out) {
  if (in.size() - offset < 4) return false;
  out = 0;
  for (size_t i = 0; i < 4; ++i) out = (out << 8) | static_cast<uint8_t>(in[offset + i]);
  offset += 4;
  return true;
}

bool read_bytes(std::string_view in, size_t& offset, std::string_view& out) {
  uint32_t size = 0;
  if (!read_u32(in, offset, size) || in.size() - offset < size) return false;
  out = in.substr(offset, size);
  offset += size;
  return true;
}

bool dumped_column(uint8_t raw) {
  return std::any_of(std::begin(shard_dump_columns), std::end(shard_dump_columns),
                     [&](column c) { return static_cast<uint8_t>(c) == raw; });
}

status malformed_at(size_t offset, std::string_view what) {
  return status{error_code::malformed,
                "shard dump at byte " + std::to_string(offset) + ": " + std::string{what}};
}

}  // namespace

status_or<std::string> dump_shard(engine& e, uint32_t shard) {
  const std::string prefix = keys::shard_prefix(shard);
  std::string out{dump_magic};
  for (column col : shard_dump_columns) {
    scan_options range;
    range.lower = prefix;
    range.upper = keys::range_end(prefix);
    auto it = e.scan(col, range);
    for (; it->valid(); it->next()) {
      out.push_back(static_cast<char>(col));
      append_u32(out, it->key().size());
      out.append(it->key());
      append_u32(out, it->value().size());
      out.append(it->value());
    }
    if (status scanned = it->error(); !scanned.ok()) return scanned;
  }
  return out;
}

status stage_restore_shard(std::string_view dump, uint32_t shard, write_batch& batch) {
  if (dump.substr(0, dump_magic.size()) != dump_magic) return malformed_at(0, "no VSD1 header");
  const std::string prefix = keys::shard_prefix(shard);
  const std::string end = keys::range_end(prefix);
  write_batch staged;
  for (column col : shard_dump_columns) staged.erase_range(col, prefix, end);
  size_t offset = dump_magic.size();
  while (offset < dump.size()) {
    const size_t start = offset;
    const uint8_t raw = static_cast<uint8_t>(dump[offset++]);
    if (!dumped_column(raw)) return malformed_at(start, "unknown column");
    std::string_view key;
    std::string_view value;
    if (!read_bytes(dump, offset, key) || !read_bytes(dump, offset, value))
      return malformed_at(start, "truncated record");
    if (key.substr(0, prefix.size()) != prefix || key.size() == prefix.size())
      return malformed_at(start, "a key outside the shard");
    staged.put(static_cast<column>(raw), key, value);
  }
  for (const write_batch::op& op : staged.ops()) {
    if (op.kind == write_batch::op_kind::put) batch.put(op.col, op.key, op.value);
    else batch.erase_range(op.col, op.key, op.value);
  }
  return status{};
}

}  // namespace velocity
