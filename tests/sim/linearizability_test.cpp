// Tests of the linearizability checker (tests/sim/linearizability.hpp): the
// register model (write, read, CAS, absent start), interval order and its
// ties, unknown outcomes, per-key independence, the explanation, the search
// budget, and seeded random histories that are linearizable by construction
// (then broken by one impossible read).
#define CAF_SUITE linearizability
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/sim/linearizability.hpp"

using namespace velocity::sim;

namespace {

using value_type = std::optional<std::string>;
const value_type absent = std::nullopt;

operation write_op(uint64_t client, std::string key, std::string value, int64_t invoke,
                   int64_t complete) {
  operation op;
  op.type = operation::kind::write;
  op.client = client;
  op.key = std::move(key);
  op.value = std::move(value);
  op.invoke_time = invoke;
  op.complete_time = complete;
  return op;
}

operation read_op(uint64_t client, std::string key, value_type result, int64_t invoke,
                  int64_t complete) {
  operation op;
  op.type = operation::kind::read;
  op.client = client;
  op.key = std::move(key);
  op.value = std::move(result);
  op.invoke_time = invoke;
  op.complete_time = complete;
  return op;
}

operation cas_op(uint64_t client, std::string key, value_type expected, std::string value,
                 bool ok, int64_t invoke, int64_t complete) {
  operation op;
  op.type = operation::kind::cas;
  op.client = client;
  op.key = std::move(key);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.ok = ok;
  op.invoke_time = invoke;
  op.complete_time = complete;
  return op;
}

// The same operation with its outcome unknown (complete time meaningless).
operation unknown(operation op) {
  op.completed = false;
  op.complete_time = 0;
  op.ok = false;
  return op;
}

bool accepted(const std::vector<operation>& history) {
  auto result = check_linearizable(history);
  if (!result.linearizable) CAF_MESSAGE("rejected: " << result.explanation);
  return result.linearizable && !result.gave_up;
}

bool rejected(const std::vector<operation>& history) {
  auto result = check_linearizable(history);
  return !result.linearizable && !result.gave_up;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Seeded random histories of one register per key, produced by executing the
// operations sequentially at a linearization point chosen inside each
// interval: linearizable by construction.
struct history_generator {
  std::mt19937_64 rng;
  int unknown_percent = 0;
  int64_t duration_max = 30;
  int64_t gap_max = 5;
  uint64_t next_value = 0;

  int64_t uniform(int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>{low, high}(rng);
  }

  std::vector<operation> generate(uint64_t clients, size_t ops_per_client,
                                  const std::vector<std::string>& keys) {
    struct planned {
      operation op;
      int64_t point;
      uint64_t tie;
    };
    std::vector<planned> plan;
    for (uint64_t client = 0; client < clients; ++client) {
      int64_t cursor = 0;
      for (size_t i = 0; i < ops_per_client; ++i) {
        operation op;
        op.client = client;
        op.key = keys[static_cast<size_t>(uniform(0, static_cast<int64_t>(keys.size()) - 1))];
        op.invoke_time = cursor + uniform(0, gap_max);
        op.complete_time = op.invoke_time + uniform(0, duration_max);
        cursor = op.complete_time;
        int64_t point = uniform(op.invoke_time, op.complete_time);
        plan.push_back({std::move(op), point, rng()});
      }
    }
    std::sort(plan.begin(), plan.end(), [](const planned& a, const planned& b) {
      return a.point != b.point ? a.point < b.point : a.tie < b.tie;
    });
    return execute(plan);
  }

  // Runs the plan in linearization order against a register per key and
  // fills in results; some writes and CAS lose their outcome.
  template <class Plan>
  std::vector<operation> execute(Plan& plan) {
    std::map<std::string, value_type> registers;
    std::map<std::string, std::vector<std::string>> written;
    std::vector<operation> history;
    for (auto& step : plan) {
      operation op = std::move(step.op);
      value_type& current = registers[op.key];
      int kind = static_cast<int>(uniform(0, 9));
      bool lost = uniform(0, 99) < unknown_percent;
      if (kind < 4) {
        op.type = operation::kind::read;
        op.value = current;
        if (lost) op = unknown(op);
      } else if (kind < 8) {
        op.type = operation::kind::write;
        op.value = fresh_value();
        written[op.key].push_back(*op.value);
        bool took_effect = !lost || uniform(0, 1) == 1;
        if (took_effect) current = op.value;
        if (lost) op = unknown(op);
      } else {
        op.type = operation::kind::cas;
        op.expected = pick_expected(current, written[op.key]);
        op.value = fresh_value();
        written[op.key].push_back(*op.value);
        bool took_effect = !lost || uniform(0, 1) == 1;
        op.ok = op.expected == current;
        if (took_effect && op.ok) current = op.value;
        if (lost) op = unknown(op);
      }
      history.push_back(std::move(op));
    }
    return history;
  }

  // The current value, an older one, or one never written.
  value_type pick_expected(const value_type& current, const std::vector<std::string>& older) {
    int64_t pick = uniform(0, 3);
    if (pick <= 1 || (pick == 2 && older.empty())) return current;
    if (pick == 2) return older[static_cast<size_t>(uniform(0, static_cast<int64_t>(older.size()) - 1))];
    return fresh_value();
  }

  // Mostly fresh values, sometimes a repeat, so equal values also occur.
  std::string fresh_value() {
    if (next_value > 0 && uniform(0, 9) == 0)
      return "v" + std::to_string(uniform(0, static_cast<int64_t>(next_value) - 1));
    return "v" + std::to_string(next_value++);
  }
};

// Replaces one completed read's result by a value nobody ever wrote; false
// when the history holds no completed read.
bool corrupt_one_read(std::vector<operation>& history, std::mt19937_64& rng) {
  std::vector<size_t> reads;
  for (size_t i = 0; i < history.size(); ++i)
    if (history[i].type == operation::kind::read && history[i].completed) reads.push_back(i);
  if (reads.empty()) return false;
  size_t pick = reads[std::uniform_int_distribution<size_t>{0, reads.size() - 1}(rng)];
  history[pick].value = "never-written";
  return true;
}


// A brute-force reference: tries every subset of the unknown writes and CAS
// and every order of the chosen operations that respects real time. Only for
// a handful of operations; it shares no code with the checker.
class brute_force_checker {
 public:
  explicit brute_force_checker(const std::vector<operation>& history) {
    for (const auto& op : history)
      if (op.completed || op.type != operation::kind::read) ops_.push_back(op);
  }

  bool linearizable() {
    std::vector<size_t> unknown;
    for (size_t i = 0; i < ops_.size(); ++i)
      if (!ops_[i].completed) unknown.push_back(i);
    for (uint32_t subset = 0; subset < (1u << unknown.size()); ++subset) {
      uint32_t remaining = 0;
      for (size_t i = 0; i < ops_.size(); ++i)
        if (ops_[i].completed) remaining |= 1u << i;
      for (size_t j = 0; j < unknown.size(); ++j)
        if (subset & (1u << j)) remaining |= 1u << unknown[j];
      if (search(remaining, absent)) return true;
    }
    return false;
  }

 private:
  bool search(uint32_t remaining, const value_type& state) {
    if (remaining == 0) return true;
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (!(remaining & (1u << i)) || !may_go_next(remaining, i)) continue;
      auto after = step(ops_[i], state);
      if (after && search(remaining & ~(1u << i), *after)) return true;
    }
    return false;
  }

  // No other remaining operation completed before this one was invoked.
  bool may_go_next(uint32_t remaining, size_t candidate) const {
    for (size_t i = 0; i < ops_.size(); ++i)
      if ((remaining & (1u << i)) && ops_[i].completed &&
          ops_[i].complete_time < ops_[candidate].invoke_time)
        return false;
    return true;
  }

  static std::optional<value_type> step(const operation& op, const value_type& state) {
    switch (op.type) {
      case operation::kind::write:
        return op.value;
      case operation::kind::read:
        if (op.value == state) return state;
        return std::nullopt;
      case operation::kind::cas:
        if (!op.completed) return op.expected == state ? op.value : state;
        if (op.ok != (op.expected == state)) return std::nullopt;
        return op.ok ? op.value : state;
    }
    return std::nullopt;
  }

  std::vector<operation> ops_;
};

// Small arbitrary histories (mostly not linearizable) over a tiny alphabet.
std::vector<operation> random_small_history(std::mt19937_64& rng, size_t operations_max) {
  auto uniform = [&](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>{low, high}(rng);
  };
  auto random_value = [&]() -> value_type {
    int64_t pick = uniform(0, 3);
    return pick == 0 ? absent : value_type{std::to_string(pick)};
  };
  std::vector<operation> history;
  auto count = static_cast<size_t>(uniform(1, static_cast<int64_t>(operations_max)));
  for (size_t i = 0; i < count; ++i) {
    operation op;
    op.client = i;
    op.key = "k";
    op.type = static_cast<operation::kind>(uniform(0, 2));
    op.value = op.type == operation::kind::read ? random_value()
                                                : value_type{std::to_string(uniform(1, 3))};
    if (op.type == operation::kind::cas) op.expected = random_value();
    op.ok = uniform(0, 1) == 1;
    op.completed = uniform(0, 3) != 0;
    op.invoke_time = uniform(0, 8);
    op.complete_time = op.invoke_time + uniform(0, 4);
    history.push_back(std::move(op));
  }
  return history;
}

}  // namespace

