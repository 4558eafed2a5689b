// SIGKILL crash test for the RocksDB engine's durability contract.
//
// Each round uses a fresh directory and several kill cycles. In a cycle the
// parent forks a writer child that opens RocksDB, continues the numbered batch
// sequence of tests/storage/crash_checker.hpp from the recovered head, mixes
// write(sync=true) with group commit (several writes, then one sync()), and
// after each durable point reports the highest acknowledged batch through a
// pipe. The parent SIGKILLs it at a seeded random moment, then a checker child
// reopens the directory and runs crash::check_state: every acknowledged batch
// present, every batch all-or-nothing, no batch without its predecessors.
//
// The parent never opens RocksDB itself: RocksDB starts background threads,
// and fork() in a threaded process would give the children a broken thread
// pool. Writers and checkers are children of a single-threaded parent.
//
// Usage: rocksdb_crash_test [--rounds N] [--seed S] [--kill-delay-ms-max M]
// Prints the seed first; a failing round names its seed, so it replays with
// --seed (timing still varies, so a replay is likely, not certain, to fail).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"
#include "tests/storage/crash_checker.hpp"

using namespace velocity;

namespace {

struct config {
  uint64_t rounds = 40;
  uint64_t seed = 20261126;
  uint64_t kill_delay_ms_max = 250;
};

// Kill cycles per directory: later cycles recover a directory that was
// already crashed into, and continue its sequence.
constexpr int cycles_per_round = 2;
// Group commit sizes the writer draws from: 1..group_writes_max writes per sync.
constexpr uint64_t group_writes_max = 8;
// Small memtables so flushes and compactions run while the writer is killed.
constexpr size_t crash_memtable_bytes = 128 << 10;
constexpr size_t crash_block_cache_bytes = 1 << 20;
constexpr size_t checker_message_bytes_max = 4096;

uint64_t mix(uint64_t seed, uint64_t salt) {
  // splitmix64: distinct, well-spread seeds for each round and cycle.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

status_or<std::unique_ptr<rocksdb_engine>> open_engine(const std::string& path) {
  rocksdb_options options;
  options.path = path;
  options.memtable_bytes = crash_memtable_bytes;
  options.block_cache_bytes = crash_block_cache_bytes;
  return rocksdb_engine::open(options);
}

// The writer child: never returns. Exit codes other than death by SIGKILL
// are failures the parent reports.
[[noreturn]] void run_writer(const std::string& path, int ack_fd, uint64_t seed) {
  auto opened = open_engine(path);
  if (!opened.ok()) {
    std::fprintf(stderr, "writer: %s\n", opened.error().to_string().c_str());
    ::_exit(3);
  }
  auto& e = **opened;
  auto head = crash::read_head(e);
  if (!head.ok()) ::_exit(4);
  std::mt19937_64 random{seed};
  const auto acknowledge = [ack_fd](uint64_t batch) {
    if (::write(ack_fd, &batch, sizeof batch) != sizeof batch) ::_exit(6);
  };
  uint64_t group_size = 1 + random() % group_writes_max;
  uint64_t pending = 0;
  for (uint64_t batch = *head + 1;; ++batch) {
    const bool sync_write = random() % 3 == 0;
    if (!e.write(crash::make_batch(batch), write_options{sync_write}).ok()) ::_exit(5);
    if (sync_write) {
      acknowledge(batch);
      pending = 0;
      continue;
    }
    if (++pending < group_size) continue;
    if (!e.sync().ok()) ::_exit(7);
    acknowledge(batch);
    pending = 0;
    group_size = 1 + random() % group_writes_max;
  }
}

// Reads 8-byte acknowledgements; keeps a partial record for the next read.
class ack_reader {
 public:
  explicit ack_reader(int fd) : fd_(fd) {}
  // Returns false at end of file.
  bool read_some(uint64_t& highest) {
    char buffer[4096];
    const auto got = ::read(fd_, buffer, sizeof buffer);
    if (got <= 0) return false;
    carry_.append(buffer, static_cast<size_t>(got));
    size_t used = 0;
    for (; used + sizeof(uint64_t) <= carry_.size(); used += sizeof(uint64_t)) {
      uint64_t batch = 0;
      std::memcpy(&batch, carry_.data() + used, sizeof batch);
      if (batch > highest) highest = batch;
    }
    carry_.erase(0, used);
    return true;
  }

 private:
  int fd_;
  std::string carry_;
};

// Runs the checker in a child so the parent stays free of RocksDB threads.
// Returns "" when the state is accepted, otherwise the reason.
std::string check_in_child(const std::string& path, uint64_t acknowledged, uint64_t& head) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string verdict;
    auto opened = open_engine(path);
    if (!opened.ok()) {
      verdict = "reopen failed: " + opened.error().to_string();
    } else {
      const auto checked = crash::check_state(**opened, acknowledged);
      auto recovered = crash::read_head(**opened);
      verdict = checked.ok() ? "ok " + std::to_string(recovered.ok() ? *recovered : 0)
                             : checked.to_string();
    }
    verdict.resize(std::min(verdict.size(), checker_message_bytes_max));
    if (::write(fds[1], verdict.data(), verdict.size()) < 0) ::_exit(2);
    ::_exit(0);  // skips RocksDB teardown: the directory is only read
  }
  ::close(fds[1]);
  std::string verdict;
  char buffer[512];
  for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
    verdict.append(buffer, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  int wait_status = 0;
  ::waitpid(pid, &wait_status, 0);
  if (verdict.rfind("ok ", 0) != 0) return verdict.empty() ? "checker died" : verdict;
  head = std::strtoull(verdict.c_str() + 3, nullptr, 10);
  return {};
}

// One writer life: fork, wait a random moment while collecting acks, kill.
// Returns "" on success (the writer died by SIGKILL), otherwise the reason.
std::string run_cycle(const std::string& path, uint64_t seed, uint64_t delay_us,
                      uint64_t& acknowledged) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    run_writer(path, fds[1], seed);
  }
  ::close(fds[1]);
  ack_reader acks{fds[0]};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(delay_us);
  bool open_pipe = true;
  while (open_pipe) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd waiting{fds[0], POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(left.count())) > 0) {
      open_pipe = acks.read_some(acknowledged);
    }
  }
  ::kill(pid, SIGKILL);
  int wait_status = 0;
  ::waitpid(pid, &wait_status, 0);
  // Everything the writer acknowledged before dying is still in the pipe.
  while (acks.read_some(acknowledged)) {
  }
  ::close(fds[0]);
  if (!WIFSIGNALED(wait_status) || WTERMSIG(wait_status) != SIGKILL) {
    return "writer ended on its own (wait status " + std::to_string(wait_status) + ")";
  }
  return {};
}

