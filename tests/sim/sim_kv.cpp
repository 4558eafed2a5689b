// Implements sim_kv.hpp: the kv commands as document commands and back, the
// model's apply rule and the replicas' initial state.
//
// Thread safety: pure functions.
#include "tests/sim/sim_kv.hpp"

#include "protocols/check.hpp"
#include "command/command_codec.hpp"
#include "storage/keys.hpp"
#include "storage/memory_engine.hpp"
#include "storage/shard_dump.hpp"
#include "storage/state_machine.hpp"

namespace velocity::sim {

namespace {

constexpr std::string_view probe_prefix = "probe-";

velocity::command to_document(const command& c) {
  const std::string collection{kv_collection};
  const std::string field{kv_value_field};
  const auto time_ns = static_cast<int64_t>(c.request);
  switch (c.type) {
    case command::kind::write:
      return cmd::replace{collection, c.key, value_map{{field, value{c.value}}}, std::nullopt,
                          time_ns};
    case command::kind::cas: {
      cmd::compare_and_swap cas;
      cas.collection = collection;
      cas.id = c.key;
      if (c.expected)
        cas.condition.conditions.push_back({field, filter_op::eq, value{*c.expected}});
      else
        cas.condition.conditions.push_back({field, filter_op::exists, value{false}});
      cas.fields = value_map{{field, value{c.value}}};
      cas.merge = true;
      cas.time_ns = time_ns;
      return cas;
    }
    case command::kind::noop:
      return cmd::get{collection, std::string{probe_prefix} + std::to_string(c.request)};
  }
  VELOCITY_CHECK(false);
  return {};
}

// The string in {"value": s}, the only field a kv write carries.
std::optional<std::string> only_value(const value_map& fields) {
  if (fields.size() != 1) return std::nullopt;
  const auto it = fields.find(std::string{kv_value_field});
  if (it == fields.end() || !it->second.is_string()) return std::nullopt;
  return it->second.as_string();
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::optional<command> from_write(const velocity::command& d) {
  command c;
  if (const auto* r = std::get_if<cmd::replace>(&d)) {
    auto v = only_value(r->fields);
    if (r->collection != kv_collection || !v || r->expected_version || r->time_ns <= 0)
      return std::nullopt;
    c.type = command::kind::write;
    c.request = static_cast<uint64_t>(r->time_ns);
    c.key = r->id;
    c.value = std::move(*v);
    return c;
  }
  const auto* cas = std::get_if<cmd::compare_and_swap>(&d);
  if (cas == nullptr || cas->collection != kv_collection || cas->expected_version ||
      !cas->merge || cas->time_ns <= 0 || cas->condition.conditions.size() != 1)
    return std::nullopt;
  auto v = only_value(cas->fields);
  const filter_condition& cond = cas->condition.conditions.front();
  if (!v || cond.path != kv_value_field) return std::nullopt;
  if (cond.op == filter_op::eq && cond.operand.is_string()) c.expected = cond.operand.as_string();
  else if (cond.op != filter_op::exists || cond.operand != value{false}) return std::nullopt;
  c.type = command::kind::cas;
  c.request = static_cast<uint64_t>(cas->time_ns);
  c.key = cas->id;
  c.value = std::move(*v);
  return c;
}

}  // namespace

std::string encode_command(const command& c) { return velocity::encode_command(to_document(c)); }

std::optional<command> decode_command(std::string_view data) {
  auto decoded = velocity::decode_command(data);
  if (!decoded.ok()) return std::nullopt;
  if (const auto* get = std::get_if<cmd::get>(&decoded.value())) {
    const std::string_view id = get->id;
    if (get->collection != kv_collection || id.substr(0, probe_prefix.size()) != probe_prefix)
      return std::nullopt;
    const auto request = parse_u64(id.substr(probe_prefix.size()));
    if (!request) return std::nullopt;
    command c;
    c.type = command::kind::noop;
    c.request = *request;
    return c;
  }
  return from_write(decoded.value());
}

std::string describe_command(const command& c) {
  const std::string request = std::to_string(c.request);
  switch (c.type) {
    case command::kind::write:
      return "W " + request + ' ' + c.key + ' ' + c.value;
    case command::kind::cas:
      return "C " + request + ' ' + c.key + ' ' + c.expected.value_or("~") + ' ' + c.value;
    case command::kind::noop:
      return "N " + request;
  }
  return "?";
}

bool apply_command(kv_map& map, const command& c) {
  switch (c.type) {
    case command::kind::noop:
      return true;
    case command::kind::write:
      map[c.key] = c.value;
      return true;
    case command::kind::cas: {
      const auto it = map.find(c.key);
      const bool matches = it == map.end() ? !c.expected.has_value()
                                           : (c.expected && *c.expected == it->second);
      if (matches) map[c.key] = c.value;
      return matches;
    }
  }
  return false;
}

std::string encode_map(const kv_map& map) {
  std::string out;
  for (const auto& [key, value] : map) {
    if (!out.empty()) out += ' ';
    out += key + '=' + value;
  }
  return out;
}

std::string key_name(size_t k) { return "k" + std::to_string(k); }

std::string initial_dump(uint32_t shard, size_t keys) {
  memory_engine scratch;
  state_machine sm(scratch, shard);
  VELOCITY_CHECK(sm.open().ok());
  collection_schema schema;
  schema.collection = std::string{kv_collection};
  schema.fields = {field_spec{std::string{kv_value_field}, field_type::string, false, std::nullopt}};
  // An index on the value, so every write also moves an index entry.
  schema.indexes = {index_spec{"by_value", {std::string{kv_value_field}}, false}};
  uint64_t index = 0;
  VELOCITY_CHECK(sm.apply(++index, cmd::create_schema{schema, 1}).ok());
  for (size_t k = 0; k < keys; ++k) {
    cmd::insert insert{std::string{kv_collection}, key_name(k), value_map{}, 1};
    VELOCITY_CHECK(sm.apply(++index, insert).ok());
  }
  // Not applied through the log: the replicas' first entry is index 1.
  write_batch unapplied;
  unapplied.erase(column::meta, keys::applied_key(shard));
  VELOCITY_CHECK(scratch.write(unapplied).ok());
  auto dump = dump_shard(scratch, shard);
  VELOCITY_CHECK(dump.ok());
  return std::move(dump.value());
}

}  // namespace velocity::sim
