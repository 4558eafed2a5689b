// Implements log_store.hpp: the durable hard state, log and snapshot of one
// Raft group, and CRC-32C.
//
// Binary encodings (every integer fixed-width BIG-endian, in keys and values
// alike, so one rule covers both; keys sort by index because of it):
//
//   raft_log   key   : group u32 | index u64                      (12 bytes)
//              value : crc u32 | term u64 | kind u8 | data         (13 + data bytes)
//   raft_state key   : group u32 | "hard"
//              value : crc u32 | term u64 | vote u64 | commit u64  (28 bytes)
//   raft_state key   : group u32 | "snap"
//              value : crc u32 | index u64 | term u64
//                      | voter_count u32 | voter u64 * voter_count
//                      | learner_count u32 | learner u64 * learner_count
//                      | data (the rest)
//
// The crc is CRC-32C over the KEY followed by the value bytes after the crc
// (crc32c(rest, crc32c(key))). Covering the key as well as the value means a
// value written under the wrong key (a misdirected write, or entry 7's bytes
// found at index 8) is reported as corruption too, not only a flipped bit.
//
// load() never trusts the bytes: every length is checked before reading, an
// unknown entry kind, an unsorted membership or a zero term is corruption, and
// the log must be contiguous, start right after the snapshot and have
// non-decreasing terms (Log Matching, paper 5.3).
//
// Writes: stage() truncates by range deletion from entries.front().index to
// the end of the group's log on every ready. The store keeps no memory of the
// durable last index on purpose: a shell may stage several readies before one
// write (group commit), so any cached or read-back last index could be stale.
//
// Thread safety: as log_store.hpp (one owner per group); crc32c is pure.
#include "cluster/raft/log_store.hpp"

#include <array>
#include <limits>
#include <string>
#include <utility>

#include "command/keys.hpp"
#include "protocols/check.hpp"

namespace velocity::raft {

namespace {

// ------------------------------------------------------------------ crc32c

// Reflected Castagnoli polynomial (0x1EDC6F41 bit-reversed).
constexpr uint32_t crc32c_polynomial = 0x82F63B78u;
// Slicing-by-8: eight 256-entry tables, table[k][b] is the CRC of byte b
// followed by k zero bytes, so eight input bytes cost eight lookups and no
// per-bit loop. Log entries are checksummed on every write and load.
constexpr size_t crc32c_slices = 8;
using crc32c_tables = std::array<std::array<uint32_t, 256>, crc32c_slices>;

constexpr crc32c_tables make_crc32c_tables() {
  crc32c_tables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? crc32c_polynomial : 0u);
    tables[0][byte] = crc;
  }
  for (size_t slice = 1; slice < crc32c_slices; ++slice) {
    for (size_t byte = 0; byte < 256; ++byte) {
      const uint32_t previous = tables[slice - 1][byte];
      tables[slice][byte] = (previous >> 8) ^ tables[0][previous & 0xffu];
    }
  }
  return tables;
}

constexpr crc32c_tables crc32c_table = make_crc32c_tables();

uint32_t load_le32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// ------------------------------------------------------------------ keys

constexpr std::string_view hard_suffix = "hard";
constexpr std::string_view snap_suffix = "snap";
constexpr size_t crc_bytes = 4;
constexpr size_t log_key_bytes = 4 + 8;
constexpr size_t hard_value_bytes = crc_bytes + 3 * 8;
constexpr size_t entry_header_bytes = crc_bytes + 8 + 1;
constexpr index_t index_max = std::numeric_limits<index_t>::max();

std::string log_key(uint32_t group, index_t index) {
  std::string key = keys::shard_prefix(group);
  keys::append_u64(key, index);
  return key;
}

std::string state_key(uint32_t group, std::string_view suffix) {
  std::string key = keys::shard_prefix(group);
  key.append(suffix);
  return key;
}

std::string describe_log_key(uint32_t group, index_t index) {
  return "raft_log key (group " + std::to_string(group) + ", index " + std::to_string(index) + ")";
}

std::string describe_state_key(uint32_t group, std::string_view suffix) {
  return "raft_state key (group " + std::to_string(group) + ", \"" + std::string{suffix} + "\")";
}

status corrupt(const std::string& key_name, const std::string& problem) {
  return status{error_code::corruption, key_name + ": " + problem};
}

// ------------------------------------------------------------------ encoding

