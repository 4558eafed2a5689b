// docs/protocol.md against a real velocityd (memory mode) over raw sockets:
// each test pins one sentence of the page that a client in another language
// relies on: requests before a bad length prefix are answered, then the
// connection closes; packed messages close the connection; bytes after a
// message are malformed; health answers text "ok"; getSchema of a missing
// collection is unknownCollection; the fields of the status JSON; values
// beyond a limit are tooLarge.
//
// Thread safety: everything runs on the test thread.
#define CAF_SUITE process_protocol
#include "caf/test/unit_test.hpp"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/io.h>
#include <unistd.h>

#include <string>

#include "actors/transport.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "process_support.hpp"
#include "protocols/client.capnp.h"
#include "protocols/limits.hpp"
#include "schema/json.hpp"
#include "velocity/client.hpp"

using namespace velocity;
using namespace velocity::process_test;

namespace {

constexpr const char* collection_name = "protocol";
constexpr uint32_t reply_wait_ms = 10000;
constexpr uint32_t close_wait_ms = 5000;
constexpr uint32_t graceful_exit_wait_ms = 10000;

struct client_system_config : caf::actor_system_config {
  client_system_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

// One velocityd with the test collection, and a client system to check state.
struct server_fixture {
  client_system_config cfg;
  caf::actor_system system{cfg};
  temp_dir dir{"protocol"};
  server_process server;

  server_fixture() {
    server_settings settings{"memory", "", dir.path() + "/velocityd.log", 0};
    auto started = server.start(settings);
    CAF_REQUIRE_EQUAL(started.to_string(), "ok");
    auto admin = connect();
    collection_schema schema;
    schema.collection = collection_name;
    CAF_REQUIRE(admin->create_schema(schema).ok());
  }
  ~server_fixture() { CAF_CHECK(server.terminate(graceful_exit_wait_ms) == std::optional<int>{0}); }

  std::unique_ptr<client> connect() {
    auto c = client::connect(system, client_options{{server.endpoint()}});
    CAF_REQUIRE(c.ok());
    return std::move(c).value();
  }
  int raw() {
    int fd = connect_loopback(server.port());
    CAF_REQUIRE(fd >= 0);
    return fd;
  }
};

std::string le32(uint32_t x) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>((x >> (8 * i)) & 0xff);
  return out;
}

client_request make_request(uint64_t id, decltype(client_request::body) body) {
  client_request out;
  out.request_id = id;
  out.body = std::move(body);
  return out;
}

// Sends request and returns its response (an error status if none came).
status_or<client_response> ask(int fd, const client_request& request) {
  if (!send_all(fd, frame(encode_client_request(request))))
    return status{error_code::unavailable, "send failed"};
  auto response = read_response(fd, reply_wait_ms);
  if (response.ok() && response->request_id != request.request_id)
    return status{error_code::internal, "response under another request id"};
  return response;
}

// A getSchema request packed (capnp::writePackedMessage) instead of flat;
// the collection name's length shifts the packed size, so callers can choose
// one whose length is or is not a multiple of 8.
std::string packed_get_schema(size_t name_bytes) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::ClientRequest>();
  root.setRequestId(1);
  root.setGetSchema(std::string(name_bytes, 'p'));
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, message);
  auto bytes = out.getArray();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

}  // namespace

// Regression (issue 8, bug 3): the insert before the bad prefix was stored,
// but its reply was never sent.
CAF_TEST(requests before a bad length prefix are answered and then the connection closes) {
  server_fixture f;
  int fd = f.raw();
  std::string health = frame(encode_client_request(make_request(1, health_request{})));
  CAF_REQUIRE_EQUAL(health.size(), 52u);  // the example frame of docs/protocol.md
  CAF_REQUIRE(send_all(fd, health + le32(0)));
  auto response = read_response(fd, reply_wait_ms);
  CAF_REQUIRE(response.ok());
  CAF_CHECK_EQUAL(response->request_id, 1u);
  CAF_CHECK(response->result.ok());
  CAF_CHECK(wait_closed(fd, close_wait_ms));
  ::close(fd);

  fd = f.raw();
  auto insert = make_request(2, command{cmd::insert{collection_name, "before-bad-prefix",
                                                    value_map{{"n", int64_t{1}}}, 0}});
  CAF_REQUIRE(send_all(fd, frame(encode_client_request(insert)) + le32(0)));
  response = read_response(fd, reply_wait_ms);
  CAF_REQUIRE(response.ok());
  CAF_CHECK_EQUAL(response->request_id, 2u);
  CAF_CHECK_EQUAL(response->result.st.to_string(), "ok");
  CAF_CHECK(wait_closed(fd, close_wait_ms));
  ::close(fd);
  CAF_CHECK(f.connect()->get(collection_name, "before-bad-prefix").ok());
}

// docs/protocol.md, "Frames": packed encoding is not accepted. Its length is
// usually not a multiple of 8 (a bad prefix); when it is, the packed bytes read
// as a segment table far beyond the frame, so no requestId is readable.
// Either way the node closes the connection without a response.
CAF_TEST(a packed message closes the connection) {
  server_fixture f;
  bool seen_aligned = false;
  bool seen_unaligned = false;
  for (size_t name_bytes = 1; name_bytes < 64 && !(seen_aligned && seen_unaligned); ++name_bytes) {
    auto packed = packed_get_schema(name_bytes);
    bool aligned = packed.size() % 8 == 0;
    if ((aligned && seen_aligned) || (!aligned && seen_unaligned)) continue;
    (aligned ? seen_aligned : seen_unaligned) = true;
    int fd = f.raw();
    CAF_REQUIRE(send_all(fd, frame(packed)));
    auto response = read_response(fd, close_wait_ms);
    CAF_CHECK(!response.ok());
    CAF_CHECK(response.ok() || response.error().code() == error_code::unavailable);
    ::close(fd);
  }
  CAF_CHECK(seen_aligned && seen_unaligned);
}

