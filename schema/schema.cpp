// Collection schemas (see schema.hpp): checking a schema, validating documents
// against it, defaults, index values, the value/JSON form and schema changes.
//
// Decisions beyond the header:
// - Index fields may not be declared list or map: an index key component is
//   one ordered scalar, and lists/maps have no multi-key meaning here. bytes,
//   any and undeclared fields are allowed (they encode like any other value).
// - A default may not be null (null means absent, so it would default nothing)
//   and must match the declared type; defaults nest at most nesting_depth_max.
// - strict requires at least one declared field (a strict schema without fields
//   would reject every non-empty document, never what anyone means).
// - A field that holds null counts as absent: fine when optional, a "required"
//   violation when required; apply_defaults fills it.
// - too_deep counts the fields map itself as one level, like the JSON text.
// - Schemas of system collections ('_' prefix) are not accepted by validate_schema.
// - validate_schema does not require fields sorted; schema_from_value sorts them.
//
// Thread safety: pure functions, no shared state.
#include "schema/schema.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>

#include "protocols/limits.hpp"

namespace velocity {

namespace {

constexpr std::array<field_type, 9> all_field_types = {
    field_type::any,       field_type::string, field_type::integer,
    field_type::floating,  field_type::boolean, field_type::timestamp,
    field_type::bytes,     field_type::list,   field_type::map};

bool field_type_from_string(std::string_view name, field_type& out) {
  for (field_type t : all_field_types) {
    if (to_string(t) == name) {
      out = t;
      return true;
    }
  }
  return false;
}

bool value_has_type(const value& v, field_type t) {
  switch (t) {
    case field_type::any: return true;
    case field_type::string: return v.is_string();
    case field_type::integer: return v.is_int();
    case field_type::floating: return v.is_number();  // ints stay ints
    case field_type::boolean: return v.is_bool();
    case field_type::timestamp: return v.is_int();    // nanoseconds since the epoch
    case field_type::bytes: return v.is_bytes();
    case field_type::list: return v.is_list();
    case field_type::map: return v.is_map();
  }
  return false;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool all_name_chars(std::string_view name) { return std::all_of(name.begin(), name.end(), is_name_char); }

std::string quoted(std::string_view s) { return "'" + std::string{s} + "'"; }

// Why a dotted path can never name a field; empty when it is fine.
std::string path_problem(std::string_view path) {
  if (path.empty()) return "empty path";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('.', start), path.size());
    if (end == start) return "empty segment in path";
    if (end - start > limits::field_name_bytes_max)
      return "path segment longer than " + std::to_string(limits::field_name_bytes_max) + " bytes";
    start = end + 1;
  }
  return {};
}

// Collects "; "-separated problems for one invalid_argument message.
struct problem_list {
  std::string text;
  void add(const std::string& problem) {
    if (!text.empty()) text += "; ";
    text += problem;
  }
  bool empty() const { return text.empty(); }
};

using declared_fields = std::map<std::string_view, const field_spec*, std::less<>>;

// The first declared proper prefix of `path` that cannot hold nested fields.
const field_spec* scalar_ancestor(const declared_fields& declared, std::string_view path) {
  for (size_t dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.', dot + 1)) {
    auto it = declared.find(path.substr(0, dot));
    if (it != declared.end() && it->second->type != field_type::map &&
        it->second->type != field_type::any)
      return it->second;
  }
  return nullptr;
}

void check_default(const field_spec& f, problem_list& problems) {
  if (!f.default_value) return;
  const value& d = *f.default_value;
  std::string where = "field " + quoted(f.path) + ": ";
  if (d.is_null())
    problems.add(where + "default must not be null");
  else if (!value_has_type(d, f.type))
    problems.add(where + "default has type " + std::string{to_string(d.kind())} +
                 ", declared " + std::string{to_string(f.type)});
  else if (nesting_depth(d) > limits::nesting_depth_max)
    problems.add(where + "default nested deeper than " + std::to_string(limits::nesting_depth_max));
}

void check_fields(const collection_schema& schema, const declared_fields& declared,
                  problem_list& problems) {
  if (schema.fields.size() > limits::schema_fields_max)
    problems.add(std::to_string(schema.fields.size()) + " fields, at most " +
                 std::to_string(limits::schema_fields_max) + " allowed");
  if (schema.strict && schema.fields.empty())
    problems.add("strict schema declares no fields");
  std::set<std::string_view> seen;
  for (const field_spec& f : schema.fields) {
    std::string where = "field " + quoted(f.path) + ": ";
    if (auto p = path_problem(f.path); !p.empty()) problems.add(where + p);
    if (!seen.insert(f.path).second) problems.add(where + "declared more than once");
    if (const field_spec* parent = scalar_ancestor(declared, f.path))
      problems.add(where + "nested under " + quoted(parent->path) + " of type " +
                   std::string{to_string(parent->type)} + " (must be map or any)");
    check_default(f, problems);
  }
}

void check_index_fields(const index_spec& index, const declared_fields& declared,
                        problem_list& problems) {
  std::string where = "index " + quoted(index.name) + ": ";
  if (index.fields.empty() || index.fields.size() > limits::index_fields_max)
    problems.add(where + std::to_string(index.fields.size()) + " fields, must be 1.." +
                 std::to_string(limits::index_fields_max));
  std::set<std::string_view> seen;
  for (const std::string& path : index.fields) {
    std::string field_where = where + "field " + quoted(path) + ": ";
    if (auto p = path_problem(path); !p.empty()) problems.add(field_where + p);
    if (!seen.insert(path).second) problems.add(field_where + "repeated");
    if (auto it = declared.find(path); it != declared.end() &&
                                       (it->second->type == field_type::list ||
                                        it->second->type == field_type::map))
      problems.add(field_where + "type " + std::string{to_string(it->second->type)} +
                   " cannot be indexed");
    if (const field_spec* parent = scalar_ancestor(declared, path))
      problems.add(field_where + "nested under " + quoted(parent->path) + " of type " +
                   std::string{to_string(parent->type)});
  }
}

void check_indexes(const collection_schema& schema, const declared_fields& declared,
                   problem_list& problems) {
  if (schema.indexes.size() > limits::indexes_per_collection_max)
    problems.add(std::to_string(schema.indexes.size()) + " indexes, at most " +
                 std::to_string(limits::indexes_per_collection_max) + " allowed");
  std::set<std::string_view> names;
  for (const index_spec& index : schema.indexes) {
    std::string where = "index " + quoted(index.name) + ": ";
    if (index.name.empty() || index.name.size() > limits::index_name_bytes_max)
      problems.add(where + "name must be 1.." + std::to_string(limits::index_name_bytes_max) +
                   " bytes");
    if (!all_name_chars(index.name)) problems.add(where + "name may only use [A-Za-z0-9_.-]");
    if (!names.insert(index.name).second) problems.add(where + "name declared more than once");
    check_index_fields(index, declared, problems);
  }
}

void check_partition_key(const collection_schema& schema, const declared_fields& declared,
                         problem_list& problems) {
  if (schema.partition_key.empty()) return;  // the document id
  std::string where = "partition key " + quoted(schema.partition_key) + ": ";
  auto it = declared.find(schema.partition_key);
  if (it == declared.end()) {
    problems.add(where + "not a declared field");
    return;
  }
  const field_spec& f = *it->second;
  if (!f.required) problems.add(where + "must be required (it decides the shard)");
  if (f.type != field_type::string && f.type != field_type::integer)
    problems.add(where + "must be of type string or int, declared " +
                 std::string{to_string(f.type)});
}

// ---- value form (schema_to_value / schema_from_value) ----

value field_to_value(const field_spec& f) {
  value_map out{{"type", value{to_string(f.type)}}, {"required", value{f.required}}};
  if (f.default_value) out.emplace("default", *f.default_value);
  return value{std::move(out)};
}

value index_to_value(const index_spec& index) {
  value_list fields;
  for (const std::string& path : index.fields) fields.emplace_back(path);
  return value{value_map{{"name", value{index.name}},
                         {"fields", value{std::move(fields)}},
                         {"unique", value{index.unique}}}};
}

// Names every key of `m` outside `allowed`, so typos are never silently ignored.
void check_keys(const value_map& m, std::initializer_list<std::string_view> allowed,
                const std::string& where, problem_list& problems) {
  for (const auto& [key, unused] : m)
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      problems.add(where + "unknown key " + quoted(key));
}

// Reads an optional bool at `key`; a wrong kind is a problem.
bool read_bool(const value_map& m, std::string_view key, const std::string& where,
               problem_list& problems) {
  auto it = m.find(key);
  if (it == m.end()) return false;
  if (!it->second.is_bool()) {
    problems.add(where + quoted(key) + " must be a bool");
    return false;
  }
  return it->second.as_bool();
}

field_spec field_from_value(const std::string& path, const value& v, problem_list& problems) {
  field_spec f;
  f.path = path;
  std::string where = "field " + quoted(path) + ": ";
  if (!v.is_map()) {
    problems.add(where + "must be a map");
    return f;
  }
  const value_map& m = v.as_map();
  check_keys(m, {"type", "required", "default"}, where, problems);
  if (auto it = m.find("type"); it != m.end()) {
    if (!it->second.is_string() || !field_type_from_string(it->second.as_string(), f.type))
      problems.add(where + "unknown type (expected one of string, int, float, bool, "
                           "timestamp, bytes, list, map, any)");
  }
  f.required = read_bool(m, "required", where, problems);
  if (auto it = m.find("default"); it != m.end()) f.default_value = it->second;
  return f;
}

index_spec index_from_value(size_t position, const value& v, problem_list& problems) {
  index_spec index;
  std::string where = "index #" + std::to_string(position) + ": ";
  if (!v.is_map()) {
    problems.add(where + "must be a map");
    return index;
  }
  const value_map& m = v.as_map();
  check_keys(m, {"name", "fields", "unique"}, where, problems);
  auto name = m.find("name");
  if (name == m.end() || !name->second.is_string())
    problems.add(where + "'name' must be a string");
  else
    index.name = name->second.as_string();
  auto fields = m.find("fields");
  if (fields == m.end() || !fields->second.is_list()) {
    problems.add(where + "'fields' must be a list of paths");
  } else {
    for (const value& path : fields->second.as_list()) {
      if (path.is_string())
        index.fields.push_back(path.as_string());
      else
        problems.add(where + "'fields' must hold strings, got " + std::string{to_string(path.kind())});
    }
  }
  index.unique = read_bool(m, "unique", where, problems);
  return index;
}

// Reads the top-level keys; the schema's own rules are validate_schema's job.
collection_schema schema_shape_from_map(const value_map& m, problem_list& problems) {
  collection_schema schema;
  check_keys(m, {"collection", "fields", "indexes", "partition_key", "strict"}, "", problems);
  auto collection = m.find("collection");
  if (collection == m.end() || !collection->second.is_string())
    problems.add("'collection' must be a string");
  else
    schema.collection = collection->second.as_string();
  if (auto it = m.find("fields"); it != m.end()) {
    if (!it->second.is_map()) problems.add("'fields' must be a map of paths");
    else
      for (const auto& [path, spec] : it->second.as_map())
        schema.fields.push_back(field_from_value(path, spec, problems));
  }
  if (auto it = m.find("indexes"); it != m.end()) {
    if (!it->second.is_list()) problems.add("'indexes' must be a list");
    else
      for (const value& index : it->second.as_list())
        schema.indexes.push_back(index_from_value(schema.indexes.size(), index, problems));
  }
  if (auto it = m.find("partition_key"); it != m.end()) {
    if (!it->second.is_string()) problems.add("'partition_key' must be a string");
    else schema.partition_key = it->second.as_string();
  }
  schema.strict = read_bool(m, "strict", "", problems);
  return schema;
}

}  // namespace

