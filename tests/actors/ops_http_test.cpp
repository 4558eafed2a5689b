// The ops HTTP endpoint on real nodes (real threads, loopback sockets, free
// ports): /metrics moves with real requests (request counters by outcome,
// group-commit and fsync histograms in persistent mode, transport frames,
// shard indexes, engine stats), /health /ready /status answer, unknown paths
// are 404, /ready is 503 while the node is not ready, and a port in use is a
// clear startup error.
#define CAF_SUITE ops_http
#include "caf/test/unit_test.hpp"

#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "actors/node.hpp"
#include "actors/ops_http.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "tests/actors/actor_test_support.hpp"
#include "velocity/client.hpp"

using namespace velocity;

namespace {

// A unique directory under /tmp, removed at the end of the test.
struct temp_dir {
  std::string path;
  temp_dir() {
    static std::atomic<int> next{0};
    path = "/tmp/velocity-ops-test-" + std::to_string(getpid()) + "-" + std::to_string(next++);
    std::filesystem::remove_all(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

struct system_config : caf::actor_system_config {
  system_config() {
    set("scheduler.max-threads", 2);
    load<caf::io::middleman>();
  }
};

struct fixture {
  system_config cfg;
  caf::actor_system system{cfg};
  temp_dir dir;
  std::unique_ptr<node> running;

  // persistent: RocksDB in dir with two shards; else memory mode.
  void start(bool persistent) {
    node_config config;
    config.port = 0;
    config.http_port = 0;
    config.ops_http = true;
    config.shards = 2;
    if (persistent) {
      config.mode = storage_mode::persistent;
      config.data_dir = dir.path;
    }
    auto started = node::start(system, config);
    if (!started.ok()) CAF_FAIL("node did not start: " << started.error().to_string());
    running = std::move(started).value();
  }

  ~fixture() {
    if (running) running->stop().ignore();
  }

  httplib::Result get(const std::string& path) {
    httplib::Client http{"127.0.0.1", running->http_port()};
    return http.Get(path.c_str());
  }

  std::unique_ptr<client> connect() {
    client_options options;
    options.endpoints = {"127.0.0.1:" + std::to_string(running->port())};
    auto connected = client::connect(system, options);
    if (!connected.ok()) CAF_FAIL("client did not connect: " << connected.error().to_string());
    return std::move(connected).value();
  }
};

// The value of the sample line `series value` in an exposition, or -1.
double sample(const std::string& text, const std::string& series) {
  auto needle = "\n" + series + " ";
  auto at = text.find(needle);
  if (at == std::string::npos) return -1;
  auto start = at + needle.size();
  return std::stod(text.substr(start, text.find('\n', start) - start));
}

}  // namespace

CAF_TEST_FIXTURE_SCOPE(ops_http_tests, fixture)

CAF_TEST(a persistent node counts requests by outcome and its fsyncs on metrics) {
  start(true);
  auto db = connect();
  CAF_REQUIRE(db->create_schema(test::jobs_schema()).ok());
  for (int i = 0; i < 3; ++i)
    CAF_REQUIRE(db->insert("jobs", {{"state", value{"waiting"}}}, "job" + std::to_string(i)).ok());
  CAF_REQUIRE(db->get("jobs", "job1").ok());
  auto missing = db->get("jobs", "nope");
  CAF_REQUIRE(!missing.ok());
  CAF_REQUIRE(missing.error().code() == error_code::not_found);

  auto scraped = get("/metrics");
  CAF_REQUIRE(scraped);
  CAF_CHECK_EQUAL(scraped->status, 200);
  auto content_type = scraped->get_header_value("Content-Type");
  CAF_CHECK_EQUAL(content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  auto text = "\n" + scraped->body;
  CAF_CHECK_EQUAL(sample(text, R"(velocity_requests_total{operation="insert",outcome="ok"})"), 3);
  CAF_CHECK_EQUAL(sample(text, R"(velocity_requests_total{operation="get",outcome="ok"})"), 1);
  CAF_CHECK_EQUAL(sample(text, R"(velocity_requests_total{operation="get",outcome="not_found"})"),
                  1);
  CAF_CHECK_EQUAL(
      sample(text, R"(velocity_request_duration_seconds_count{operation="insert"})"), 3);
  CAF_CHECK_EQUAL(sample(text, "velocity_requests_in_flight"), 0);
  // Every insert and the schema change on both shards waited for an fsync.
  CAF_CHECK(sample(text, "velocity_fsync_duration_seconds_count") >= 1);
  CAF_CHECK(sample(text, "velocity_group_commit_batch_requests_sum") >= 5);
  CAF_CHECK(sample(text, "velocity_fsync_duration_seconds_sum") > 0);
  CAF_CHECK_EQUAL(sample(text, "velocity_fsync_failures_total"), 0);
  CAF_CHECK(sample(text, "velocity_transport_frames_received_total") >= 6);
  CAF_CHECK(sample(text, "velocity_transport_received_bytes_total") > 0);
  CAF_CHECK_EQUAL(sample(text, "velocity_transport_connections"), 1);
  auto applied = sample(text, R"(velocity_shard_applied_index{shard="0"})") +
                 sample(text, R"(velocity_shard_applied_index{shard="1"})");
  // Per shard the leader's empty entry (log index 1, not applied to the
  // documents) and the schema at index 2; three inserts.
  CAF_CHECK_EQUAL(applied, 2 + 2 + 3);
  CAF_CHECK(sample(text, "velocity_block_cache_capacity_bytes") > 0);
  CAF_CHECK(sample(text, R"(velocity_engine_keys{column="documents"})") >= 0);
  CAF_CHECK_EQUAL(sample(text, "velocity_ready"), 1);
  CAF_CHECK(text.find("# TYPE velocity_request_duration_seconds histogram\n") != std::string::npos);
  CAF_CHECK(text.find("# HELP velocity_requests_total ") != std::string::npos);
}

CAF_TEST(health ready and status answer on a running node and unknown paths are 404) {
  start(false);
  auto health = get("/health");
  CAF_REQUIRE(health);
  CAF_CHECK_EQUAL(health->status, 200);
  CAF_CHECK_EQUAL(health->body, "ok\n");
  auto ready = get("/ready");
  CAF_REQUIRE(ready);
  CAF_CHECK_EQUAL(ready->status, 200);
  auto status_page = get("/status");
  CAF_REQUIRE(status_page);
  CAF_CHECK_EQUAL(status_page->status, 200);
  auto body = status_page->body;
  CAF_CHECK(body.find("\"node_id\":1,") != std::string::npos);
  CAF_CHECK(body.find("\"applied_indexes\":[0,0]") != std::string::npos);
  auto unknown = get("/nothing-here");
  CAF_REQUIRE(unknown);
  CAF_CHECK_EQUAL(unknown->status, 404);
}

CAF_TEST(a memory node exposes exact key counts and the status request it answered) {
  start(false);
  client db{system, running->router(), client_options{}};
  CAF_REQUIRE(db.create_schema(test::jobs_schema()).ok());
  CAF_REQUIRE(get("/status"));
  auto text = "\n" + running->metrics()->expose();
  CAF_CHECK_EQUAL(sample(text, R"(velocity_requests_total{operation="status",outcome="ok"})"), 1);
  auto before = get("/metrics");
  CAF_REQUIRE(before);
  auto documents_before = sample("\n" + before->body, R"(velocity_engine_keys{column="documents"})");
  CAF_REQUIRE(db.insert("jobs", {{"state", value{"waiting"}}}, "a").ok());
  CAF_REQUIRE(db.insert("jobs", {{"state", value{"waiting"}}}, "b").ok());
  auto scraped = get("/metrics");
  CAF_REQUIRE(scraped);
  text = "\n" + scraped->body;
  CAF_CHECK_EQUAL(sample(text, R"(velocity_engine_keys{column="documents"})"), documents_before + 2);
  CAF_CHECK_EQUAL(sample(text, R"(velocity_requests_total{operation="create_schema",outcome="ok"})"),
                  1);
  // No log writer in memory mode, so no fsync series.
  CAF_CHECK(text.find("velocity_fsync_duration_seconds") == std::string::npos);
}

CAF_TEST(ready answers 503 with the reason while the node is not ready) {
  start(false);
  ops_sources sources;
  sources.system = &system;
  sources.router = running->router();
  sources.shards = running->shards();
  sources.storage = running->storage();
  sources.metrics = std::make_shared<metrics_registry>();
  sources.not_ready_reason = [] { return std::string{"draining"}; };
  auto server = ops_http_server::start("127.0.0.1", 0, std::move(sources));
  CAF_REQUIRE(server.ok());
  httplib::Client http{"127.0.0.1", server.value()->port()};
  auto ready = http.Get("/ready");
  CAF_REQUIRE(ready);
  CAF_CHECK_EQUAL(ready->status, 503);
  CAF_CHECK_EQUAL(ready->body, "not ready: draining\n");
  auto health = http.Get("/health");
  CAF_REQUIRE(health);
  CAF_CHECK_EQUAL(health->status, 200);
  auto metrics = http.Get("/metrics");
  CAF_REQUIRE(metrics);
  CAF_CHECK_EQUAL(sample("\n" + metrics->body, "velocity_ready"), 0);
  server.value()->stop();
  CAF_CHECK(!http.Get("/health"));  // nothing listens after stop
}

CAF_TEST(a second node whose ops port is in use refuses to start naming the address) {
  start(false);
  node_config config;
  config.port = 0;
  config.ops_http = true;
  config.http_port = running->http_port();
  auto second = node::start(system, config);
  CAF_REQUIRE(!second.ok());
  CAF_CHECK(second.error().code() == error_code::io_error);
  auto message = second.error().message();
  CAF_CHECK(message.find("ops HTTP on 127.0.0.1:" + std::to_string(running->http_port())) !=
            std::string::npos);
  CAF_CHECK(message.find("in use") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
