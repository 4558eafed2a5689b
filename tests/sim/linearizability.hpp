// A linearizability checker for key-value histories recorded by the
// simulator's client workload: Wing & Gong's search with Lowe's memoization
// (cache of (linearized set, model state) pairs already explored), run
// separately per key (a history is linearizable iff each key's sub-history is,
// since keys are independent registers).
//
// Model per key: a register holding an optional string (absent at start).
//   write(v)          : sets v
//   read -> r         : r equals the current value (nullopt = absent)
//   cas(e, v) -> ok   : ok iff the current value equals e (nullopt = absent); then sets v
//
// Operations whose outcome is unknown (a timeout, a crash of the node serving
// it) have completed == false: they may have taken effect at any point after
// their invoke time, or never. An unknown read constrains nothing and is
// dropped. Times are the simulator's virtual clock; an operation A precedes B
// iff A.complete_time < B.invoke_time.
//
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace velocity::sim {

struct operation {
  enum class kind : uint8_t { write = 0, read = 1, cas = 2 };
  kind type = kind::write;
  uint64_t client = 0;
  std::string key;
  std::optional<std::string> value;     // write: the value; cas: the new value; read: the result
  std::optional<std::string> expected;  // cas only
  bool ok = true;                       // cas: whether it succeeded (ignored otherwise)
  bool completed = true;                // false: outcome unknown
  int64_t invoke_time = 0;
  int64_t complete_time = 0;            // ignored when !completed
};

struct linearizability_result {
  bool linearizable = true;
  bool gave_up = false;       // the search budget ran out (not a verdict)
  std::string key;            // the first key found not linearizable
  std::string explanation;    // human-readable: the operations involved
  uint64_t states_explored = 0;
};

// states_max bounds the search per key; exceeding it sets gave_up (and
// linearizable stays true: no violation was proven).
linearizability_result check_linearizable(const std::vector<operation>& history,
                                          uint64_t states_max = 5'000'000);

}  // namespace velocity::sim