CAF_TEST(a read after a completed write that returns the old value is rejected) {
  std::vector<operation> history{write_op(1, "k", "1", 0, 10), write_op(1, "k", "2", 20, 30),
                                 read_op(2, "k", "1", 40, 50)};
  CAF_CHECK(rejected(history));
  std::vector<operation> from_absent{write_op(1, "k", "1", 0, 10), read_op(2, "k", absent, 20, 30)};
  CAF_CHECK(rejected(from_absent));
}

CAF_TEST(a read overlapping the write that replaces the old value may return either) {
  std::vector<operation> old_value{write_op(1, "k", "1", 0, 10), write_op(1, "k", "2", 20, 45),
                                   read_op(2, "k", "1", 40, 50)};
  CAF_CHECK(accepted(old_value));
  std::vector<operation> new_value{write_op(1, "k", "1", 0, 10), write_op(1, "k", "2", 20, 45),
                                   read_op(2, "k", "2", 40, 50)};
  CAF_CHECK(accepted(new_value));
}

CAF_TEST(an operation precedes another only if it completes strictly before the invoke) {
  // The write completes at 40, the read is invoked at 40: concurrent.
  std::vector<operation> tie{write_op(1, "k", "1", 0, 10), write_op(1, "k", "2", 20, 40),
                             read_op(2, "k", "1", 40, 50)};
  CAF_CHECK(accepted(tie));
  std::vector<operation> after{write_op(1, "k", "1", 0, 10), write_op(1, "k", "2", 20, 40),
                               read_op(2, "k", "1", 41, 50)};
  CAF_CHECK(rejected(after));
  // An instantaneous read at the very moment a write is invoked is concurrent too.
  std::vector<operation> point{write_op(1, "k", "1", 5, 5), read_op(2, "k", "1", 5, 5)};
  CAF_CHECK(accepted(point));
}

