// The document state machine: open/recovery, apply and its write discipline,
// and the single-document writes (insert, update, replace, delete, CAS).
// Reads live in state_machine_read.cpp, claim and schemas in their own files.
//
// Thread safety and invariants: see storage/state_machine.hpp.
#include "storage/state_machine.hpp"

#include <charconv>

#include "protocols/limits.hpp"
#include "schema/document_codec.hpp"
#include "schema/key_encoding.hpp"
#include "storage/keys.hpp"

namespace velocity {

namespace {

std::string doc_name(std::string_view collection, std::string_view id) {
  std::string out{collection};
  out += '/';
  out += id;
  return out;
}

reply failure(error_code code, std::string message) {
  reply r;
  r.st = status{code, std::move(message)};
  return r;
}

reply failure(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

// version_conflict reply carrying the stored version (0 if absent).
reply version_conflict(std::string_view collection, std::string_view id, uint64_t expected,
                       const document& stored) {
  reply r = failure(error_code::version_conflict,
                    doc_name(collection, id) + " expected version " + std::to_string(expected) +
                        ", stored version " + std::to_string(stored.version));
  r.current_version = stored.version;
  r.doc = stored;
  return r;
}

reply not_found(std::string_view collection, std::string_view id) {
  return failure(error_code::not_found, "document " + doc_name(collection, id) + " does not exist");
}

// Index tuples in messages; short on purpose (not JSON: ids and strings are
// quoted, containers only named) so a message stays one readable line.
std::string describe_part(const value& v) {
  switch (v.kind()) {
    case value_kind::null: return "null";
    case value_kind::boolean: return v.as_bool() ? "true" : "false";
    case value_kind::integer: return std::to_string(v.as_int());
    case value_kind::floating: {
      char text[32];
      auto written = std::to_chars(text, text + sizeof text, v.as_float());
      return std::string{text, written.ptr};
    }
    case value_kind::string: return "\"" + v.as_string() + "\"";
    default: return std::string{to_string(v.kind())};
  }
}

}  // namespace

std::string describe_tuple(const std::vector<value>& tuple) {
  std::string out = "[";
  for (size_t i = 0; i < tuple.size(); ++i) {
    if (i > 0) out += ", ";
    out += describe_part(tuple[i]);
  }
  return out + "]";
}

namespace {

}  // namespace

state_machine::state_machine(engine& e, uint32_t shard_id) : engine_(e), shard_id_(shard_id) {
  VELOCITY_CHECK(shard_id != 0xffffffffu);
}

status state_machine::open() {
  std::string applied_bytes;
  status got = engine_.get(column::meta, keys::applied_key(shard_id_), applied_bytes);
  uint64_t applied = 0;
  if (got.ok()) {
    auto decoded = keys::decode_u64(applied_bytes);
    if (!decoded) return {error_code::corruption, "applied index of shard " + std::to_string(shard_id_) + " is not 8 bytes"};
    applied = *decoded;
  } else if (got.code() != error_code::not_found) {
    return got;
  }
  std::map<std::string, collection_schema, std::less<>> loaded;
  std::string prefix = keys::collection_prefix(shard_id_, schemas_collection);
  scan_options options{.lower = prefix, .upper = keys::range_end(prefix)};
  auto it = engine_.scan(column::documents, options);
  for (; it->valid(); it->next()) {
    auto doc = decode_document(it->value());
    if (!doc.ok()) return {error_code::corruption, "stored schema: " + doc.error().message()};
    auto schema = schema_from_value(value{doc->fields});
    if (!schema.ok()) {
      return {error_code::corruption, "stored schema '" + doc->id + "': " + schema.error().message()};
    }
    loaded.emplace(schema->collection, std::move(schema.value()));
  }
  if (status scanned = it->error(); !scanned.ok()) return scanned;
  applied_index_ = applied;
  schemas_ = std::move(loaded);
  claim_hints_.clear();
  opened_ = true;
  return {};
}

const collection_schema* state_machine::find_schema(std::string_view collection) const {
  auto found = schemas_.find(collection);
  return found == schemas_.end() ? nullptr : &found->second;
}

reply state_machine::apply(uint64_t log_index, const command& c) {
  VELOCITY_CHECK(opened_);
  if (auto* g = std::get_if<cmd::get>(&c)) return do_get(*g);
  if (auto* l = std::get_if<cmd::list>(&c)) return do_list(*l);
  if (auto* n = std::get_if<cmd::count>(&c)) return do_count(*n);
  if (log_index <= applied_index_) {
    return failure(error_code::invalid_argument,
                   "stale log index " + std::to_string(log_index) + ": shard " +
                       std::to_string(shard_id_) + " has applied up to " +
                       std::to_string(applied_index_) + "; replay skips it");
  }
  mutation m;
  m.log_index = log_index;
  reply r = dispatch_write(c, m);
  if (!r.st.ok()) {
    // A failed command writes nothing but still consumes its log index.
    m.batch.clear();
    m.schema_put.reset();
    m.schema_erased.reset();
  }
  m.batch.put(column::meta, keys::applied_key(shard_id_), keys::encode_u64(log_index));
  if (status written = engine_.write(m.batch, write_options_); !written.ok()) {
    claim_hints_.clear();  // the engine may or may not hold the batch
    return failure(std::move(written));
  }
  for (const auto& op : m.batch.ops()) {
    if (op.col == column::indexes && op.kind == write_batch::op_kind::put) claim_hints_.note_put(op.key);
  }
  applied_index_ = log_index;
  if (m.schema_erased) schemas_.erase(*m.schema_erased);
  if (m.schema_put) schemas_.insert_or_assign(m.schema_put->collection, *m.schema_put);
  return r;
}

std::optional<reply> state_machine::certain_failure(const command& c) {
  VELOCITY_CHECK(opened_);
  bool conditional = std::holds_alternative<cmd::compare_and_swap>(c);
  if (auto* x = std::get_if<cmd::update>(&c)) conditional = x->expected_version.has_value();
  if (auto* x = std::get_if<cmd::replace>(&c)) conditional = x->expected_version.has_value();
  if (auto* x = std::get_if<cmd::erase>(&c)) conditional = x->expected_version.has_value();
  if (!conditional) return std::nullopt;
  return failure_now(c);
}

std::optional<reply> state_machine::failure_now(const command& c) {
  VELOCITY_CHECK(opened_);
  if (!std::holds_alternative<cmd::insert>(c) && !std::holds_alternative<cmd::update>(c) &&
      !std::holds_alternative<cmd::replace>(c) && !std::holds_alternative<cmd::erase>(c) &&
      !std::holds_alternative<cmd::compare_and_swap>(c))
    return std::nullopt;
  // Document writes stage into `m` only; nothing changes until apply writes.
  mutation m;
  reply r = dispatch_write(c, m);
  if (r.st.ok() || r.st.code() == error_code::io_error || r.st.code() == error_code::corruption)
    return std::nullopt;
  return r;
}

reply state_machine::dispatch_write(const command& c, mutation& m) {
  if (auto* x = std::get_if<cmd::insert>(&c)) return do_insert(*x, m);
  if (auto* x = std::get_if<cmd::update>(&c)) return do_update(*x, m);
  if (auto* x = std::get_if<cmd::replace>(&c)) return do_replace(*x, m);
  if (auto* x = std::get_if<cmd::erase>(&c)) return do_erase(*x, m);
  if (auto* x = std::get_if<cmd::compare_and_swap>(&c)) return do_compare_and_swap(*x, m);
  if (auto* x = std::get_if<cmd::claim>(&c)) return do_claim(*x, m);
  if (auto* x = std::get_if<cmd::create_schema>(&c)) return do_create_schema(*x, m);
  if (auto* x = std::get_if<cmd::alter_schema>(&c)) return do_alter_schema(*x, m);
  if (auto* x = std::get_if<cmd::drop_schema>(&c)) return do_drop_schema(*x, m);
  VELOCITY_CHECK(!"dispatch_write called with a read command");
  return {};
}

status_or<const collection_schema*> state_machine::user_collection(std::string_view name) const {
  if (!name.empty() && name.front() == '_') {
    return status{error_code::invalid_argument,
                  "collection '" + std::string{name} + "' is reserved: names starting with '_' are system collections"};
  }
  const collection_schema* schema = find_schema(name);
  if (schema == nullptr) {
    return status{error_code::unknown_collection,
                  "collection '" + std::string{name} + "' does not exist; create it with a schema"};
  }
  return schema;
}

status_or<std::optional<document>> state_machine::load_document(std::string_view collection,
                                                                std::string_view name) {
  std::string bytes;
  status got =
      engine_.get(column::documents, keys::document_key(shard_id_, collection, name), bytes);
  if (got.code() == error_code::not_found) return std::optional<document>{};
  if (!got.ok()) return got;
  auto doc = decode_document(bytes);
  if (!doc.ok()) {
    return status{error_code::corruption,
                  "document " + doc_name(collection, keys::id_of_name(name)) + ": " +
                      doc.error().message()};
  }
  return std::optional<document>{std::move(doc.value())};
}

status state_machine::check_unique(const collection_schema& schema, const index_spec& index,
                                   const std::vector<value>& tuple, std::string_view name) {
  // Like SQL NULL: a key with a null (or absent) component is never a duplicate.
  for (const value& part : tuple) {
    if (part.is_null()) return {};
  }
  std::string prefix = keys::index_tuple_prefix(shard_id_, schema.collection, index.name, tuple);
  scan_options options{.lower = prefix, .upper = keys::range_end(prefix)};
  auto it = engine_.scan(column::indexes, options);
  for (; it->valid(); it->next()) {
    if (it->value() != name) {
      return {error_code::unique_violation,
              "unique index '" + index.name + "' of " + schema.collection + " already holds " +
                  describe_tuple(tuple) + " for document '" +
                  std::string{keys::id_of_name(it->value())} + "'"};
    }
  }
  return it->error();
}

status state_machine::stage_document(const collection_schema& schema, const document* before,
                                     const document& after, mutation& m) {
  if (auto problems = validate_document(schema, after.fields); !problems.empty()) {
    return violations_to_status(problems);
  }
  size_t bytes = encoded_document_bytes(after);
  if (bytes > limits::document_bytes_max) {
    return {error_code::too_large, "document " + doc_name(schema.collection, after.id) + " encodes to " +
                                       std::to_string(bytes) + " bytes, more than the limit of " +
                                       std::to_string(limits::document_bytes_max)};
  }
  const std::string name = keys::document_name(schema, after.id, after.fields);
  const size_t partition_bytes = keys::partition_of_name(name).size();
  if (partition_bytes > limits::partition_value_bytes_max) {
    return {error_code::too_large, "partition value of " + doc_name(schema.collection, after.id) +
                                       " encodes to " + std::to_string(partition_bytes) +
                                       " bytes, more than " +
                                       std::to_string(limits::partition_value_bytes_max)};
  }
  // Documents never change partition (the router refuses such writes too): the
  // pair (partition value, id) is the document's name.
  if (before != nullptr && keys::document_name(schema, before->id, before->fields) != name) {
    return {error_code::invalid_argument,
            "the write would change the partition key '" + schema.partition_key + "' of " +
                doc_name(schema.collection, after.id) + "; a document never changes its partition"};
  }
  std::vector<std::string> puts;  // in index declaration order
  std::vector<std::string> erases;
  for (const index_spec& index : schema.indexes) {
    auto tuple = index_values(index, after.fields);
    std::string key = keys::index_key(shard_id_, schema.collection, index.name, tuple, name);
    if (key.size() > limits::index_key_bytes_max) {
      return {error_code::too_large, "index '" + index.name + "' key of " +
                                         doc_name(schema.collection, after.id) + " is " +
                                         std::to_string(key.size()) + " bytes, more than " +
                                         std::to_string(limits::index_key_bytes_max)};
    }
    if (before != nullptr) {
      auto old_tuple = index_values(index, before->fields);
      if (old_tuple == tuple) continue;  // unchanged entry: nothing to write
      erases.push_back(keys::index_key(shard_id_, schema.collection, index.name, old_tuple, name));
    }
    if (index.unique) {
      if (status unique = check_unique(schema, index, tuple, name); !unique.ok()) return unique;
    }
    puts.push_back(std::move(key));
  }
  for (const std::string& key : erases) m.batch.erase(column::indexes, key);
  for (const std::string& key : puts) m.batch.put(column::indexes, key, name);
  m.batch.put(column::documents, keys::document_key(shard_id_, schema.collection, name),
              encode_document(after));
  return {};
}

status state_machine::stage_erase(const collection_schema& schema, const document& before,
                                  mutation& m) {
  const std::string name = keys::document_name(schema, before.id, before.fields);
  for (const index_spec& index : schema.indexes) {
    auto tuple = index_values(index, before.fields);
    m.batch.erase(column::indexes,
                  keys::index_key(shard_id_, schema.collection, index.name, tuple, name));
  }
  m.batch.erase(column::documents, keys::document_key(shard_id_, schema.collection, name));
  return stage_count_delta(schema.collection, -1, m);
}

status state_machine::stage_count_delta(std::string_view collection, int64_t delta, mutation& m) {
  std::string key = keys::count_key(shard_id_, collection);
  std::string bytes;
  uint64_t current = 0;
  status got = engine_.get(column::meta, key, bytes);
  if (got.ok()) {
    auto decoded = keys::decode_u64(bytes);
    if (!decoded) return {error_code::corruption, "counter of collection '" + std::string{collection} + "' is not 8 bytes"};
    current = *decoded;
  } else if (got.code() != error_code::not_found) {
    return got;
  }
  if (delta < 0 && current < static_cast<uint64_t>(-delta)) {
    return {error_code::corruption, "counter of collection '" + std::string{collection} + "' is " +
                                        std::to_string(current) + ", below the number of documents removed"};
  }
  m.batch.put(column::meta, key, keys::encode_u64(current + static_cast<uint64_t>(delta)));
  return {};
}

reply state_machine::do_insert(const cmd::insert& c, mutation& m) {
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return failure(schema.error());
  if (c.id.empty()) {
    return failure(error_code::invalid_argument,
                   "insert into " + c.collection + " needs an id: ids are generated by the router or client");
  }
  if (c.id.size() > limits::id_bytes_max) {
    return failure(error_code::invalid_argument, "document id of " + std::to_string(c.id.size()) +
                                                     " bytes is longer than the limit of " +
                                                     std::to_string(limits::id_bytes_max));
  }
  if (c.id.find('\0') != std::string::npos) {
    return failure(error_code::invalid_argument, "document id of insert into " + c.collection +
                                                     " contains a NUL byte; ids never do");
  }
  value_map fields = c.fields;
  apply_defaults(**schema, fields);
  auto existing = load_document(c.collection, keys::document_name(**schema, c.id, fields));
  if (!existing.ok()) return failure(existing.error());
  if (existing->has_value()) {
    reply r = failure(error_code::already_exists, "document " + doc_name(c.collection, c.id) + " already exists");
    r.current_version = (*existing)->version;
    return r;
  }
  document doc;
  doc.id = c.id;
  doc.version = 1;
  doc.created_ns = c.time_ns;
  doc.modified_ns = c.time_ns;
  doc.revision = m.log_index;
  doc.fields = std::move(fields);
  if (status staged = stage_document(**schema, nullptr, doc, m); !staged.ok()) return failure(staged);
  if (status counted = stage_count_delta(c.collection, 1, m); !counted.ok()) return failure(counted);
  reply r;
  r.doc = std::move(doc);
  return r;
}

reply state_machine::write_changed(const collection_schema& schema, const document& before,
                                   value_map new_fields, int64_t time_ns, mutation& m) {
  document after = before;
  after.fields = std::move(new_fields);
  after.version = before.version + 1;
  after.modified_ns = time_ns;
  after.revision = m.log_index;
  if (status staged = stage_document(schema, &before, after, m); !staged.ok()) return failure(staged);
  reply r;
  r.doc = std::move(after);
  return r;
}

std::optional<reply> state_machine::load_target(std::string_view collection, std::string_view id,
                                                const std::optional<value>& partition,
                                                std::optional<uint64_t> expected_version,
                                                std::string_view op, write_target& out) {
  auto schema = user_collection(collection);
  if (!schema.ok()) return failure(schema.error());
  auto name = addressed_name(**schema, id, partition, op);
  if (!name.ok()) return failure(name.error());
  auto stored = load_document(collection, *name);
  if (!stored.ok()) return failure(stored.error());
  if (!stored->has_value()) return not_found(collection, id);
  if (expected_version && *expected_version != (*stored)->version) {
    return version_conflict(collection, id, *expected_version, **stored);
  }
  out.schema = *schema;
  out.before = std::move(**stored);
  return std::nullopt;
}

reply state_machine::do_update(const cmd::update& c, mutation& m) {
  write_target target;
  auto ended = load_target(c.collection, c.id, c.partition, c.expected_version, "update", target);
  if (ended) return *ended;
  const collection_schema& schema = *target.schema;
  const document& before = target.before;
  value_map fields = before.fields;
  merge_patch(fields, c.patch);
  return write_changed(schema, before, std::move(fields), c.time_ns, m);
}

reply state_machine::do_replace(const cmd::replace& c, mutation& m) {
  // The replacement's own partition value names the document it replaces.
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return failure(schema.error());
  value_map fields = c.fields;
  apply_defaults(**schema, fields);
  std::optional<value> partition;
  if (!(*schema)->partition_key.empty()) partition = partition_value(**schema, c.id, fields);
  write_target target;
  auto ended = load_target(c.collection, c.id, partition, c.expected_version, "replace", target);
  if (ended) return *ended;
  const document& before = target.before;
  return write_changed(**schema, before, std::move(fields), c.time_ns, m);
}

reply state_machine::do_erase(const cmd::erase& c, mutation& m) {
  write_target target;
  auto ended = load_target(c.collection, c.id, c.partition, c.expected_version, "delete", target);
  if (ended) return *ended;
  const collection_schema& schema = *target.schema;
  const document& before = target.before;
  if (status staged = stage_erase(schema, before, m); !staged.ok()) return failure(staged);
  return {};
}

reply state_machine::do_compare_and_swap(const cmd::compare_and_swap& c, mutation& m) {
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return failure(schema.error());
  if (status valid = validate_filter(c.condition); !valid.ok()) return failure(valid);
  write_target target;
  auto ended =
      load_target(c.collection, c.id, c.partition, c.expected_version, "compare_and_swap", target);
  if (ended) return *ended;
  const document& before = target.before;
  if (!matches(c.condition, before.fields)) {
    reply r = failure(error_code::condition_failed,
                      "document " + doc_name(c.collection, c.id) + " at version " +
                          std::to_string(before.version) + " does not match the condition");
    r.current_version = before.version;
    r.doc = before;
    return r;
  }
  value_map fields;
  if (c.merge) {
    fields = before.fields;
    merge_patch(fields, c.fields);
  } else {
    fields = c.fields;
    apply_defaults(**schema, fields);
  }
  return write_changed(**schema, before, std::move(fields), c.time_ns, m);
}

status_or<state_machine::key_bounds> state_machine::index_bounds(const collection_schema& schema,
                                                                  const index_range& range) const {
  const index_spec* index = schema.find_index(range.index);
  if (index == nullptr) {
    return status{error_code::invalid_argument,
                  "index '" + range.index + "' does not exist in collection " + schema.collection};
  }
  for (const auto* end : {&range.from, &range.to}) {
    if (*end && (*end)->size() > index->fields.size()) {
      return status{error_code::invalid_argument,
                    "index range of '" + range.index + "' has " + std::to_string((*end)->size()) +
                        " values but the index has " + std::to_string(index->fields.size()) + " fields"};
    }
  }
  std::string prefix = keys::index_prefix(shard_id_, schema.collection, index->name);
  key_bounds bounds{prefix, keys::range_end(prefix)};
  if (range.from) bounds.lower = keys::index_tuple_prefix(shard_id_, schema.collection, index->name, *range.from);
  if (range.to) {
    bounds.upper = keys::range_end(keys::index_tuple_prefix(shard_id_, schema.collection, index->name, *range.to));
  }
  return bounds;
}

status_or<std::string> state_machine::addressed_name(const collection_schema& schema,
                                                     std::string_view id,
                                                     const std::optional<value>& partition,
                                                     std::string_view op) {
  // No document has the empty name (ids hold no NUL).
  if (id.find('\0') != std::string_view::npos) return std::string{};
  if (schema.partition_key.empty()) {
    if (partition && !(partition->is_string() && partition->as_string() == id)) {
      return status{error_code::invalid_argument,
                    "the partition value passed with the request contradicts the document id '" +
                        std::string{id} + "' (collection " + schema.collection +
                        " is partitioned by id)"};
    }
    return keys::document_name(id, nullptr);
  }
  if (!partition) {
    return status{error_code::invalid_argument,
                  "collection " + schema.collection + " is partitioned by '" +
                      schema.partition_key + "'; pass its value with " + std::string{op}};
  }
  return keys::document_name(id, &*partition);
}

std::optional<std::string> state_machine::partition_part(const collection_schema& schema,
                                                         const std::optional<value>& partition) {
  if (!partition) return std::nullopt;
  if (!schema.partition_key.empty()) {
    std::string encoded;
    encode_key_part(encoded, *partition);
    return encoded;
  }
  // By id: the partition value is the id, so it admits that one name; a value
  // that is no string (or holds a NUL) admits none ("\0" is no document name).
  if (!partition->is_string() || partition->as_string().find('\0') != std::string::npos) {
    return std::string(1, '\0');
  }
  return partition->as_string();
}

bool state_machine::in_partition(const collection_schema& schema,
                                 const std::optional<std::string>& part, std::string_view name) {
  if (!part) return true;
  if (schema.partition_key.empty()) return name == *part;
  return keys::partition_of_name(name) == *part;
}

}  // namespace velocity