// Values are built as a 4-byte placeholder followed by the body; seal()
// fills the placeholder with the crc of key + body (one buffer, no copy).
std::string unsealed_value(size_t body_bytes) {
  std::string value;
  value.reserve(crc_bytes + body_bytes);
  value.append(crc_bytes, '\0');
  return value;
}

std::string seal(std::string_view key, std::string value) {
  const std::string_view body = std::string_view{value}.substr(crc_bytes);
  std::string crc;
  keys::append_u32(crc, crc32c(body, crc32c(key)));
  value.replace(0, crc_bytes, crc);
  return value;
}

void append_ids(std::string& out, const std::vector<node_id>& ids) {
  VELOCITY_CHECK_LE(ids.size(), size_t{std::numeric_limits<uint32_t>::max()});
  keys::append_u32(out, static_cast<uint32_t>(ids.size()));
  for (node_id id : ids) keys::append_u64(out, id);
}

std::string encode_entry_value(std::string_view key, const entry& e) {
  std::string value = unsealed_value(entry_header_bytes - crc_bytes + e.data.size());
  keys::append_u64(value, e.term);
  value.push_back(static_cast<char>(e.kind));
  value.append(e.data);
  return seal(key, std::move(value));
}

std::string encode_hard_value(std::string_view key, const hard_state& hard) {
  std::string value = unsealed_value(hard_value_bytes - crc_bytes);
  keys::append_u64(value, hard.term);
  keys::append_u64(value, hard.vote);
  keys::append_u64(value, hard.commit);
  return seal(key, std::move(value));
}

std::string encode_snapshot_value(std::string_view key, const snapshot& snap) {
  const size_t ids = snap.meta.conf.voters.size() + snap.meta.conf.learners.size();
  std::string value = unsealed_value(2 * 8 + 2 * 4 + ids * 8 + snap.data.size());
  keys::append_u64(value, snap.meta.index);
  keys::append_u64(value, snap.meta.term);
  append_ids(value, snap.meta.conf.voters);
  append_ids(value, snap.meta.conf.learners);
  value.append(snap.data);
  return seal(key, std::move(value));
}

// ------------------------------------------------------------------ decoding

// A bounds-checked cursor over bytes read from the engine.
class reader {
 public:
  explicit reader(std::string_view bytes) : bytes_(bytes) {}

  bool read_u8(uint8_t& out) {
    if (bytes_.size() < 1) return false;
    out = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool read_u32(uint32_t& out) {
    uint64_t wide = 0;
    if (!read_big_endian(4, wide)) return false;
    out = static_cast<uint32_t>(wide);
    return true;
  }
  bool read_u64(uint64_t& out) { return read_big_endian(8, out); }
  std::string_view rest() const { return bytes_; }

 private:
  bool read_big_endian(size_t width, uint64_t& out) {
    if (bytes_.size() < width) return false;
    out = 0;
    for (size_t i = 0; i < width; ++i) out = (out << 8) | static_cast<uint8_t>(bytes_[i]);
    bytes_.remove_prefix(width);
    return true;
  }

  std::string_view bytes_;
};

// The value's body after a verified crc, or corruption naming key_name.
status_or<std::string_view> unseal(std::string_view key, std::string_view value,
                                   const std::string& key_name) {
  reader in{value};
  uint32_t stored = 0;
  if (!in.read_u32(stored))
    return corrupt(key_name, "value of " + std::to_string(value.size()) +
                                 " bytes is shorter than its checksum");
  const uint32_t computed = crc32c(in.rest(), crc32c(key));
  if (stored != computed) return corrupt(key_name, "checksum mismatch");
  return in.rest();
}

bool read_ids(reader& in, std::vector<node_id>& out) {
  uint32_t count = 0;
  if (!in.read_u32(count)) return false;
  // Check the count against the bytes left before reserving: a corrupt count
  // must not make us allocate gigabytes.
  if (in.rest().size() / 8 < count) return false;
  out.resize(count);
  for (node_id& id : out) (void)in.read_u64(id);
  return true;
}

status_or<hard_state> decode_hard(std::string_view key, std::string_view value,
                                  const std::string& key_name) {
  if (value.size() != hard_value_bytes)
    return corrupt(key_name, "hard state value has " + std::to_string(value.size()) +
                                 " bytes, expected " + std::to_string(hard_value_bytes));
  auto body = unseal(key, value, key_name);
  if (!body.ok()) return body.error();
  reader in{*body};
  hard_state hard;
  (void)in.read_u64(hard.term);
  (void)in.read_u64(hard.vote);
  (void)in.read_u64(hard.commit);
  return hard;
}

status_or<snapshot> decode_snapshot(std::string_view key, std::string_view value,
                                    const std::string& key_name) {
  auto body = unseal(key, value, key_name);
  if (!body.ok()) return body.error();
  reader in{*body};
  snapshot snap;
  if (!in.read_u64(snap.meta.index) || !in.read_u64(snap.meta.term) ||
      !read_ids(in, snap.meta.conf.voters) || !read_ids(in, snap.meta.conf.learners))
    return corrupt(key_name, "snapshot value is truncated");
  if (!well_formed(snap.meta.conf))
    return corrupt(key_name, "snapshot membership is not sorted, unique and disjoint");
  if ((snap.meta.index == 0) != (snap.meta.term == 0))
    return corrupt(key_name, "snapshot index " + std::to_string(snap.meta.index) +
                                 " with term " + std::to_string(snap.meta.term));
  snap.data.assign(in.rest());
  return snap;
}

status_or<entry> decode_entry(std::string_view key, std::string_view value, index_t index,
                              const std::string& key_name) {
  if (value.size() < entry_header_bytes)
    return corrupt(key_name, "entry value of " + std::to_string(value.size()) +
                                 " bytes is shorter than its header");
  auto body = unseal(key, value, key_name);
  if (!body.ok()) return body.error();
  reader in{*body};
  entry e;
  e.index = index;
  uint8_t kind = 0;
  (void)in.read_u64(e.term);
  (void)in.read_u8(kind);
  if (kind > static_cast<uint8_t>(entry_kind::conf_change))
    return corrupt(key_name, "unknown entry kind " + std::to_string(kind));
  if (e.term == 0) return corrupt(key_name, "entry has term 0");
  e.kind = static_cast<entry_kind>(kind);
  e.data.assign(in.rest());
  return e;
}

}  // namespace

