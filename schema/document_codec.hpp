// Cap'n Proto encoding of values and documents (protocols/value.capnp): the
// form in which documents rest in storage and travel between nodes.
//
// decode_* never trusts its input: it checks alignment, applies the traversal
// and nesting limits of protocols/limits.hpp, catches Cap'n Proto exceptions at
// this one edge, and verifies map keys are sorted and unique. Any problem gives
// corruption (stored bytes) with a message; it never crashes.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "protocols/error.hpp"
#include "schema/value.hpp"

namespace velocity {

std::string encode_document(const document& d);
status_or<document> decode_document(std::string_view bytes);

std::string encode_value(const value& v);
status_or<value> decode_value(std::string_view bytes);

// The encoded size of a document without building it twice (for limits).
size_t encoded_document_bytes(const document& d);

}  // namespace velocity
