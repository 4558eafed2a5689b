// Minimal routing decisions (see router_routing.hpp).
//
// Thread safety: pure functions.
#include "actors/router_routing.hpp"

#include <cstdio>
#include <type_traits>

#include "schema/key_encoding.hpp"

namespace velocity::routing {

namespace {

// FNV-1a: stable across processes and platforms (std::hash is not), so every
// node and every restart maps a key to the same shard.
uint64_t stable_hash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The document id of commands that address one document; empty otherwise.
std::string_view addressed_id(const command& c) {
  return std::visit(
      [](const auto& x) -> std::string_view {
        using T = std::decay_t<decltype(x)>;
        if constexpr (requires { x.id; }) {
          return x.id;
        } else {
          (void)sizeof(T);
          return {};
        }
      },
      c);
}

}  // namespace

std::string_view command_name(const command& c) {
  static constexpr std::string_view names[] = {
      "insert", "get",   "update", "replace", "delete",       "compare_and_swap",
      "list",   "count", "claim",  "create_schema", "alter_schema", "drop_schema"};
  static_assert(std::size(names) == std::variant_size_v<command>);
  return names[c.index()];
}

bool is_schema_change(const command& c) {
  return std::holds_alternative<cmd::create_schema>(c) ||
         std::holds_alternative<cmd::alter_schema>(c) || std::holds_alternative<cmd::drop_schema>(c);
}

status check_consistency(const command& c, consistency level) {
  bool strong_only = std::holds_alternative<cmd::compare_and_swap>(c) ||
                     std::holds_alternative<cmd::claim>(c) || is_schema_change(c);
  if (strong_only && level != consistency::strong)
    return {error_code::invalid_consistency, std::string{command_name(c)} +
                                                 " requires strong consistency, got " +
                                                 std::string{to_string(level)}};
  if (!is_read(c) && level == consistency::local)
    return {error_code::invalid_consistency,
            std::string{command_name(c)} + " is a write and cannot use local consistency"};
  return {};
}

std::optional<uint32_t> choose_shard(const command& c, const std::optional<value>& partition,
                                     uint32_t shard_count) {
  VELOCITY_CHECK(shard_count > 0);
  if (shard_count == 1) return 0;
  std::string key;
  if (partition) {
    // A string partition hashes like an id, so "partition by id" and an
    // explicit partition value equal to the id agree.
    if (partition->is_string()) key = partition->as_string();
    else encode_key_part(key, *partition);
  } else {
    auto id = addressed_id(c);
    if (id.empty()) return std::nullopt;
    key = id;
  }
  return static_cast<uint32_t>(stable_hash(key) % shard_count);
}

std::string make_document_id(int64_t time_ns, uint64_t random) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx",
                static_cast<unsigned long long>(time_ns), static_cast<unsigned long long>(random));
  return text;
}

}  // namespace velocity::routing
