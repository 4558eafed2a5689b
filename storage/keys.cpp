// The state machine's bookkeeping keys (layout in storage/keys.hpp).
// Thread safety: pure functions.
#include "storage/keys.hpp"

#include "schema/key_encoding.hpp"

namespace velocity::keys {

std::string applied_key(uint32_t shard) {
  std::string out = shard_prefix(shard);
  out.append("applied");
  return out;
}

std::string count_key(uint32_t shard, std::string_view collection) {
  std::string out = shard_prefix(shard);
  out.append("count");
  encode_key_string(out, collection);
  return out;
}

}  // namespace velocity::keys