std::string_view to_string(field_type t) {
  switch (t) {
    case field_type::any: return "any";
    case field_type::string: return "string";
    case field_type::integer: return "int";
    case field_type::floating: return "float";
    case field_type::boolean: return "bool";
    case field_type::timestamp: return "timestamp";
    case field_type::bytes: return "bytes";
    case field_type::list: return "list";
    case field_type::map: return "map";
  }
  return "unknown";
}

const index_spec* collection_schema::find_index(std::string_view name) const {
  for (const index_spec& index : indexes)
    if (index.name == name) return &index;
  return nullptr;
}

status validate_collection_name(std::string_view name, bool allow_system) {
  if (name.empty() || name.size() > limits::collection_name_bytes_max)
    return {error_code::invalid_argument,
            "collection name " + quoted(name) + " must be 1.." +
                std::to_string(limits::collection_name_bytes_max) + " bytes"};
  if (!all_name_chars(name))
    return {error_code::invalid_argument,
            "collection name " + quoted(name) + " may only use [A-Za-z0-9_.-]"};
  if (name.front() == '_' && !allow_system)
    return {error_code::invalid_argument,
            "collection name " + quoted(name) + " starts with '_' (reserved for system collections)"};
  return {};
}

status validate_schema(const collection_schema& schema) {
  problem_list problems;
  if (auto s = validate_collection_name(schema.collection); !s.ok()) problems.add(s.message());
  declared_fields declared;
  for (const field_spec& f : schema.fields) declared.emplace(f.path, &f);
  check_fields(schema, declared, problems);
  check_indexes(schema, declared, problems);
  check_partition_key(schema, declared, problems);
  if (problems.empty()) return {};
  return {error_code::invalid_argument, "invalid schema " + quoted(schema.collection) + ": " +
                                            problems.text};
}

