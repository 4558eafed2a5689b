// Helpers shared by the engine test suites: temporary directories, one fresh
// engine of each kind per test body, and small read/write shorthands.
//
// Thread safety: plain test helpers; a temp_dir belongs to one test.
// Invariant: every temp_dir path is unique in the machine (pid + counter), so
// test binaries running in parallel under ctest never share a directory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/engine.hpp"

namespace velocity::test {

// A fresh directory under /tmp, removed with everything in it on destruction.
class temp_dir {
 public:
  explicit temp_dir(std::string_view purpose);
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using key_values = std::vector<std::pair<std::string, std::string>>;
using column_model = std::map<std::string, std::string>;

// Runs body once with a fresh memory_engine and once with a fresh
// rocksdb_engine in its own temp directory. The second argument names the
// engine for failure messages.
void for_each_engine(const std::function<void(engine&, const std::string&)>& body);

// Writes one batch holding a single put (or erase) and requires success.
void put(engine& e, column col, std::string_view key, std::string_view value);
void erase(engine& e, column col, std::string_view key);

// Every (key, value) the scan visits, in visiting order; an iterator error
// ends the list with the pair ("<error>", message).
key_values collect(engine& e, column col, const scan_options& options);

// The value of key, or "<absent>" when get answers not_found, or
// "<error: ...>" on any other failure.
std::string read(engine& e, column col, std::string_view key, const snapshot* view = nullptr);

// What a scan of [lower, upper) in the given direction must return from model.
key_values expected_scan(const column_model& model, const scan_options& options);

}  // namespace velocity::test