bool run_round(const config& cfg, uint64_t round) {
  const uint64_t round_seed = mix(cfg.seed, round);
  std::mt19937_64 random{round_seed};
  const auto path = "/tmp/velocity-crash-" + std::to_string(::getpid()) + "-" + std::to_string(round);
  std::filesystem::remove_all(path);
  uint64_t acknowledged = 0;
  bool passed = true;
  for (int cycle = 0; cycle < cycles_per_round && passed; ++cycle) {
    const uint64_t delay_us = random() % (cfg.kill_delay_ms_max * 1000 + 1);
    auto failure = run_cycle(path, random(), delay_us, acknowledged);
    uint64_t head = 0;
    if (failure.empty()) failure = check_in_child(path, acknowledged, head);
    passed = failure.empty();
    std::printf("round %llu cycle %d (round seed %llu): killed after %llu us, acknowledged %llu, "
                "recovered %llu: %s\n",
                static_cast<unsigned long long>(round), cycle,
                static_cast<unsigned long long>(round_seed),
                static_cast<unsigned long long>(delay_us),
                static_cast<unsigned long long>(acknowledged),
                static_cast<unsigned long long>(head), passed ? "ok" : failure.c_str());
    std::fflush(stdout);
  }
  std::filesystem::remove_all(path);
  return passed;
}

// Proves the checker can fail before trusting its passes: a torn batch and a
// lost acknowledged batch must both be rejected (memory engine, no threads).
int checker_self_test_failures() {
  int failures = 0;
  memory_engine torn;
  for (uint64_t batch = 1; batch <= 3; ++batch) {
    if (!torn.write(crash::make_batch(batch)).ok()) ++failures;
  }
  if (!crash::check_state(torn, 3).ok()) ++failures;  // the intact state passes
  if (!torn.write(crash::make_partial_batch(4, crash::keys_in_batch(4) / 2)).ok()) ++failures;
  if (crash::check_state(torn, 3).ok()) ++failures;   // torn batch 4 must be rejected
  memory_engine lost;
  if (!lost.write(crash::make_batch(1)).ok()) ++failures;
  if (crash::check_state(lost, 2).ok()) ++failures;   // acknowledged batch 2 is missing
  std::printf("checker self-test: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures;
}

bool parse(int argc, char** argv, config& cfg) {
  for (int index = 1; index + 1 < argc; index += 2) {
    const std::string flag = argv[index];
    const uint64_t number = std::strtoull(argv[index + 1], nullptr, 10);
    if (flag == "--rounds") {
      cfg.rounds = number;
    } else if (flag == "--seed") {
      cfg.seed = number;
    } else if (flag == "--kill-delay-ms-max") {
      cfg.kill_delay_ms_max = number;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg;
  if (!parse(argc, argv, cfg)) {
    std::fprintf(stderr, "usage: %s [--rounds N] [--seed S] [--kill-delay-ms-max M]\n", argv[0]);
    return 2;
  }
  std::printf("rocksdb_crash_test: seed %llu, %llu rounds, kill delay up to %llu ms\n",
              static_cast<unsigned long long>(cfg.seed),
              static_cast<unsigned long long>(cfg.rounds),
              static_cast<unsigned long long>(cfg.kill_delay_ms_max));
  int passed = 0;
  int failed = checker_self_test_failures() == 0 ? 0 : 1;
  passed += failed == 0 ? 1 : 0;
  for (uint64_t round = 0; round < cfg.rounds; ++round) {
    if (run_round(cfg, round)) {
      ++passed;
    } else {
      ++failed;
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
