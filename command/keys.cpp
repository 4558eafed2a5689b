// Key layout helpers of the document state machine (layout and reasons in
// command/keys.hpp). Thread safety: pure functions.
#include "command/keys.hpp"

#include "protocols/check.hpp"
#include "schema/key_encoding.hpp"

namespace velocity::keys {

void append_u32(std::string& out, uint32_t x) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((x >> shift) & 0xff));
}

void append_u64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((x >> shift) & 0xff));
}

std::string encode_u64(uint64_t x) {
  std::string out;
  append_u64(out, x);
  return out;
}

std::optional<uint64_t> decode_u64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t x = 0;
  for (char c : bytes) x = (x << 8) | static_cast<uint8_t>(c);
  return x;
}

std::string shard_prefix(uint32_t shard) {
  // 0xffffffff would make range_end of the whole shard empty (unbounded).
  VELOCITY_CHECK(shard != 0xffffffffu);
  std::string out;
  append_u32(out, shard);
  return out;
}

std::string collection_prefix(uint32_t shard, std::string_view collection) {
  std::string out = shard_prefix(shard);
  encode_key_string(out, collection);
  return out;
}

std::string document_name(std::string_view id, const value* partition) {
  std::string out{id};
  if (partition == nullptr) return out;
  out.push_back('\0');
  encode_key_part(out, *partition);
  return out;
}

std::string document_name(const collection_schema& schema, std::string_view id,
                          const value_map& fields) {
  if (schema.partition_key.empty()) return document_name(id, nullptr);
  value partition = partition_value(schema, id, fields);
  return document_name(id, &partition);
}

std::string_view id_of_name(std::string_view name) { return name.substr(0, name.find('\0')); }

std::string_view partition_of_name(std::string_view name) {
  size_t end = name.find('\0');
  return end == std::string_view::npos ? std::string_view{} : name.substr(end + 1);
}

std::string document_key(uint32_t shard, std::string_view collection, std::string_view name) {
  std::string out = collection_prefix(shard, collection);
  out.append(name);
  return out;
}

std::string index_collection_prefix(uint32_t shard, std::string_view collection) {
  return collection_prefix(shard, collection);
}

std::string index_prefix(uint32_t shard, std::string_view collection, std::string_view index) {
  std::string out = collection_prefix(shard, collection);
  encode_key_string(out, index);
  return out;
}

std::string index_tuple_prefix(uint32_t shard, std::string_view collection,
                               std::string_view index, const std::vector<value>& tuple) {
  std::string out = index_prefix(shard, collection, index);
  encode_key_tuple(out, tuple);
  return out;
}

std::string index_key(uint32_t shard, std::string_view collection, std::string_view index,
                      const std::vector<value>& tuple, std::string_view name) {
  std::string out = index_tuple_prefix(shard, collection, index, tuple);
  out.append(name);
  return out;
}

std::string range_end(std::string_view prefix) {
  std::string end = prefix_successor(prefix);
  VELOCITY_CHECK(!end.empty());
  return end;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xf]);
  }
  return out;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = hex_digit(hex[i]);
    int low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>((high << 4) | low));
  }
  return out;
}

}  // namespace velocity::keys
