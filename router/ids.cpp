// Time-ordered id generation; see router/ids.hpp.
#include "router/ids.hpp"

#include "protocols/check.hpp"

namespace velocity {

namespace {

constexpr std::string_view crockford_alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr int64_t nanoseconds_per_millisecond = 1'000'000;
constexpr int bits_per_char = 5;
constexpr int encoded_bits = static_cast<int>(generated_id_chars) * bits_per_char;  // 130: top 2 are 0

// The 128-bit value as two words; bit n of the 130-bit number (bits 128 and
// 129 are always zero).
struct u128 {
  uint64_t high = 0;
  uint64_t low = 0;
  unsigned bit(int n) const {
    if (n < 64) return static_cast<unsigned>((low >> n) & 1);
    if (n < 128) return static_cast<unsigned>((high >> (n - 64)) & 1);
    return 0;
  }
};

// Decoded digit of a Crockford character as we emit it (uppercase only: ids
// are compared bytewise, so accepting other spellings would break ordering).
int digit_of(char c) {
  auto at = crockford_alphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

std::string generate_id(int64_t now_ns, uint64_t random) {
  VELOCITY_CHECK(now_ns >= 0);
  const int64_t ms = now_ns / nanoseconds_per_millisecond;
  static_assert(INT64_MAX / nanoseconds_per_millisecond <= generated_id_time_ms_max);
  const auto sub_ms_ns = static_cast<uint64_t>(now_ns % nanoseconds_per_millisecond);
  const uint64_t sub_ms_position = (sub_ms_ns << 16) / nanoseconds_per_millisecond;  // 0..65535
  const u128 bits{(static_cast<uint64_t>(ms) << 16) | sub_ms_position, random};
  std::string out(generated_id_chars, '0');
  for (size_t i = 0; i < generated_id_chars; ++i) {
    const int top = encoded_bits - 1 - static_cast<int>(i) * bits_per_char;
    unsigned digit = 0;
    for (int b = top; b > top - bits_per_char; --b) digit = (digit << 1) | bits.bit(b);
    out[i] = crockford_alphabet[digit];
  }
  return out;
}

std::optional<int64_t> generated_id_time_ms(std::string_view id) {
  if (id.size() != generated_id_chars) return std::nullopt;
  uint64_t ms = 0;
  // The first 10 characters hold 50 bits: 2 zero bits and the 48 ms bits;
  // every character must still be a valid digit.
  for (size_t i = 0; i < generated_id_chars; ++i) {
    const int digit = digit_of(id[i]);
    if (digit < 0) return std::nullopt;
    if (i == 0 && digit > 7) return std::nullopt;  // would need more than 128 bits
    if (i < 10) ms = (ms << bits_per_char) | static_cast<uint64_t>(digit);
  }
  // Characters 0..9 cover bits 129..80; the ms field is bits 127..80.
  return static_cast<int64_t>(ms);
}

}  // namespace velocity
