// A deliberately simple reference model of the document state machine for one
// collection, used by the model and claim tests: a std::map of documents and
// linear scans over a sorted vector of index entries, written independently of
// storage/state_machine*.cpp (no keys, no engine, no key encoding).
//
// It answers the same commands with the same status codes, documents, pages,
// counts and claim results. Cursors are model-private: a cursor is a number
// naming a remembered (index tuple, id) position.
//
// Supported subset (what the tests generate): one collection whose field
// types are string, int or list, top-level fields only, none required. Schema
// commands on that collection are modelled: create (the collection exists only
// after it), alter (indexes added, removed, redefined or made unique; refused
// over duplicates; the partition key never changes) and drop (removes every
// document). Schema validation itself is delegated to schema/schema.hpp.
//
// Thread safety: none (test code).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "command/commands.hpp"
#include "protocols/limits.hpp"
#include "schema/filter.hpp"
#include "schema/schema.hpp"

namespace velocity::test {

// The shape shared by the storage tests: index by_state (state, priority),
// unique index by_name (name), state defaults to "waiting".
inline collection_schema jobs_schema() {
  collection_schema s;
  s.collection = "jobs";
  s.fields = {
      field_spec{"cpu", field_type::integer, false, std::nullopt},
      field_spec{"name", field_type::string, false, std::nullopt},
      field_spec{"priority", field_type::integer, false, std::nullopt},
      field_spec{"state", field_type::string, false, value{"waiting"}},
      field_spec{"targets", field_type::list, false, std::nullopt},
  };
  s.indexes = {index_spec{"by_state", {"state", "priority"}, false},
               index_spec{"by_name", {"name"}, true}};
  return s;
}

class reference_model {
 public:
  // `schema` names the modelled collection; it exists after a create_schema.
  explicit reference_model(collection_schema schema) : schema_(std::move(schema)) {}

  uint64_t applied_index() const { return applied_; }
  bool exists() const { return exists_; }
  const collection_schema& schema() const { return schema_; }
  const std::map<std::string, document>& documents() const { return docs_; }

  reply apply(uint64_t log_index, const command& c) {
    if (auto* g = std::get_if<cmd::get>(&c)) return get(*g);
    if (auto* l = std::get_if<cmd::list>(&c)) return list(*l);
    if (auto* n = std::get_if<cmd::count>(&c)) return count(*n);
    if (log_index <= applied_) return fail(error_code::invalid_argument);
    applied_ = log_index;
    index_ = log_index;
    if (auto* x = std::get_if<cmd::insert>(&c)) return insert(*x);
    if (auto* x = std::get_if<cmd::update>(&c)) return change(x->collection, x->id, x->expected_version, {}, x->patch, true, x->time_ns);
    if (auto* x = std::get_if<cmd::replace>(&c)) return change(x->collection, x->id, x->expected_version, {}, x->fields, false, x->time_ns);
    if (auto* x = std::get_if<cmd::compare_and_swap>(&c)) return change(x->collection, x->id, x->expected_version, x->condition, x->fields, x->merge, x->time_ns);
    if (auto* x = std::get_if<cmd::erase>(&c)) return erase(*x);
    if (auto* x = std::get_if<cmd::claim>(&c)) return claim(*x);
    if (auto* x = std::get_if<cmd::create_schema>(&c)) return create_schema(*x);
    if (auto* x = std::get_if<cmd::alter_schema>(&c)) return alter_schema(*x);
    if (auto* x = std::get_if<cmd::drop_schema>(&c)) return drop_schema(*x);
    return fail(error_code::internal);
  }

  // The index tuple of a document (absent fields are null).
  std::vector<value> tuple_of(const index_spec& index, const value_map& fields) const {
    std::vector<value> out;
    for (const std::string& path : index.fields) {
      auto found = fields.find(path);
      out.push_back(found == fields.end() ? value{} : found->second);
    }
    return out;
  }

  // True if tuple lies inside the prefix-inclusive range.
  static bool in_range(const std::vector<value>& tuple, const index_range& range) {
    auto cmp_prefix = [&](const std::vector<value>& bound) {
      for (size_t i = 0; i < bound.size(); ++i) {
        auto c = compare(tuple[i], bound[i]);
        if (c != 0) return c < 0 ? -1 : 1;
      }
      return 0;
    };
    if (range.from && cmp_prefix(*range.from) < 0) return false;
    if (range.to && cmp_prefix(*range.to) > 0) return false;
    return true;
  }

  struct entry {
    std::vector<value> tuple;
    std::string id;
  };

  static bool entry_less(const entry& a, const entry& b) {
    for (size_t i = 0; i < a.tuple.size(); ++i) {
      auto c = compare(a.tuple[i], b.tuple[i]);
      if (c != 0) return c < 0;
    }
    return a.id < b.id;
  }

