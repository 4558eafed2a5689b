// The command codec: every command kind and every reply field round trips, both
// as standalone bytes and embedded in a larger message; malformed bytes
// (truncated, flipped, trailing, unaligned) and well-formed but wrong content
// (non-map patches, bad filters and schemas, unknown union members, unknown
// error codes) give errors naming the field, never a crash.
#define CAF_SUITE command_codec
#include "caf/test/unit_test.hpp"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "command/command_codec.hpp"
#include "protocols/client.capnp.h"
#include "protocols/limits.hpp"

using namespace velocity;

namespace {

// The command structs (command/commands.hpp) declare no equality; compare them
// field by field here, so a field the codec drops shows up as a difference.
auto fields_of(const cmd::insert& c) { return std::tie(c.collection, c.id, c.fields, c.time_ns); }
auto fields_of(const cmd::get& c) { return std::tie(c.collection, c.id, c.partition); }
auto fields_of(const cmd::update& c) {
  return std::tie(c.collection, c.id, c.patch, c.expected_version, c.time_ns, c.partition);
}
auto fields_of(const cmd::replace& c) {
  return std::tie(c.collection, c.id, c.fields, c.expected_version, c.time_ns);
}
auto fields_of(const cmd::erase& c) {
  return std::tie(c.collection, c.id, c.expected_version, c.time_ns, c.partition);
}
auto fields_of(const cmd::compare_and_swap& c) {
  return std::tie(c.collection, c.id, c.expected_version, c.condition, c.fields, c.merge, c.time_ns,
                  c.partition);
}
auto fields_of(const cmd::list& c) {
  return std::tie(c.collection, c.id_prefix, c.range, c.limit, c.cursor, c.descending, c.partition);
}
auto fields_of(const cmd::count& c) { return std::tie(c.collection, c.range, c.partition); }
auto fields_of(const cmd::claim& c) {
  return std::tie(c.collection, c.range, c.condition, c.patch, c.time_ns, c.partition);
}
auto fields_of(const cmd::create_schema& c) { return std::tie(c.schema, c.time_ns); }
auto fields_of(const cmd::alter_schema& c) { return std::tie(c.schema, c.time_ns); }
auto fields_of(const cmd::drop_schema& c) { return std::tie(c.collection, c.time_ns); }

bool same(const command& a, const command& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& left) {
        using kind = std::decay_t<decltype(left)>;
        return fields_of(left) == fields_of(std::get<kind>(b));
      },
      a);
}

filter sample_filter() {
  auto f = filter_from_value(value{value_map{
      {"cpu", value{value_map{{"$le", value{4}}, {"$ge", value{1}}}}},
      {"state", value{"waiting"}},
      {"tags", value{value_map{{"$in", value{value_list{value{"a"}, value{"b"}}}}}}},
  }});
  CAF_REQUIRE(f.ok());
  return std::move(f).value();
}

collection_schema sample_schema() {
  value_map fields{
      {"state", value{value_map{{"type", value{"string"}}, {"default", value{"waiting"}}}}},
      {"colony", value{value_map{{"type", value{"string"}}, {"required", value{true}}}}},
      {"priority", value{value_map{{"type", value{"int"}}}}},
  };
  value_list indexes{value{value_map{
      {"name", value{"by_state"}},
      {"fields", value{value_list{value{"colony"}, value{"state"}, value{"priority"}}}},
  }}};
  auto schema = schema_from_value(value{value_map{{"collection", value{"jobs"}},
                                                  {"fields", value{std::move(fields)}},
                                                  {"indexes", value{std::move(indexes)}},
                                                  {"partition_key", value{"colony"}},
                                                  {"strict", value{true}}}});
  CAF_REQUIRE(schema.ok());
  return std::move(schema).value();
}

value_map sample_fields() {
  return value_map{{"colony", value{"c1"}},
                   {"n", value{int64_t{-7}}},
                   {"f", value{2.5}},
                   {"raw", value{bytes_value{std::string{"\0\xff", 2}}}},
                   {"nested", value{value_map{{"list", value{value_list{value{}, value{true}}}}}}}};
}

index_range sample_range() {
  return index_range{"by_state", std::vector<value>{value{"c1"}, value{"waiting"}},
                     std::vector<value>{value{"c1"}}};
}

