// Implements sim_node.hpp.
//
// Thread safety: none (one run).
#include "tests/sim/sim_node.hpp"

namespace velocity::sim {

sim_node::sim_node(cluster::replica_config config, int64_t tick_period_us)
    : config_(config),
      tick_period_us_(tick_period_us),
      engine_(std::make_unique<memory_engine>()),
      store_(std::make_unique<raft::log_store>(*engine_, group)) {
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
  return store_->persist(rd);
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
  auto map = decode_map(state.snap.data);
  if (!map) return status{error_code::corruption, "snapshot data is not an encoded map"};
  kv_ = std::move(*map);
  applied_ = state.snap.meta.index;
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
  engine_->simulate_crash();
  kv_.clear();
  applied_ = 0;
  paused = false;
  requests.clear();
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

bool sim_node::restore(const raft::snapshot& snap) {
  auto map = decode_map(snap.data);
  if (!map) return false;
  kv_ = std::move(*map);
  applied_ = snap.meta.index;
  return true;
}

bool sim_node::apply(const raft::entry& e) {
  applied_ = e.index;
  if (e.kind != raft::entry_kind::normal || e.data.empty()) return true;
  const auto c = decode_command(e.data);
  if (!c) return false;
  return apply_command(kv_, *c);
}

}  // namespace velocity::sim
