// Shard choice and routing plans; see router/placement.hpp.
#include "router/placement.hpp"

#include <variant>

#include "schema/key_encoding.hpp"

namespace velocity {

namespace {

constexpr uint64_t fnv_offset_basis = 0xcbf29ce484222325ULL;
constexpr uint64_t fnv_prime = 0x100000001b3ULL;

// A bijective 64-bit mixer (the MurmurHash3 finalizer constants): every input
// bit affects every output bit, so `hash % shard_count` spreads well for any
// shard count.
uint64_t avalanche(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

bool same(const value& a, const value& b) { return compare(a, b) == std::strong_ordering::equal; }

std::string quoted(std::string_view s) { return "'" + std::string{s} + "'"; }

status missing_partition(const partitioning& p, std::string_view op) {
  return {error_code::invalid_argument, "collection " + p.collection + " is partitioned by " +
                                            quoted(p.key) + "; pass its value with " + std::string{op}};
}

status contradicts(const partitioning& p, std::string_view what) {
  return {error_code::invalid_argument, "the partition value passed with the request contradicts " +
                                            std::string{what} + " (collection " + p.collection +
                                            " is partitioned by " +
                                            (p.key.empty() ? std::string{"id"} : quoted(p.key)) + ")"};
}

// The partition value of a document addressed by id: the id itself, or the
// value the client passed.
status_or<value> addressed_partition(const partitioning& p, std::string_view id,
                                     const std::optional<value>& partition, std::string_view op) {
  if (p.key.empty()) {
    if (partition && !(partition->is_string() && partition->as_string() == id)) {
      return contradicts(p, "the document id " + quoted(id));
    }
    return value{id};
  }
  if (!partition) return missing_partition(p, op);
  return *partition;
}

// Documents never move between shards: a patch must leave the partition key
// equal to the document's partition value (absent counts as null).
status patch_keeps_partition(const partitioning& p, const value& pinned, const value_map& patch,
                             std::string_view op, std::string_view id) {
  if (p.key.empty()) return {};  // ids never change
  value_map probe;
  VELOCITY_CHECK(set_path(probe, p.key, pinned));
  merge_patch(probe, patch);
  const value* after = find_path(probe, p.key);
  if (same(after == nullptr ? value{} : *after, pinned)) return {};
  return {error_code::invalid_argument, std::string{op} + " of " + p.collection + "/" + std::string{id} +
                                            " would change its partition key " + quoted(p.key) +
                                            "; a document never changes its partition"};
}

// The whole replacement decides the partition: it must be the pinned one.
status fields_keep_partition(const partitioning& p, const value& pinned, const value_map& fields,
                             std::string_view op, std::string_view id) {
  if (same(partition_value_of(p, id, fields), pinned)) return {};
  return {error_code::invalid_argument, std::string{op} + " of " + p.collection + "/" + std::string{id} +
                                            " would change its partition key " + quoted(p.key) +
                                            "; a document never changes its partition"};
}

// The partition an index range fixes, if any: the index starts with the
// partition key and both ends fix the same first component.
std::optional<value> range_pin(const partitioning& p, const index_range& range) {
  if (p.key.empty()) return std::nullopt;
  auto it = p.index_first_field.find(range.index);
  if (it == p.index_first_field.end() || it->second != p.key) return std::nullopt;
  if (!range.from || !range.to || range.from->empty() || range.to->empty()) return std::nullopt;
  if (!same(range.from->front(), range.to->front())) return std::nullopt;
  return range.from->front();
}

// List, count and claim: one shard when the range or the request pins the
// partition, else `fan_out` over every shard.
status_or<route_plan> plan_scan(const partitioning& p, const std::optional<index_range>& range,
                                const std::optional<value>& partition, uint32_t shard_count,
                                route_kind fan_out) {
  std::optional<value> pin = range ? range_pin(p, *range) : std::nullopt;
  if (pin && partition && !same(*pin, *partition)) {
    return contradicts(p, "the index range over " + quoted(range->index));
  }
  if (!pin) pin = partition;
  if (pin) return route_plan{route_kind::single, shard_of(*pin, shard_count)};
  return route_plan{fan_out, 0};
}

struct planner {
  const partitioning& p;
  const std::optional<value>& partition;
  uint32_t shard_count;

  status_or<route_plan> on(const value& pinned) const {
    return route_plan{route_kind::single, shard_of(pinned, shard_count)};
  }

  status_or<route_plan> written(std::string_view op, const std::string& id, const value_map& fields) const {
    if (id.empty()) {
      return status{error_code::invalid_argument, std::string{op} + " into " + p.collection +
                                                      " has no id; the router generates one before routing"};
    }
    value pinned = partition_value_of(p, id, fields);
    if (partition && !same(*partition, pinned)) return contradicts(p, "the document's fields");
    return on(pinned);
  }

  status_or<route_plan> operator()(const cmd::insert& c) const { return written("insert", c.id, c.fields); }
  status_or<route_plan> operator()(const cmd::replace& c) const { return written("replace", c.id, c.fields); }

  status_or<route_plan> operator()(const cmd::get& c) const {
    auto pinned = addressed_partition(p, c.id, partition, "get");
    if (!pinned.ok()) return pinned.error();
    return on(*pinned);
  }

  status_or<route_plan> operator()(const cmd::erase& c) const {
    auto pinned = addressed_partition(p, c.id, partition, "delete");
    if (!pinned.ok()) return pinned.error();
    return on(*pinned);
  }

  status_or<route_plan> operator()(const cmd::update& c) const {
    auto pinned = addressed_partition(p, c.id, partition, "update");
    if (!pinned.ok()) return pinned.error();
    if (status kept = patch_keeps_partition(p, *pinned, c.patch, "update", c.id); !kept.ok()) return kept;
    return on(*pinned);
  }

  status_or<route_plan> operator()(const cmd::compare_and_swap& c) const {
    auto pinned = addressed_partition(p, c.id, partition, "compare_and_swap");
    if (!pinned.ok()) return pinned.error();
    status kept = c.merge ? patch_keeps_partition(p, *pinned, c.fields, "compare_and_swap", c.id)
                          : fields_keep_partition(p, *pinned, c.fields, "compare_and_swap", c.id);
    if (!kept.ok()) return kept;
    return on(*pinned);
  }

  status_or<route_plan> operator()(const cmd::list& c) const {
    return plan_scan(p, c.range, partition, shard_count, route_kind::list_merge);
  }
  status_or<route_plan> operator()(const cmd::count& c) const {
    return plan_scan(p, c.range, partition, shard_count, route_kind::count_sum);
  }
  status_or<route_plan> operator()(const cmd::claim& c) const {
    return plan_scan(p, c.range, partition, shard_count, route_kind::claim_in_order);
  }

  status_or<route_plan> operator()(const cmd::create_schema&) const { return broadcast(); }
  status_or<route_plan> operator()(const cmd::alter_schema&) const { return broadcast(); }
  status_or<route_plan> operator()(const cmd::drop_schema&) const { return broadcast(); }
  status_or<route_plan> broadcast() const { return route_plan{route_kind::broadcast, 0}; }
};

}  // namespace

uint64_t stable_hash(std::string_view bytes) {
  uint64_t hash = fnv_offset_basis;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= fnv_prime;
  }
  return avalanche(hash);
}

uint64_t partition_hash(const value& partition) {
  std::string encoded;
  encode_key_part(encoded, partition);
  return stable_hash(encoded);
}

uint32_t shard_of(const value& partition, uint32_t shard_count) {
  VELOCITY_CHECK(shard_count > 0);
  VELOCITY_CHECK_LE(shard_count, shard_count_max);
  return static_cast<uint32_t>(partition_hash(partition) % shard_count);
}

partitioning partitioning_of(const collection_schema& schema) {
  partitioning p;
  p.collection = schema.collection;
  p.key = schema.partition_key;
  for (const field_spec& field : schema.fields) {
    if (!p.key.empty() && field.path == p.key) p.default_value = field.default_value;
  }
  for (const index_spec& index : schema.indexes) {
    if (!index.fields.empty()) p.index_first_field.emplace(index.name, index.fields.front());
  }
  return p;
}

partitioning partitioning_by_id(std::string collection) {
  partitioning p;
  p.collection = std::move(collection);
  return p;
}

value partition_value_of(const partitioning& p, std::string_view id, const value_map& fields) {
  // The shard names documents by the same rule (schema.hpp, partition_value).
  return partition_value_from(p.key, p.default_value, id, fields);
}

std::string_view to_string(route_kind kind) {
  switch (kind) {
    case route_kind::single: return "single";
    case route_kind::list_merge: return "list_merge";
    case route_kind::count_sum: return "count_sum";
    case route_kind::claim_in_order: return "claim_in_order";
    case route_kind::broadcast: return "broadcast";
  }
  return "unknown";
}

status_or<route_plan> plan_route(const command& c, const partitioning& p,
                                 const std::optional<value>& partition, uint32_t shard_count) {
  VELOCITY_CHECK(shard_count > 0);
  VELOCITY_CHECK_LE(shard_count, shard_count_max);
  auto plan = std::visit(planner{p, partition, shard_count}, c);
  // Validation above never looked at the shard count; one shard needs no fan-out.
  if (plan.ok() && shard_count == 1) return route_plan{route_kind::single, 0};
  return plan;
}

}  // namespace velocity
