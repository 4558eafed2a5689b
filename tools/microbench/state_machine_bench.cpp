// Micro-benchmarks of the document state machine: insert, get, update,
// compare-and-swap and claim over a collection preloaded with 100k documents
// of about 300 bytes (schema "jobs": index by_state (state, priority), unique
// index by_name), on the memory engine, RocksDB without sync, and RocksDB with
// a sync (fsync) per apply.
//
// The preload happens once per engine kind and is shared by every benchmark of
// that kind (it takes seconds on RocksDB); RocksDB directories live under /tmp
// and are removed at exit. Runs are short by default (bench_seconds_min); pass
// --benchmark_min_time=N for steadier numbers. Single-threaded. Each apply is
// one Raft-entry's worth of work: one engine batch with document, index
// entries, counter and applied index.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

constexpr double bench_seconds_min = 0.2;
constexpr int64_t preload_documents = 100000;
constexpr size_t payload_bytes = 200;  // plus ids, names and numbers: ~300 bytes encoded
constexpr int64_t cpu_max = 8;

enum engine_kind : int64_t { memory = 0, rocksdb_nosync = 1, rocksdb_sync = 2 };
constexpr size_t engine_kinds = 3;

const char* kind_name(int64_t kind) {
  switch (kind) {
    case memory: return "memory";
    case rocksdb_nosync: return "rocksdb";
    case rocksdb_sync: return "rocksdb_sync";
  }
  return "unknown";
}

std::string id_of(int64_t index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "job-%09lld", static_cast<long long>(index));
  return buffer;
}

collection_schema bench_schema() {
  collection_schema s;
  s.collection = "jobs";
  s.fields = {field_spec{"cpu", field_type::integer, false, std::nullopt},
              field_spec{"name", field_type::string, false, std::nullopt},
              field_spec{"priority", field_type::integer, false, std::nullopt},
              field_spec{"state", field_type::string, false, value{"waiting"}}};
  s.indexes = {index_spec{"by_state", {"state", "priority"}, false},
               index_spec{"by_name", {"name"}, true}};
  return s;
}

value_map job_fields(int64_t index, std::mt19937_64& random) {
  return value_map{{"name", "name-" + id_of(index)},
                   {"priority", static_cast<int64_t>(random() % 100)},
                   {"cpu", static_cast<int64_t>(random() % cpu_max) + 1},
                   {"payload", std::string(payload_bytes, 'p')}};
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "state_machine_bench: %s\n", what.c_str());
  std::abort();
}

