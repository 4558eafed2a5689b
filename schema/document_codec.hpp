// Cap'n Proto encoding of values and documents (protocols/value.capnp): the
// form in which documents rest in storage and travel between nodes.
//
// decode_* never trusts its input: it checks alignment, applies the traversal
// and nesting limits of protocols/limits.hpp, catches Cap'n Proto exceptions at
// this one edge, and verifies map keys are sorted and unique. Any problem gives
// corruption (stored bytes) with a message; it never crashes.
//
// The builder-level functions (write_value, read_value, write_document,
// read_document) embed values and documents in larger messages (commands,
// replies, client requests). The readers apply the same value checks (nesting,
// known kinds, sorted unique keys) and catch Cap'n Proto exceptions; the
// message-level limits are the caller's, set with codec_reader_options when it
// opens the message. They report problems with the code the caller names
// (corruption for stored bytes, malformed for bytes from the network), except
// that a readable value beyond a limit (nesting deeper than
// limits::nesting_depth_max, more list elements plus map entries than one
// document can honestly hold) is too_large when the caller names anything but
// corruption: the same code the JSON edge gives for the same value.
//
// Thread safety: pure functions.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/error.hpp"
#include "protocols/limits.hpp"
#include "protocols/value.capnp.h"
#include "schema/value.hpp"

namespace velocity {

std::string encode_document(const document& d);
status_or<document> decode_document(std::string_view bytes);

std::string encode_value(const value& v);
status_or<value> decode_value(std::string_view bytes);

// The encoded size of a document without building it twice (for limits).
size_t encoded_document_bytes(const document& d);

// Builder-level conversions (see the top of this file).
void write_value(const value& v, wire::Value::Builder out);
status_or<value> read_value(wire::Value::Reader in, error_code problem = error_code::corruption);
void write_document(const document& d, wire::Document::Builder out);
status_or<document> read_document(wire::Document::Reader in,
                                  error_code problem = error_code::corruption);

// Reader limits for a message that holds values: traversal_words (8-byte words
// Cap'n Proto may read; the default fits one document with room for shared
// structure) and limits::capnp_nesting_max. A message that carries many
// documents (a list reply) passes a larger traversal bound derived from its
// frame size.
capnp::ReaderOptions codec_reader_options(
    uint64_t traversal_words = limits::capnp_traversal_words_max);

// The words of a flat-array message held in `bytes`, ready for a
// capnp::FlatArrayMessageReader. Cap'n Proto reads words in place, so an
// unaligned buffer is copied into `copy` (which must outlive the result).
// REQUIRES: bytes.size() is a multiple of 8 (callers report that as input error).
kj::ArrayPtr<const capnp::word> message_words(std::string_view bytes, kj::Array<capnp::word>& copy);

}  // namespace velocity
