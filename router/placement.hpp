// Shard choice: which shard(s) a command goes to.
//
// A document lives on shard_of(partition value, shard_count), where the
// partition value is the document's partition key field (the schema's
// partition_key) or, when the collection is partitioned by id, the id itself as
// a string value. The hash is FNV-1a over encode_key_part(value) followed by a
// 64-bit finalizer (FNV-1a alone keeps low bits depending only on low input
// bits, which would clump keys under a power-of-two shard count). The hash is
// a storage format: changing it moves every document, so tests pin its values.
// Because equal values share one key encoding, int 2 and float 2.0 land on the
// same shard, exactly as a unique index treats them as one key.
//
// A plan never depends on shard_count for validation: a request that would be
// refused with 8 shards is refused with 1, so applications keep working when a
// deployment grows.
//
// Thread safety: pure functions.
// Invariant: for every document stored by a write planned here, shard_of(its
// partition value) is the shard it was sent to (update, CAS and replace may
// not change the partition value; the plan refuses them).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "command/commands.hpp"
#include "protocols/error.hpp"
#include "schema/schema.hpp"
#include "schema/value.hpp"

namespace velocity {

// Bounds the fan-out of a single request and the size of a composite cursor.
inline constexpr uint32_t shard_count_max = 1024;

// 64-bit FNV-1a of bytes with a final avalanche step. Stable forever.
uint64_t stable_hash(std::string_view bytes);

// stable_hash(encode_key_part(partition)).
uint64_t partition_hash(const value& partition);

// REQUIRES: 0 < shard_count <= shard_count_max.
uint32_t shard_of(const value& partition, uint32_t shard_count);

// How a collection is partitioned, taken from its schema.
struct partitioning {
  std::string collection;
  std::string key;                     // dotted field path; empty = the document id
  std::optional<value> default_value;  // the schema's default for key, if any
  // Index name -> its first field: a range over an index that starts with the
  // partition key and fixes that component lives on one shard.
  std::map<std::string, std::string, std::less<>> index_first_field;
};

// REQUIRES: the schema is valid (validate_schema).
partitioning partitioning_of(const collection_schema& schema);

// By id, for a collection the router has no schema for (the shard then answers
// unknown_collection for data commands).
partitioning partitioning_by_id(std::string collection);

// The partition value a document with these fields has once stored: the key
// field unless absent or null, else the schema default, else null (the same
// rule as schema.hpp's partition_value, which the shard names documents by).
// For id partitioning, the id.
value partition_value_of(const partitioning& p, std::string_view id, const value_map& fields);

enum class route_kind : uint8_t {
  single,          // send to `shard`, answer its reply
  list_merge,      // every shard; merge the pages (router/list_merge.hpp)
  count_sum,       // every shard; sum the counts
  claim_in_order,  // shards 0, 1, ... one at a time until one claims
  broadcast,       // every shard (schema changes); merged by router/schema_broadcast.hpp
};

std::string_view to_string(route_kind kind);

struct route_plan {
  route_kind kind = route_kind::single;
  uint32_t shard = 0;  // route_kind::single only
  friend bool operator==(const route_plan&, const route_plan&) = default;
};

// The plan for one command. `partition` is the partition value the client
// passed with the request (client_request::partition), if any. Failures:
//   invalid_argument  get/update/delete/CAS on a collection partitioned by a
//                     field without a partition value ("collection jobs is
//                     partitioned by 'colony'; pass its value"); a partition
//                     value that contradicts the document or the range; an
//                     update, CAS or replace that would change the partition
//                     value; an insert without an id (generate it first).
// With shard_count 1 every accepted plan is {single, 0}.
// List, count and claim with a partition value but a range that does not pin
// the partition key go to that value's shard only, and the router passes the
// value on (cmd::*::partition): the shard then answers with that partition's
// documents only, never those of another partition hashed to the same shard.
// Get, update, delete and CAS carry it too: a document is named by (partition
// value, id), so a wrong partition value finds nothing (command/commands.hpp).
// REQUIRES: 0 < shard_count <= shard_count_max; p.collection names the command's collection.
status_or<route_plan> plan_route(const command& c, const partitioning& p,
                                 const std::optional<value>& partition, uint32_t shard_count);

}  // namespace velocity
