// Key layout of the document state machine inside the engine's columns: the
// document and index keys, and the byte helpers they are built with.
//
// It lives in command/ (not storage/) because it is part of the command
// vocabulary: a list reply's cursor is a document or index key without its
// shard prefix, and router/list_merge rebuilds a shard's cursor from a
// document byte for byte. One definition serves the state machine (through
// storage/keys.hpp, which adds the state machine's own meta keys) and the
// router. Pure: no engine, no RocksDB.
//
// Every key starts with the 4-byte big-endian shard id, so one shard is one
// contiguous range in every column (a shard can be snapshotted, moved or
// dropped as one range). Names are written with encode_key_string, which
// self-delimits them: "jobs" never prefixes "jobs2", so a scan of one
// collection or index never strays into another.
//
//   column::documents  shard | name(collection) | document name
//                        -> encode_document(doc)
//     The document name (document_name below) comes last and raw: documents
//     sort by id bytes, and an id prefix is a byte prefix (list by id prefix
//     is one range scan).
//   column::indexes    shard | name(collection) | name(index) | encode_key_tuple(values)
//                        | document name  -> document name
//     The tuple encoding is order preserving and self-delimiting, so entries
//     sort by (index values, id) and a tuple prefix is a byte prefix (index
//     ranges are byte ranges). The document name is the value too, so readers
//     need not parse keys; a count is a keys-only scan.
//
// The document name is the id in a collection partitioned by id, and
// id | 0x00 | encode_key_part(partition value) in a collection partitioned by
// a field, where the pair (partition value, id) names a document and one id
// may exist once per partition (docs/data-model.md, "Partitions"). Ids never
// contain 0x00 (the state machine refuses them), so the name still sorts by
// id first (0x00 is the smallest byte), an id prefix is still a byte prefix,
// and the id is the name up to its first 0x00.
//   column::meta       the state machine's bookkeeping (storage/keys.hpp).
//
// Schemas are documents of the system collection "_schemas" (id = collection
// name), stored like any other document so they replicate through the log.
// "_schemas" keeps no counter and no index entries.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/schema.hpp"
#include "schema/value.hpp"

namespace velocity::keys {

// Big-endian fixed-width integers: byte order equals numeric order.
void append_u32(std::string& out, uint32_t x);
void append_u64(std::string& out, uint64_t x);
std::string encode_u64(uint64_t x);
// nullopt unless bytes is exactly 8 bytes.
std::optional<uint64_t> decode_u64(std::string_view bytes);

std::string shard_prefix(uint32_t shard);

// A document's name (above). partition == nullptr: the collection is
// partitioned by id. The state machine stores no id holding 0x00 (such an
// id would make the name ambiguous; it is not asserted, since stored data is
// input).
std::string document_name(std::string_view id, const value* partition);
std::string document_name(const collection_schema& schema, std::string_view id,
                          const value_map& fields);
// The id in a document name (up to its first 0x00).
std::string_view id_of_name(std::string_view name);
// The encoded partition value in a document name; empty for a name without one.
std::string_view partition_of_name(std::string_view name);

// column::documents
std::string collection_prefix(uint32_t shard, std::string_view collection);
std::string document_key(uint32_t shard, std::string_view collection, std::string_view name);

// column::indexes
std::string index_collection_prefix(uint32_t shard, std::string_view collection);
std::string index_prefix(uint32_t shard, std::string_view collection, std::string_view index);
// The index prefix followed by the encoded tuple (used for unique checks and ranges).
std::string index_tuple_prefix(uint32_t shard, std::string_view collection,
                               std::string_view index, const std::vector<value>& tuple);
std::string index_key(uint32_t shard, std::string_view collection, std::string_view index,
                      const std::vector<value>& tuple, std::string_view name);

// The exclusive upper bound of every key starting with prefix. prefix_successor
// is empty only for an all-0xff prefix, which cannot occur after a 4-byte shard
// id below 0xffffffff; shard 0xffffffff is reserved for that reason.
std::string range_end(std::string_view prefix);

// Lower-case hex, for opaque cursors.
std::string to_hex(std::string_view bytes);
// nullopt on odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace velocity::keys
