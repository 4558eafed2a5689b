// The environment seam: everything a node needs from the outside world that a
// simulation must be able to replace. A clock (wall and monotonic), a 64-bit
// random source, and the storage engine factory. Actors never read a clock,
// draw randomness or open storage except through this interface, so a
// simulated environment (virtual time, one seeded generator, memory engines
// that lose unsynced writes) can run the same actors deterministically.
//
// Thread safety: every method may be called from any thread (actors of one
// node share one environment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/error.hpp"
#include "storage/engine.hpp"

namespace velocity {

// memory: no disk, data lives as long as the process. persistent: RocksDB in
// data_dir, acknowledged writes are fsynced (group commit).
enum class storage_mode : uint8_t { memory, persistent };

std::string_view to_string(storage_mode mode);
// "memory" | "persistent"; false for anything else.
bool from_string(std::string_view name, storage_mode& out);

struct engine_config {
  storage_mode mode = storage_mode::memory;
  std::string data_dir;           // persistent only
  size_t cache_bytes = 64 << 20;  // RocksDB shared block cache
};

class environment {
 public:
  virtual ~environment() = default;

  // Nanoseconds since the Unix epoch: the time_ns stamped into commands.
  virtual int64_t now_ns() = 0;
  // Nanoseconds on a clock that never goes back: durations and timeouts.
  virtual int64_t monotonic_ns() = 0;
  // A uniformly distributed 64-bit value (ids, jitter).
  virtual uint64_t random_u64() = 0;
  // Opens the node's one engine. io_error naming the directory when persistent
  // storage cannot be created or locked; invalid_argument for an empty dir.
  virtual status_or<std::shared_ptr<engine>> open_engine(const engine_config& config) = 0;
};

// The real environment: system clocks, a generator seeded from
// std::random_device (or from `seed` when it is not 0, for reproducible ids),
// memory_engine or rocksdb_engine.
std::shared_ptr<environment> make_real_environment(uint64_t seed = 0);

}  // namespace velocity
