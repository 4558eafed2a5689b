// Consistency levels of an operation (protocols/client.capnp Consistency).
// What each promises is in docs/consistency.md; the router (router/) decides
// which levels an operation accepts.
#pragma once

#include <cstdint>
#include <string_view>

namespace velocity {

// Numeric values match wire::Consistency except that `strong` is also what the
// wire's `default` means.
enum class consistency : uint8_t { strong = 1, quorum = 2, eventual = 3, local = 4 };

std::string_view to_string(consistency level);
// "strong" | "quorum" | "eventual" | "local"; false for anything else.
bool from_string(std::string_view name, consistency& out);

}  // namespace velocity
