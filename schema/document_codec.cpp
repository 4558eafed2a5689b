// Cap'n Proto encoding of values and documents (see document_codec.hpp and
// protocols/value.capnp).
//
// Decoding is the one edge where stored or received bytes meet Cap'n Proto, so it
// validates everything: size a non-zero multiple of 8 bytes, a word-aligned copy
// when the caller's buffer is not aligned, no bytes after the message, the
// traversal and nesting limits of protocols/limits.hpp, value nesting at most
// limits::nesting_depth_max, known union members only, map keys strictly
// ascending. Cap'n Proto reports bad pointers by throwing kj::Exception; it is
// caught here and returned as corruption (or the caller's code for embedded
// values; a value beyond a limit is too_large there, see as_problem).
//
// Invariants: encode(decode(b)) == b is not promised (Cap'n Proto allows several
// layouts), but decode(encode(v)) == v for every value within the limits.
//
// Thread safety: pure functions.
#include "schema/document_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <vector>

#include "protocols/capnp_message.hpp"
#include "protocols/check.hpp"
#include "protocols/limits.hpp"
#include "protocols/value.capnp.h"

namespace velocity {
namespace {

constexpr size_t word_bytes = sizeof(capnp::word);

capnp::Text::Reader text_of(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

capnp::Data::Reader data_of(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

void build_value(wire::Value::Builder out, const value& v);

void build_entries(capnp::List<wire::Value::Entry>::Builder out, const value_map& entries) {
  unsigned index = 0;
  for (const auto& [key, item] : entries) {
    auto entry = out[index++];
    entry.setKey(text_of(key));
    build_value(entry.initValue(), item);
  }
}

void build_value(wire::Value::Builder out, const value& v) {
  switch (v.kind()) {
    case value_kind::null: out.setNull(); return;
    case value_kind::boolean: out.setBool(v.as_bool()); return;
    case value_kind::integer: out.setInt(v.as_int()); return;
    case value_kind::floating: out.setFloat(v.as_float()); return;
    case value_kind::string: out.setString(text_of(v.as_string())); return;
    case value_kind::bytes: out.setBytes(data_of(v.as_bytes().data)); return;
    case value_kind::list: {
      const auto& items = v.as_list();
      auto list = out.initList(static_cast<unsigned>(items.size()));
      for (unsigned i = 0; i < items.size(); ++i) build_value(list[i], items[i]);
      return;
    }
    case value_kind::map: {
      const auto& entries = v.as_map();
      build_entries(out.initMap(static_cast<unsigned>(entries.size())), entries);
      return;
    }
  }
}

void build_document(wire::Document::Builder root, const document& d) {
  root.setId(text_of(d.id));
  root.setVersion(d.version);
  root.setCreatedNs(d.created_ns);
  root.setModifiedNs(d.modified_ns);
  root.setRevision(d.revision);
  build_entries(root.initFields(static_cast<unsigned>(d.fields.size())), d.fields);
}

status corruption(std::string message) {
  return status{error_code::corruption, std::move(message)};
}

// A value that reads fine but is beyond a limit (nesting, value count). From
// the network that is too_large, like the same value given as JSON
// (schema/json.cpp); in stored bytes it is corruption (see as_problem).
status beyond_limit(std::string message) {
  return status{error_code::too_large, std::move(message)};
}

// Re-codes a reader status for the caller: for stored bytes (problem =
// corruption) every failure is corruption; for received bytes the codec's
// corruption (unreadable structure, keys out of order, unknown kinds) becomes
// `problem` and a limit stays too_large.
status as_problem(status st, error_code problem) {
  if (st.code() == problem) return st;
  if (problem == error_code::corruption || st.code() == error_code::corruption)
    return status{problem, st.message()};
  return st;
}

std::string too_deep_message() {
  return "document nesting deeper than " + std::to_string(limits::nesting_depth_max);
}

// Honestly encoded, a list element or map entry costs at least two words (a
// Value is one data word and one pointer), so a document within
// limits::document_bytes_max holds at most this many values. Cap'n Proto lets
// a list of zero-sized elements cost almost nothing on the wire, so without
// this bound a small message could make us build millions of values.
constexpr size_t values_per_read_max = limits::values_per_document_max;
static_assert(values_per_read_max == limits::document_bytes_max / (2 * word_bytes));

// What one read_value / read_document call may still build.
struct read_budget {
  size_t values_left = values_per_read_max;
};

status charge(read_budget& budget, size_t count) {
  if (count > budget.values_left)
    return beyond_limit("more than " + std::to_string(values_per_read_max) +
                        " values in one document or value");
  budget.values_left -= count;
  return status{};
}

status_or<value> read_value_at(wire::Value::Reader in, size_t depth, read_budget& budget);

// One string, bytes value or map key; the same limit as the JSON edge.
status check_string_bytes(size_t size, const char* what) {
  if (size <= limits::string_bytes_max) return status{};
  return beyond_limit(std::string{what} + " of " + std::to_string(size) +
                      " bytes exceeds the limit of " + std::to_string(limits::string_bytes_max) +
                      " bytes");
}

// Map entries (also a document's fields); keys must be strictly ascending.
status_or<value_map> read_entries(capnp::List<wire::Value::Entry>::Reader in, size_t depth,
                                  read_budget& budget) {
  if (status charged = charge(budget, in.size()); !charged.ok()) return charged;
  value_map entries;
  for (auto entry : in) {
    auto key = entry.getKey();
    std::string_view key_view{key.cStr(), key.size()};
    if (status checked = check_string_bytes(key.size(), "map key"); !checked.ok()) return checked;
    if (!entries.empty() && std::string_view{entries.rbegin()->first} >= key_view)
      return corruption("map keys are not strictly ascending at \"" + std::string{key_view} + "\"");
    auto item = read_value_at(entry.getValue(), depth + 1, budget);
    if (!item.ok()) return item.error();
    entries.emplace_hint(entries.end(), std::string{key_view}, std::move(item).value());
  }
  return entries;
}

status_or<value> read_list(capnp::List<wire::Value>::Reader in, size_t depth, read_budget& budget) {
  if (status charged = charge(budget, in.size()); !charged.ok()) return charged;
  value_list items;
  items.reserve(in.size());
  for (auto item : in) {
    auto decoded = read_value_at(item, depth + 1, budget);
    if (!decoded.ok()) return decoded.error();
    items.push_back(std::move(decoded).value());
  }
  return value{std::move(items)};
}

// depth counts the containers around `in`; a container at depth d makes its
// value at least d + 1 deep.
status_or<value> read_value_at(wire::Value::Reader in, size_t depth, read_budget& budget) {
  switch (in.which()) {
    case wire::Value::NULL_: return value{};
    case wire::Value::BOOL: return value{in.getBool()};
    case wire::Value::INT: return value{in.getInt()};
    case wire::Value::FLOAT: return value{in.getFloat()};
    case wire::Value::STRING: {
      auto text = in.getString();
      if (status checked = check_string_bytes(text.size(), "string"); !checked.ok()) return checked;
      return value{std::string{text.cStr(), text.size()}};
    }
    case wire::Value::BYTES: {
      auto data = in.getBytes();
      if (status checked = check_string_bytes(data.size(), "bytes value"); !checked.ok())
        return checked;
      return value{bytes_value{std::string{reinterpret_cast<const char*>(data.begin()), data.size()}}};
    }
    case wire::Value::LIST:
      if (depth + 1 > limits::nesting_depth_max) return beyond_limit(too_deep_message());
      return read_list(in.getList(), depth, budget);
    case wire::Value::MAP: {
      if (depth + 1 > limits::nesting_depth_max) return beyond_limit(too_deep_message());
      auto entries = read_entries(in.getMap(), depth, budget);
      if (!entries.ok()) return entries.error();
      return value{std::move(entries).value()};
    }
  }
  return corruption("unknown value kind " + std::to_string(static_cast<unsigned>(in.which())));
}

status_or<document> read_document_root(wire::Document::Reader in) {
  document d;
  auto id = in.getId();
  d.id.assign(id.cStr(), id.size());
  d.version = in.getVersion();
  d.created_ns = in.getCreatedNs();
  d.modified_ns = in.getModifiedNs();
  d.revision = in.getRevision();
  // Fields are the document's top-level map: its entries sit at depth 1.
  read_budget budget;
  auto fields = read_entries(in.getFields(), 0, budget);
  if (!fields.ok()) return fields.error();
  d.fields = std::move(fields).value();
  return d;
}

// Runs read() with Cap'n Proto exceptions (bad pointers in an embedded value
// are only found when read) turned into `problem`, and re-codes read()'s own
// statuses with as_problem.
template <class Result, class Read>
status_or<Result> read_embedded(const char* what, error_code problem, Read read) {
  try {
    status_or<Result> result = read();
    if (result.ok()) return result;
    return as_problem(result.error(), problem);
  } catch (const kj::Exception& e) {
    return status{problem, std::string{what} + " is corrupt: " + e.getDescription().cStr()};
  } catch (const std::exception& e) {
    return status{problem, std::string{what} + " is corrupt: " + e.what()};
  }
}

}  // namespace

kj::ArrayPtr<const capnp::word> message_words(std::string_view bytes, kj::Array<capnp::word>& copy) {
  VELOCITY_CHECK_EQ(bytes.size() % word_bytes, size_t{0});
  const auto* words = reinterpret_cast<const capnp::word*>(bytes.data());
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(capnp::word) != 0) {
    // kj::Array, not std::vector: capnp::word is not movable, which
    // libstdc++'s vector::resize needs under clang.
    copy = kj::heapArray<capnp::word>(bytes.size() / word_bytes);
    std::memcpy(copy.begin(), bytes.data(), bytes.size());
    words = copy.begin();
  }
  return kj::ArrayPtr<const capnp::word>(words, bytes.size() / word_bytes);
}

namespace {

// Validates framing, then runs read(root reader) with Cap'n Proto exceptions
// turned into corruption. Root is wire::Value or wire::Document.
template <class Root, class Result, class Read>
status_or<Result> decode_root(std::string_view bytes, const char* what, Read read) {
  if (bytes.empty()) return corruption(std::string{what} + " is empty");
  if (bytes.size() % word_bytes != 0)
    return corruption(std::string{what} + " size " + std::to_string(bytes.size()) +
                      " is not a multiple of 8 bytes");
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(bytes, copy);
  try {
    capnp::FlatArrayMessageReader reader(array, codec_reader_options());
    if (reader.getEnd() != array.end())
      return corruption(std::string{what} + " has bytes after the message");
    status_or<Result> result = read(reader.getRoot<Root>());
    if (result.ok()) return result;
    return as_problem(result.error(), error_code::corruption);
  } catch (const kj::Exception& e) {
    return corruption(std::string{what} + " is corrupt: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return corruption(std::string{what} + " is corrupt: " + e.what());
  }
}

}  // namespace

std::string encode_document(const document& d) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  build_document(message.initRoot<wire::Document>(), d);
  return builder.flat();
}

status_or<document> decode_document(std::string_view bytes) {
  return decode_root<wire::Document, document>(bytes, "document",
                                               [](wire::Document::Reader root) { return read_document_root(root); });
}

std::string encode_value(const value& v) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  build_value(message.initRoot<wire::Value>(), v);
  return builder.flat();
}

status_or<value> decode_value(std::string_view bytes) {
  return decode_root<wire::Value, value>(bytes, "value",
                                         [](wire::Value::Reader root) {
                                           read_budget budget;
                                           return read_value_at(root, 0, budget);
                                         });
}

void write_value(const value& v, wire::Value::Builder out) { build_value(out, v); }

status_or<value> read_value(wire::Value::Reader in, error_code problem) {
  return read_embedded<value>("value", problem, [&] {
    read_budget budget;
    return read_value_at(in, 0, budget);
  });
}

void write_document(const document& d, wire::Document::Builder out) { build_document(out, d); }

status_or<document> read_document(wire::Document::Reader in, error_code problem) {
  return read_embedded<document>("document", problem, [&] { return read_document_root(in); });
}

// limits::capnp_nesting_max allows three Cap'n Proto levels per map level
// (entry list, entry, value struct); read_value_at enforces nesting_depth_max.
capnp::ReaderOptions codec_reader_options(uint64_t traversal_words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = traversal_words;
  options.nestingLimit = limits::capnp_nesting_max;
  return options;
}

size_t encoded_document_bytes(const document& d) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  build_document(message.initRoot<wire::Document>(), d);
  return message_builder::flat_bytes(message);
}

}  // namespace velocity