// One command of every kind, with every optional field set in some and unset in
// others.
std::vector<command> every_command() {
  std::vector<command> out;
  out.push_back(cmd::insert{"jobs", "j1", sample_fields(), 1000});
  out.push_back(cmd::insert{"jobs", "", {}, -1});
  out.push_back(cmd::get{"jobs", "j1"});
  out.push_back(cmd::update{"jobs", "j1", value_map{{"state", value{}}}, 3, 2000});
  out.push_back(cmd::update{"jobs", "j1", sample_fields(), std::nullopt, 0});
  out.push_back(cmd::replace{"jobs", "j1", sample_fields(), 0, 3000});
  out.push_back(cmd::replace{"jobs", "j1", {}, std::nullopt, 3001});
  out.push_back(cmd::erase{"jobs", "j1", 9, 4000});
  out.push_back(cmd::erase{"jobs", "j1", std::nullopt, 4001});
  out.push_back(cmd::compare_and_swap{"jobs", "j1", 5, sample_filter(), sample_fields(), false, 5000});
  out.push_back(cmd::compare_and_swap{"jobs", "j1", std::nullopt, filter{}, {}, true, 5001});
  out.push_back(cmd::list{"jobs", std::nullopt, std::nullopt, 0, "", false});
  out.push_back(cmd::list{"jobs", std::string{"j"}, std::nullopt, 50, "cursor\x01", true});
  out.push_back(cmd::list{"jobs", std::nullopt, sample_range(), 10, "", false});
  out.push_back(cmd::list{"jobs", std::nullopt, index_range{"by_state", std::nullopt, std::nullopt},
                          1, "", true});
  out.push_back(cmd::count{"jobs", std::nullopt});
  out.push_back(cmd::count{"jobs", index_range{"by_state", std::vector<value>{}, std::nullopt}});
  out.push_back(cmd::claim{"jobs", sample_range(), sample_filter(),
                           value_map{{"state", value{"running"}}}, 6000});
  out.push_back(cmd::claim{"jobs", index_range{"by_state", std::nullopt, std::nullopt}, filter{}, {}, 6001});
  out.push_back(cmd::create_schema{sample_schema(), 7000});
  out.push_back(cmd::alter_schema{sample_schema(), 8000});
  out.push_back(cmd::drop_schema{"jobs", 9000});
  // The partition value, on every command that carries one.
  out.push_back(cmd::get{"jobs", "j1", value{"c1"}});
  out.push_back(cmd::update{"jobs", "j1", {}, std::nullopt, 1, value{int64_t{7}}});
  out.push_back(cmd::erase{"jobs", "j1", std::nullopt, 1, value{}});
  out.push_back(cmd::compare_and_swap{"jobs", "j1", 2, filter{}, {}, true, 1, value{"c2"}});
  out.push_back(cmd::list{"jobs", std::nullopt, std::nullopt, 0, "", false, value{"c3"}});
  out.push_back(cmd::count{"jobs", std::nullopt, value{2.5}});
  out.push_back(cmd::claim{"jobs", sample_range(), filter{}, {}, 1, value{"c4"}});
  return out;
}

document sample_document(std::string id) {
  document d;
  d.id = std::move(id);
  d.version = 3;
  d.created_ns = 10;
  d.modified_ns = 20;
  d.revision = 42;
  d.fields = sample_fields();
  return d;
}

reply full_reply() {
  reply r;
  r.st = status{error_code::version_conflict, "expected version 2, stored version 3"};
  r.doc = sample_document("j1");
  r.docs = {sample_document("a"), sample_document("b")};
  r.next_cursor = std::string{"next\0cursor", 11};
  r.count = 123456789012345ull;
  r.current_version = 3;
  r.schema = sample_schema();
  r.claimed = true;
  return r;
}

std::string flatten(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// A standalone Command message whose body is set by `fill`.
template <class Fill>
std::string command_bytes(Fill fill) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<wire::Command>());
  return flatten(message);
}

