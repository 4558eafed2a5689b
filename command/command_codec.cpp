// Commands and replies <-> Cap'n Proto (see command_codec.hpp and
// protocols/command.capnp).
//
// Decoding is an edge where bytes from clients (and, later, from the Raft log)
// become values, so nothing is trusted: values go through the document codec's
// reader (nesting, kinds, sorted unique keys), maps must be maps, filters and
// schemas are parsed and validated by filter_from_value / schema_from_value,
// error codes must be known, and every Cap'n Proto exception is caught here.
// Problems with the bytes themselves are malformed; a well-formed message that
// asks for something impossible (a list patch, an unknown command kind, a bad
// filter) is invalid_argument. Every message names the field, e.g.
// "update.patch: must be a map, got list".
//
// Canonical forms: an empty filter travels as null; filters and schemas travel
// in their value form, so decode(encode(c)) == c holds for filters and schemas
// in the canonical order their parsers produce (conditions by path then
// operator, schema fields by path).
//
// Thread safety: pure functions.
#include "command/command_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>
#include <exception>
#include <type_traits>
#include <vector>

#include "protocols/capnp_message.hpp"
#include "protocols/framing.hpp"
#include "protocols/limits.hpp"
#include "schema/document_codec.hpp"

namespace velocity {
namespace {

constexpr size_t word_bytes = sizeof(capnp::word);

// A standalone command holds at most a few document-sized values (CAS: a
// condition and the fields); the document codec's default bound covers them.
constexpr uint64_t command_traversal_words_max = limits::capnp_traversal_words_max;
// A reply may carry a list page of many documents: bounded by the frame that
// carries it, with the same room for shared structure as a frame reader.
constexpr uint64_t reply_traversal_words_max = (frame_bytes_max / word_bytes) * 2;

capnp::Text::Reader text_of(std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); }

std::string string_of(capnp::Text::Reader text) { return std::string{text.cStr(), text.size()}; }

status malformed(std::string message) { return status{error_code::malformed, std::move(message)}; }

status invalid(std::string message) {
  return status{error_code::invalid_argument, std::move(message)};
}

// Prefixes a status with the field it came from, keeping its code.
status in_field(std::string_view field, const status& st) {
  return status{st.code(), std::string{field} + ": " + st.message()};
}

// ---- encoding ----

void write_optional_version(const std::optional<uint64_t>& version,
                            wire::OptionalVersion::Builder out) {
  out.setPresent(version.has_value());
  out.setVersion(version.value_or(0));
}

void write_values(const std::vector<value>& values, capnp::List<wire::Value>::Builder out) {
  for (unsigned i = 0; i < values.size(); ++i) write_value(values[i], out[i]);
}

void write_range(const index_range& range, wire::IndexRange::Builder out) {
  out.setIndex(text_of(range.index));
  out.setHasFrom(range.from.has_value());
  if (range.from) write_values(*range.from, out.initFrom(static_cast<unsigned>(range.from->size())));
  out.setHasTo(range.to.has_value());
  if (range.to) write_values(*range.to, out.initTo(static_cast<unsigned>(range.to->size())));
}

// An empty filter travels as null ("no condition").
void write_filter(const filter& f, wire::Value::Builder out) {
  if (f.empty())
    out.setNull();
  else
    write_value(filter_to_value(f), out);
}

void write_map(const value_map& fields, wire::Value::Builder out) { write_value(value{fields}, out); }

void write_body(const cmd::insert& c, wire::Command::Builder out) {
  auto body = out.initInsert();
  body.setCollection(text_of(c.collection));
  body.setId(text_of(c.id));
  write_map(c.fields, body.initFields());
}

void write_body(const cmd::get& c, wire::Command::Builder out) {
  auto body = out.initGet();
  body.setCollection(text_of(c.collection));
  body.setId(text_of(c.id));
}

void write_body(const cmd::update& c, wire::Command::Builder out) {
  auto body = out.initUpdate();
  body.setCollection(text_of(c.collection));
  body.setId(text_of(c.id));
  write_map(c.patch, body.initPatch());
  write_optional_version(c.expected_version, body.initExpectedVersion());
}

void write_body(const cmd::replace& c, wire::Command::Builder out) {
  auto body = out.initReplace();
  body.setCollection(text_of(c.collection));
  body.setId(text_of(c.id));
  write_map(c.fields, body.initFields());
  write_optional_version(c.expected_version, body.initExpectedVersion());
}

void write_body(const cmd::erase& c, wire::Command::Builder out) {
  auto body = out.initDelete();
  body.setCollection(text_of(c.collection));
  body.setId(text_of(c.id));
  write_optional_version(c.expected_version, body.initExpectedVersion());
}

void write_body(const cmd::compare_and_swap& c, wire::Command::Builder out) {
  auto body = out.initCompareAndSwap();
  body.setCollection(text_of(c.collection));
  body.setId(text_of(c.id));
  write_optional_version(c.expected_version, body.initExpectedVersion());
  write_filter(c.condition, body.initCondition());
  write_map(c.fields, body.initFields());
  body.setMerge(c.merge);
}

void write_body(const cmd::list& c, wire::Command::Builder out) {
  auto body = out.initList();
  body.setCollection(text_of(c.collection));
  body.setHasIdPrefix(c.id_prefix.has_value());
  if (c.id_prefix) body.setIdPrefix(text_of(*c.id_prefix));
  body.setHasRange(c.range.has_value());
  if (c.range) write_range(*c.range, body.initRange());
  body.setLimit(c.limit);
  body.setCursor(text_of(c.cursor));
  body.setDescending(c.descending);
}

void write_body(const cmd::count& c, wire::Command::Builder out) {
  auto body = out.initCount();
  body.setCollection(text_of(c.collection));
  body.setHasRange(c.range.has_value());
  if (c.range) write_range(*c.range, body.initRange());
}

void write_body(const cmd::claim& c, wire::Command::Builder out) {
  auto body = out.initClaim();
  body.setCollection(text_of(c.collection));
  write_range(c.range, body.initRange());
  write_filter(c.condition, body.initCondition());
  write_map(c.patch, body.initPatch());
}

void write_body(const cmd::create_schema& c, wire::Command::Builder out) {
  write_value(schema_to_value(c.schema), out.initCreateSchema());
}

void write_body(const cmd::alter_schema& c, wire::Command::Builder out) {
  write_value(schema_to_value(c.schema), out.initAlterSchema());
}

void write_body(const cmd::drop_schema& c, wire::Command::Builder out) {
  out.setDropSchema(text_of(c.collection));
}

// ---- decoding pieces ----

std::optional<uint64_t> read_optional_version(wire::OptionalVersion::Reader in) {
  if (!in.getPresent()) return std::nullopt;
  return in.getVersion();
}

status_or<value> read_field_value(std::string_view field, wire::Value::Reader in) {
  auto v = read_value(in, error_code::malformed);
  if (!v.ok()) return in_field(field, v.error());
  return v;
}

status_or<value_map> read_map(std::string_view field, wire::Value::Reader in) {
  auto v = read_field_value(field, in);
  if (!v.ok()) return v.error();
  if (!v->is_map())
    return invalid(std::string{field} + ": must be a map, got " + std::string{to_string(v->kind())});
  return std::move(v->as_map());
}

// Null (or absent) is "no condition".
status_or<filter> read_filter(std::string_view field, wire::Value::Reader in) {
  auto v = read_field_value(field, in);
  if (!v.ok()) return v.error();
  if (v->is_null()) return filter{};
  auto f = filter_from_value(*v);
  if (!f.ok()) return in_field(field, f.error());
  return f;
}

status_or<collection_schema> read_schema(std::string_view field, wire::Value::Reader in) {
  auto v = read_field_value(field, in);
  if (!v.ok()) return v.error();
  auto schema = schema_from_value(*v);
  if (!schema.ok()) return in_field(field, schema.error());
  return schema;
}

// An index tuple prefix has at most one value per index field; checked before
// anything is built, since a list of zero-sized elements is nearly free on the
// wire.
status_or<std::vector<value>> read_values(std::string_view field,
                                          capnp::List<wire::Value>::Reader in) {
  if (in.size() > limits::index_fields_max)
    return invalid(std::string{field} + ": " + std::to_string(in.size()) +
                   " values exceed the limit of " + std::to_string(limits::index_fields_max) +
                   " index fields");
  std::vector<value> out;
  out.reserve(in.size());
  for (auto item : in) {
    auto v = read_field_value(field, item);
    if (!v.ok()) return v.error();
    out.push_back(std::move(v).value());
  }
  return out;
}

status_or<index_range> read_range(std::string_view field, wire::IndexRange::Reader in) {
  index_range out;
  out.index = string_of(in.getIndex());
  if (in.getHasFrom()) {
    auto from = read_values(std::string{field} + ".from", in.getFrom());
    if (!from.ok()) return from.error();
    out.from = std::move(from).value();
  }
  if (in.getHasTo()) {
    auto to = read_values(std::string{field} + ".to", in.getTo());
    if (!to.ok()) return to.error();
    out.to = std::move(to).value();
  }
  return out;
}

// ---- decoding commands, one function per kind ----

status_or<command> read_insert(wire::Command::Insert::Reader in, int64_t time_ns) {
  auto fields = read_map("insert.fields", in.getFields());
  if (!fields.ok()) return fields.error();
  return command{cmd::insert{string_of(in.getCollection()), string_of(in.getId()),
                             std::move(fields).value(), time_ns}};
}

status_or<command> read_update(wire::Command::Update::Reader in, int64_t time_ns) {
  auto patch = read_map("update.patch", in.getPatch());
  if (!patch.ok()) return patch.error();
  return command{cmd::update{string_of(in.getCollection()), string_of(in.getId()),
                             std::move(patch).value(),
                             read_optional_version(in.getExpectedVersion()), time_ns}};
}

status_or<command> read_replace(wire::Command::Replace::Reader in, int64_t time_ns) {
  auto fields = read_map("replace.fields", in.getFields());
  if (!fields.ok()) return fields.error();
  return command{cmd::replace{string_of(in.getCollection()), string_of(in.getId()),
                              std::move(fields).value(),
                              read_optional_version(in.getExpectedVersion()), time_ns}};
}

status_or<command> read_compare_and_swap(wire::Command::CompareAndSwap::Reader in,
                                         int64_t time_ns) {
  auto condition = read_filter("compare_and_swap.condition", in.getCondition());
  if (!condition.ok()) return condition.error();
  auto fields = read_map("compare_and_swap.fields", in.getFields());
  if (!fields.ok()) return fields.error();
  cmd::compare_and_swap out;
  out.collection = string_of(in.getCollection());
  out.id = string_of(in.getId());
  out.expected_version = read_optional_version(in.getExpectedVersion());
  out.condition = std::move(condition).value();
  out.fields = std::move(fields).value();
  out.merge = in.getMerge();
  out.time_ns = time_ns;
  return command{std::move(out)};
}

status_or<command> read_list(wire::Command::List::Reader in) {
  cmd::list out;
  out.collection = string_of(in.getCollection());
  if (in.getHasIdPrefix()) out.id_prefix = string_of(in.getIdPrefix());
  if (in.getHasRange()) {
    if (out.id_prefix) return invalid("list: both an id prefix and an index range");
    auto range = read_range("list.range", in.getRange());
    if (!range.ok()) return range.error();
    out.range = std::move(range).value();
  }
  out.limit = in.getLimit();
  out.cursor = string_of(in.getCursor());
  out.descending = in.getDescending();
  return command{std::move(out)};
}

status_or<command> read_count(wire::Command::Count::Reader in) {
  cmd::count out;
  out.collection = string_of(in.getCollection());
  if (in.getHasRange()) {
    auto range = read_range("count.range", in.getRange());
    if (!range.ok()) return range.error();
    out.range = std::move(range).value();
  }
  return command{std::move(out)};
}

status_or<command> read_claim(wire::Command::Claim::Reader in, int64_t time_ns) {
  auto range = read_range("claim.range", in.getRange());
  if (!range.ok()) return range.error();
  auto condition = read_filter("claim.condition", in.getCondition());
  if (!condition.ok()) return condition.error();
  auto patch = read_map("claim.patch", in.getPatch());
  if (!patch.ok()) return patch.error();
  return command{cmd::claim{string_of(in.getCollection()), std::move(range).value(),
                            std::move(condition).value(), std::move(patch).value(), time_ns}};
}

status_or<command> read_schema_command(wire::Command::Reader in, int64_t time_ns) {
  bool create = in.which() == wire::Command::CREATE_SCHEMA;
  auto schema = create ? read_schema("create_schema", in.getCreateSchema())
                       : read_schema("alter_schema", in.getAlterSchema());
  if (!schema.ok()) return schema.error();
  if (create) return command{cmd::create_schema{std::move(schema).value(), time_ns}};
  return command{cmd::alter_schema{std::move(schema).value(), time_ns}};
}

status_or<command> read_command_union(wire::Command::Reader in) {
  int64_t time_ns = in.getTimeNs();
  switch (in.which()) {
    case wire::Command::INSERT: return read_insert(in.getInsert(), time_ns);
    case wire::Command::GET: {
      auto body = in.getGet();
      return command{cmd::get{string_of(body.getCollection()), string_of(body.getId())}};
    }
    case wire::Command::UPDATE: return read_update(in.getUpdate(), time_ns);
    case wire::Command::REPLACE: return read_replace(in.getReplace(), time_ns);
    case wire::Command::DELETE: {
      auto body = in.getDelete();
      return command{cmd::erase{string_of(body.getCollection()), string_of(body.getId()),
                                read_optional_version(body.getExpectedVersion()), time_ns}};
    }
    case wire::Command::COMPARE_AND_SWAP:
      return read_compare_and_swap(in.getCompareAndSwap(), time_ns);
    case wire::Command::LIST: return read_list(in.getList());
    case wire::Command::COUNT: return read_count(in.getCount());
    case wire::Command::CLAIM: return read_claim(in.getClaim(), time_ns);
    case wire::Command::CREATE_SCHEMA:
    case wire::Command::ALTER_SCHEMA: return read_schema_command(in, time_ns);
    case wire::Command::DROP_SCHEMA:
      return command{cmd::drop_schema{string_of(in.getDropSchema()), time_ns}};
  }
  return invalid("unsupported command (union member " +
                 std::to_string(static_cast<unsigned>(in.which())) + ")");
}

status_or<command> read_command_body(wire::Command::Reader in) {
  auto c = read_command_union(in);
  if (!c.ok() || !in.getHasPartition()) return c;
  auto partition = read_field_value("partition", in.getPartition());
  if (!partition.ok()) return partition.error();
  set_command_partition(c.value(), partition.value());
  return c;
}

// ---- replies ----

void write_reply_fields(const reply& r, wire::Reply::Builder out) {
  out.setCode(static_cast<wire::ErrorCode>(r.st.code()));
  out.setMessage(text_of(r.st.message()));
  out.setHasDocument(r.doc.has_value());
  if (r.doc) write_document(*r.doc, out.initDocument());
  auto docs = out.initDocuments(static_cast<unsigned>(r.docs.size()));
  for (unsigned i = 0; i < r.docs.size(); ++i) write_document(r.docs[i], docs[i]);
  out.setNextCursor(text_of(r.next_cursor));
  out.setCount(r.count);
  out.setCurrentVersion(r.current_version);
  if (r.schema)
    write_value(schema_to_value(*r.schema), out.initSchema());
  else
    out.initSchema().setNull();
  out.setClaimed(r.claimed);
}

status_or<document> read_reply_document(std::string_view field, wire::Document::Reader in) {
  auto d = read_document(in, error_code::malformed);
  if (!d.ok()) return in_field(field, d.error());
  return d;
}

status_or<reply> read_reply_fields(wire::Reply::Reader in) {
  reply out;
  auto code = static_cast<uint16_t>(in.getCode());
  // Unknown codes come from a newer peer; the reply cannot be interpreted.
  if (code >= error_code_count)
    return malformed("reply.code: unknown error code " + std::to_string(code) + " (message: " +
                     string_of(in.getMessage()) + ")");
  out.st = status{static_cast<error_code>(code), string_of(in.getMessage())};
  if (in.getHasDocument()) {
    auto d = read_reply_document("reply.document", in.getDocument());
    if (!d.ok()) return d.error();
    out.doc = std::move(d).value();
  }
  auto docs = in.getDocuments();
  // A page holds at most list_limit_max documents; checked before anything is
  // built (see read_values).
  if (docs.size() > limits::list_limit_max)
    return malformed("reply.documents: " + std::to_string(docs.size()) +
                     " documents exceed the page limit of " + std::to_string(limits::list_limit_max));
  out.docs.reserve(docs.size());
  for (auto item : docs) {
    auto d = read_reply_document("reply.documents", item);
    if (!d.ok()) return d.error();
    out.docs.push_back(std::move(d).value());
  }
  out.next_cursor = string_of(in.getNextCursor());
  out.count = in.getCount();
  out.current_version = in.getCurrentVersion();
  auto schema = read_field_value("reply.schema", in.getSchema());
  if (!schema.ok()) return schema.error();
  if (!schema->is_null()) {
    auto parsed = schema_from_value(*schema);
    if (!parsed.ok()) return in_field("reply.schema", parsed.error());
    out.schema = std::move(parsed).value();
  }
  out.claimed = in.getClaimed();
  return out;
}

// Runs read() with Cap'n Proto exceptions turned into malformed.
template <class Result, class Read>
status_or<Result> guarded(const char* what, Read read) {
  try {
    return read();
  } catch (const kj::Exception& e) {
    return malformed(std::string{what} + " is malformed: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return malformed(std::string{what} + " is malformed: " + e.what());
  }
}

// Opens a standalone flat-array message (size, alignment, trailing bytes,
// limits) and runs read(root).
template <class Root, class Result, class Read>
status_or<Result> decode_flat(std::string_view bytes, const char* what, uint64_t traversal_words,
                              Read read) {
  if (bytes.empty() || bytes.size() % word_bytes != 0)
    return malformed(std::string{what} + " size " + std::to_string(bytes.size()) +
                     " is not a non-zero multiple of 8 bytes");
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(bytes, copy);
  return guarded<Result>(what, [&]() -> status_or<Result> {
    capnp::FlatArrayMessageReader reader(array, codec_reader_options(traversal_words));
    if (reader.getEnd() != array.end())
      return malformed(std::string{what} + " has bytes after the message");
    return read(reader.getRoot<Root>());
  });
}

}  // namespace

void write_command(const command& c, wire::Command::Builder out) {
  out.setTimeNs(command_time_ns(c));
  std::visit(
      [&](const auto& body) {
        write_body(body, out);
        if constexpr (requires { body.partition; }) {
          out.setHasPartition(body.partition.has_value());
          if (body.partition) write_value(*body.partition, out.initPartition());
        }
      },
      c);
}

status_or<command> read_command(wire::Command::Reader in) {
  return guarded<command>("command", [&] { return read_command_body(in); });
}

void write_reply(const reply& r, wire::Reply::Builder out) { write_reply_fields(r, out); }

status_or<reply> read_reply(wire::Reply::Reader in) {
  return guarded<reply>("reply", [&] { return read_reply_fields(in); });
}

std::string encode_command(const command& c) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  write_command(c, message.initRoot<wire::Command>());
  return builder.flat();
}