uint32_t crc32c(std::string_view bytes, uint32_t seed) {
  const auto& t = crc32c_table;
  uint32_t crc = ~seed;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  while (n >= crc32c_slices) {
    const uint32_t low = crc ^ load_le32(p);
    const uint32_t high = load_le32(p + 4);
    crc = t[7][low & 0xffu] ^ t[6][(low >> 8) & 0xffu] ^ t[5][(low >> 16) & 0xffu] ^
          t[4][low >> 24] ^ t[3][high & 0xffu] ^ t[2][(high >> 8) & 0xffu] ^
          t[1][(high >> 16) & 0xffu] ^ t[0][high >> 24];
    p += crc32c_slices;
    n -= crc32c_slices;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xffu];
  return ~crc;
}

log_store::log_store(engine& e, uint32_t group) : engine_(e), group_(group) {
  // keys::shard_prefix reserves 0xffffffff (its range end would be unbounded).
  VELOCITY_CHECK(group != 0xffffffffu);
}

namespace {

// Reads the group's log in index order and checks it follows `snap`
// contiguously with non-decreasing terms.
status read_log(engine& e, uint32_t group, const snapshot_meta& snap,
                std::vector<entry>& out) {
  const std::string prefix = keys::shard_prefix(group);
  scan_options options;
  options.lower = prefix;
  options.upper = keys::range_end(prefix);
  auto it = e.scan(column::raft_log, options);
  index_t expected = snap.index + 1;
  term_t last_term = snap.term;
  for (; it->valid(); it->next()) {
    const std::string_view key = it->key();
    if (key.size() != log_key_bytes)
      return corrupt("raft_log key " + keys::to_hex(key) + " (group " + std::to_string(group) + ")",
                     "key has " + std::to_string(key.size()) + " bytes, expected " +
                         std::to_string(log_key_bytes));
    const index_t index = *keys::decode_u64(key.substr(4));
    const std::string key_name = describe_log_key(group, index);
    if (index != expected) {
      if (out.empty())
        return corrupt(key_name, "the first entry must be index " + std::to_string(expected) +
                                     " (right after snapshot index " +
                                     std::to_string(snap.index) + ")");
      return corrupt(key_name, "gap in the log: index " + std::to_string(expected) +
                                   " is missing");
    }
    auto decoded = decode_entry(key, it->value(), index, key_name);
    if (!decoded.ok()) return decoded.error();
    if (decoded->term < last_term)
      return corrupt(key_name, "term " + std::to_string(decoded->term) +
                                   " is below the previous term " + std::to_string(last_term));
    last_term = decoded->term;
    out.push_back(std::move(decoded).value());
    ++expected;
  }
  return it->error();
}

// Reads one raft_state value: nullopt when absent.
status_or<std::optional<std::string>> read_state_value(engine& e, const std::string& key) {
  std::string value;
  status got = e.get(column::raft_state, key, value);
  if (got.code() == error_code::not_found) return std::optional<std::string>{};
  if (!got.ok()) return got;
  return std::optional<std::string>{std::move(value)};
}

}  // namespace

