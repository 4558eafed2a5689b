// Collection schemas: typed fields (nested dotted paths), required fields,
// defaults, a partition key and ordered secondary indexes (compound, optionally
// unique). A collection exists exactly when it has a schema; a schema with no
// fields accepts any document ("schemaless") but still names the collection.
//
// Schemas are stored as documents of the system collection "_schemas" (id =
// collection name), so they replicate through the same log as data. The value
// form (schema_to_value / schema_from_value) is also the JSON form users write:
//
//   {"collection": "jobs",
//    "fields": {"colony": {"type": "string", "required": true},
//               "state": {"type": "string", "default": "waiting"},
//               "priority_time": {"type": "timestamp"},
//               "resources.cpu": {"type": "int"}},
//    "indexes": [{"name": "by_state", "fields": ["colony", "state", "priority_time"]},
//                {"name": "by_name", "fields": ["name"], "unique": true}],
//    "partition_key": "colony",
//    "strict": false}
//
// Field types: string, int, float (ints are accepted and stay ints), bool,
// timestamp (int64 nanoseconds since the Unix epoch), bytes, list, map, any.
// strict = true rejects top-level fields the schema does not declare.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocols/error.hpp"
#include "schema/value.hpp"

namespace velocity {

inline constexpr std::string_view schemas_collection = "_schemas";

enum class field_type : uint8_t { any, string, integer, floating, boolean, timestamp, bytes, list, map };

std::string_view to_string(field_type t);  // "string", "int", "float", ...

struct field_spec {
  std::string path;  // dotted
  field_type type = field_type::any;
  bool required = false;
  std::optional<value> default_value;
  friend bool operator==(const field_spec&, const field_spec&) = default;
};

struct index_spec {
  std::string name;
  std::vector<std::string> fields;  // dotted paths, in key order
  bool unique = false;
  friend bool operator==(const index_spec&, const index_spec&) = default;
};

struct collection_schema {
  std::string collection;
  std::vector<field_spec> fields;   // sorted by path
  std::vector<index_spec> indexes;  // in declaration order
  std::string partition_key;        // dotted path; empty means the document id
  bool strict = false;
  friend bool operator==(const collection_schema&, const collection_schema&) = default;

  const index_spec* find_index(std::string_view name) const;
};

// The partition value of a document of this collection with these fields: the
// partition key field unless absent or null, else the schema's default for it,
// else null (as apply_defaults fills it; an absent field indexes as null). For a collection partitioned by id: the id, as a
// string. router/placement.hpp places documents by this value.
value partition_value(const collection_schema& schema, std::string_view id,
                      const value_map& fields);
// The same rule given the partition key and its default only (the router keeps
// these, router/placement.hpp): one rule, so placing and naming never disagree.
value partition_value_from(std::string_view key, const std::optional<value>& default_value,
                           std::string_view id, const value_map& fields);

// One broken rule: which field, which rule ("required", "type", "unknown_field",
// "too_deep", ...), and a sentence for humans.
struct violation {
  std::string path;
  std::string rule;
  std::string message;
  friend bool operator==(const violation&, const violation&) = default;
};

// Collection names: 1..128 bytes of [A-Za-z0-9_.-], not starting with '_'
// (reserved for system collections) unless allow_system is set.
status validate_collection_name(std::string_view name, bool allow_system = false);

// Checks the schema itself: names, paths, types, defaults of the declared type,
// index fields, duplicate names, limits. invalid_argument listing every problem.
status validate_schema(const collection_schema& schema);

// Every violation of the document's fields against the schema (empty = valid).
std::vector<violation> validate_document(const collection_schema& schema, const value_map& fields);

// A schema_violation status whose message lists every violation ("path: message; ...").
status violations_to_status(const std::vector<violation>& violations);

// Fills missing fields that declare a default (used on insert and replace).
void apply_defaults(const collection_schema& schema, value_map& fields);

// The values of an index's fields in order (absent fields become null).
std::vector<value> index_values(const index_spec& index, const value_map& fields);

value schema_to_value(const collection_schema& schema);
// Parses and validates (validate_schema). invalid_argument names the problem.
status_or<collection_schema> schema_from_value(const value& v);

// The one form in which a schema is stored, cached and compared: fields sorted
// by path (the order schema_from_value produces). Replicas must hold the same
// bytes whether a schema came from a command or was reloaded from storage, and
// apply_defaults / validate_document walk fields in this order.
collection_schema canonical_schema(collection_schema schema);

// Checks that an alteration is allowed (same collection name; the partition key
// never changes, since it decides where documents live).
status validate_schema_change(const collection_schema& before, const collection_schema& after);

}  // namespace velocity
