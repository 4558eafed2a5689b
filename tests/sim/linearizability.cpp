// The linearizability checker declared in linearizability.hpp: per key, Wing &
// Gong's depth-first search over the call/return events in time order, with
// Lowe's memoization ("Testing for linearizability", 2017, section 3): a
// (set of linearized operations, register value) pair that was explored once
// is never explored again, because the remaining search only depends on it.
//
// Thread safety: pure; every call works on its own local state.
//
// Invariants of the search (key_search):
//  - the event list holds exactly the calls and returns of the operations not
//    yet linearized, in time order (calls before returns at equal times, so
//    A precedes B only if A.complete_time < B.invoke_time);
//  - the candidates at any moment are the calls before the first return in
//    the list: the operations invoked before the earliest pending return;
//  - every frame on the stack is one linearized operation with the register
//    value before it, so backtracking restores the exact earlier state;
//  - operations with an unknown outcome return at +infinity, and the search
//    succeeds as soon as every completed operation is linearized (unknown
//    ones left over are the ones that never took effect).
//
// Reductions that keep histories with many lost operations tractable, each
// argued where it is implemented: values nobody observes share one state
// (value_table); an unknown operation that would change nothing is treated as
// "never" (apply); unknown operations with the same effect are tried once per
// point of the order (tried_at_this_level); unknown writes of unobserved
// values take effect only right before a failed CAS (key_search); unknown
// operations that cannot matter are dropped up front (prune_ineffective).
// A brute-force comparison in linearizability_test.cpp guards them.
#include "tests/sim/linearizability.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "protocols/check.hpp"
#include "tests/sim/linearizability_structures.hpp"

namespace velocity::sim {
namespace {

// The register value "absent"; interned values are 0, 1, 2, ...
constexpr int32_t absent_value_id = -1;
// Every value that no read returns and no CAS expects: such values are
// indistinguishable to the model (each differs from every observed value), so
// they share one state and the search need not tell them apart.
constexpr int32_t unobserved_value_id = -2;
// Limits on the explanation so a failing run prints a readable paragraph.
constexpr size_t explanation_candidates_max = 8;
constexpr size_t explanation_prefix_max = 3;
constexpr size_t explanation_value_bytes_max = 40;

// ---------------------------------------------------------------- values --

// Interns values so a register state is one integer (cheap to hash and copy).
class value_table {
 public:
  // Values a completed read returned or a CAS expected: the observed ones.
  explicit value_table(const std::vector<const operation*>& history) {
    for (const operation* op : history) {
      bool read = op->type == operation::kind::read && op->completed;
      if (read && op->value) intern(*op->value);
      if (op->type == operation::kind::cas && op->expected) intern(*op->expected);
    }
  }

  int32_t id_of(const std::optional<std::string>& value) const {
    if (!value) return absent_value_id;
    auto found = ids_.find(*value);
    return found == ids_.end() ? unobserved_value_id : found->second;
  }

 private:
  void intern(const std::string& value) {
    ids_.emplace(value, static_cast<int32_t>(ids_.size()));
  }