// Decodes bytes through an already opened reader (the path the transport takes),
// so read_command itself must catch what Cap'n Proto throws lazily.
status embedded_decode_status(const std::string& bytes) {
  std::vector<capnp::word> words(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.data(), bytes.data(), words.size() * sizeof(capnp::word));
  try {
    capnp::FlatArrayMessageReader reader(kj::ArrayPtr<const capnp::word>(words.data(), words.size()));
    return read_command(reader.getRoot<wire::Command>()).to_status();
  } catch (const kj::Exception&) {
    return status{error_code::malformed, "segment table rejected by the reader"};
  }
}

// A flipped length can also make a readable value beyond a limit (too_large).
bool is_input_error(error_code code) {
  return code == error_code::malformed || code == error_code::invalid_argument ||
         code == error_code::too_large;
}

}  // namespace

CAF_TEST(every command kind round trips through bytes) {
  for (const command& c : every_command()) {
    auto decoded = decode_command(encode_command(c));
    CAF_REQUIRE(decoded.ok());
    CAF_CHECK_EQUAL(decoded->index(), c.index());
    CAF_CHECK(same(decoded.value(), c));
  }
}

CAF_TEST(every command kind round trips embedded in a client request) {
  uint64_t request_id = 0;
  for (const command& c : every_command()) {
    capnp::MallocMessageBuilder message;
    auto request = message.initRoot<wire::ClientRequest>();
    request.setRequestId(++request_id);
    write_command(c, request.initCommand());
    auto bytes = flatten(message);
    std::vector<capnp::word> words(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.data(), bytes.data(), bytes.size());
    capnp::FlatArrayMessageReader reader(kj::ArrayPtr<const capnp::word>(words.data(), words.size()));
    auto root = reader.getRoot<wire::ClientRequest>();
    CAF_REQUIRE(root.which() == wire::ClientRequest::COMMAND);
    auto decoded = read_command(root.getCommand());
    CAF_REQUIRE(decoded.ok());
    CAF_CHECK(same(decoded.value(), c));
  }
}

CAF_TEST(write commands carry their time and reads carry none) {
  for (command c : every_command()) {
    bool read = is_read(c);
    set_command_time_ns(c, 77);
    CAF_CHECK_EQUAL(command_time_ns(c), read ? 0 : 77);
    auto decoded = decode_command(encode_command(c));
    CAF_REQUIRE(decoded.ok());
    CAF_CHECK_EQUAL(command_time_ns(decoded.value()), read ? 0 : 77);
  }
}

CAF_TEST(a reply with every field round trips) {
  reply r = full_reply();
  auto decoded = decode_reply(encode_reply(r));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(decoded.value() == r);
  CAF_CHECK(decoded->st.code() == error_code::version_conflict);
  CAF_CHECK_EQUAL(decoded->docs.size(), 2u);
}

CAF_TEST(an empty ok reply round trips with nothing set) {
  reply r;
  auto decoded = decode_reply(encode_reply(r));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(decoded.value() == r);
  CAF_CHECK(decoded->ok());
  CAF_CHECK(!decoded->doc.has_value());
  CAF_CHECK(!decoded->schema.has_value());
}

CAF_TEST(every error code survives a reply round trip) {
  for (uint16_t i = 0; i < error_code_count; ++i) {
    reply r;
    r.st = i == 0 ? status{} : status{static_cast<error_code>(i), "problem " + std::to_string(i)};
    auto decoded = decode_reply(encode_reply(r));
    CAF_REQUIRE(decoded.ok());
    CAF_CHECK(decoded->st == r.st);
  }
}

CAF_TEST(an unknown error code in a reply is malformed) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::Reply>();
  root.setCode(static_cast<wire::ErrorCode>(error_code_count + 3));
  root.setMessage("from the future");
  auto decoded = decode_reply(flatten(message));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::malformed);
  std::string text = decoded.error().message();
  CAF_CHECK_EQUAL(text, "reply.code: unknown error code 24 (message: from the future)");
}

CAF_TEST(a non map where a map belongs is invalid argument naming the field) {
  auto bytes = command_bytes([](wire::Command::Builder c) {
    auto update = c.initUpdate();
    update.setCollection("jobs");
    update.setId("j1");
    update.initPatch().initList(1)[0].setInt(1);
  });
  auto decoded = decode_command(bytes);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::invalid_argument);
  std::string text = decoded.error().message();
  CAF_CHECK_EQUAL(text, "update.patch: must be a map, got list");
  // An absent value reads as null, which is not a map either.
  auto absent = decode_command(command_bytes([](wire::Command::Builder c) { c.initInsert(); }));
  CAF_REQUIRE(!absent.ok());
  std::string absent_text = absent.error().message();
  CAF_CHECK_EQUAL(absent_text, "insert.fields: must be a map, got null");
}

