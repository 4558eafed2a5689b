// Fan-out and merge of list, count and claim replies; see
// router/list_merge.hpp for the guarantees and the cursor format.
#include "router/list_merge.hpp"

#include <queue>

#include "command/keys.hpp"
#include "protocols/limits.hpp"
#include "router/placement.hpp"
#include "schema/key_encoding.hpp"

namespace velocity {

namespace {

constexpr char cursor_magic = 'M';
constexpr uint8_t cursor_version = 1;
constexpr size_t check_bytes = 4;

reply failure(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

status bad_cursor(std::string_view why) {
  return {error_code::invalid_argument, "list cursor is not valid here: " + std::string{why}};
}

uint32_t check_of(std::string_view payload) { return static_cast<uint32_t>(stable_hash(payload)); }

// Reads the big-endian fields of a decoded cursor; every read is bounds-checked.
struct byte_reader {
  std::string_view rest;

  bool u8(uint8_t& out) {
    if (rest.empty()) return false;
    out = static_cast<uint8_t>(rest.front());
    rest.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t& out) {
    if (rest.size() < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) out = (out << 8) | static_cast<uint8_t>(rest[static_cast<size_t>(i)]);
    rest.remove_prefix(4);
    return true;
  }
  bool text(size_t size, std::string& out) {
    if (rest.size() < size) return false;
    out.assign(rest.substr(0, size));
    rest.remove_prefix(size);
    return true;
  }
};

status_or<shard_list_position> decode_position(byte_reader& in) {
  uint8_t state = 0;
  if (!in.u8(state)) return bad_cursor("truncated");
  if (state == static_cast<uint8_t>(shard_list_state::start)) return shard_list_position{};
  if (state == static_cast<uint8_t>(shard_list_state::done)) {
    return shard_list_position{shard_list_state::done, {}};
  }
  if (state != static_cast<uint8_t>(shard_list_state::resume)) return bad_cursor("unknown shard state");
  uint32_t size = 0;
  shard_list_position position{shard_list_state::resume, {}};
  if (!in.u32(size) || size == 0 || size > shard_cursor_chars_max || !in.text(size, position.cursor)) {
    return bad_cursor("bad shard cursor");
  }
  return position;
}

// The engine key of doc in this list without its shard prefix: documents sort
// by it in every shard, and the shard's cursor is built from it.
std::string list_key(const cmd::list& c, const collection_schema& schema, const index_spec* index,
                     const document& doc) {
  const size_t shard_bytes = keys::shard_prefix(0).size();
  const std::string name = keys::document_name(schema, doc.id, doc.fields);
  if (index == nullptr) return keys::document_key(0, c.collection, name).substr(shard_bytes);
  return keys::index_key(0, c.collection, index->name, index_values(*index, doc.fields), name)
      .substr(shard_bytes);
}

std::string cursor_from_key(const cmd::list& c, std::string_view key) {
  std::string raw(1, c.range ? 'i' : 'd');  // the state machine's tags
  raw.append(key);
  return keys::to_hex(raw);
}

status_or<const index_spec*> list_index(const cmd::list& c, const collection_schema& schema) {
  if (!c.range) return static_cast<const index_spec*>(nullptr);
  const index_spec* index = schema.find_index(c.range->index);
  if (index == nullptr) {
    return status{error_code::invalid_argument,
                  "index '" + c.range->index + "' does not exist in collection " + schema.collection};
  }
  return index;
}

// True if key a comes before key b in the list's direction.
bool before(const cmd::list& c, const std::string& a, const std::string& b) {
  return c.descending ? b < a : a < b;
}

// Every page's keys, checked to be strictly in the list's order (a shard that
// answers out of order would make the merge repeat or skip documents).
status_or<std::vector<std::vector<std::string>>> page_keys(const cmd::list& c,
                                                           const collection_schema& schema,
                                                           const index_spec* index,
                                                           const list_fan_out& fan_out,
                                                           const std::vector<reply>& pages) {
  std::vector<std::vector<std::string>> out(pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    for (const document& doc : pages[i].docs) {
      std::string key = list_key(c, schema, index, doc);
      if (!out[i].empty() && !before(c, out[i].back(), key)) {
        return status{error_code::internal, "shard " + std::to_string(fan_out.requests[i].shard) +
                                                " answered a list page out of order"};
      }
      out[i].push_back(std::move(key));
    }
  }
  return out;
}

// Where a shard stands after `taken` of its page's documents went out.
shard_list_position advance(const cmd::list& c, const shard_list_position& before_page, const reply& page,
                            const std::vector<std::string>& keys, size_t taken) {
  if (taken == 0 && !page.docs.empty()) return before_page;
  if (taken == page.docs.size()) {
    if (page.next_cursor.empty()) return {shard_list_state::done, {}};
    return {shard_list_state::resume, page.next_cursor};
  }
  return {shard_list_state::resume, cursor_from_key(c, keys[taken - 1])};
}

}  // namespace

composite_cursor initial_composite_cursor(uint32_t shard_count) {
  composite_cursor cursor;
  cursor.shards.resize(shard_count);
  return cursor;
}

std::string encode_composite_cursor(const composite_cursor& cursor) {
  bool all_done = true;
  for (const auto& position : cursor.shards) all_done = all_done && position.state == shard_list_state::done;
  if (all_done) return {};
  std::string raw(1, cursor_magic);
  raw.push_back(static_cast<char>(cursor_version));
  keys::append_u32(raw, static_cast<uint32_t>(cursor.shards.size()));
  for (const auto& position : cursor.shards) {
    raw.push_back(static_cast<char>(position.state));
    if (position.state != shard_list_state::resume) continue;
    VELOCITY_CHECK(!position.cursor.empty());
    keys::append_u32(raw, static_cast<uint32_t>(position.cursor.size()));
    raw.append(position.cursor);
  }
  keys::append_u32(raw, check_of(raw));
  return keys::to_hex(raw);
}

status_or<composite_cursor> decode_composite_cursor(std::string_view text, uint32_t shard_count) {
  if (text.empty()) return initial_composite_cursor(shard_count);
  const size_t text_chars_max = 2 * (16 + size_t{shard_count} * (5 + shard_cursor_chars_max));
  if (text.size() > text_chars_max) return bad_cursor("too long");
  auto raw = keys::from_hex(text);
  if (!raw || raw->size() < 2 + 4 + check_bytes) return bad_cursor("not a list cursor");
  byte_reader check_reader{std::string_view{*raw}.substr(raw->size() - check_bytes)};
  uint32_t check = 0;
  std::string_view payload = std::string_view{*raw}.substr(0, raw->size() - check_bytes);
  if (!check_reader.u32(check) || check != check_of(payload)) return bad_cursor("damaged");
  byte_reader in{payload};
  uint8_t magic = 0;
  uint8_t version = 0;
  uint32_t shards = 0;
  if (!in.u8(magic) || !in.u8(version) || !in.u32(shards) || magic != cursor_magic ||
      version != cursor_version) {
    return bad_cursor("not a list cursor of this version");
  }
  if (shards != shard_count) {
    return bad_cursor("made for " + std::to_string(shards) + " shards, this node has " +
                      std::to_string(shard_count));
  }
  composite_cursor cursor;
  for (uint32_t i = 0; i < shards; ++i) {
    auto position = decode_position(in);
    if (!position.ok()) return position.error();
    cursor.shards.push_back(std::move(position.value()));
  }
  if (!in.rest.empty()) return bad_cursor("trailing bytes");
  return cursor;
}

status_or<list_fan_out> begin_list_fan_out(const cmd::list& c, uint32_t shard_count) {
  VELOCITY_CHECK(shard_count > 0);
  if (c.limit > limits::list_limit_max) {
    return status{error_code::invalid_argument,
                  "list limit " + std::to_string(c.limit) + " is larger than the maximum of " +
                      std::to_string(limits::list_limit_max) + "; page with the cursor instead"};
  }
  auto cursor = decode_composite_cursor(c.cursor, shard_count);
  if (!cursor.ok()) return cursor.error();
  list_fan_out out;
  out.limit = c.limit == 0 ? limits::list_limit_default : c.limit;
  out.cursor = std::move(cursor.value());
  for (uint32_t shard = 0; shard < shard_count; ++shard) {
    const auto& position = out.cursor.shards[shard];
    if (position.state == shard_list_state::done) continue;
    shard_list_request request{shard, c};
    request.list.limit = out.limit;
    request.list.cursor = position.cursor;
    out.requests.push_back(std::move(request));
  }
  return out;
}

status_or<std::string> shard_cursor_after(const cmd::list& c, const collection_schema& schema,
                                          const document& doc) {
  auto index = list_index(c, schema);
  if (!index.ok()) return index.error();
  return cursor_from_key(c, list_key(c, schema, *index, doc));
}

reply merge_list_pages(const cmd::list& c, const collection_schema& schema, const list_fan_out& fan_out,
                       const std::vector<reply>& pages) {
  VELOCITY_CHECK_EQ(pages.size(), fan_out.requests.size());
  for (const reply& page : pages) {
    if (!page.ok()) return failure(page.st);
  }
  auto index = list_index(c, schema);
  if (!index.ok()) return failure(index.error());
  auto keys_or = page_keys(c, schema, *index, fan_out, pages);
  if (!keys_or.ok()) return failure(keys_or.error());
  const auto& keys = keys_or.value();
  // A heap of the pages with documents left, ordered by each page's next
  // document; ties (impossible between shards, which hold disjoint
  // documents) go to the lower shard.
  std::vector<size_t> taken(pages.size(), 0);
  auto head_later = [&](size_t a, size_t b) {
    if (keys[a][taken[a]] == keys[b][taken[b]]) return a > b;
    return before(c, keys[b][taken[b]], keys[a][taken[a]]);
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(head_later)> heads{head_later};
  for (size_t i = 0; i < pages.size(); ++i) {
    if (!keys[i].empty()) heads.push(i);
  }
  reply out;
  while (out.docs.size() < fan_out.limit && !heads.empty()) {
    const size_t i = heads.top();
    heads.pop();
    out.docs.push_back(pages[i].docs[taken[i]]);
    if (++taken[i] < keys[i].size()) heads.push(i);
  }
  composite_cursor next = fan_out.cursor;
  for (size_t i = 0; i < pages.size(); ++i) {
    auto& position = next.shards[fan_out.requests[i].shard];
    position = advance(c, position, pages[i], keys[i], taken[i]);
  }
  out.next_cursor = encode_composite_cursor(next);
  return out;
}

reply sum_counts(const std::vector<reply>& replies) {
  reply out;
  for (const reply& r : replies) {
    if (!r.ok()) return failure(r.st);
    out.count += r.count;
  }
  return out;
}

claim_fan_out::claim_fan_out(uint32_t shard_count) : shard_count_(shard_count) {
  VELOCITY_CHECK(shard_count > 0);
}

uint32_t claim_fan_out::next_shard() const {
  VELOCITY_CHECK(!finished_);
  return next_shard_;
}

void claim_fan_out::on_reply(reply r) {
  VELOCITY_CHECK(!finished_);
  ++next_shard_;
  if (!r.ok() || r.claimed || next_shard_ == shard_count_) {
    finished_ = true;
    result_ = std::move(r);
  }
}

const reply& claim_fan_out::result() const {
  VELOCITY_CHECK(finished_);
  return result_;
}

}  // namespace velocity
