// Implements sim_workload.hpp.
//
// Thread safety: none (one run).
#include "tests/sim/sim_workload.hpp"

namespace velocity::sim {

workload::workload(const sim_params& params, size_t clients)
    : value_pad_(params.value_pad_bytes, '.'), clients_(clients) {
  for (size_t k = 0; k < params.keys; ++k) keys_.push_back(key_name(k));
}

size_t workload::begin(size_t client, int64_t now_us, bool lease_allowed, sim_rng& rng) {
  client_state& c = clients_[client];
  VELOCITY_CHECK(!c.busy);
  operation op;
  op.client = client;
  op.key = rng.pick(keys_);
  op.invoke_time = now_us;
  op.completed = false;
  const int64_t roll = rng.uniform(0, 99);
  if (roll < 40) {
    op.type = operation::kind::write;
  } else if (roll < 60) {
    op.type = operation::kind::cas;
    const auto seen = c.last_seen.find(op.key);
    const auto& written = written_[op.key];
    if (seen != c.last_seen.end() && rng.chance_percent(60)) {
      op.expected = seen->second;
    } else if (!written.empty() && rng.chance_percent(80)) {
      op.expected = rng.pick(written);
    }
  } else {
    op.type = operation::kind::read;
    c.lease_read = lease_allowed && rng.chance_percent(50);
  }
  if (op.type != operation::kind::read) {
    op.value = "c" + std::to_string(client) + "v" + std::to_string(++c.values_written) + value_pad_;
    written_[op.key].push_back(*op.value);
  }
  c.busy = true;
  ++c.op_seq;
  c.op = history_.size();
  history_.push_back(std::move(op));
  return c.op;
}

command workload::command_for(size_t op, uint64_t request) const {
  const operation& o = history_[op];
  VELOCITY_CHECK(o.type != operation::kind::read);
  command c;
  c.type = o.type == operation::kind::write ? command::kind::write : command::kind::cas;
  c.request = request;
  c.key = o.key;
  c.value = *o.value;
  c.expected = o.expected;
  return c;
}

void workload::complete_write(size_t client, int64_t now_us, bool ok, raft::entry_id entry) {
  client_state& c = clients_[client];
  VELOCITY_CHECK(c.busy);
  operation& o = history_[c.op];
  o.completed = true;
  o.complete_time = now_us;
  o.ok = ok;
  if (ok) {
    c.last_seen[o.key] = *o.value;
    acknowledged_[c.op] = entry;
  }
  c.busy = false;
}

void workload::complete_read(size_t client, int64_t now_us, std::optional<std::string> value) {
  client_state& c = clients_[client];
  VELOCITY_CHECK(c.busy);
  operation& o = history_[c.op];
  o.completed = true;
  o.complete_time = now_us;
  o.value = value;
  if (value) c.last_seen[o.key] = *value;
  c.busy = false;
}

void workload::give_up(size_t client) {
  client_state& c = clients_[client];
  VELOCITY_CHECK(c.busy);
  history_[c.op].completed = false;
  c.busy = false;
}

}  // namespace velocity::sim
