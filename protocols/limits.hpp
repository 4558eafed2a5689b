// Named limits, each with the reason for its value. Every queue, batch, document
// and string in the system is bounded by one of these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace velocity::limits {

// A document's encoded size. Coordination data is small; 1 MiB keeps one Raft
// entry, one RocksDB value and one frame comfortably bounded (etcd: 1.5 MiB).
inline constexpr size_t document_bytes_max = 1 << 20;

// JSON text accepted at the human edges: a document plus generous syntax overhead.
inline constexpr size_t json_text_bytes_max = 4 << 20;

// Nesting of lists and maps. Deep enough for any sane document; shallow enough
// that recursive code cannot exhaust the stack.
inline constexpr size_t nesting_depth_max = 64;

// One string or bytes value inside a document.
inline constexpr size_t string_bytes_max = document_bytes_max;

// List elements plus map entries in one value or document. Honestly encoded,
// each costs at least two Cap'n Proto words (16 bytes), so this is what
// document_bytes_max can hold; decoders count before building, because Cap'n
// Proto lets a list of zero-sized elements cost almost nothing on the wire.
inline constexpr size_t values_per_document_max = document_bytes_max / 16;

// Document ids and field names travel in every key; keep keys short.
inline constexpr size_t id_bytes_max = 256;
inline constexpr size_t field_name_bytes_max = 256;
inline constexpr size_t collection_name_bytes_max = 128;
inline constexpr size_t index_name_bytes_max = 128;
// A document's partition value, key-encoded: it travels in the document's key
// and in each of its index keys (command/keys.hpp, document_name).
inline constexpr size_t partition_value_bytes_max = 1024;

// Schema shape.
inline constexpr size_t schema_fields_max = 1024;
inline constexpr size_t indexes_per_collection_max = 32;
inline constexpr size_t index_fields_max = 8;

// An index key (all encoded components plus the id) stays small so index scans
// stay cheap.
inline constexpr size_t index_key_bytes_max = 4096;

// One list/count page. Lists are resumable with a cursor rather than long.
inline constexpr uint32_t list_limit_max = 10000;
inline constexpr uint32_t list_limit_default = 100;

// A claim that walks this many index entries without a match answers with an
// error instead of "none", so "none" always means "nothing eligible".
inline constexpr size_t claim_scan_entries_max = 100000;

// Filter conditions in one claim or compare-and-swap.
inline constexpr size_t filter_conditions_max = 64;

// Cap'n Proto decode of stored or received documents: traversal limit in words
// (8 bytes each) and nesting, checked before any field is read. Cap'n Proto
// spends up to three nesting levels per map level (pointer, list, struct), so
// the nesting limit is three times ours plus room for the envelope; our own
// depth check then enforces nesting_depth_max exactly.
inline constexpr uint64_t capnp_traversal_words_max = (document_bytes_max / 8) * 4;
inline constexpr int capnp_nesting_max = static_cast<int>(3 * nesting_depth_max) + 8;

}  // namespace velocity::limits
