// The data structures of the linearizability search (linearizability.cpp),
// independent of the register model: the set of linearized operations, the
// memo of explored (set, state) pairs, and the time-ordered event list from
// which linearized operations are lifted out.
//
// Thread safety: none needed; each search owns its instances.
// Invariants are stated on each class.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <tuple>
#include <unordered_set>
#include <vector>

namespace velocity::sim::detail {

// A set of operation numbers as a bitset in two regions (completed
// operations, then those with unknown outcome), each tracking its window: in
// a region, the words below its first_word are all ones and those from its
// end_word on are all zeros, so the two windows identify the set exactly.
// With completed operations numbered in invoke order their window stays
// about as wide as the concurrency, which keeps memo entries small; unknown
// operations, which may stay out forever, get their own region so they do
// not widen it.
class linearized_set {
 public:
  static constexpr size_t region_count = 2;

  linearized_set(size_t completed, size_t unknown) {
    size_t completed_words = (completed + 63) / 64;
    regions_[0] = {0, completed_words, 0, 0};
    regions_[1] = {completed_words, completed_words + (unknown + 63) / 64, completed_words,
                   completed_words};
    unknown_base_bit_ = completed_words * 64;
    completed_ = completed;
    words_.assign(regions_[1].limit_word, 0);
  }

  // Operations 0 .. completed-1 are the completed ones, the rest unknown.
  void insert(uint32_t op) {
    size_t bit = bit_of(op);
    words_[bit / 64] |= uint64_t{1} << (bit % 64);
    region& r = region_of(op);
    r.end_word = std::max(r.end_word, bit / 64 + 1);
    while (r.first_word < r.limit_word && words_[r.first_word] == all_ones) ++r.first_word;
  }

  void erase(uint32_t op) {
    size_t bit = bit_of(op);
    words_[bit / 64] &= ~(uint64_t{1} << (bit % 64));
    region& r = region_of(op);
    r.first_word = std::min(r.first_word, bit / 64);
    while (r.end_word > r.base_word && words_[r.end_word - 1] == 0) --r.end_word;
  }

  // The window of region i: [first_word(i), end_word(i)).
  size_t first_word(size_t i) const { return regions_[i].first_word; }
  size_t end_word(size_t i) const { return std::max(regions_[i].first_word, regions_[i].end_word); }
  const uint64_t* words() const { return words_.data(); }

 private:
  static constexpr uint64_t all_ones = ~uint64_t{0};

  struct region {
    size_t base_word;
    size_t limit_word;
    size_t first_word;  // first word that is not all ones (or limit_word)
    size_t end_word;    // one past the last nonzero word (or base_word)
  };

  size_t bit_of(uint32_t op) const {
    return op < completed_ ? op : unknown_base_bit_ + (op - completed_);
  }
  region& region_of(uint32_t op) { return regions_[op < completed_ ? 0 : 1]; }

  std::vector<uint64_t> words_;  // bit of op set: op is linearized
  std::array<region, region_count> regions_{};
  size_t unknown_base_bit_ = 0;
  size_t completed_ = 0;
};

// The set of (linearized operations, register state) pairs already explored.
// Entries live in one flat arena (one header word per region, the state, the
// windows' words) to keep a few million states affordable; the hash set
// stores arena offsets. Equal entries mean equal pairs, because a header
// holds its window's start and length.
class state_cache {
 public:
  state_cache() : set_(initial_buckets, hasher{this}, equal{this}) {}
  state_cache(const state_cache&) = delete;
  state_cache& operator=(const state_cache&) = delete;

  // Records the pair; false when it was explored before.
  bool insert(const linearized_set& linearized, int32_t state) {
    size_t offset = arena_.size();
    size_t window_words = 0;
    for (size_t i = 0; i < linearized_set::region_count; ++i) {
      size_t first = linearized.first_word(i);
      size_t length = linearized.end_word(i) - first;
      arena_.push_back((static_cast<uint64_t>(first) << 32) | length);
      window_words += length;
    }
    arena_.push_back(static_cast<uint64_t>(static_cast<uint32_t>(state)));
    for (size_t i = 0; i < linearized_set::region_count; ++i)
      arena_.insert(arena_.end(), linearized.words() + linearized.first_word(i),
                    linearized.words() + linearized.end_word(i));
    if (set_.insert(offset).second) return true;
    arena_.resize(offset);
    return false;
  }