CAF_TEST(concurrent writes may take effect in either order but in only one) {
  std::vector<operation> base{write_op(1, "k", "a", 0, 10), write_op(2, "k", "b", 0, 10)};
  for (const char* seen : {"a", "b"}) {
    auto history = base;
    history.push_back(read_op(3, "k", seen, 20, 30));
    CAF_CHECK(accepted(history));
  }
  // Reads during the writes see b then a, so a was written last.
  auto ordered = base;
  ordered.push_back(read_op(3, "k", "b", 1, 4));
  ordered.push_back(read_op(3, "k", "a", 5, 6));
  CAF_CHECK(accepted(ordered));
  auto contradicted = ordered;
  contradicted.push_back(read_op(4, "k", "b", 20, 21));
  CAF_CHECK(rejected(contradicted));
  // Two later reads cannot disagree once both writes completed.
  auto flapping = base;
  flapping.push_back(read_op(3, "k", "a", 20, 30));
  flapping.push_back(read_op(4, "k", "b", 40, 50));
  CAF_CHECK(rejected(flapping));
}

CAF_TEST(a read of a value that was never written is rejected) {
  std::vector<operation> history{write_op(1, "k", "1", 0, 10), read_op(2, "k", "7", 0, 20)};
  CAF_CHECK(rejected(history));
}

