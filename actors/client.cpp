// The blocking client facade (include/velocity/client.hpp) and connect_remote.
// Each call is one scoped_actor request/receive against the target; the
// receive deadline is the request's timeout plus a grace period, so the
// target's own timeout reply (with its message) normally wins the race.
//
// Thread safety: one thread at a time per client (next_request_id_ is unguarded).
#include "velocity/client.hpp"

#include <chrono>

#include "actors/client_actor.hpp"
#include "actors/transport.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

namespace velocity {
namespace {

// Extra wait beyond the request timeout before the facade gives up itself.
constexpr uint32_t receive_grace_ms = 1000;
}  // namespace

status_or<router_actor> connect_remote(caf::actor_system& system, const client_options& options) {
  client_actor_options actor_options;
  actor_options.endpoints = options.endpoints;
  actor_options.timeout_ms_default = options.timeout_ms;
  return spawn_client_actor(system, std::move(actor_options));
}

client::client(caf::actor_system& system, router_actor target, client_options options)
    : system_(system), target_(std::move(target)), options_(std::move(options)) {}

status_or<std::unique_ptr<client>> client::connect(caf::actor_system& system,
                                                   client_options options) {
  auto target = connect_remote(system, options);
  if (!target.ok()) return target.error();
  auto result = std::make_unique<client>(system, std::move(target).value(), std::move(options));
  result->owns_target_ = true;
  return result;
}

client::~client() {
  if (owns_target_) caf::anon_send_exit(target_, caf::exit_reason::user_shutdown);
}

client_response client::call(client_request request) {
  if (request.request_id == 0) request.request_id = next_request_id_++;
  if (request.timeout_ms == 0) request.timeout_ms = options_.timeout_ms;
  auto id = request.request_id;
  auto wait = std::chrono::milliseconds{uint64_t{request.timeout_ms} + receive_grace_ms};
  client_response out;
  caf::scoped_actor self{system_};
  self->request(target_, wait, request_atom::value, std::move(request))
      .receive([&](client_response& response) { out = std::move(response); },
               [&](caf::error& err) {
                 if (err == caf::sec::request_timeout)
                   out = error_response(id, error_code::timeout, "no response within " +
                                                                    std::to_string(wait.count()) +
                                                                    " ms");
                 else
                   out = error_response(id, error_code::unavailable,
                                        "client actor failed: " + system_.render(err));
               });
  return out;
}

client_response client::run(
    std::variant<command, health_request, status_request, get_schema_request> body) {
  client_request request;
  request.level = options_.level;
  request.partition = partition_;
  request.body = std::move(body);
  return call(std::move(request));
}

status_or<document> client::doc_reply(const client_response& response) {
  if (!response.result.ok()) return response.result.st;
  if (!response.result.doc)
    return status{error_code::internal, "the server's reply carries no document"};
  return *response.result.doc;
}

status_or<document> client::insert(const std::string& collection, value_map fields,
                                   std::string id) {
  return doc_reply(run(command{cmd::insert{collection, std::move(id), std::move(fields), 0}}));
}

status_or<document> client::get(const std::string& collection, const std::string& id) {
  return doc_reply(run(command{cmd::get{collection, id}}));
}

status_or<document> client::update(const std::string& collection, const std::string& id,
                                   value_map patch, std::optional<uint64_t> expected_version) {
  return doc_reply(
      run(command{cmd::update{collection, id, std::move(patch), expected_version, 0}}));
}

status_or<document> client::replace(const std::string& collection, const std::string& id,
                                    value_map fields, std::optional<uint64_t> expected_version) {
  return doc_reply(
      run(command{cmd::replace{collection, id, std::move(fields), expected_version, 0}}));
}

status client::erase(const std::string& collection, const std::string& id,
                     std::optional<uint64_t> expected_version) {
  return run(command{cmd::erase{collection, id, expected_version, 0}}).result.st;
}

status_or<document> client::compare_and_swap(cmd::compare_and_swap request) {
  return doc_reply(run(command{std::move(request)}));
}

status_or<list_page> client::list(const std::string& collection, const list_options& options) {
  cmd::list request{collection, options.id_prefix, options.range,
                    options.limit, options.cursor,  options.descending};
  auto response = run(command{std::move(request)});
  if (!response.result.ok()) return response.result.st;
  return list_page{std::move(response.result.docs), std::move(response.result.next_cursor)};
}

status_or<uint64_t> client::count(const std::string& collection, std::optional<index_range> range) {
  auto response = run(command{cmd::count{collection, std::move(range)}});
  if (!response.result.ok()) return response.result.st;
  return response.result.count;
}

status_or<std::optional<document>> client::claim(cmd::claim request) {
  auto response = run(command{std::move(request)});
  if (!response.result.ok()) return response.result.st;
  if (!response.result.claimed) return std::optional<document>{};
  return std::optional<document>{std::move(response.result.doc)};
}

namespace {
status_or<collection_schema> schema_reply(client_response response) {
  if (!response.result.ok()) return response.result.st;
  if (!response.result.schema)
    return status{error_code::internal, "the server's reply carries no schema"};
  return std::move(*response.result.schema);
}
}  // namespace

status_or<collection_schema> client::create_schema(collection_schema schema) {
  return schema_reply(run(command{cmd::create_schema{std::move(schema), 0}}));
}

status_or<collection_schema> client::alter_schema(collection_schema schema) {
  return schema_reply(run(command{cmd::alter_schema{std::move(schema), 0}}));
}

status client::drop_schema(const std::string& collection) {
  return run(command{cmd::drop_schema{collection, 0}}).result.st;
}

status_or<collection_schema> client::get_schema(const std::string& collection) {
  return schema_reply(run(get_schema_request{collection}));
}

status client::health() { return run(health_request{}).result.st; }

status_or<std::string> client::node_status() {
  auto response = run(status_request{});
  if (!response.result.ok()) return response.result.st;
  return std::move(response.text);
}

}  // namespace velocity
