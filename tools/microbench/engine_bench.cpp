// Micro-benchmarks of the storage engines: put (one key per batch and 100 keys
// per batch), get of present keys, and a 100-key forward scan, on the memory
// engine, RocksDB without sync, and RocksDB with a sync (fsync) per write.
//
// Each benchmark runs briefly by default (bench_seconds_min); pass
// --benchmark_min_time=N for steadier numbers. RocksDB runs in a fresh
// directory under /tmp that is removed afterwards. Single-threaded.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"

using namespace velocity;

namespace {

constexpr double bench_seconds_min = 0.2;
constexpr int64_t preload_keys = 20000;
constexpr int64_t batch_keys = 100;
constexpr int64_t scan_keys = 100;
constexpr size_t value_bytes = 200;  // a small coordination document

enum engine_kind : int64_t { memory = 0, rocksdb_nosync = 1, rocksdb_sync = 2 };

const char* kind_name(int64_t kind) {
  switch (kind) {
    case memory: return "memory";
    case rocksdb_nosync: return "rocksdb";
    case rocksdb_sync: return "rocksdb_sync";
  }
  return "unknown";
}

std::string key_of(int64_t index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "doc/%012lld", static_cast<long long>(index));
  return buffer;
}

// One engine for one benchmark run, with its directory when it has one.
class bench_engine {
 public:
  explicit bench_engine(int64_t kind) : sync_(kind == rocksdb_sync) {
    if (kind == memory) {
      // No crash simulation: a benchmark never syncs the memory engine much.
      engine_ = std::make_unique<memory_engine>(memory_engine_options{false});
      return;
    }
    static int counter = 0;
    path_ = "/tmp/velocity-engine-bench-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++);
    std::filesystem::remove_all(path_);
    rocksdb_options options;
    options.path = path_;
    auto opened = rocksdb_engine::open(options);
    if (!opened.ok()) {
      std::fprintf(stderr, "engine_bench: %s\n", opened.error().to_string().c_str());
      std::abort();
    }
    engine_ = std::move(opened).value();
  }
  ~bench_engine() {
    engine_.reset();
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  bench_engine(const bench_engine&) = delete;
  bench_engine& operator=(const bench_engine&) = delete;

  engine& get() { return *engine_; }
  write_options options() const { return write_options{sync_}; }

  void preload(int64_t keys) {
    const std::string value(value_bytes, 'v');
    write_batch batch;
    for (int64_t index = 0; index < keys; ++index) {
      batch.put(column::documents, key_of(index), value);
      if (batch.size() == 1000) flush_batch(batch);
    }
    flush_batch(batch);
  }

 private:
  void flush_batch(write_batch& batch) {
    if (!engine_->write(batch).ok()) std::abort();
    batch.clear();
  }

  bool sync_;
  std::string path_;
  std::unique_ptr<engine> engine_;
};

void put_single(benchmark::State& state) {
  bench_engine e{state.range(0)};
  const std::string value(value_bytes, 'v');
  int64_t index = 0;
  for (auto _ : state) {
    write_batch batch;
    batch.put(column::documents, key_of(index++), value);
    if (!e.get().write(batch, e.options()).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(index);
  state.SetLabel(kind_name(state.range(0)));
}

void put_batched(benchmark::State& state) {
  bench_engine e{state.range(0)};
  const std::string value(value_bytes, 'v');
  int64_t index = 0;
  for (auto _ : state) {
    write_batch batch;
    for (int64_t position = 0; position < batch_keys; ++position) {
      batch.put(column::documents, key_of(index++), value);
    }
    if (!e.get().write(batch, e.options()).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(index);
  state.SetLabel(kind_name(state.range(0)));
}

void get_hit(benchmark::State& state) {
  bench_engine e{state.range(0)};
  e.preload(preload_keys);
  std::mt19937_64 random{42};
  std::string out;
  for (auto _ : state) {
    const auto found = e.get().get(column::documents, key_of(random() % preload_keys), out);
    if (!found.ok()) state.SkipWithError("get missed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kind_name(state.range(0)));
}

void scan_100(benchmark::State& state) {
  bench_engine e{state.range(0)};
  e.preload(preload_keys);
  std::mt19937_64 random{42};
  int64_t visited = 0;
  for (auto _ : state) {
    scan_options options;
    options.lower = key_of(random() % (preload_keys - scan_keys));
    auto it = e.get().scan(column::documents, options);
    for (int64_t count = 0; count < scan_keys && it->valid(); ++count, it->next()) {
      benchmark::DoNotOptimize(it->value().data());
      ++visited;
    }
  }
  state.SetItemsProcessed(visited);
  state.SetLabel(kind_name(state.range(0)));
}

}  // namespace

// Real time for puts: an fsync waits on the disk, not on the CPU.
BENCHMARK(put_single)->Arg(memory)->Arg(rocksdb_nosync)->Arg(rocksdb_sync)
    ->MinTime(bench_seconds_min)->UseRealTime();
BENCHMARK(put_batched)->Arg(memory)->Arg(rocksdb_nosync)->Arg(rocksdb_sync)
    ->MinTime(bench_seconds_min)->UseRealTime();
BENCHMARK(get_hit)->Arg(memory)->Arg(rocksdb_nosync)->MinTime(bench_seconds_min);
BENCHMARK(scan_100)->Arg(memory)->Arg(rocksdb_nosync)->MinTime(bench_seconds_min);

BENCHMARK_MAIN();