CAF_TEST(the register starts absent) {
  CAF_CHECK(accepted({read_op(1, "k", absent, 0, 1)}));
  CAF_CHECK(rejected({read_op(1, "k", "1", 0, 1)}));
  CAF_CHECK(accepted({write_op(1, "k", "1", 0, 10), read_op(2, "k", absent, 5, 15)}));
  CAF_CHECK(accepted({cas_op(1, "k", absent, "1", true, 0, 1), read_op(2, "k", "1", 2, 3)}));
  CAF_CHECK(rejected({cas_op(1, "k", absent, "1", false, 0, 1)}));
  CAF_CHECK(accepted({}));
}

CAF_TEST(a cas succeeds exactly when the register holds the expected value) {
  CAF_CHECK(accepted({write_op(1, "k", "0", 0, 1), cas_op(1, "k", "0", "1", true, 2, 3),
                      read_op(2, "k", "1", 4, 5)}));
  CAF_CHECK(rejected({write_op(1, "k", "0", 0, 1), cas_op(1, "k", "9", "1", true, 2, 3)}));
  CAF_CHECK(rejected({write_op(1, "k", "0", 0, 1), cas_op(1, "k", "0", "1", false, 2, 3)}));
  CAF_CHECK(accepted({write_op(1, "k", "0", 0, 1), cas_op(1, "k", "9", "1", false, 2, 3),
                      read_op(2, "k", "0", 4, 5)}));
  // A failed cas leaves the register alone.
  CAF_CHECK(rejected({write_op(1, "k", "0", 0, 1), cas_op(1, "k", "9", "1", false, 2, 3),
                      read_op(2, "k", "1", 4, 5)}));
}

CAF_TEST(two concurrent cas on the same expected value cannot both succeed) {
  std::vector<operation> base{write_op(1, "k", "0", 0, 1)};
  auto both = base;
  both.push_back(cas_op(2, "k", "0", "a", true, 2, 10));
  both.push_back(cas_op(3, "k", "0", "b", true, 2, 10));
  CAF_CHECK(rejected(both));
  auto one = base;
  one.push_back(cas_op(2, "k", "0", "a", true, 2, 10));
  one.push_back(cas_op(3, "k", "0", "b", false, 2, 10));
  one.push_back(read_op(4, "k", "a", 11, 12));
  CAF_CHECK(accepted(one));
  // The loser's value must not be what is read afterwards.
  auto wrong_winner = one;
  wrong_winner.back() = read_op(4, "k", "b", 11, 12);
  CAF_CHECK(rejected(wrong_winner));
}