std::vector<violation> validate_document(const collection_schema& schema, const value_map& fields) {
  std::vector<violation> out;
  for (const field_spec& f : schema.fields) {
    const value* v = find_path(fields, f.path);
    if (v == nullptr || v->is_null()) {
      if (f.required)
        out.push_back({f.path, "required",
                       v == nullptr ? "missing required field" : "required field is null"});
    } else if (!value_has_type(*v, f.type)) {
      out.push_back({f.path, "type", "expected " + std::string{to_string(f.type)} + ", got " +
                                         std::string{to_string(v->kind())}});
    }
  }
  std::set<std::string_view> top_level;
  for (const field_spec& f : schema.fields)
    top_level.insert(std::string_view{f.path}.substr(0, f.path.find('.')));
  for (const auto& [key, v] : fields) {
    if (schema.strict && top_level.count(key) == 0)
      out.push_back({key, "unknown_field", "field not declared in the strict schema"});
    // The fields map is itself one level of nesting.
    if (nesting_depth(v) + 1 > limits::nesting_depth_max)
      out.push_back({key, "too_deep", "nested deeper than " +
                                          std::to_string(limits::nesting_depth_max) + " levels"});
  }
  return out;
}

status violations_to_status(const std::vector<violation>& violations) {
  if (violations.empty()) return {};
  std::string message;
  for (const violation& v : violations) {
    if (!message.empty()) message += "; ";
    message += v.path + ": " + v.message;
  }
  return {error_code::schema_violation, std::move(message)};
}

