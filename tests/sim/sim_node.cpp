// Implements sim_node.hpp.
//
// Thread safety: none (one run).
#include "tests/sim/sim_node.hpp"

namespace velocity::sim {

sim_node::sim_node(raft::config config, int64_t tick_period_us)
    : config_(config),
      tick_period_us_(tick_period_us),
      engine_(std::make_unique<memory_engine>()),
      store_(std::make_unique<raft::log_store>(*engine_, group)) {}

status sim_node::bootstrap(const raft::durable_state& initial) {
  raft::ready rd;
  if (initial.snap.meta.index > 0 || !initial.snap.meta.conf.empty()) {
    rd.snap = initial.snap;
    rd.snapshot_from_leader = true;
  }
  rd.entries = initial.entries;
  rd.hard = initial.hard;
  rd.must_sync = true;
  written_commit_ = initial.hard.commit;
  durable_commit_floor_ = initial.hard.commit;
  written_terms_.clear();
  for (const raft::entry& e : initial.entries) written_terms_[e.index] = e.term;
  durable_terms_ = written_terms_;
  return store_->persist(rd);
}

status sim_node::start(uint64_t random_seed, raft::index_t* loaded_commit) {
  VELOCITY_CHECK(!up());
  auto loaded = store_->load();
  if (!loaded.ok()) return loaded.error();
  raft::durable_state state = std::move(loaded.value());
  *loaded_commit = state.hard.commit;
  auto map = decode_map(state.snap.data);
  if (!map) return status{error_code::corruption, "snapshot data is not an encoded map"};
  kv_ = std::move(*map);
  applied_ = state.snap.meta.index;
  written_commit_ = state.hard.commit;
  written_last_index_ = state.snap.meta.index + state.entries.size();
  durable_last_index_ = written_last_index_;
  written_terms_.clear();
  for (const raft::entry& e : state.entries) written_terms_[e.index] = e.term;
  durable_terms_ = written_terms_;
  raft::config cfg = config_;
  cfg.random_seed = random_seed;
  core_ = std::make_unique<raft::raft>(cfg, std::move(state), applied_);
  commit_seen = core_->commit_index();
  role_seen = core_->current_role();
  term_seen = core_->term();
  ++incarnation_;
  return status{};
}

void sim_node::start_clock(int64_t first_tick_us) {
  first_tick_us_ = first_tick_us;
  ticks_delivered_ = 0;
}

bool sim_node::deliver_tick(int64_t tick_us) {
  if (tick_us < next_tick_us()) return false;  // caught up before a lease read
  // Tick events come in clock order, so a later one never skips a tick.
  VELOCITY_CHECK(tick_us == next_tick_us());
  core_->tick();
  ++ticks_delivered_;
  return true;
}

uint64_t sim_node::catch_up_ticks(int64_t now_us) {
  uint64_t delivered = 0;
  while (next_tick_us() <= now_us) {
    core_->tick();
    ++ticks_delivered_;
    ++delivered;
  }
  return delivered;
}

void sim_node::crash() {
  core_.reset();
  engine_->simulate_crash();
  kv_.clear();
  applied_ = 0;
  in_flight.reset();
  paused = false;
  proposals.clear();
  reads.clear();
}

void sim_node::write(const raft::ready& rd) {
  if (!rd.snap && rd.entries.empty() && !rd.hard) return;
  write_batch batch;
  store_->stage(rd, batch);
  const status written = engine_->write(batch, write_options{.sync = false});
  VELOCITY_CHECK(written.ok());  // the memory engine does not fail
  if (rd.hard) written_commit_ = rd.hard->commit;
  // The order of step 2: a leader's snapshot replaces the whole log, a local
  // compaction drops its prefix; entries then truncate from their first index
  // and append.
  if (rd.snap && rd.snapshot_from_leader) {
    written_terms_.clear();
    written_last_index_ = rd.snap->meta.index;
  } else if (rd.snap) {
    written_terms_.erase(written_terms_.begin(), written_terms_.upper_bound(rd.snap->meta.index));
  }
  if (!rd.entries.empty()) {
    const auto first = written_terms_.lower_bound(rd.entries.front().index);
    written_terms_.erase(first, written_terms_.end());
    for (const raft::entry& e : rd.entries) written_terms_[e.index] = e.term;
    written_last_index_ = rd.entries.back().index;
  }
}

std::optional<raft::term_t> sim_node::durable_term_at(raft::index_t index) const {
  const auto it = durable_terms_.find(index);
  if (it == durable_terms_.end()) return std::nullopt;
  return it->second;
}

void sim_node::sync() {
  const status synced = engine_->sync();
  VELOCITY_CHECK(synced.ok());
  durable_commit_floor_ = written_commit_;
  durable_last_index_ = written_last_index_;
  durable_terms_ = written_terms_;
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
