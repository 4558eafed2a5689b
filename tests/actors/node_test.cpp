// Whole nodes on real threads: the embedded node end to end (schema, insert,
// get, list, claim through the router and through velocity::client),
// persistent recovery after a restart on the same directory, and refusing to
// start on a bad config, an unusable data directory or a port in use.
#define CAF_SUITE node
#include "caf/test/unit_test.hpp"

#include <filesystem>
#include <fstream>

#include "caf/scoped_actor.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "velocity/embedded_node.hpp"

using namespace velocity;

namespace {

client_response ask(embedded_node& n, command c) {
  client_request request;
  request.request_id = 7;
  request.body = std::move(c);
  caf::scoped_actor self{n.system()};
  client_response out;
  self->request(n.router(), std::chrono::seconds{10}, request_atom::value, request)
      .receive([&](client_response& r) { out = std::move(r); },
               [&](caf::error& e) {
                 out.result.st = {error_code::unavailable, n.system().render(e)};
               });
  return out;
}

std::unique_ptr<embedded_node> start_or_fail(embedded_options options) {
  auto started = embedded_node::start(std::move(options));
  if (!started.ok()) CAF_FAIL("embedded node did not start: " << started.error().to_string());
  return std::move(started).value();
}

embedded_options persistent_options(const std::string& dir) {
  embedded_options options;
  options.node.mode = storage_mode::persistent;
  options.node.data_dir = dir;
  options.node.shards = 2;
  return options;
}

}  // namespace

CAF_TEST(an embedded node serves insert get list and claim through its router) {
  auto n = start_or_fail({});
  CAF_REQUIRE(ask(*n, cmd::create_schema{test::jobs_schema(), 0}).result.ok());
  CAF_REQUIRE(ask(*n, test::insert_job("a")).result.ok());
  CAF_REQUIRE(ask(*n, test::insert_job("b")).result.ok());
  auto got = ask(*n, test::get_job("a"));
  CAF_REQUIRE(got.result.ok());
  CAF_CHECK_EQUAL(got.request_id, 7u);
  auto listed = ask(*n, cmd::list{"jobs", std::nullopt, std::nullopt, 0, "", false});
  CAF_REQUIRE(listed.result.ok());
  CAF_CHECK_EQUAL(listed.result.docs.size(), 2u);
  auto claimed = ask(*n, test::claim_waiting());
  CAF_REQUIRE(claimed.result.ok());
  CAF_CHECK(claimed.result.claimed);
  CAF_CHECK(n->stop().ok());
}

CAF_TEST(an embedded client inserts and gets without a socket) {
  auto n = start_or_fail({});
  CAF_REQUIRE(ask(*n, cmd::create_schema{test::jobs_schema(), 0}).result.ok());
  auto db = n->make_client();
  value_map fields;
  fields.emplace("state", value{"waiting"});
  auto inserted = db.insert("jobs", fields, "x");
  CAF_REQUIRE(inserted.ok());
  auto got = db.get("jobs", "x");
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(got->fields.at("state").as_string(), "waiting");
  auto missing = db.get("jobs", "nope");
  CAF_CHECK(!missing.ok() && missing.error().code() == error_code::not_found);
}

CAF_TEST(a persistent node recovers acknowledged writes after a restart) {
  auto dir = test::temp_dir("recovery");
  std::filesystem::remove_all(dir);
  {
    auto n = start_or_fail(persistent_options(dir));
    CAF_REQUIRE(ask(*n, cmd::create_schema{test::jobs_schema(), 0}).result.ok());
    for (int i = 0; i < 20; ++i)
      CAF_REQUIRE(ask(*n, test::insert_job("doc" + std::to_string(i))).result.ok());
    CAF_CHECK(n->stop().ok());
  }
  {
    auto n = start_or_fail(persistent_options(dir));
    for (int i = 0; i < 20; ++i) {
      auto got = ask(*n, test::get_job("doc" + std::to_string(i)));
      CAF_CHECK(got.result.ok());
      if (got.result.ok()) CAF_CHECK_EQUAL(got.result.doc->version, 1u);
    }
    auto again = ask(*n, test::insert_job("doc0"));
    CAF_CHECK(again.result.st.code() == error_code::already_exists);
  }
  std::filesystem::remove_all(dir);
}

CAF_TEST(a node refuses a data directory that is a file) {
  auto path = test::temp_dir("not-a-dir");
  std::ofstream{path} << "x";
  auto started = embedded_node::start(persistent_options(path));
  CAF_REQUIRE(!started.ok());
  CAF_CHECK(started.error().code() == error_code::io_error);
  CAF_CHECK(started.error().message().find(path) != std::string::npos);
  std::filesystem::remove(path);
}

CAF_TEST(a node refuses bad settings with a message naming them) {
  embedded_options options;
  options.node.shards = 0;
  auto started = embedded_node::start(options);
  CAF_REQUIRE(!started.ok());
  auto message = started.error().message();
  CAF_CHECK(message.find("shards") != std::string::npos);
  embedded_options persistent;
  persistent.node.mode = storage_mode::persistent;
  auto no_dir = embedded_node::start(persistent);
  CAF_CHECK(!no_dir.ok() && no_dir.error().code() == error_code::invalid_argument);
}

CAF_TEST(a second node on a port in use refuses to start) {
  embedded_options options;
  options.node.listen = true;
  options.node.port = 0;
  auto first = start_or_fail(options);
  CAF_REQUIRE(first->port() != 0);
  options.node.port = first->port();
  auto second = embedded_node::start(options);
  CAF_REQUIRE(!second.ok());
  CAF_CHECK(second.error().code() == error_code::io_error);
}