status_or<durable_state> log_store::load() const {
  durable_state state;
  const std::string hard_key = state_key(group_, hard_suffix);
  const std::string snap_key = state_key(group_, snap_suffix);
  auto hard_value = read_state_value(engine_, hard_key);
  if (!hard_value.ok()) return hard_value.error();
  if (*hard_value) {
    auto hard = decode_hard(hard_key, **hard_value, describe_state_key(group_, hard_suffix));
    if (!hard.ok()) return hard.error();
    state.hard = *hard;
  }
  auto snap_value = read_state_value(engine_, snap_key);
  if (!snap_value.ok()) return snap_value.error();
  if (*snap_value) {
    auto snap = decode_snapshot(snap_key, **snap_value, describe_state_key(group_, snap_suffix));
    if (!snap.ok()) return snap.error();
    state.snap = std::move(snap).value();
  }
  if (status log = read_log(engine_, group_, state.snap.meta, state.entries); !log.ok())
    return log;
  const index_t last = state.entries.empty() ? state.snap.meta.index : state.entries.back().index;
  if (state.hard.commit > last)
    return corrupt(describe_state_key(group_, hard_suffix),
                   "commit index " + std::to_string(state.hard.commit) +
                       " is beyond the last durable index " + std::to_string(last));
  return state;
}

void log_store::stage(const ready& rd, write_batch& batch) {
  const std::string prefix = keys::shard_prefix(group_);
  if (rd.snap) {
    const snapshot_meta& meta = rd.snap->meta;
    VELOCITY_CHECK(well_formed(meta.conf));
    const std::string key = state_key(group_, snap_suffix);
    batch.put(column::raft_state, key, encode_snapshot_value(key, *rd.snap));
    // A leader's snapshot replaces the whole log (entries above it may
    // conflict with the leader's); a local compaction keeps what follows.
    const bool drop_all = rd.snapshot_from_leader || meta.index == index_max;
    batch.erase_range(column::raft_log, prefix,
                      drop_all ? keys::range_end(prefix) : log_key(group_, meta.index + 1));
    // Emptied: the next entry follows the snapshot.
    if (drop_all) last_staged_ = meta.index;
  }
  if (!rd.entries.empty()) {
    const index_t first = rd.entries.front().index;
    VELOCITY_CHECK(first > 0);
    if (rd.snap) VELOCITY_CHECK_LT(rd.snap->meta.index, first);
    // Truncate from `first` on when entries there may conflict (paper 5.3);
    // an append right after the last entry has nothing to truncate.
    if (!last_staged_ || first <= *last_staged_)
      batch.erase_range(column::raft_log, log_key(group_, first), keys::range_end(prefix));
    last_staged_ = rd.entries.back().index;
    for (size_t i = 0; i < rd.entries.size(); ++i) {
      const entry& e = rd.entries[i];
      VELOCITY_CHECK_EQ(e.index, first + i);  // contiguous, as the contract promises
      const std::string key = log_key(group_, e.index);
      batch.put(column::raft_log, key, encode_entry_value(key, e));
    }
  }
  if (rd.hard) {
    const std::string key = state_key(group_, hard_suffix);
    batch.put(column::raft_state, key, encode_hard_value(key, *rd.hard));
  }
}

status log_store::persist(const ready& rd) {
  write_batch batch;
  stage(rd, batch);
  if (batch.empty()) return rd.must_sync ? engine_.sync() : status{};
  return engine_.write(batch, write_options{.sync = rd.must_sync});
}

void log_store::stage_destroy(write_batch& batch) {
  last_staged_.reset();
  const std::string prefix = keys::shard_prefix(group_);
  const std::string end = keys::range_end(prefix);
  batch.erase_range(column::raft_log, prefix, end);
  batch.erase_range(column::raft_state, prefix, end);
}

}  // namespace velocity::raft
