// ClientRequest / ClientResponse payload coding (actors/transport_codec.cpp):
// round trips, and bad bytes become statuses (with the request id when known).
#define CAF_SUITE transport_codec
#include "caf/test/unit_test.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "actors/transport.hpp"
#include "protocols/client.capnp.h"
#include "protocols/limits.hpp"

using namespace velocity;

namespace {

std::string flat(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

}  // namespace

CAF_TEST(a request with command partition and options survives a round trip) {
  client_request request;
  request.request_id = 42;
  request.level = consistency::eventual;
  request.timeout_ms = 750;
  request.partition = value{value_map{{"tenant", value{"acme"}}}};
  request.body = command{cmd::update{"jobs", "j1", value_map{{"state", value{"done"}}}, 3, 0}};
  std::optional<uint64_t> id;
  auto decoded = decode_client_request(encode_client_request(request), id);
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(id == std::optional<uint64_t>{42});
  CAF_CHECK_EQUAL(decoded->request_id, 42u);
  CAF_CHECK(decoded->level == consistency::eventual);
  CAF_CHECK_EQUAL(decoded->timeout_ms, 750u);
  CAF_CHECK(decoded->partition == request.partition);
  const auto& c = std::get<command>(decoded->body);
  CAF_REQUIRE(std::holds_alternative<cmd::update>(c));
  CAF_CHECK(std::get<cmd::update>(c).expected_version == std::optional<uint64_t>{3});
  CAF_CHECK(std::get<cmd::update>(c).patch == std::get<cmd::update>(std::get<command>(request.body)).patch);
}

CAF_TEST(health status and get schema requests keep their kind) {
  std::optional<uint64_t> id;
  client_request health;
  health.body = health_request{};
  auto a = decode_client_request(encode_client_request(health), id);
  CAF_REQUIRE(a.ok());
  CAF_CHECK(std::holds_alternative<health_request>(a->body));
  CAF_CHECK(!a->partition.has_value());
  client_request node_status;
  node_status.body = status_request{};
  auto b = decode_client_request(encode_client_request(node_status), id);
  CAF_REQUIRE(b.ok());
  CAF_CHECK(std::holds_alternative<status_request>(b->body));
  client_request schema;
  schema.body = get_schema_request{"jobs"};
  auto c = decode_client_request(encode_client_request(schema), id);
  CAF_REQUIRE(c.ok());
  CAF_REQUIRE(std::holds_alternative<get_schema_request>(c->body));
  CAF_CHECK_EQUAL(std::get<get_schema_request>(c->body).collection, "jobs");
}

CAF_TEST(a response with documents text and error survives a round trip) {
  client_response response;
  response.request_id = 7;
  response.result.st = status{error_code::version_conflict, "expected version 3, stored version 4"};
  response.result.current_version = 4;
  document d;
  d.id = "a";
  d.version = 2;
  d.fields["n"] = value{int64_t{5}};
  response.result.docs = {d, d};
  response.result.next_cursor = "cursor";
  response.text = "{\"ok\":true}";
  response.leader_hint = "127.0.0.1:7400";
  auto decoded = decode_client_response(encode_client_response(response));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK_EQUAL(decoded->request_id, 7u);
  CAF_CHECK(decoded->result == response.result);
  CAF_CHECK_EQUAL(decoded->text, response.text);
  CAF_CHECK_EQUAL(decoded->leader_hint, response.leader_hint);
}

CAF_TEST(garbage bytes give malformed and no request id) {
  std::optional<uint64_t> id;
  auto empty = decode_client_request("", id);
  CAF_CHECK(!empty.ok() && empty.error().code() == error_code::malformed);
  CAF_CHECK(!id.has_value());
  auto odd = decode_client_request("abc", id);
  CAF_CHECK(!odd.ok() && odd.error().code() == error_code::malformed);
  std::string garbage(64, '\xff');
  auto bad = decode_client_request(garbage, id);
  CAF_CHECK(!bad.ok());
  CAF_CHECK(!id.has_value());
  auto response = decode_client_response(garbage);
  CAF_CHECK(!response.ok());
}

CAF_TEST(a readable request with an invalid command reports its request id) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ClientRequest>();
  root.setRequestId(99);
  auto insert = root.initCommand().initInsert();
  insert.setCollection("jobs");
  insert.setId("x");
  insert.initFields().setInt(5);  // fields must be a map
  std::optional<uint64_t> id;
  auto decoded = decode_client_request(flat(message), id);
  CAF_CHECK(!decoded.ok());
  CAF_CHECK(id == std::optional<uint64_t>{99});
}

CAF_TEST(an undecodable partition value is malformed) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ClientRequest>();
  root.setRequestId(5);
  auto entries = root.initPartition().initMap(2);
  entries[0].setKey("b");  // keys out of order
  entries[1].setKey("a");
  root.setHealth();
  std::optional<uint64_t> id;
  auto decoded = decode_client_request(flat(message), id);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::malformed);
  CAF_CHECK(id == std::optional<uint64_t>{5});
}

// docs/protocol.md, "Frames": a frame holds exactly one message and nothing
// after it. (Regression: bytes after the message were ignored.)
CAF_TEST(a request or response with bytes after its message is malformed) {
  client_request health;
  health.request_id = 12;
  health.body = health_request{};
  std::optional<uint64_t> id;
  auto padded = decode_client_request(encode_client_request(health) + std::string(8, '\0'), id);
  CAF_REQUIRE(!padded.ok());
  CAF_CHECK(padded.error().code() == error_code::malformed);
  CAF_CHECK(padded.error().message().find("8 bytes after its message") != std::string::npos);
  CAF_CHECK(id == std::optional<uint64_t>{12});
  client_response response;
  response.request_id = 12;
  auto padded_response = decode_client_response(encode_client_response(response) + std::string(16, '\0'));
  CAF_REQUIRE(!padded_response.ok());
  CAF_CHECK(padded_response.error().code() == error_code::malformed);
}

// docs/protocol.md, "Limits": the wire gives the same code as the JSON edge.
CAF_TEST(a request whose value nests deeper than the limit is too_large under its id) {
  value deep{int64_t{1}};
  for (size_t i = 0; i <= limits::nesting_depth_max; ++i) deep = value{value_list{std::move(deep)}};
  client_request request;
  request.request_id = 3;
  request.body = command{cmd::insert{"jobs", "x", value_map{{"v", deep}}, 0}};
  std::optional<uint64_t> id;
  auto decoded = decode_client_request(encode_client_request(request), id);
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::too_large);
  CAF_CHECK(id == std::optional<uint64_t>{3});
}
