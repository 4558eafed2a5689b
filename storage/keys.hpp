// The state machine's keys: the document and index layout shared with the
// router (command/keys.hpp, re-exported here), plus the bookkeeping keys only
// the state machine writes.
//
//   column::meta       shard | "applied"                  -> applied log index (u64 BE)
//                      shard | "count" | name(collection) -> document count (u64 BE)
//     The applied index is written in the same batch as the data it applies,
//     so replay after a crash resumes exactly after the last applied batch.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "command/keys.hpp"

namespace velocity::keys {

// column::meta
std::string applied_key(uint32_t shard);
std::string count_key(uint32_t shard, std::string_view collection);

}  // namespace velocity::keys