void apply_defaults(const collection_schema& schema, value_map& fields) {
  for (const field_spec& f : schema.fields) {
    if (!f.default_value) continue;
    const value* current = find_path(fields, f.path);
    if (current != nullptr && !current->is_null()) continue;
    // Never overwrite a non-map ancestor: that document is invalid and
    // validation must see it as it was written.
    bool blocked = false;
    std::string_view path{f.path};
    for (size_t dot = path.find('.'); dot != std::string_view::npos && !blocked;
         dot = path.find('.', dot + 1)) {
      const value* ancestor = find_path(fields, path.substr(0, dot));
      blocked = ancestor != nullptr && !ancestor->is_null() && !ancestor->is_map();
    }
    if (!blocked) set_path(fields, f.path, *f.default_value);
  }
}

std::vector<value> index_values(const index_spec& index, const value_map& fields) {
  std::vector<value> out;
  out.reserve(index.fields.size());
  for (const std::string& path : index.fields) {
    const value* v = find_path(fields, path);
    out.push_back(v != nullptr ? *v : value{});
  }
  return out;
}

value schema_to_value(const collection_schema& schema) {
  value_map fields;
  for (const field_spec& f : schema.fields) fields.insert_or_assign(f.path, field_to_value(f));
  value_list indexes;
  for (const index_spec& index : schema.indexes) indexes.push_back(index_to_value(index));
  return value{value_map{{"collection", value{schema.collection}},
                         {"fields", value{std::move(fields)}},
                         {"indexes", value{std::move(indexes)}},
                         {"partition_key", value{schema.partition_key}},
                         {"strict", value{schema.strict}}}};
}

status_or<collection_schema> schema_from_value(const value& v) {
  if (!v.is_map())
    return status{error_code::invalid_argument,
                  "schema must be a map, got " + std::string{to_string(v.kind())}};
  problem_list problems;
  collection_schema schema = schema_shape_from_map(v.as_map(), problems);
  if (!problems.empty())
    return status{error_code::invalid_argument, "invalid schema: " + problems.text};
  // Map iteration already yields fields by path; sorting keeps the invariant explicit.
  std::sort(schema.fields.begin(), schema.fields.end(),
            [](const field_spec& a, const field_spec& b) { return a.path < b.path; });
  if (auto s = validate_schema(schema); !s.ok()) return s;
  return schema;
}

status validate_schema_change(const collection_schema& before, const collection_schema& after) {
  if (before.collection != after.collection)
    return {error_code::invalid_argument, "schema change renames collection " +
                                              quoted(before.collection) + " to " +
                                              quoted(after.collection)};
  if (before.partition_key != after.partition_key)
    return {error_code::invalid_argument,
            "schema change of " + quoted(before.collection) + " alters the partition key from " +
                quoted(before.partition_key) + " to " + quoted(after.partition_key) +
                " (it decides where documents live)"};
  return validate_schema(after);
}

collection_schema canonical_schema(collection_schema schema) {
  std::stable_sort(schema.fields.begin(), schema.fields.end(),
                   [](const field_spec& a, const field_spec& b) { return a.path < b.path; });
  return schema;
}

value partition_value_from(std::string_view key, const std::optional<value>& default_value,
                           std::string_view id, const value_map& fields) {
  if (key.empty()) return value{id};
  // Null counts as absent, as in apply_defaults.
  if (const value* v = find_path(fields, key); v != nullptr && !v->is_null()) return *v;
  if (default_value) return *default_value;
  return value{};
}

value partition_value(const collection_schema& schema, std::string_view id,
                      const value_map& fields) {
  std::optional<value> default_value;
  for (const field_spec& field : schema.fields) {
    if (field.path == schema.partition_key) default_value = field.default_value;
  }
  return partition_value_from(schema.partition_key, default_value, id, fields);
}

}  // namespace velocity