  uint64_t size() const { return set_.size(); }

 private:
  static constexpr size_t initial_buckets = 1024;
  static constexpr size_t header_words = linearized_set::region_count + 1;

  size_t entry_words(size_t offset) const {
    size_t words = header_words;
    for (size_t i = 0; i < linearized_set::region_count; ++i)
      words += static_cast<size_t>(arena_[offset + i] & 0xffffffffULL);
    return words;
  }

  struct hasher {
    const state_cache* cache;
    size_t operator()(size_t offset) const {
      uint64_t h = 0x9e3779b97f4a7c15ULL;
      size_t words = cache->entry_words(offset);
      for (size_t i = 0; i < words; ++i) {
        h ^= cache->arena_[offset + i] + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9ULL;
      }
      return static_cast<size_t>(h ^ (h >> 29));
    }
  };
  struct equal {
    const state_cache* cache;
    bool operator()(size_t a, size_t b) const {
      const uint64_t* base = cache->arena_.data();
      size_t words = cache->entry_words(a);
      return words == cache->entry_words(b) && std::equal(base + a, base + a + words, base + b);
    }
  };

  std::vector<uint64_t> arena_;
  std::unordered_set<size_t, hasher, equal> set_;
};

// One operation's interval as the event list needs it.
struct interval {
  int64_t invoke_time = 0;
  int64_t return_time = 0;  // INT64_MAX: the outcome is unknown
};

// A doubly linked list of call and return events in time order, from which
// linearized operations are lifted out and restored (LIFO, like dancing
// links). Node 0 is the head sentinel, node 2n+1 the tail sentinel. Calls
// sort before returns at equal times: equal times are concurrent.
class event_list {
 public:
  explicit event_list(const std::vector<interval>& intervals) {
    struct event {
      int64_t time;
      bool is_return;
      uint32_t op;
    };
    std::vector<event> events;
    for (uint32_t i = 0; i < intervals.size(); ++i) {
      events.push_back({intervals[i].invoke_time, false, i});
      events.push_back({intervals[i].return_time, true, i});
    }
    std::sort(events.begin(), events.end(), [](const event& a, const event& b) {
      return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
    });
    size_t nodes = events.size() + 2;
    next_.resize(nodes);
    prev_.resize(nodes);
    op_of_.assign(nodes, 0);
    is_call_.assign(nodes, false);
    match_.assign(nodes, 0);
    for (uint32_t node = 0; node < nodes; ++node) {
      next_[node] = node + 1 < nodes ? node + 1 : node;
      prev_[node] = node > 0 ? node - 1 : 0;
    }
    std::vector<uint32_t> call_node(intervals.size(), 0);
    for (uint32_t i = 0; i < events.size(); ++i) {
      uint32_t node = i + 1;
      op_of_[node] = events[i].op;
      is_call_[node] = !events[i].is_return;
      if (is_call_[node]) call_node[events[i].op] = node;
      else match_[call_node[events[i].op]] = node;
    }
  }

  uint32_t first() const { return next_[0]; }
  uint32_t next(uint32_t node) const { return next_[node]; }
  bool is_call(uint32_t node) const { return is_call_[node]; }
  uint32_t op_of(uint32_t node) const { return op_of_[node]; }

  // Removes a call and its return.
  void lift(uint32_t call) {
    unlink(call);
    unlink(match_[call]);
  }
  // Restores the most recently lifted call and its return.
  void unlift(uint32_t call) {
    relink(match_[call]);
    relink(call);
  }

 private:
  void unlink(uint32_t node) {
    next_[prev_[node]] = next_[node];
    prev_[next_[node]] = prev_[node];
  }
  void relink(uint32_t node) {
    next_[prev_[node]] = node;
    prev_[next_[node]] = node;
  }

  std::vector<uint32_t> next_;
  std::vector<uint32_t> prev_;
  std::vector<uint32_t> op_of_;
  std::vector<bool> is_call_;
  std::vector<uint32_t> match_;  // call node -> its return node
};

}  // namespace velocity::sim::detail
