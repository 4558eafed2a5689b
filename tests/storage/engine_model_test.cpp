// Randomized conformance: long seeded operation sequences run against each
// engine and against a trivial model (one std::map per column); every read,
// scan, multi_get and snapshot read must match the model exactly.
//
// Determinism: each run draws everything from std::mt19937_64 seeded with a
// fixed seed, printed on failure.
#define CAF_SUITE engine_model
#include "caf/test/unit_test.hpp"

#include <array>
#include <deque>
#include <random>

#include "storage/engine.hpp"
#include "tests/storage/engine_test_support.hpp"

using namespace velocity;
using namespace velocity::test;

namespace {

constexpr std::array<column, 2> model_columns{column::documents, column::indexes};
constexpr size_t ops_per_run = 3000;
constexpr size_t live_snapshots_max = 4;
constexpr size_t batch_ops_max = 6;

using model = std::array<column_model, model_columns.size()>;

struct held_snapshot {
  std::shared_ptr<const snapshot> view;
  model state;
};

// Short keys over a small alphabet (including 0x00 and 0xff) so operations
// collide often and bytewise ordering corner cases appear.
class workload {
 public:
  workload(engine& e, uint64_t seed) : engine_(e), random_(seed) {}

  // Returns the number of mismatches; each is reported with the step number.
  int run() {
    for (step_ = 0; step_ < ops_per_run; ++step_) {
      const auto choice = pick(100);
      if (choice < 40) {
        write();
      } else if (choice < 55) {
        check_get();
      } else if (choice < 62) {
        check_multi_get();
      } else if (choice < 85) {
        check_scan(nullptr, model_);
      } else if (choice < 89) {
        take_snapshot();
      } else if (choice < 97) {
        read_snapshot();
      } else {
        if (!engine_.sync().ok()) fail("sync failed");
      }
    }
    return failures_;
  }

 private:
  size_t pick(size_t bound) { return std::uniform_int_distribution<size_t>{0, bound - 1}(random_); }

  std::string key() {
    static constexpr char alphabet[] = {'\0', 'a', 'b', 'c', 'm', '\xff'};
    std::string result;
    const auto length = 1 + pick(3);
    for (size_t index = 0; index < length; ++index) result += alphabet[pick(sizeof alphabet)];
    return result;
  }

  void fail(const std::string& what) {
    ++failures_;
    if (failures_ <= 5) CAF_MESSAGE("step " << step_ << ": " << what);
  }

  void write() {
    write_batch batch;
    model next = model_;
    const auto count = 1 + pick(batch_ops_max);
    for (size_t index = 0; index < count; ++index) {
      const auto slot = pick(model_columns.size());
      const auto col = model_columns[slot];
      const auto which = pick(10);
      if (which < 6) {
        auto k = key();
        auto v = "v" + std::to_string(step_) + "." + std::to_string(index);
        batch.put(col, k, v);
        next[slot][k] = v;
      } else if (which < 9) {
        auto k = key();
        batch.erase(col, k);
        next[slot].erase(k);
      } else {
        auto begin = key();
        auto end = key();
        batch.erase_range(col, begin, end);
        if (begin < end) next[slot].erase(next[slot].lower_bound(begin), next[slot].lower_bound(end));
      }
    }
    if (!engine_.write(batch, write_options{pick(20) == 0}).ok()) fail("write failed");
    model_ = std::move(next);
  }

  void check_get() {
    const auto slot = pick(model_columns.size());
    const auto k = key();
    const auto found = model_[slot].find(k);
    const auto expected = found == model_[slot].end() ? "<absent>" : found->second;
    if (read(engine_, model_columns[slot], k) != expected) fail("get mismatch");
  }

  void check_multi_get() {
    const auto slot = pick(model_columns.size());
    std::vector<std::string> keys(pick(5));
    for (auto& k : keys) k = key();
    const auto results = engine_.multi_get(model_columns[slot], keys);
    if (results.size() != keys.size()) return fail("multi_get size mismatch");
    for (size_t index = 0; index < keys.size(); ++index) {
      const auto found = model_[slot].find(keys[index]);
      const bool present = found != model_[slot].end();
      if (results[index].ok() != present) fail("multi_get presence mismatch");
      if (present && results[index].ok() && *results[index] != found->second) {
        fail("multi_get value mismatch");
      }
      if (!present && !results[index].ok() &&
          results[index].error().code() != error_code::not_found) {
        fail("multi_get error is not not_found");
      }
    }
  }

  void check_scan(const snapshot* view, const model& state) {
    const auto slot = pick(model_columns.size());
    scan_options options;
    options.view = view;
    options.reverse = pick(2) == 1;
    if (pick(4) != 0) options.lower = key();
    if (pick(4) != 0) options.upper = key();
    if (collect(engine_, model_columns[slot], options) != expected_scan(state[slot], options)) {
      fail(std::string{"scan mismatch "} + (options.reverse ? "reverse" : "forward") +
           (view != nullptr ? " at snapshot" : ""));
    }
  }

  void take_snapshot() {
    if (snapshots_.size() == live_snapshots_max) snapshots_.pop_front();
    snapshots_.push_back(held_snapshot{engine_.make_snapshot(), model_});
  }

  void read_snapshot() {
    if (snapshots_.empty()) return;
    const auto& held = snapshots_[pick(snapshots_.size())];
    check_scan(held.view.get(), held.state);
    const auto slot = pick(model_columns.size());
    const auto k = key();
    const auto found = held.state[slot].find(k);
    const auto expected = found == held.state[slot].end() ? "<absent>" : found->second;
    if (read(engine_, model_columns[slot], k, held.view.get()) != expected) {
      fail("get at snapshot mismatch");
    }
  }

  engine& engine_;
  std::mt19937_64 random_;
  model model_;
  std::deque<held_snapshot> snapshots_;
  size_t step_ = 0;
  int failures_ = 0;
};

void run_seed(uint64_t seed) {
  for_each_engine([seed](engine& e, const std::string& name) {
    workload load{e, seed};
    const auto failures = load.run();
    if (failures != 0) CAF_MESSAGE("seed " << seed << " failed on " << name);
    CAF_CHECK_EQUAL(failures, 0);
  });
}

}  // namespace

CAF_TEST(random operation sequences match the model for seed 1) { run_seed(1); }
CAF_TEST(random operation sequences match the model for seed 2) { run_seed(2); }
CAF_TEST(random operation sequences match the model for seed 3) { run_seed(3); }
CAF_TEST(random operation sequences match the model for seed 20261126) { run_seed(20261126); }