CAF_TEST(a bad filter is invalid argument naming the field) {
  auto bytes = command_bytes([](wire::Command::Builder c) {
    auto cas = c.initCompareAndSwap();
    cas.setCollection("jobs");
    cas.initCondition().setString("not a filter");
    cas.initFields().initMap(0);
  });
  auto decoded = decode_command(bytes);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::invalid_argument);
  std::string text = decoded.error().message();
  CAF_CHECK(text.rfind("compare_and_swap.condition: filter:", 0) == 0);
  auto unknown_op = command_bytes([](wire::Command::Builder c) {
    auto claim = c.initClaim();
    auto entry = claim.initCondition().initMap(1)[0];
    entry.setKey("cpu");
    auto op = entry.initValue().initMap(1)[0];
    op.setKey("$nope");
    op.initValue().setInt(1);
    claim.initPatch().initMap(0);
  });
  auto bad_op = decode_command(unknown_op);
  CAF_REQUIRE(!bad_op.ok());
  CAF_CHECK(bad_op.error().code() == error_code::invalid_argument);
}

CAF_TEST(a bad schema is invalid argument naming the field) {
  auto bytes = command_bytes([](wire::Command::Builder c) {
    auto entry = c.initCreateSchema().initMap(1)[0];
    entry.setKey("collection");
    entry.initValue().setInt(5);
  });
  auto decoded = decode_command(bytes);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::invalid_argument);
  std::string text = decoded.error().message();
  CAF_CHECK(text.rfind("create_schema: ", 0) == 0);
  auto null_schema = decode_command(command_bytes([](wire::Command::Builder c) { c.initAlterSchema(); }));
  CAF_REQUIRE(!null_schema.ok());
  CAF_CHECK(null_schema.error().code() == error_code::invalid_argument);
}

CAF_TEST(a list with both an id prefix and a range is invalid argument) {
  cmd::list both{"jobs", std::string{"j"}, std::nullopt, 0, "", false};
  auto bytes = encode_command(both);
  auto fixed = decode_command(bytes);
  CAF_REQUIRE(fixed.ok());
  auto with_range = command_bytes([](wire::Command::Builder c) {
    auto list = c.initList();
    list.setHasIdPrefix(true);
    list.setIdPrefix("j");
    list.setHasRange(true);
    list.initRange().setIndex("by_state");
  });
  auto decoded = decode_command(with_range);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::invalid_argument);
}

CAF_TEST(an unknown union member is an unsupported command) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::Command>();
  root.initGet().setCollection("jobs");
  // The union discriminant is the uint16 at element 4 of the data section; 200
  // stands for a member a newer peer might add.
  auto data = capnp::AnyStruct::Builder(wire::Command::Builder{root}).getDataSection();
  uint16_t unknown = 200;
  std::memcpy(data.begin() + 8, &unknown, sizeof(unknown));
  auto decoded = decode_command(flatten(message));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::invalid_argument);
  std::string text = decoded.error().message();
  CAF_CHECK_EQUAL(text, "unsupported command (union member 200)");
}

CAF_TEST(empty odd sized and trailing input is malformed) {
  CAF_CHECK(decode_command("").error().code() == error_code::malformed);
  CAF_CHECK(decode_command(std::string(12, '\0')).error().code() == error_code::malformed);
  CAF_CHECK(decode_reply(std::string(3, 'x')).error().code() == error_code::malformed);
  auto trailing = encode_command(cmd::get{"jobs", "j1"}) + std::string(8, '\0');
  auto decoded = decode_command(trailing);
  CAF_REQUIRE(!decoded.ok());
  std::string text = decoded.error().message();
  CAF_CHECK_EQUAL(text, "command has bytes after the message");
}

CAF_TEST(unaligned input decodes like aligned input) {
  auto bytes = encode_reply(full_reply());
  std::string shifted = "x" + bytes;
  auto decoded = decode_reply(std::string_view{shifted}.substr(1));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(decoded.value() == full_reply());
}