// docs/protocol.md, "Frames": exactly one message and nothing after it.
CAF_TEST(a frame with bytes after its message is answered malformed and the connection stays) {
  server_fixture f;
  int fd = f.raw();
  auto payload = encode_client_request(make_request(7, health_request{})) + std::string(8, '\0');
  CAF_REQUIRE(send_all(fd, frame(payload)));
  auto response = read_response(fd, reply_wait_ms);
  CAF_REQUIRE(response.ok());
  CAF_CHECK_EQUAL(response->request_id, 7u);
  CAF_CHECK(response->result.st.code() == error_code::malformed);
  CAF_CHECK(health_roundtrip(fd, 8, reply_wait_ms));
  ::close(fd);
}

// docs/protocol.md, "Requests": health, status and getSchema.
CAF_TEST(health status and getSchema answer as the protocol page says) {
  server_fixture f;
  int fd = f.raw();
  auto health = ask(fd, make_request(1, health_request{}));
  CAF_REQUIRE(health.ok());
  CAF_CHECK(health->result.ok());
  CAF_CHECK_EQUAL(health->text, "ok");

  auto missing = ask(fd, make_request(2, get_schema_request{"no_such_collection"}));
  CAF_REQUIRE(missing.ok());
  CAF_CHECK(missing->result.st.code() == error_code::unknown_collection);
  CAF_CHECK(!missing->result.schema.has_value());
  auto present = ask(fd, make_request(3, get_schema_request{collection_name}));
  CAF_REQUIRE(present.ok());
  CAF_CHECK(present->result.ok());
  CAF_REQUIRE(present->result.schema.has_value());
  CAF_CHECK_EQUAL(present->result.schema->collection, collection_name);

  auto node_status = ask(fd, make_request(4, status_request{}));
  CAF_REQUIRE(node_status.ok());
  CAF_CHECK(node_status->result.ok());
  auto parsed = parse_json(node_status->text);
  CAF_REQUIRE(parsed.ok());
  CAF_REQUIRE(parsed->is_map());
  const auto& fields = parsed->as_map();
  std::vector<std::string> names;
  for (const auto& [name, item] : fields) names.push_back(name);
  CAF_CHECK_EQUAL(names, (std::vector<std::string>{"applied_indexes", "durable_indexes",
                                                   "groups", "in_flight", "mode", "node_id",
                                                   "shards", "uptime_ms"}));
  CAF_CHECK(fields.at("node_id").is_int());
  CAF_CHECK_EQUAL(fields.at("mode").as_string(), "memory");
  CAF_REQUIRE(fields.at("shards").is_int());
  auto shards = static_cast<size_t>(fields.at("shards").as_int());
  CAF_REQUIRE(fields.at("applied_indexes").is_list());
  CAF_CHECK_EQUAL(fields.at("applied_indexes").as_list().size(), shards);
  CAF_REQUIRE(fields.at("durable_indexes").is_list());
  CAF_CHECK_EQUAL(fields.at("durable_indexes").as_list().size(), shards);
  CAF_REQUIRE(fields.at("groups").is_list());
  CAF_REQUIRE_EQUAL(fields.at("groups").as_list().size(), shards);
  for (const value& group : fields.at("groups").as_list()) {
    CAF_REQUIRE(group.is_map());
    // A single node is a group of one that elects itself at start.
    CAF_CHECK_EQUAL(group.as_map().at("role").as_string(), "leader");
    CAF_CHECK(group.as_map().at("term").as_int() >= 1);
    // A leader without other replicas: nobody to follow it.
    CAF_REQUIRE(group.as_map().at("followers").is_list());
    CAF_CHECK(group.as_map().at("followers").as_list().empty());
  }
  CAF_CHECK(fields.at("uptime_ms").is_int());
  CAF_CHECK(fields.at("in_flight").is_int());
  CAF_CHECK_EQUAL(fields.at("in_flight").as_int(), 0);  // not counting the status request
  ::close(fd);
}

// docs/protocol.md, "Limits": a value beyond a limit is tooLarge, the same
// code the CLI gives for the same JSON. (Regression: the wire said malformed.)
CAF_TEST(values beyond the nesting and count limits are answered too_large) {
  server_fixture f;
  int fd = f.raw();
  value deep{int64_t{1}};
  for (size_t i = 0; i <= limits::nesting_depth_max; ++i) deep = value{value_list{std::move(deep)}};
  auto answer = ask(fd, make_request(1, command{cmd::insert{collection_name, "deep",
                                                            value_map{{"v", deep}}, 0}}));
  CAF_REQUIRE(answer.ok());
  CAF_CHECK(answer->result.st.code() == error_code::too_large);
  value_list many(limits::document_bytes_max / 16 + 1, value{});
  answer = ask(fd, make_request(2, command{cmd::insert{collection_name, "many",
                                                       value_map{{"v", value{many}}}, 0}}));
  CAF_REQUIRE(answer.ok());
  CAF_CHECK(answer->result.st.code() == error_code::too_large);
  CAF_CHECK(health_roundtrip(fd, 3, reply_wait_ms));
  ::close(fd);
}