CAF_TEST(a write with unknown outcome may take effect after its invoke or never) {
  std::vector<operation> base{write_op(1, "k", "1", 0, 10), unknown(write_op(2, "k", "2", 20, 0))};
  auto took_effect = base;
  took_effect.push_back(read_op(3, "k", "2", 30, 40));
  CAF_CHECK(accepted(took_effect));
  auto never = base;
  never.push_back(read_op(3, "k", "1", 30, 40));
  never.push_back(read_op(3, "k", "1", 1000, 1001));
  CAF_CHECK(accepted(never));
  auto late = base;
  late.push_back(read_op(3, "k", "1", 30, 40));
  late.push_back(read_op(3, "k", "2", 1000, 1001));
  CAF_CHECK(accepted(late));
  // Once seen it has taken effect, and nothing wrote 1 again.
  auto undone = took_effect;
  undone.push_back(read_op(3, "k", "1", 50, 60));
  CAF_CHECK(rejected(undone));
}

CAF_TEST(a read of an unknown write before the write is invoked is rejected) {
  std::vector<operation> history{write_op(1, "k", "1", 0, 10),
                                 unknown(write_op(2, "k", "2", 20, 0)),
                                 read_op(3, "k", "2", 12, 15)};
  CAF_CHECK(rejected(history));
}

CAF_TEST(an unknown write that nobody reads still counts for a failed cas) {
  // The failed cas needs the register to differ from 1: only the unknown write
  // of 2 makes that possible.
  std::vector<operation> history{write_op(1, "k", "1", 0, 10),
                                 unknown(write_op(2, "k", "2", 20, 0)),
                                 cas_op(3, "k", "1", "3", false, 30, 40)};
  CAF_CHECK(accepted(history));
  history.push_back(read_op(3, "k", "1", 50, 60));
  CAF_CHECK(rejected(history));
  // Without the unknown write the failed cas is impossible.
  CAF_CHECK(rejected({write_op(1, "k", "1", 0, 10), cas_op(3, "k", "1", "3", false, 30, 40)}));
}

CAF_TEST(a cas with unknown outcome applies only if the expected value is there) {
  std::vector<operation> base{write_op(1, "k", "1", 0, 10),
                              unknown(cas_op(2, "k", "1", "3", false, 20, 0))};
  for (const char* seen : {"1", "3"}) {
    auto history = base;
    history.push_back(read_op(3, "k", seen, 30, 40));
    CAF_CHECK(accepted(history));
  }
  std::vector<operation> mismatch{write_op(1, "k", "1", 0, 10),
                                  unknown(cas_op(2, "k", "9", "3", false, 20, 0)),
                                  read_op(3, "k", "3", 30, 40)};
  CAF_CHECK(rejected(mismatch));
}

CAF_TEST(a read with unknown outcome constrains nothing) {
  std::vector<operation> history{write_op(1, "k", "1", 0, 10),
                                 unknown(read_op(2, "k", "garbage", 20, 0))};
  CAF_CHECK(accepted(history));
}

CAF_TEST(a violation on key b is reported as key b and names the operations) {
  std::vector<operation> history{write_op(1, "a", "1", 0, 10), read_op(2, "a", "1", 20, 30),
                                 write_op(1, "b", "x", 0, 10), write_op(1, "b", "y", 20, 30),
                                 read_op(7, "b", "x", 40, 50)};
  auto result = check_linearizable(history);
  CAF_REQUIRE(!result.linearizable);
  CAF_CHECK(!result.gave_up);
  CAF_CHECK_EQUAL(result.key, "b");
  CAF_MESSAGE(result.explanation);
  std::string explanation = result.explanation;
  CAF_CHECK(contains(explanation, "key \"b\""));
  CAF_CHECK(contains(explanation, "client 7 read -> \"x\" [40, 50]"));
  CAF_CHECK(contains(explanation, "client 1 write \"y\" [20, 30]"));
  CAF_CHECK(contains(explanation, "holds \"y\""));
  // The same key b alone is still rejected; key a alone is accepted.
  std::vector<operation> only_a(history.begin(), history.begin() + 2);
  CAF_CHECK(accepted(only_a));
}

