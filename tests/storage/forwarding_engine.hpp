// A test engine decorator base: forwards every call to another engine;
// decorators (failing, counting, fenced engines in the actor tests and the
// level (b) simulation) override what they observe or break.
//
// Thread safety: as the inner engine's.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/engine.hpp"

namespace velocity::test {

class forwarding_engine : public engine {
 public:
  explicit forwarding_engine(std::shared_ptr<engine> inner) : inner_(std::move(inner)) {}
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
  status sync() override { return inner_->sync(); }
  std::shared_ptr<const snapshot> make_snapshot() override { return inner_->make_snapshot(); }

 private:
  std::shared_ptr<engine> inner_;
};

}  // namespace velocity::test
