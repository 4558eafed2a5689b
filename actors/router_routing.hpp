// Minimal routing decisions used by the router actor until the pure router/
// library (consistency rules, shard choice, list merge, id generation) lands;
// then these functions forward to it. Pure: no CAF, no clocks.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/consistency.hpp"
#include "protocols/error.hpp"
#include "schema/value.hpp"
#include "storage/commands.hpp"

namespace velocity::routing {

// ok, or invalid_consistency naming the operation and the level: writes never
// run at `local`; CAS, claim and schema changes run only at `strong`.
status check_consistency(const command& c, consistency level);

// True for create/alter/drop schema: they go to every shard.
bool is_schema_change(const command& c);

// The shard of a command: the partition value when given, else the document
// id; nullopt when the command names neither (list, count, claim without a
// partition) and the node has more than one shard.
std::optional<uint32_t> choose_shard(const command& c, const std::optional<value>& partition,
                                     uint32_t shard_count);

// A time-ordered id: 16 hex digits of time_ns, then 16 random hex digits.
std::string make_document_id(int64_t time_ns, uint64_t random);

// The operation name for messages: "insert", "claim", ...
std::string_view command_name(const command& c);

}  // namespace velocity::routing
