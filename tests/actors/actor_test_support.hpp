// Helpers shared by the actor tests: a counting engine decorator, a schema and
// command builders for a small "jobs" collection.
//
// Thread safety: counting_engine's counters are atomic; the rest are plain
// functions.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unistd.h>

#include "schema/json.hpp"
#include "schema/schema.hpp"
#include "storage/commands.hpp"
#include "storage/engine.hpp"

namespace velocity::test {

// Forwards to another engine and counts sync() calls (fsyncs).
class counting_engine final : public engine {
 public:
  explicit counting_engine(std::shared_ptr<engine> inner) : inner_(std::move(inner)) {}
  status get(column col, std::string_view key, std::string& out,
             const snapshot* view = nullptr) override {
    return inner_->get(col, key, out, view);
  }
  std::vector<status_or<std::string>> multi_get(column col, const std::vector<std::string>& keys,
                                               const snapshot* view = nullptr) override {
    return inner_->multi_get(col, keys, view);
  }
  std::unique_ptr<iterator> scan(column col, const scan_options& options) override {
    return inner_->scan(col, options);
  }
  status write(const write_batch& batch, write_options options = {}) override {
    return inner_->write(batch, options);
  }
  status sync() override {
    ++syncs_;
    return inner_->sync();
  }
  std::shared_ptr<const snapshot> make_snapshot() override { return inner_->make_snapshot(); }
  size_t syncs() const { return syncs_.load(); }

 private:
  std::shared_ptr<engine> inner_;
  std::atomic<size_t> syncs_{0};
};

// jobs: a string field `state` with an index by_state.
inline collection_schema jobs_schema() {
  auto parsed = parse_json(
      R"({"collection": "jobs", "fields": {"state": {"type": "string"}},
          "indexes": [{"name": "by_state", "fields": ["state"]}]})");
  VELOCITY_CHECK(parsed.ok());
  auto schema = schema_from_value(parsed.value());
  VELOCITY_CHECK(schema.ok());
  return schema.value();
}

inline command insert_job(std::string id, std::string state = "waiting") {
  value_map fields;
  fields.emplace("state", value{std::move(state)});
  return cmd::insert{"jobs", std::move(id), std::move(fields), 1};
}

inline command get_job(std::string id) { return cmd::get{"jobs", std::move(id)}; }

// Claims the first waiting job and marks it running.
inline command claim_waiting() {
  cmd::claim c;
  c.collection = "jobs";
  c.range.index = "by_state";
  c.range.from = std::vector<value>{value{"waiting"}};
  c.range.to = std::vector<value>{value{"waiting"}};
  c.patch.emplace("state", value{"running"});
  c.time_ns = 1;
  return c;
}

// A fresh directory name unique to this process and tag.
inline std::string temp_dir(const std::string& tag) {
  return "/tmp/velocity-actor-test-" + std::to_string(::getpid()) + "-" + tag;
}

}  // namespace velocity::test
