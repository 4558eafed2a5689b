// Generated ids: format, the encoded time, and ordering by creation time.
#define CAF_SUITE ids
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "router/ids.hpp"

using namespace velocity;

namespace {

constexpr int64_t ns_per_ms = 1'000'000;

bool is_crockford(char c) {
  return std::string_view{"0123456789ABCDEFGHJKMNPQRSTVWXYZ"}.find(c) != std::string_view::npos;
}

}  // namespace

CAF_TEST(an id is 26 crockford base32 characters starting with 0 to 7) {
  std::mt19937_64 random{42};
  for (int i = 0; i < 1000; ++i) {
    auto now_ns = static_cast<int64_t>(random() >> 1);  // any non-negative int64
    std::string id = generate_id(now_ns, random());
    CAF_REQUIRE_EQUAL(id.size(), 26u);
    CAF_CHECK(std::all_of(id.begin(), id.end(), is_crockford));
    CAF_CHECK(id[0] >= '0' && id[0] <= '7');
    auto ms = generated_id_time_ms(id);
    CAF_REQUIRE(ms.has_value());
    CAF_CHECK_EQUAL(*ms, now_ns / ns_per_ms);
  }
}

CAF_TEST(known inputs give known ids) {
  CAF_CHECK_EQUAL(generate_id(0, 0), "00000000000000000000000000");
  // The last int64 nanosecond (ms 9223372036854, position 50843) and all-ones random,
  // computed by an independent implementation.
  CAF_CHECK_EQUAL(generate_id(INT64_MAX, ~uint64_t{0}), "08CDXX0PQPRTDZZZZZZZZZZZZZ");
  // 1 ms is bit 80: 2^80 = 32^16, so the 10th character (index 9) is 1.
  CAF_CHECK_EQUAL(generate_id(ns_per_ms, 0), "00000000010000000000000000");
  // The random word is the last 64 bits: 1 is the last character.
  CAF_CHECK_EQUAL(generate_id(0, 1), "00000000000000000000000001");
}

CAF_TEST(ids sort by creation time whatever their random bits) {
  std::mt19937_64 random{7};
  std::vector<std::pair<int64_t, std::string>> made;
  int64_t now_ns = 1'700'000'000'000'000'000;
  for (int i = 0; i < 2000; ++i) {
    now_ns += static_cast<int64_t>(random() % 50'000) + 16;  // sub-ms and ms steps, >= 16 ns
    made.emplace_back(now_ns, generate_id(now_ns, random()));
  }
  for (size_t i = 1; i < made.size(); ++i) {
    CAF_CHECK_LESS(made[i - 1].second, made[i].second);
  }
  std::set<std::string> distinct;
  for (const auto& entry : made) distinct.insert(entry.second);
  CAF_CHECK_EQUAL(distinct.size(), made.size());
}

CAF_TEST(ids of the same nanosecond differ by their random bits) {
  CAF_CHECK_NOT_EQUAL(generate_id(5, 1), generate_id(5, 2));
  CAF_CHECK_LESS(generate_id(5, 1), generate_id(5, 2));
}

CAF_TEST(strings that are not generated ids have no time) {
  CAF_CHECK(!generated_id_time_ms("").has_value());
  CAF_CHECK(!generated_id_time_ms("0000000000000000000000000").has_value());    // 25 chars
  CAF_CHECK(!generated_id_time_ms("80000000000000000000000000").has_value());   // > 128 bits
  CAF_CHECK(!generated_id_time_ms("0000000000000000000000000I").has_value());   // not Crockford
  CAF_CHECK(!generated_id_time_ms("0000000000000000000000000a").has_value());   // lowercase
  CAF_CHECK(generated_id_time_ms("00000000010000000000000000") == std::optional<int64_t>{1});
}
