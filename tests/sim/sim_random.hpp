// The simulator's one source of randomness: a seeded std::mt19937_64 with
// small helpers whose results do not depend on the standard library's
// distribution implementations (those differ between libstdc++ and libc++),
// so a seed replays identically on every platform we build on.
//
// Thread safety: none; one simulation run owns one sim_rng.
// Invariant: every random decision of a run goes through this object, in the
// order the single-threaded event loop makes them.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "protocols/check.hpp"

namespace velocity::sim {

class sim_rng {
 public:
  explicit sim_rng(uint64_t seed) : engine_(seed) {}

  uint64_t next() { return engine_(); }

  // Uniform in [low, high] (inclusive). The modulo bias is below 2^-40 for the
  // small ranges the simulator draws, which is irrelevant for fault injection.
  int64_t uniform(int64_t low, int64_t high) {
    VELOCITY_CHECK_LE(low, high);
    const uint64_t span = static_cast<uint64_t>(high - low) + 1;
    if (span == 0) return static_cast<int64_t>(next());  // the full 64-bit range
    return low + static_cast<int64_t>(next() % span);
  }

  // True with probability percent / 100.
  bool chance_percent(int64_t percent) { return uniform(0, 99) < percent; }

  template <class T>
  const T& pick(const std::vector<T>& items) {
    VELOCITY_CHECK(!items.empty());
    return items[static_cast<size_t>(uniform(0, static_cast<int64_t>(items.size()) - 1))];
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace velocity::sim