  std::map<std::string, int32_t> ids_;
};

std::string quote(const std::optional<std::string>& value) {
  if (!value) return "absent";
  static constexpr char hex_digits[] = "0123456789abcdef";
  std::string out = "\"";
  size_t shown = std::min(value->size(), explanation_value_bytes_max);
  for (size_t i = 0; i < shown; ++i) {
    auto c = static_cast<unsigned char>((*value)[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex_digits[c >> 4];
      out += hex_digits[c & 0xf];
    }
  }
  out += "\"";
  if (shown < value->size()) out += "... (" + std::to_string(value->size()) + " bytes)";
  return out;
}

std::string describe(const operation& op) {
  std::string out = "client " + std::to_string(op.client) + " ";
  switch (op.type) {
    case operation::kind::write:
      out += "write " + quote(op.value);
      break;
    case operation::kind::read:
      out += "read -> " + quote(op.value);
      break;
    case operation::kind::cas:
      out += "cas(" + quote(op.expected) + " -> " + quote(op.value) + ")";
      if (op.completed) out += op.ok ? " ok" : " failed";
      break;
  }
  out += " [" + std::to_string(op.invoke_time) + ", ";
  out += op.completed ? std::to_string(op.complete_time) + "]" : "pending) outcome unknown";
  return out;
}

// ------------------------------------------------------------- the model --

// One operation of a key's sub-history with its values interned.
struct key_operation {
  const operation* source = nullptr;
  int32_t value_id = absent_value_id;
  int32_t expected_id = absent_value_id;
};

// The register model: the state after `op` when it takes effect in `state`,
// or nullopt when its recorded outcome is impossible there.
std::optional<int32_t> apply(const key_operation& op, int32_t state) {
  const operation& source = *op.source;
  switch (source.type) {
    case operation::kind::write:
      // An unknown write that changes nothing here is the same as "never".
      if (!source.completed && op.value_id == state) return std::nullopt;
      return op.value_id;
    case operation::kind::read:
      if (op.value_id == state) return state;
      return std::nullopt;
    case operation::kind::cas: {
      bool matches = state == op.expected_id;
      // Unknown outcome: whatever the register holds decides it; when that
      // changes nothing it is the same as "never", which needs no search.
      if (!source.completed) {
        if (!matches || op.value_id == state) return std::nullopt;
        return op.value_id;
      }
      if (source.ok) return matches ? std::optional<int32_t>{op.value_id} : std::nullopt;
      return matches ? std::nullopt : std::optional<int32_t>{state};
    }
  }
  VELOCITY_CHECK(false);
  return std::nullopt;
}

bool is_failed_cas(const key_operation& op) {
  return op.source->type == operation::kind::cas && op.source->completed && !op.source->ok;
}

bool is_producer(const key_operation& op) {
  return !op.source->completed && op.value_id == unobserved_value_id;
}

// Why `op` does not fit in `state` (only called when apply() said so).
std::string misfit_reason(const key_operation& op, const std::string& state_text) {
  if (is_failed_cas(op))
    return "a failed cas needs the register to differ from " + quote(op.source->expected) +
           ", but it holds " + state_text;
  return "the register holds " + state_text;
}

// ----------------------------------------------------------- the search --

// Where the search got deepest before it had to backtrack: what the
// explanation of a violation shows.
struct failure_point {
  bool recorded = false;
  size_t depth = 0;                 // operations linearized at that point
  int32_t state = absent_value_id;  // register value there
  uint32_t blocking = 0;            // operation whose return was reached
  std::optional<uint32_t> state_setter;  // the linearized operation that wrote state
  std::vector<uint32_t> prefix;     // the last few linearized operations, in order
  std::vector<uint32_t> candidates; // operations invoked before that return
  bool candidates_truncated = false;
};

enum class verdict { linearizable, not_linearizable, gave_up };

// One key's search. Operations 0 .. completed-1 are the completed ones in
// invoke order, the rest have unknown outcome.
//
// Producers are unknown writes and CAS whose new value nobody observes. Such
// a value only ever helps a completed failed CAS (it differs from everything
// expected), so a valid order can always be rearranged to place each
// producer that takes effect right before a failed CAS that expects the value
// the producer replaced (moving it later or dropping it otherwise). The
// search therefore linearizes a producer only there, which keeps histories
// with many lost writes tractable; the memo state after a producer records
// that context (producer_context) because it restricts what comes next.
class key_search {
 public:
  key_search(const std::vector<key_operation>& ops, size_t completed, uint64_t states_max)
      : ops_(ops), list_(intervals_of(ops)), linearized_(completed, ops.size() - completed),
        completed_left_(completed), states_max_(states_max) {}

  verdict run() {
    uint32_t node = list_.first();
    while (completed_left_ > 0) {
      if (list_.is_call(node)) {
        node = try_linearize(node) ? list_.first() : list_.next(node);
        if (cache_.size() >= states_max_) return verdict::gave_up;
      } else {
        // The earliest pending return: nothing after it can be linearized.
        note_failure(node);
        if (stack_.empty()) return verdict::not_linearizable;
        node = backtrack();
      }
    }
    return verdict::linearizable;
  }

  uint64_t states_explored() const { return cache_.size(); }
  const failure_point& deepest() const { return deepest_; }

 private:
  struct frame {
    uint32_t call_node;
    int32_t state_before;
    size_t level_begin_before;
  };

  static std::vector<detail::interval> intervals_of(const std::vector<key_operation>& ops) {
    std::vector<detail::interval> intervals;
    for (const auto& op : ops) {
      const operation& source = *op.source;
      intervals.push_back({source.invoke_time, source.completed
                                                   ? source.complete_time
                                                   : std::numeric_limits<int64_t>::max()});
    }
    return intervals;
  }

  // A memo state distinct from every register value: "just after a producer
  // that replaced `replaced`" (values are >= -1, so this is <= -3).
  static int32_t producer_context(int32_t replaced) { return -3 - (replaced + 1); }

  bool try_linearize(uint32_t call) {
    uint32_t op = list_.op_of(call);
    const key_operation& candidate = ops_[op];
    bool unknown = !candidate.source->completed;
    // Cheapest tests first: unknown operations that never fit stay in the
    // list for the whole search and are passed over on every step.
    auto after = apply(candidate, state_);
    if (!after || !allowed_here(candidate)) return false;
    if (unknown && tried_at_this_level(op)) return false;
    linearized_.insert(op);
    int32_t memo_state = is_producer(candidate) ? producer_context(state_) : *after;
    if (!cache_.insert(linearized_, memo_state)) {
      linearized_.erase(op);
      if (unknown) tried_.push_back(op);
      return false;
    }
    producer_useful_.reset();
    stack_.push_back({call, state_, level_begin_});
    level_begin_ = tried_.size();
    state_ = *after;
    list_.lift(call);
    if (!unknown) --completed_left_;
    return true;
  }

  // The placement rule for producers (see the class comment).
  bool allowed_here(const key_operation& candidate) {
    if (!stack_.empty() && is_producer(ops_[list_.op_of(stack_.back().call_node)]))
      return is_failed_cas(candidate) && candidate.expected_id == stack_.back().state_before;
    if (!is_producer(candidate)) return true;
    // Worth it only if a failed CAS that expects the current value can follow;
    // computed once per step, as every producer in the window asks.
    if (!producer_useful_) {
      producer_useful_ = false;
      for (uint32_t node = list_.first(); list_.is_call(node); node = list_.next(node)) {
        const key_operation& other = ops_[list_.op_of(node)];
        if (is_failed_cas(other) && other.expected_id == state_) producer_useful_ = true;
      }
    }
    return *producer_useful_;
  }

  // Undoes the last linearization; the search resumes after that call.
  uint32_t backtrack() {
    frame top = stack_.back();
    stack_.pop_back();
    uint32_t op = list_.op_of(top.call_node);
    list_.unlift(top.call_node);
    linearized_.erase(op);
    state_ = top.state_before;
    producer_useful_.reset();
    tried_.resize(level_begin_);
    level_begin_ = top.level_begin_before;
    if (ops_[op].source->completed) ++completed_left_;
    else tried_.push_back(op);
    return list_.next(top.call_node);
  }

  // Unknown operations return at +infinity, so two of them with the same
  // effect that are both invoked are interchangeable from here on: once one
  // was tried at this point of the order, trying the other finds nothing new.
  bool tried_at_this_level(uint32_t op) const {
    const key_operation& candidate = ops_[op];
    for (size_t i = level_begin_; i < tried_.size(); ++i) {
      const key_operation& tried = ops_[tried_[i]];
      if (tried.source->type == candidate.source->type &&
          tried.value_id == candidate.value_id && tried.expected_id == candidate.expected_id)
        return true;
    }
    return false;
  }

  void note_failure(uint32_t return_node) {
    if (deepest_.recorded && stack_.size() <= deepest_.depth) return;
    deepest_ = failure_point{};
    deepest_.recorded = true;
    deepest_.depth = stack_.size();
    deepest_.state = state_;
    deepest_.blocking = list_.op_of(return_node);
    for (size_t i = stack_.size(); i-- > 0;) {
      const key_operation& op = ops_[list_.op_of(stack_[i].call_node)];
      if (op.source->type != operation::kind::read && op.value_id == state_) {
        deepest_.state_setter = list_.op_of(stack_[i].call_node);
        break;
      }
    }
    size_t prefix_begin = stack_.size() - std::min(stack_.size(), explanation_prefix_max);
    for (size_t i = prefix_begin; i < stack_.size(); ++i)
      deepest_.prefix.push_back(list_.op_of(stack_[i].call_node));
    for (uint32_t node = list_.first(); node != return_node; node = list_.next(node)) {
      if (!list_.is_call(node)) continue;
      if (deepest_.candidates.size() == explanation_candidates_max) {
        deepest_.candidates_truncated = true;
        break;
      }
      deepest_.candidates.push_back(list_.op_of(node));
    }
  }

  const std::vector<key_operation>& ops_;
  detail::event_list list_;
  detail::state_cache cache_;
  detail::linearized_set linearized_;
  std::vector<frame> stack_;
  // Unknown operations already tried at each depth; this depth's are the
  // ones from level_begin_ on.
  std::vector<uint32_t> tried_;
  size_t level_begin_ = 0;
  // Whether a producer may take effect now; unset when the step changed.
  std::optional<bool> producer_useful_;
  int32_t state_ = absent_value_id;
  size_t completed_left_ = 0;
  uint64_t states_max_;
  failure_point deepest_;
};

// ------------------------------------------------------------ a key --

// Drops unknown-outcome operations that provably never matter, so the
// search does not pass over them on every step:
//  - a CAS expecting a value that no operation writes can never apply;
//  - producers (unknown writes and CAS whose new value no read returns and no
//    CAS expects) matter only to a completed failed CAS (see key_search), so
//    without one they go.
std::vector<key_operation> prune_ineffective(std::vector<key_operation> ops) {
  std::unordered_set<int32_t> written;
  bool failed_cas_present = false;
  for (const auto& op : ops) {
    if (op.source->type != operation::kind::read) written.insert(op.value_id);
    if (is_failed_cas(op)) failed_cas_present = true;
  }
  std::erase_if(ops, [&](const key_operation& op) {
    if (op.source->completed) return false;
    bool never_applies = op.source->type == operation::kind::cas &&
                         op.expected_id != absent_value_id && written.count(op.expected_id) == 0;
    return never_applies || (is_producer(op) && !failed_cas_present);
  });
  return ops;
}

std::string explain(const std::string& key, const std::vector<key_operation>& ops,
                    const failure_point& point) {
  std::string out = "key " + quote(key) + " is not linearizable: no order of its " +
                    std::to_string(ops.size()) + " operations fits a register.\n";
  if (point.depth == 0) {
    out += "No operation can take effect first (the register starts absent).\n";
  } else {
    out += "The longest consistent order linearizes " + std::to_string(point.depth) +
           " operations, ending with:\n";
    for (uint32_t op : point.prefix) out += "  " + describe(*ops[op].source) + "\n";
  }
  std::string holds =
      point.state_setter ? quote(ops[*point.state_setter].source->value) : quote(std::nullopt);
  out += "There the register holds " + holds + ", and\n  " +
         describe(*ops[point.blocking].source) +
         "\nmust take effect before it completes, but no operation invoked by then fits:\n";
  for (uint32_t op : point.candidates) {
    out += "  " + describe(*ops[op].source) + ": ";
    if (apply(ops[op], point.state)) out += "fits, but no order continues from there\n";
    else if (!ops[op].source->completed) out += "would change nothing (same as never)\n";
    else out += "does not fit (" + misfit_reason(ops[op], holds) + ")\n";
  }
  if (point.candidates_truncated) out += "  (more concurrent operations not shown)\n";
  return out;
}

struct key_verdict {
  verdict outcome = verdict::linearizable;
  std::string explanation;
  uint64_t states_explored = 0;
};

key_verdict check_key(const std::string& key, const std::vector<const operation*>& history,
                      uint64_t states_max) {
  value_table values(history);
  std::vector<key_operation> ops;
  for (const operation* op : history) {
    if (!op->completed && op->type == operation::kind::read) continue;
    VELOCITY_CHECK(!op->completed || op->invoke_time <= op->complete_time);
    key_operation entry{op, values.id_of(op->value), absent_value_id};
    if (op->type == operation::kind::cas) entry.expected_id = values.id_of(op->expected);
    ops.push_back(entry);
  }
  ops = prune_ineffective(std::move(ops));
  // Completed operations first, each group in invoke order: what keeps the
  // memo's windows narrow (see linearized_set).
  std::stable_sort(ops.begin(), ops.end(), [](const key_operation& a, const key_operation& b) {
    return std::tuple(!a.source->completed, a.source->invoke_time) <
           std::tuple(!b.source->completed, b.source->invoke_time);
  });
  auto completed = static_cast<size_t>(std::count_if(
      ops.begin(), ops.end(), [](const key_operation& op) { return op.source->completed; }));
  key_search search(ops, completed, states_max);
  key_verdict result;
  result.outcome = search.run();
  result.states_explored = search.states_explored();
  if (result.outcome == verdict::not_linearizable)
    result.explanation = explain(key, ops, search.deepest());
  if (result.outcome == verdict::gave_up)
    result.explanation = "key " + quote(key) + ": gave up after " +
                         std::to_string(result.states_explored) + " states (" +
                         std::to_string(ops.size()) + " operations)\n";
  return result;
}

}  // namespace

linearizability_result check_linearizable(const std::vector<operation>& history,
                                          uint64_t states_max) {
  // An ordered map: keys are checked (and reported) in a deterministic order.
  std::map<std::string, std::vector<const operation*>> by_key;
  for (const auto& op : history) by_key[op.key].push_back(&op);
  linearizability_result result;
  std::string gave_up_explanation;
  for (const auto& [key, ops] : by_key) {
    key_verdict verdict_of_key = check_key(key, ops, states_max);
    result.states_explored += verdict_of_key.states_explored;
    if (verdict_of_key.outcome == verdict::gave_up) {
      result.gave_up = true;
      gave_up_explanation += verdict_of_key.explanation;
    } else if (verdict_of_key.outcome == verdict::not_linearizable) {
      result.linearizable = false;
      result.key = key;
      result.explanation = std::move(verdict_of_key.explanation);
      return result;
    }
  }
  result.explanation = std::move(gave_up_explanation);
  return result;
}

}  // namespace velocity::sim
