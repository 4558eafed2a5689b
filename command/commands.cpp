// Helpers over the command variant (see commands.hpp). Thread safety: pure.
#include "command/commands.hpp"

namespace velocity {

bool is_read(const command& c) {
  return std::holds_alternative<cmd::get>(c) || std::holds_alternative<cmd::list>(c) ||
         std::holds_alternative<cmd::count>(c);
}

}  // namespace velocity
