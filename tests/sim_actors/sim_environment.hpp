// The simulated outside world of one node (level (b), tests/sim_actors):
//
// - virtual_clock: the test coordinator's clock as nanoseconds since the
//   run's origin. Every node's time derives from it; nothing reads a real clock.
// - sim_environment: the node's environment seam (actors/environment.hpp).
//   Its monotonic clock runs at the node's own rate (skew within the lease
//   assumption of cluster/raft/raft.hpp) from the node's own offset; its
//   randomness is the run's one seeded generator; open_engine hands out the
//   node's current engine.
// - fenced_engine: one incarnation's view of its node's disk. After fence()
//   (the node crashed) every write and sync fails with io_error, so a killed
//   actor that still runs a handler cannot touch the disk of the node's next
//   incarnation. It also fails a sync now and then (*sync_failure_per_mille,
//   drawn from the run's generator): an fsync error, after which the shard
//   actors that saw it refuse to go on until the node restarts.
//
// Thread safety: none needed; the whole simulation runs on the one thread of
// the test coordinator.
// Invariants: monotonic_ns never goes back (rate > 0, clock never goes back).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>

#include "actors/environment.hpp"
#include "caf/detail/test_actor_clock.hpp"
#include "storage/engine.hpp"
#include "tests/storage/forwarding_engine.hpp"

namespace velocity::simb {

class virtual_clock {
 public:
  explicit virtual_clock(caf::detail::test_actor_clock& clock)
      : clock_(&clock), origin_(clock.current_time) {}
  int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_->current_time - origin_)
        .count();
  }
  // A time point of the coordinator's clock (a timeout's due time) in the same scale.
  int64_t at_ns(caf::detail::test_actor_clock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - origin_).count();
  }

 private:
  caf::detail::test_actor_clock* clock_;
  caf::detail::test_actor_clock::time_point origin_;
};

// Clock rates of different nodes differ by at most this (parts per million);
// the lease assumption allows election_ticks / lease_ticks, far more.
inline constexpr int64_t sim_clock_skew_ppm_max = 20'000;
// Wall clocks start here (2026-01-01): ids and time_ns look like real ones.
inline constexpr int64_t sim_wall_clock_origin_ns = 1'767'225'600'000'000'000;

class sim_environment final : public environment {
 public:
  sim_environment(const virtual_clock& clock, std::mt19937_64& generator, int64_t offset_ns,
                  int64_t skew_ppm, std::shared_ptr<engine> disk)
      : clock_(clock), generator_(&generator), offset_ns_(offset_ns), skew_ppm_(skew_ppm),
        disk_(std::move(disk)) {}

  int64_t now_ns() override { return sim_wall_clock_origin_ns + local_ns(); }
  int64_t monotonic_ns() override { return offset_ns_ + local_ns(); }
  uint64_t random_u64() override { return (*generator_)(); }
  status_or<std::shared_ptr<engine>> open_engine(const engine_config&) override { return disk_; }

 private:
  int64_t local_ns() const {
    int64_t t = clock_.now_ns();
    return t + t / 1'000'000 * skew_ppm_;
  }

  virtual_clock clock_;
  std::mt19937_64* generator_;
  int64_t offset_ns_;
  int64_t skew_ppm_;
  std::shared_ptr<engine> disk_;
};

class fenced_engine final : public test::forwarding_engine {
 public:
  fenced_engine(std::shared_ptr<engine> inner, std::mt19937_64& generator,
                const uint32_t& sync_failure_per_mille)
      : forwarding_engine(std::move(inner)), generator_(&generator),
        sync_failure_per_mille_(&sync_failure_per_mille) {}

  // The incarnation is dead: no more writes or syncs reach the disk.
  void fence() { fenced_ = true; }
  // Whether a sync failed (the node needs a restart).
  bool sync_failed() const { return sync_failed_; }

  status write(const write_batch& batch, write_options options = {}) override {
    if (fenced_) return {error_code::io_error, "the node crashed"};
    return forwarding_engine::write(batch, options);
  }
  status sync() override {
    if (fenced_) return {error_code::io_error, "the node crashed"};
    if (*sync_failure_per_mille_ > 0 && (*generator_)() % 1000 < *sync_failure_per_mille_) {
      sync_failed_ = true;
      return {error_code::io_error, "injected fsync failure"};
    }
    return forwarding_engine::sync();
  }

 private:
  std::mt19937_64* generator_;
  const uint32_t* sync_failure_per_mille_;
  bool fenced_ = false;
  bool sync_failed_ = false;
};

}  // namespace velocity::simb
