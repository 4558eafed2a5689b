// write_batch bookkeeping and column names (see engine.hpp).
#include "storage/engine.hpp"

namespace velocity {

std::string_view to_string(column c) {
  switch (c) {
    case column::meta: return "meta";
    case column::documents: return "documents";
    case column::indexes: return "indexes";
    case column::raft_log: return "raft_log";
    case column::raft_state: return "raft_state";
  }
  return "unknown";
}

void write_batch::put(column col, std::string_view key, std::string_view value) {
  bytes_ += key.size() + value.size();
  ops_.push_back(op{op_kind::put, col, std::string{key}, std::string{value}});
}

void write_batch::erase(column col, std::string_view key) {
  bytes_ += key.size();
  ops_.push_back(op{op_kind::erase, col, std::string{key}, {}});
}

void write_batch::erase_range(column col, std::string_view begin, std::string_view end) {
  bytes_ += begin.size() + end.size();
  ops_.push_back(op{op_kind::erase_range, col, std::string{begin}, std::string{end}});
}

}  // namespace velocity
