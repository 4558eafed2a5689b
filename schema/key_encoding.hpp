// Order-preserving encoding of values into byte strings, for index keys.
//
// encode_key_part(v) produces bytes whose memcmp order equals compare() order of
// values (schema/value.hpp) for null, bool, numbers and strings, bytes, and
// lists; maps are encoded in key order too. Ints and floats share one "number"
// ordering, and values that compare equal encode to identical bytes (int 2 and
// float 2.0, -0.0 and 0.0, every NaN), so byte order is exactly compare() order
// and a unique index sees 2 and 2.0 as the same key. A tuple is the concatenation of its parts and is self-delimiting, so
// a tuple prefix encodes to a byte prefix of every tuple that starts with it.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocols/error.hpp"
#include "schema/value.hpp"

namespace velocity {

// Appends the order-preserving encoding of v to out.
void encode_key_part(std::string& out, const value& v);

// Appends each part in order.
void encode_key_tuple(std::string& out, const std::vector<value>& parts);

// Decodes a sequence of parts (the inverse of encode_key_tuple, up to compare()
// equality: an integral float within int64 range decodes as an int, since it
// shares its encoding). malformed on bad bytes.
status_or<std::vector<value>> decode_key_tuple(std::string_view bytes);

// Decodes one part from the front of bytes and advances bytes past it.
status_or<value> decode_key_part(std::string_view& bytes);

// Appends a string with a terminator such that the encoding of a string is never
// a prefix of the encoding of another one (for collection and index names in keys).
void encode_key_string(std::string& out, std::string_view s);

// The smallest byte string greater than every string that starts with prefix
// (for exclusive upper bounds of prefix scans); empty if none exists (all 0xff).
std::string prefix_successor(std::string_view prefix);

}  // namespace velocity