// One preloaded state machine per engine kind, shared by the benchmarks.
class bench_state {
 public:
  explicit bench_state(int64_t kind) {
    if (kind == memory) {
      engine_ = std::make_unique<memory_engine>(memory_engine_options{false});
    } else {
      path_ = "/tmp/velocity-sm-bench-" + std::to_string(::getpid()) + "-" + std::to_string(kind);
      std::filesystem::remove_all(path_);
      rocksdb_options options;
      options.path = path_;
      auto opened = rocksdb_engine::open(options);
      if (!opened.ok()) die(opened.error().to_string());
      engine_ = std::move(opened).value();
    }
    machine_ = std::make_unique<state_machine>(*engine_, 1);
    if (!machine_->open().ok()) die("open failed");
    apply(cmd::create_schema{bench_schema(), 0});
    std::mt19937_64 random{7};
    for (int64_t index = 0; index < preload_documents; ++index) {
      apply(cmd::insert{"jobs", id_of(index), job_fields(index, random), index});
    }
    versions_.assign(preload_documents, 1);
    if (!engine_->sync().ok()) die("sync failed");
    // Preload without sync; measure with a sync per apply when asked to.
    machine_->set_write_options(write_options{kind == rocksdb_sync});
  }
  ~bench_state() {
    machine_.reset();
    engine_.reset();
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  bench_state(const bench_state&) = delete;
  bench_state& operator=(const bench_state&) = delete;

  reply apply(const command& c) {
    reply r = machine_->apply(is_read(c) ? 0 : ++log_index_, c);
    if (!r.ok()) die("apply failed: " + r.st.to_string());
    return r;
  }

  std::vector<uint64_t>& versions() { return versions_; }
  int64_t next_new_id() { return preload_documents + inserted_++; }

 private:
  std::string path_;
  std::unique_ptr<engine> engine_;
  std::unique_ptr<state_machine> machine_;
  uint64_t log_index_ = 0;
  std::vector<uint64_t> versions_;
  int64_t inserted_ = 0;
};

// Released explicitly at the end of main: RocksDB must close before its own
// static objects are destroyed at exit.
std::array<std::unique_ptr<bench_state>, engine_kinds> states;

bench_state& state_for(int64_t kind) {
  auto& slot = states.at(static_cast<size_t>(kind));
  if (!slot) slot = std::make_unique<bench_state>(kind);
  return *slot;
}

void sm_insert(benchmark::State& state) {
  bench_state& s = state_for(state.range(0));
  std::mt19937_64 random{11};
  for (auto _ : state) {
    int64_t index = s.next_new_id();
    s.apply(cmd::insert{"jobs", id_of(index), job_fields(index, random), index});
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kind_name(state.range(0)));
}

void sm_get(benchmark::State& state) {
  bench_state& s = state_for(state.range(0));
  std::mt19937_64 random{12};
  for (auto _ : state) {
    reply r = s.apply(cmd::get{"jobs", id_of(static_cast<int64_t>(random() % preload_documents))});
    benchmark::DoNotOptimize(r.doc->fields.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kind_name(state.range(0)));
}

void sm_update(benchmark::State& state) {
  bench_state& s = state_for(state.range(0));
  std::mt19937_64 random{13};
  for (auto _ : state) {
    auto index = static_cast<size_t>(random() % preload_documents);
    s.apply(cmd::update{"jobs", id_of(static_cast<int64_t>(index)),
                        {{"cpu", static_cast<int64_t>(random() % cpu_max) + 1}}, std::nullopt, 1});
    ++s.versions()[index];
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kind_name(state.range(0)));
}

void sm_compare_and_swap(benchmark::State& state) {
  bench_state& s = state_for(state.range(0));
  std::mt19937_64 random{14};
  filter condition{{filter_condition{"cpu", filter_op::le, value{cpu_max}}}};
  for (auto _ : state) {
    auto index = static_cast<size_t>(random() % preload_documents);
    s.apply(cmd::compare_and_swap{"jobs", id_of(static_cast<int64_t>(index)), s.versions()[index], condition,
                                  {{"priority", static_cast<int64_t>(random() % 100)}}, true, 1});
    ++s.versions()[index];
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kind_name(state.range(0)));
}

// Claims the first waiting job needing at most range(1) cpus (cpu_max = any).
void sm_claim(benchmark::State& state) {
  bench_state& s = state_for(state.range(0));
  index_range waiting{"by_state", std::vector<value>{"waiting"}, std::vector<value>{"waiting"}};
  filter condition{{filter_condition{"cpu", filter_op::le, value{state.range(1)}}}};
  for (auto _ : state) {
    reply r = s.apply(cmd::claim{"jobs", waiting, condition, {{"state", "running"}}, 1});
    if (!r.claimed) {
      state.SkipWithError("no waiting job left; run shorter");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string{kind_name(state.range(0))} + " cpu<=" + std::to_string(state.range(1)));
}

void engine_args(benchmark::internal::Benchmark* b) {
  for (int64_t kind : {memory, rocksdb_nosync, rocksdb_sync}) b->Arg(kind);
}

}  // namespace

// Real time: an fsync waits on the disk, not on the CPU.
BENCHMARK(sm_insert)->Apply(engine_args)->MinTime(bench_seconds_min)->UseRealTime();
BENCHMARK(sm_get)->Arg(memory)->Arg(rocksdb_nosync)->MinTime(bench_seconds_min);
BENCHMARK(sm_update)->Apply(engine_args)->MinTime(bench_seconds_min)->UseRealTime();
BENCHMARK(sm_compare_and_swap)->Apply(engine_args)->MinTime(bench_seconds_min)->UseRealTime();
BENCHMARK(sm_claim)
    ->Args({memory, cpu_max})->Args({memory, 2})
    ->Args({rocksdb_nosync, cpu_max})->Args({rocksdb_nosync, 2})
    ->Args({rocksdb_sync, cpu_max})
    ->MinTime(bench_seconds_min)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (auto& slot : states) slot.reset();
  return 0;
}
