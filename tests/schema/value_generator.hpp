// Seeded random values for property tests of the codecs (JSON, Cap'n Proto, key
// encoding). Values mix edge numbers (int64 edges, 2^53 +- 1, +-0.0, +-inf, NaN,
// denormals), short strings over a tiny alphabet with embedded zeros and 0xff (so
// prefixes and ties are frequent), bytes, and nested lists and maps.
//
// Thread safety: one generator per thread; deterministic for a given seed.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "schema/value.hpp"

namespace velocity::test {

inline std::vector<value> edge_numbers() {
  constexpr int64_t two_53 = int64_t{1} << 53;
  constexpr double inf = std::numeric_limits<double>::infinity();
  return {value{std::numeric_limits<int64_t>::min()},
          value{std::numeric_limits<int64_t>::min() + 1},
          value{std::numeric_limits<int64_t>::max()},
          value{std::numeric_limits<int64_t>::max() - 1},
          value{std::numeric_limits<int64_t>::max() - 511},
          value{std::numeric_limits<int64_t>::max() - 512},
          value{two_53 - 1},
          value{two_53},
          value{two_53 + 1},
          value{-two_53 - 1},
          value{-two_53},
          value{int64_t{0}},
          value{int64_t{-1}},
          value{int64_t{1}},
          value{int64_t{2}},
          value{0.0},
          value{-0.0},
          value{2.0},
          value{0.1},
          value{-0.1},
          value{1e300},
          value{-1e300},
          value{static_cast<double>(two_53)},
          value{static_cast<double>(two_53) + 2.0},
          value{-9223372036854775808.0},
          value{9223372036854775808.0},
          value{inf},
          value{-inf},
          value{std::nan("")},
          value{-std::nan("")},
          value{std::numeric_limits<double>::denorm_min()},
          value{-std::numeric_limits<double>::denorm_min()},
          value{std::numeric_limits<double>::min()},
          value{std::numeric_limits<double>::max()},
          value{std::numeric_limits<double>::lowest()}};
}

// A readable rendering for failure messages (not JSON: shows kinds and bytes).
inline std::string describe(const value& v) {
  auto hex = [](const std::string& s) {
    std::string out;
    const char* digits = "0123456789abcdef";
    for (unsigned char c : s) {
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
    return out;
  };
  switch (v.kind()) {
    case value_kind::null: return "null";
    case value_kind::boolean: return v.as_bool() ? "true" : "false";
    case value_kind::integer: return std::to_string(v.as_int());
    case value_kind::floating: {
      char buffer[64];
      std::snprintf(buffer, sizeof(buffer), "%af", v.as_float());
      return buffer;
    }
    case value_kind::string: return "s'" + hex(v.as_string()) + "'";
    case value_kind::bytes: return "b'" + hex(v.as_bytes().data) + "'";
    case value_kind::list: {
      std::string out = "[";
      for (const auto& item : v.as_list()) out += describe(item) + ",";
      return out + "]";
    }
    case value_kind::map: {
      std::string out = "{";
      for (const auto& [key, item] : v.as_map()) out += hex(key) + ":" + describe(item) + ",";
      return out + "}";
    }
  }
  return "?";
}

class value_generator {
 public:
  explicit value_generator(uint64_t seed) : engine_(seed) {}

  uint64_t next_u64() { return engine_(); }
  size_t below(size_t n) { return static_cast<size_t>(engine_() % n); }

  value number() {
    static const std::vector<value> edges = edge_numbers();
    switch (below(6)) {
      case 0: return edges[below(edges.size())];
      case 1: return value{static_cast<int64_t>(below(7)) - 3};
      case 2: return value{static_cast<int64_t>(engine_())};
      case 3: return value{std::bit_cast<double>(engine_())};  // any double, NaN included
      case 4: return value{(static_cast<double>(below(9)) - 4.0) / 2.0};
      default: {
        // Ints near a power of two, where doubles round.
        int shift = 50 + static_cast<int>(below(13));
        int64_t base = shift >= 63 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << shift);
        int64_t x = base - static_cast<int64_t>(below(2048));
        return value{below(2) ? x : -x};
      }
    }
  }

  std::string text() {
    static const char alphabet[] = {'\0', 'a', 'b', '\xff', '\x01', '"', '\\'};
    std::string out;
    size_t n = below(5);
    for (size_t i = 0; i < n; ++i) out.push_back(alphabet[below(sizeof(alphabet))]);
    return out;
  }

  // A random value of any kind; containers nest at most depth_max deep.
  value any(size_t depth_max = 3) {
    size_t kinds = depth_max == 0 ? 6 : 8;
    switch (below(kinds)) {
      case 0: return value{};
      case 1: return value{below(2) == 1};
      case 2:
      case 3: return number();
      case 4: return value{text()};
      case 5: return value{bytes_value{text()}};
      case 6: {
        value_list items;
        size_t n = below(4);
        for (size_t i = 0; i < n; ++i) items.push_back(any(depth_max - 1));
        return value{std::move(items)};
      }
      default: {
        value_map entries;
        size_t n = below(4);
        for (size_t i = 0; i < n; ++i) entries.insert_or_assign(text(), any(depth_max - 1));
        return value{std::move(entries)};
      }
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace velocity::test