  // Every index entry inside range, in ascending index order.
  std::vector<entry> entries(const index_range& range) const {
    const index_spec* index = schema_.find_index(range.index);
    std::vector<entry> out;
    for (const auto& [id, doc] : docs_) {
      auto tuple = tuple_of(*index, doc.fields);
      if (in_range(tuple, range)) out.push_back(entry{std::move(tuple), id});
    }
    std::sort(out.begin(), out.end(), entry_less);
    return out;
  }

 private:
  static reply fail(error_code code) {
    reply r;
    r.st = status{code, "model"};
    return r;
  }

  bool wrong_collection(const std::string& collection) const {
    return !exists_ || collection != schema_.collection;
  }

  // An index range the state machine cannot scan: unknown index or a bound
  // with more values than the index has fields.
  bool bad_range(const index_range& range) const {
    const index_spec* index = schema_.find_index(range.index);
    if (index == nullptr) return true;
    for (const auto* end : {&range.from, &range.to}) {
      if (*end && (*end)->size() > index->fields.size()) return true;
    }
    return false;
  }

  // True if two documents share a null-free tuple of a unique index of `schema`.
  bool unique_duplicates(const collection_schema& schema) const {
    for (const index_spec& index : schema.indexes) {
      if (!index.unique) continue;
      std::vector<std::vector<value>> seen;
      for (const auto& [id, doc] : docs_) {
        auto tuple = tuple_of(index, doc.fields);
        if (std::any_of(tuple.begin(), tuple.end(), [](const value& v) { return v.is_null(); })) continue;
        if (std::find(seen.begin(), seen.end(), tuple) != seen.end()) return true;
        seen.push_back(std::move(tuple));
      }
    }
    return false;
  }

  reply schema_stored(const collection_schema& schema, int64_t time_ns) {
    schema_ = canonical_schema(schema);
    uint64_t version = schema_doc_ ? schema_doc_->version + 1 : 1;
    int64_t created = schema_doc_ ? schema_doc_->created_ns : time_ns;
    schema_doc_ = document{schema_.collection, version, created, time_ns, index_, schema_to_value(schema_).as_map()};
    exists_ = true;
    reply r;
    r.schema = schema_;
    r.doc = schema_doc_;
    return r;
  }

  reply create_schema(const cmd::create_schema& c) {
    if (!validate_schema(c.schema).ok()) return fail(error_code::invalid_argument);
    if (c.schema.collection != schema_.collection) return fail(error_code::internal);  // not modelled
    if (exists_) return fail(error_code::already_exists);
    return schema_stored(c.schema, c.time_ns);
  }

  reply alter_schema(const cmd::alter_schema& c) {
    if (!c.schema.collection.empty() && c.schema.collection.front() == '_') return fail(error_code::invalid_argument);
    if (wrong_collection(c.schema.collection)) return fail(error_code::unknown_collection);
    if (!validate_schema(c.schema).ok()) return fail(error_code::invalid_argument);
    if (c.schema.partition_key != schema_.partition_key) return fail(error_code::invalid_argument);
    if (unique_duplicates(c.schema)) return fail(error_code::unique_violation);
    return schema_stored(c.schema, c.time_ns);
  }

  reply drop_schema(const cmd::drop_schema& c) {
    if (!c.collection.empty() && c.collection.front() == '_') return fail(error_code::invalid_argument);
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    docs_.clear();
    schema_doc_.reset();
    exists_ = false;
    return {};
  }

  // A null satisfies any type (like an absent field), as validate_document does.
  static bool type_ok(field_type type, const value& v) {
    if (v.is_null()) return true;
    switch (type) {
      case field_type::string: return v.is_string();
      case field_type::integer: return v.is_int();
      case field_type::list: return v.is_list();
      default: return true;
    }
  }

  // schema_violation / unique_violation / ok for storing fields under id.
  error_code check(const std::string& id, const value_map& fields) const {
    for (const field_spec& spec : schema_.fields) {
      auto found = fields.find(spec.path);
      if (found == fields.end()) {
        if (spec.required) return error_code::schema_violation;
      } else if (!type_ok(spec.type, found->second)) {
        return error_code::schema_violation;
      }
    }
    for (const index_spec& index : schema_.indexes) {
      if (!index.unique) continue;
      auto tuple = tuple_of(index, fields);
      if (std::any_of(tuple.begin(), tuple.end(), [](const value& v) { return v.is_null(); })) continue;
      for (const auto& [other_id, other] : docs_) {
        if (other_id != id && tuple_of(index, other.fields) == tuple) return error_code::unique_violation;
      }
    }
    return error_code::ok;
  }

  void fill_defaults(value_map& fields) const {
    for (const field_spec& spec : schema_.fields) {
      if (spec.default_value && fields.find(spec.path) == fields.end()) fields[spec.path] = *spec.default_value;
    }
  }

  reply get(const cmd::get& c) const {
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    auto found = docs_.find(c.id);
    if (found == docs_.end()) return fail(error_code::not_found);
    reply r;
    r.doc = found->second;
    return r;
  }