CAF_TEST(the search gives up without a verdict when the state budget runs out) {
  history_generator generator{std::mt19937_64{7}};
  auto history = generator.generate(4, 50, {"k"});
  auto result = check_linearizable(history, 10);
  CAF_CHECK(result.gave_up);
  CAF_CHECK(result.linearizable);
  std::string explanation = result.explanation;
  CAF_CHECK(contains(explanation, "gave up"));
  CAF_CHECK(contains(explanation, "\"k\""));
  auto unbounded = check_linearizable(history);
  CAF_CHECK(!unbounded.gave_up);
  CAF_CHECK(unbounded.linearizable);
}

CAF_TEST(random histories of a sequential register are accepted and one impossible read is not) {
  constexpr uint64_t runs = 300;
  std::mt19937_64 mutation_rng{99};
  size_t corrupted = 0;
  for (uint64_t seed = 1; seed <= runs; ++seed) {
    history_generator generator{std::mt19937_64{seed}};
    generator.unknown_percent = static_cast<int>(seed % 5) * 8;
    generator.duration_max = static_cast<int64_t>(seed % 3) * 20;
    auto history = generator.generate(2 + seed % 5, 8 + seed % 17, {"a", "b", "c"});
    auto result = check_linearizable(history);
    if (!result.linearizable || result.gave_up) {
      CAF_FAIL("seed " << seed << " rejected a linearizable history: " << result.explanation);
    }
    if (!corrupt_one_read(history, mutation_rng)) continue;
    ++corrupted;
    auto broken = check_linearizable(history);
    if (broken.linearizable || broken.gave_up)
      CAF_FAIL("seed " << seed << " accepted a read of a value never written");
  }
  CAF_CHECK_GREATER(corrupted, runs / 2);
}

CAF_TEST(the checker agrees with a brute-force search on small arbitrary histories) {
  constexpr uint64_t histories = 20'000;
  constexpr size_t operations_max = 8;
  std::mt19937_64 rng{31337};
  size_t accepted_count = 0;
  for (uint64_t i = 0; i < histories; ++i) {
    auto history = random_small_history(rng, operations_max);
    bool expected = brute_force_checker{history}.linearizable();
    auto result = check_linearizable(history);
    CAF_REQUIRE(!result.gave_up);
    if (result.linearizable != expected) {
      std::string listing;
      for (const auto& op : history)
        listing += "  type " + std::to_string(static_cast<int>(op.type)) + " value " +
                   op.value.value_or("-") + " expected " + op.expected.value_or("-") +
                   " ok " + std::to_string(op.ok) + " completed " +
                   std::to_string(op.completed) + " [" + std::to_string(op.invoke_time) +
                   ", " + std::to_string(op.complete_time) + "]\n";
      CAF_FAIL("history " << i << ": brute force says " << expected << "\n" << listing);
    }
    if (expected) ++accepted_count;
  }
  // Both verdicts must be well represented for the comparison to mean much.
  CAF_CHECK_GREATER(accepted_count, histories / 10);
  CAF_CHECK_LESS(accepted_count, histories * 9 / 10);
}

CAF_TEST(three clients with 300 overlapping operations per key finish well within budget) {
  history_generator generator{std::mt19937_64{2026}};
  generator.unknown_percent = 3;
  auto history = generator.generate(3, 600, {"x", "y"});
  constexpr uint64_t budget_states = 200'000;
  auto result = check_linearizable(history, budget_states);
  CAF_CHECK(result.linearizable);
  CAF_CHECK(!result.gave_up);
  CAF_MESSAGE("states explored: " << result.states_explored);
  std::mt19937_64 mutation_rng{5};
  CAF_REQUIRE(corrupt_one_read(history, mutation_rng));
  auto broken = check_linearizable(history, budget_states);
  CAF_CHECK(!broken.linearizable);
  CAF_CHECK(!broken.gave_up);
}
