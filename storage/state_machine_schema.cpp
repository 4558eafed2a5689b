// Claim and schema commands of the document state machine.
//
// Claim ("select and assign"): the first document in ascending index order
// inside the range whose fields match the filter gets the patch. A patch that
// leaves the document inside the claimed index range is refused, so after a
// successful claim the document is outside the range, and no later claim over
// that range (whatever its filter) can return it until another command moves
// it back. Candidates that cannot take the patch (schema, unique index, size)
// are skipped and count toward the scan limit.
//
// Schemas: create / alter / drop, stored as documents of "_schemas" in the same
// batch as the index backfill or the data removal they imply. Altering a
// schema does NOT revalidate existing documents (only new writes are checked);
// it builds added indexes over existing documents and drops removed ones.
//
// Thread safety and invariants: see storage/state_machine.hpp.
#include <map>

#include "protocols/limits.hpp"
#include "schema/document_codec.hpp"
#include "storage/keys.hpp"
#include "storage/state_machine.hpp"

namespace velocity {

namespace {

reply schema_failure(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

document schema_document(const collection_schema& schema, const document* before,
                         int64_t time_ns, uint64_t log_index) {
  document doc;
  doc.id = schema.collection;
  doc.version = before == nullptr ? 1 : before->version + 1;
  doc.created_ns = before == nullptr ? time_ns : before->created_ns;
  doc.modified_ns = time_ns;
  doc.revision = log_index;
  doc.fields = schema_to_value(schema).as_map();
  return doc;
}

// A candidate whose patched form breaks the schema, a unique index or the size
// limit is skipped, so one old document (schemas are not re-checked on alter)
// cannot stop a whole queue. Other failures (I/O) end the claim.
bool skippable_claim_failure(error_code code) {
  return code == error_code::schema_violation || code == error_code::unique_violation ||
         code == error_code::too_large;
}

}  // namespace

reply state_machine::do_claim(const cmd::claim& c, mutation& m) {
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return schema_failure(schema.error());
  if (status valid = validate_filter(c.condition); !valid.ok()) return schema_failure(valid);
  auto bounds = index_bounds(**schema, c.range);
  if (!bounds.ok()) return schema_failure(bounds.error());
  const index_spec& index = *(*schema)->find_index(c.range.index);
  reply none;
  std::string start{claim_hints_.start(bounds->lower)};
  if (start >= bounds->upper) return none;
  scan_options options{.lower = start, .upper = bounds->upper};
  auto it = engine_.scan(column::indexes, options);
  if (it->valid()) {
    claim_hints_.remember(bounds->lower, it->key());
  } else if (it->error().ok()) {
    claim_hints_.remember(bounds->lower, bounds->upper);
  }
  const auto part = partition_part(**schema, c.partition);
  size_t scanned = 0;
  for (; it->valid(); it->next()) {
    if (++scanned > limits::claim_scan_entries_max) {
      return schema_failure({error_code::overloaded,
                             "claim walked " + std::to_string(limits::claim_scan_entries_max) +
                                 " entries of index '" + index.name + "' of " + c.collection +
                                 " without a match; narrow the range or the filter"});
    }
    if (!in_partition(**schema, part, it->value())) continue;
    auto stored = load_document(c.collection, it->value());
    if (!stored.ok()) return schema_failure(stored.error());
    if (!stored->has_value()) {
      return schema_failure({error_code::corruption, "index '" + index.name + "' of " + c.collection +
                                                         " names missing document '" +
                                                         std::string{it->value()} + "'"});
    }
    const document& candidate = **stored;
    if (!matches(c.condition, candidate.fields)) continue;
    value_map fields = candidate.fields;
    merge_patch(fields, c.patch);
    std::string new_key = keys::index_key(shard_id_, c.collection, index.name,
                                          index_values(index, fields), it->value());
    if (new_key >= bounds->lower && new_key < bounds->upper) {
      return schema_failure({error_code::invalid_argument,
                             "the claim's patch leaves the document inside the claimed range of index '" +
                                 index.name + "', so it could be claimed twice; set an indexed field "
                                 "that moves it out of the range"});
    }
    reply r = write_changed(**schema, candidate, std::move(fields), c.time_ns, m);
    if (skippable_claim_failure(r.st.code())) continue;  // this document cannot take the patch
    r.claimed = r.st.ok();
    return r;
  }
  if (status walked = it->error(); !walked.ok()) return schema_failure(walked);
  return none;
}

reply state_machine::do_create_schema(const cmd::create_schema& c, mutation& m) {
  const collection_schema schema = canonical_schema(c.schema);
  if (status name = validate_collection_name(schema.collection); !name.ok()) return schema_failure(name);
  if (status valid = validate_schema(schema); !valid.ok()) return schema_failure(valid);
  if (find_schema(schema.collection) != nullptr) {
    return schema_failure({error_code::already_exists,
                           "collection '" + schema.collection + "' already exists; alter its schema instead"});
  }
  document doc = schema_document(schema, nullptr, c.time_ns, m.log_index);
  m.batch.put(column::documents, keys::document_key(shard_id_, schemas_collection, schema.collection),
              encode_document(doc));
  m.schema_put = schema;
  reply r;
  r.schema = schema;
  r.doc = std::move(doc);
  return r;
}

namespace {

// Indexes of `from` that `to` lacks or defines differently (same name, other fields).
std::vector<const index_spec*> indexes_missing_from(const collection_schema& from,
                                                    const collection_schema& to) {
  std::vector<const index_spec*> out;
  for (const index_spec& index : from.indexes) {
    const index_spec* other = to.find_index(index.name);
    if (other == nullptr || !(*other == index)) out.push_back(&index);
  }
  return out;
}

}  // namespace

reply state_machine::do_alter_schema(const cmd::alter_schema& c, mutation& m) {
  const collection_schema after = canonical_schema(c.schema);
  auto current = user_collection(after.collection);
  if (!current.ok()) return schema_failure(current.error());
  const collection_schema& before = **current;
  if (status valid = validate_schema(after); !valid.ok()) return schema_failure(valid);
  if (status change = validate_schema_change(before, after); !change.ok()) return schema_failure(change);
  auto stored = load_document(schemas_collection, after.collection);
  if (!stored.ok()) return schema_failure(stored.error());
  if (!stored->has_value()) {
    return schema_failure({error_code::corruption, "schema document of '" + after.collection + "' is missing"});
  }
  for (const index_spec* removed : indexes_missing_from(before, after)) {
    std::string prefix = keys::index_prefix(shard_id_, after.collection, removed->name);
    m.batch.erase_range(column::indexes, prefix, keys::range_end(prefix));
  }
  if (status built = backfill_indexes(after, indexes_missing_from(after, before), m); !built.ok()) {
    return schema_failure(built);
  }
  document doc = schema_document(after, &**stored, c.time_ns, m.log_index);
  m.batch.put(column::documents, keys::document_key(shard_id_, schemas_collection, after.collection),
              encode_document(doc));
  m.schema_put = after;
  reply r;
  r.schema = after;
  r.doc = std::move(doc);
  return r;
}

status state_machine::backfill_indexes(const collection_schema& schema,
                                       const std::vector<const index_spec*>& added, mutation& m) {
  if (added.empty()) return {};
  // Per unique index: encoded tuple -> id, to find duplicates among existing documents.
  std::vector<std::map<std::string, std::string>> seen(added.size());
  std::string prefix = keys::collection_prefix(shard_id_, schema.collection);
  scan_options options{.lower = prefix, .upper = keys::range_end(prefix)};
  auto it = engine_.scan(column::documents, options);
  for (; it->valid(); it->next()) {
    auto doc = decode_document(it->value());
    if (!doc.ok()) return {error_code::corruption, "backfill of " + schema.collection + ": " + doc.error().message()};
    const std::string name{it->key().substr(prefix.size())};
    for (size_t i = 0; i < added.size(); ++i) {
      const index_spec& index = *added[i];
      auto tuple = index_values(index, doc->fields);
      std::string tuple_key = keys::index_tuple_prefix(shard_id_, schema.collection, index.name, tuple);
      std::string key = tuple_key + name;
      if (key.size() > limits::index_key_bytes_max) {
        return {error_code::too_large, "index '" + index.name + "' key of " + schema.collection + "/" +
                                           doc->id + " is longer than " +
                                           std::to_string(limits::index_key_bytes_max) + " bytes"};
      }
      bool has_null = false;
      for (const value& part : tuple) has_null = has_null || part.is_null();
      if (index.unique && !has_null) {
        auto [entry, inserted] = seen[i].emplace(tuple_key, doc->id);
        if (!inserted) {
          return {error_code::unique_violation,
                  "unique index '" + index.name + "' of " + schema.collection + " would hold " +
                      describe_tuple(tuple) + " twice: documents '" + entry->second +
                      "' and '" + doc->id + "'"};
        }
      }
      m.batch.put(column::indexes, key, name);
    }
  }
  return it->error();
}

reply state_machine::do_drop_schema(const cmd::drop_schema& c, mutation& m) {
  auto current = user_collection(c.collection);
  if (!current.ok()) return schema_failure(current.error());
  std::string prefix = keys::collection_prefix(shard_id_, c.collection);
  m.batch.erase_range(column::documents, prefix, keys::range_end(prefix));
  std::string index_prefix = keys::index_collection_prefix(shard_id_, c.collection);
  m.batch.erase_range(column::indexes, index_prefix, keys::range_end(index_prefix));
  m.batch.erase(column::meta, keys::count_key(shard_id_, c.collection));
  m.batch.erase(column::documents, keys::document_key(shard_id_, schemas_collection, c.collection));
  m.schema_erased = c.collection;
  return {};
}

}  // namespace velocity