  reply insert(const cmd::insert& c) {
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    if (c.id.empty() || c.id.size() > limits::id_bytes_max) return fail(error_code::invalid_argument);
    if (docs_.count(c.id) != 0) {
      reply r = fail(error_code::already_exists);
      r.current_version = docs_.at(c.id).version;
      return r;
    }
    document d{c.id, 1, c.time_ns, c.time_ns, index_, c.fields};
    fill_defaults(d.fields);
    if (auto code = check(d.id, d.fields); code != error_code::ok) return fail(code);
    docs_[d.id] = d;
    reply r;
    r.doc = d;
    return r;
  }

  reply conflict(error_code code, const document& stored) const {
    reply r = fail(code);
    r.current_version = stored.version;
    r.doc = stored;
    return r;
  }

  reply change(const std::string& collection, const std::string& id, std::optional<uint64_t> expected,
               const filter& condition, const value_map& fields, bool merge, int64_t time_ns) {
    if (wrong_collection(collection)) return fail(error_code::unknown_collection);
    auto found = docs_.find(id);
    if (found == docs_.end()) return fail(error_code::not_found);
    if (expected && *expected != found->second.version) return conflict(error_code::version_conflict, found->second);
    if (!matches(condition, found->second.fields)) return conflict(error_code::condition_failed, found->second);
    value_map next = fields;
    if (merge) {
      next = found->second.fields;
      merge_patch(next, fields);
    } else {
      fill_defaults(next);
    }
    return store_changed(found->second, std::move(next), time_ns);
  }

  reply store_changed(document& doc, value_map next, int64_t time_ns) {
    if (auto code = check(doc.id, next); code != error_code::ok) return fail(code);
    doc.fields = std::move(next);
    doc.version += 1;
    doc.modified_ns = time_ns;
    doc.revision = index_;
    reply r;
    r.doc = doc;
    return r;
  }

  reply erase(const cmd::erase& c) {
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    auto found = docs_.find(c.id);
    if (found == docs_.end()) return fail(error_code::not_found);
    if (c.expected_version && *c.expected_version != found->second.version) {
      return conflict(error_code::version_conflict, found->second);
    }
    docs_.erase(found);
    return {};
  }

  reply claim(const cmd::claim& c) {
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    if (bad_range(c.range)) return fail(error_code::invalid_argument);
    const index_spec& index = *schema_.find_index(c.range.index);
    for (const entry& e : entries(c.range)) {
      document& doc = docs_.at(e.id);
      if (!matches(c.condition, doc.fields)) continue;
      value_map next = doc.fields;
      merge_patch(next, c.patch);
      if (in_range(tuple_of(index, next), c.range)) return fail(error_code::invalid_argument);
      reply r = store_changed(doc, std::move(next), c.time_ns);
      if (r.st.code() == error_code::schema_violation || r.st.code() == error_code::unique_violation) continue;
      r.claimed = r.st.ok();
      return r;
    }
    return {};
  }

  reply count(const cmd::count& c) const {
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    if (c.range && bad_range(*c.range)) return fail(error_code::invalid_argument);
    reply r;
    r.count = c.range ? entries(*c.range).size() : docs_.size();
    return r;
  }

  reply list(const cmd::list& c) {
    if (wrong_collection(c.collection)) return fail(error_code::unknown_collection);
    if (c.limit > limits::list_limit_max) return fail(error_code::invalid_argument);
    if (c.range && bad_range(*c.range)) return fail(error_code::invalid_argument);
    uint32_t limit = c.limit == 0 ? limits::list_limit_default : c.limit;
    std::vector<entry> all;
    if (c.range) {
      all = entries(*c.range);
    } else {
      for (const auto& [id, doc] : docs_) {
        if (!c.id_prefix || id.compare(0, c.id_prefix->size(), *c.id_prefix) == 0) all.push_back(entry{{}, id});
      }
    }
    if (c.descending) std::reverse(all.begin(), all.end());
    size_t start = 0;
    if (!c.cursor.empty()) {
      const entry& last = cursors_.at(std::stoul(c.cursor));
      while (start < all.size() && (c.descending ? !entry_less(all[start], last) : !entry_less(last, all[start]))) ++start;
    }
    reply r;
    for (size_t i = start; i < all.size(); ++i) {
      if (r.docs.size() == limit) {
        cursors_.push_back(all[i - 1]);
        r.next_cursor = std::to_string(cursors_.size() - 1);
        break;
      }
      r.docs.push_back(docs_.at(all[i].id));
    }
    return r;
  }

  collection_schema schema_;
  std::map<std::string, document> docs_;
  bool exists_ = false;
  std::optional<document> schema_doc_;  // the "_schemas" document while the collection exists
  std::vector<entry> cursors_;
  uint64_t applied_ = 0;
  uint64_t index_ = 0;
};

}  // namespace velocity::test