CAF_TEST(every truncation of a valid encoding is an error and never a crash) {
  std::vector<std::string> encodings;
  for (const command& c : every_command()) encodings.push_back(encode_command(c));
  for (const auto& bytes : encodings) {
    for (size_t size = 0; size < bytes.size(); size += 8) {
      auto decoded = decode_command(std::string_view{bytes}.substr(0, size));
      CAF_REQUIRE(!decoded.ok());
      CAF_CHECK(decoded.error().code() == error_code::malformed);
    }
  }
  auto reply_bytes = encode_reply(full_reply());
  for (size_t size = 0; size < reply_bytes.size(); size += 8)
    CAF_CHECK(!decode_reply(std::string_view{reply_bytes}.substr(0, size)).ok());
}

CAF_TEST(random byte flips never crash and give input errors) {
  std::mt19937_64 random{20261126};
  auto commands = every_command();
  size_t rejected = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string bytes = encode_command(commands[random() % commands.size()]);
    size_t flips = 1 + random() % 4;
    for (size_t f = 0; f < flips; ++f) bytes[random() % bytes.size()] ^= static_cast<char>(1 + random() % 255);
    auto decoded = decode_command(bytes);
    if (!decoded.ok()) {
      ++rejected;
      CAF_CHECK(is_input_error(decoded.error().code()));
    }
    auto embedded = embedded_decode_status(bytes);
    CAF_CHECK(embedded.ok() || is_input_error(embedded.code()));
  }
  // Most flips land in pointers, lengths or sorted keys: a decoder that accepts
  // everything is not checking anything.
  CAF_CHECK_GREATER(rejected, 100u);
}

CAF_TEST(random byte flips in replies never crash) {
  std::mt19937_64 random{7};
  auto good = encode_reply(full_reply());
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = good;
    bytes[random() % bytes.size()] ^= static_cast<char>(1 + random() % 255);
    auto decoded = decode_reply(bytes);
    CAF_CHECK(decoded.ok() || is_input_error(decoded.error().code()));
  }
}

CAF_TEST(a reply with more documents than a page holds is malformed before they are built) {
  // Zero-sized list elements cost no bytes on the wire: a tiny message could
  // otherwise claim millions of documents.
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::Reply>();
  root.initDocuments(limits::list_limit_max + 1);
  auto decoded = decode_reply(flatten(message));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::malformed);
  std::string text = decoded.error().message();
  CAF_CHECK_EQUAL(text, "reply.documents: 10001 documents exceed the page limit of 10000");
  capnp::MallocMessageBuilder full_page;
  full_page.initRoot<wire::Reply>().initDocuments(limits::list_limit_max);
  auto page = decode_reply(flatten(full_page));
  CAF_REQUIRE(page.ok());
  CAF_CHECK_EQUAL(page->docs.size(), size_t{limits::list_limit_max});
}

CAF_TEST(a range prefix longer than any index is invalid argument) {
  auto bytes = command_bytes([](wire::Command::Builder c) {
    auto count = c.initCount();
    count.setCollection("jobs");
    count.setHasRange(true);
    auto range = count.initRange();
    range.setIndex("by_state");
    range.setHasTo(true);
    range.initTo(static_cast<unsigned>(limits::index_fields_max + 1));
  });
  auto decoded = decode_command(bytes);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::invalid_argument);
  std::string text = decoded.error().message();
  CAF_CHECK_EQUAL(text, "count.range.to: 9 values exceed the limit of 8 index fields");
}

// Readable but beyond a limit: too_large, like the same value as JSON.
CAF_TEST(a value claiming more elements than a document can hold is too_large) {
  capnp::MallocMessageBuilder message;
  auto insert = message.initRoot<wire::Command>().initInsert();
  auto entry = insert.initFields().initMap(1)[0];
  entry.setKey("many");
  entry.initValue().initList(static_cast<unsigned>(limits::document_bytes_max / 16 + 1));
  auto decoded = decode_command(flatten(message));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::too_large);
  std::string text = decoded.error().message();
  CAF_CHECK(text.find("more than 65536 values") != std::string::npos);
}