status_or<command> decode_command(std::string_view bytes) {
  return decode_flat<wire::Command, command>(bytes, "command", command_traversal_words_max,
                                             [](wire::Command::Reader root) {
                                               return read_command_body(root);
                                             });
}

std::string encode_reply(const reply& r) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  write_reply(r, message.initRoot<wire::Reply>());
  return builder.flat();
}

status_or<reply> decode_reply(std::string_view bytes) {
  return decode_flat<wire::Reply, reply>(bytes, "reply", reply_traversal_words_max,
                                         [](wire::Reply::Reader root) {
                                           return read_reply_fields(root);
                                         });
}

int64_t command_time_ns(const command& c) {
  return std::visit(
      [](const auto& body) -> int64_t {
        if constexpr (requires { body.time_ns; })
          return body.time_ns;
        else
          return 0;
      },
      c);
}

void set_command_time_ns(command& c, int64_t time_ns) {
  std::visit(
      [&](auto& body) {
        if constexpr (requires { body.time_ns; }) body.time_ns = time_ns;
      },
      c);
}

void set_command_partition(command& c, const std::optional<value>& partition) {
  std::visit(
      [&](auto& body) {
        if constexpr (requires { body.partition; }) body.partition = partition;
      },
      c);
}

}  // namespace velocity
