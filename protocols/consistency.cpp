// Names of consistency levels (see consistency.hpp).
#include "protocols/consistency.hpp"

namespace velocity {

std::string_view to_string(consistency level) {
  switch (level) {
    case consistency::strong: return "strong";
    case consistency::quorum: return "quorum";
    case consistency::eventual: return "eventual";
    case consistency::local: return "local";
  }
  return "unknown";
}

bool from_string(std::string_view name, consistency& out) {
  for (auto level : {consistency::strong, consistency::quorum, consistency::eventual, consistency::local}) {
    if (to_string(level) == name) {
      out = level;
      return true;
    }
  }
  return false;
}

}  // namespace velocity
