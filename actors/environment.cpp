// The real environment (see environment.hpp): system clocks, a mutex-guarded
// 64-bit generator and the two engines.
//
// Thread safety: the generator is the only mutable state; a mutex guards it.
#include "actors/environment.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <system_error>

#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"

namespace velocity {

std::string_view to_string(storage_mode mode) {
  switch (mode) {
    case storage_mode::memory: return "memory";
    case storage_mode::persistent: return "persistent";
  }
  return "unknown";
}

bool from_string(std::string_view name, storage_mode& out) {
  for (auto mode : {storage_mode::memory, storage_mode::persistent}) {
    if (to_string(mode) == name) {
      out = mode;
      return true;
    }
  }
  return false;
}

namespace {

// RocksDB creates only the last path component; create the parents too so a
// fresh data dir like "data/node1" works, and name the directory on failure.
status prepare_data_dir(const std::string& dir) {
  if (dir.empty()) return {error_code::invalid_argument, "persistent mode needs a data directory"};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return {error_code::io_error, "cannot create data directory " + dir + ": " + ec.message()};
  if (!std::filesystem::is_directory(dir, ec))
    return {error_code::io_error, "data directory " + dir + " is not a directory"};
  return {};
}

class real_environment final : public environment {
 public:
  explicit real_environment(uint64_t seed) : generator_(seed != 0 ? seed : draw_seed()) {}

  int64_t now_ns() override {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
  }

  int64_t monotonic_ns() override {
    auto since_start = std::chrono::steady_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(since_start).count();
  }

  uint64_t random_u64() override {
    std::lock_guard<std::mutex> guard{mutex_};
    return generator_();
  }

  status_or<std::shared_ptr<engine>> open_engine(const engine_config& config) override {
    if (config.mode == storage_mode::memory) {
      // Nothing is ever synced in memory mode, so the crash-simulation undo log
      // would grow without bound: turn it off.
      return std::shared_ptr<engine>{
          std::make_shared<memory_engine>(memory_engine_options{.crash_simulation = false})};
    }
    if (auto st = prepare_data_dir(config.data_dir); !st.ok()) return st;
    rocksdb_options options;
    options.path = config.data_dir;
    options.block_cache_bytes = config.cache_bytes;
    auto opened = rocksdb_engine::open(options);
    if (!opened.ok()) return opened.error();
    return std::shared_ptr<engine>{std::move(opened).value()};
  }

 private:
  static uint64_t draw_seed() {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }

  std::mutex mutex_;
  std::mt19937_64 generator_;
};

}  // namespace

std::shared_ptr<environment> make_real_environment(uint64_t seed) {
  return std::make_shared<real_environment>(seed);
}

}  // namespace velocity
