// Implements sim_node.hpp.
//
// Thread safety: none (one run).
#include "tests/sim/sim_node.hpp"

#include <algorithm>

#include "command/command_codec.hpp"
#include "storage/shard_dump.hpp"

namespace velocity::sim {

sim_node::sim_node(cluster::replica_config config, int64_t tick_period_us,
                   std::string initial_dump, size_t keys)
    : config_(config),
      tick_period_us_(tick_period_us),
      engine_(std::make_unique<memory_engine>()),
      store_(std::make_unique<raft::log_store>(*engine_, group)),
      initial_dump_(std::move(initial_dump)),
      keys_(keys) {
  config_.tick_ns = to_ns(tick_period_us);
}

status sim_node::bootstrap(const raft::durable_state& initial) {
  raft::ready rd;
  if (initial.snap.meta.index > 0 || !initial.snap.meta.conf.empty()) {
    rd.snap = initial.snap;
    rd.snapshot_from_leader = true;
  }
  rd.entries = initial.entries;
  rd.hard = initial.hard;
  rd.must_sync = true;
  note_durable(initial);
  write_batch application;
  if (status staged = stage_restore_shard(initial_dump_, group, application); !staged.ok())
    return staged;
  if (status written = engine_->write(application); !written.ok()) return written;
  return store_->persist(rd);  // syncs both
}

void sim_node::note_durable(const raft::durable_state& state) {
  durable_commit_floor_ = state.hard.commit;
  durable_last_index_ = state.snap.meta.index + state.entries.size();
  durable_terms_.clear();
  for (const raft::entry& e : state.entries) durable_terms_[e.index] = e.term;
}

status sim_node::start(uint64_t random_seed, int64_t first_tick_us,
                       raft::index_t* loaded_commit) {
  VELOCITY_CHECK(!up());
  auto loaded = store_->load();
  if (!loaded.ok()) return loaded.error();
  raft::durable_state state = std::move(loaded.value());
  *loaded_commit = state.hard.commit;
  app_ = std::make_unique<state_machine>(*engine_, group);
  if (status opened = app_->open(); !opened.ok()) return opened;
  // The application's writes since the last sync are lost with the crash; a
  // snapshot installed from the leader may be newer than all it kept.
  if (app_->applied_index() < state.snap.meta.index) {
    if (status restored = restore_dump(state.snap.data); !restored.ok()) return restored;
  }
  applied_ = std::max<raft::index_t>(app_->applied_index(), state.snap.meta.index);
  note_durable(state);
  first_tick_us_ = first_tick_us;
  cluster::replica_config cfg = config_;
  cfg.raft.random_seed = random_seed;
  // The driver's first tick comes one period after the time it is given.
  replica_ = std::make_unique<cluster::replica>(cfg, std::move(state), applied_, *store_,
                                                to_ns(first_tick_us - tick_period_us_));
  commit_seen = replica_->core().commit_index();
  role_seen = replica_->core().current_role();
  term_seen = replica_->core().term();
  ++incarnation_;
  return status{};
}

int64_t sim_node::ticks_due_before(int64_t now_us) const {
  if (now_us <= first_tick_us_) return 0;
  return (now_us - first_tick_us_ - 1) / tick_period_us_ + 1;
}

void sim_node::crash() {
  replica_.reset();
  app_.reset();
  engine_->simulate_crash();
  // A restarted process has a new log store, which knows nothing of what
  // the dead one staged (raft::log_store::stage's REQUIRES).
  store_ = std::make_unique<raft::log_store>(*engine_, group);
  applied_ = 0;
  paused = false;
  requests.clear();
  held.clear();
}

void sim_node::write(const write_batch& batch) {
  const status written = engine_->write(batch, write_options{.sync = false});
  VELOCITY_CHECK(written.ok());  // the memory engine does not fail
}

std::optional<raft::term_t> sim_node::durable_term_at(raft::index_t index) const {
  const auto it = durable_terms_.find(index);
  if (it == durable_terms_.end()) return std::nullopt;
  return it->second;
}

status sim_node::sync() {
  const status synced = engine_->sync();
  VELOCITY_CHECK(synced.ok());  // the memory engine does not fail
  // Everything written is durable now: what a restart would load.
  auto durable = store_->load();
  if (!durable.ok()) return durable.error();
  note_durable(durable.value());
  return status{};
}

status sim_node::restore_dump(std::string_view dump) {
  write_batch batch;
  if (status staged = stage_restore_shard(dump, group, batch); !staged.ok()) return staged;
  const status written = engine_->write(batch);
  VELOCITY_CHECK(written.ok());  // the memory engine does not fail
  // state_machine.hpp: a snapshot install rewrites its ranges, so reopen.
  app_ = std::make_unique<state_machine>(*engine_, group);
  return app_->open();
}

status sim_node::restore(const raft::snapshot& snap) {
  if (status restored = restore_dump(snap.data); !restored.ok()) return restored;
  applied_ = snap.meta.index;
  return status{};
}

bool sim_node::apply(const raft::entry& e, status* unexpected) {
  applied_ = e.index;
  if (e.kind != raft::entry_kind::normal || e.data.empty()) return true;
  auto decoded = velocity::decode_command(e.data);
  if (!decoded.ok()) {
    *unexpected = decoded.error();
    return false;
  }
  const bool cas = std::holds_alternative<cmd::compare_and_swap>(decoded.value());
  const reply r = app_->apply(e.index, decoded.value());
  if (r.ok()) return true;
  // A CAS whose condition failed had no effect; a probe's get finds nothing.
  if (cas && r.st.code() == error_code::condition_failed) return false;
  if (std::holds_alternative<cmd::get>(decoded.value()) && r.st.code() == error_code::not_found)
    return true;
  *unexpected = r.st;
  return false;
}

std::string sim_node::dump() {
  auto dumped = dump_shard(*engine_, group);
  VELOCITY_CHECK(dumped.ok());  // the memory engine does not fail
  return std::move(dumped.value());
}

std::optional<std::string> sim_node::read(const std::string& key) {
  const reply r = app_->apply(0, cmd::get{std::string{kv_collection}, key});
  if (!r.ok() || !r.doc) return std::nullopt;
  const auto it = r.doc->fields.find(std::string{kv_value_field});
  if (it == r.doc->fields.end() || !it->second.is_string()) return std::nullopt;
  return it->second.as_string();
}

kv_map sim_node::state() {
  kv_map map;
  for (size_t k = 0; k < keys_; ++k) {
    const std::string key = key_name(k);
    if (auto value = read(key)) map.emplace(key, std::move(*value));
  }
  return map;
}

}  // namespace velocity::sim
