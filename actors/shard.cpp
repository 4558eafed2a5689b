// The shard actor (see shard.hpp): the Raft shell of one shard replica.
//
// Actor safety: state is touched only by the shard actor.
#include "actors/shard.hpp"

#include <unordered_map>
#include <utility>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "cluster/raft/log_store.hpp"
#include "cluster/replica.hpp"
#include "cluster/replica_start.hpp"
#include "command/command_codec.hpp"
#include "spdlog/spdlog.h"
#include "storage/snapshot_stream.hpp"
#include "storage/state_machine.hpp"

namespace velocity {

namespace {

// Bytes of entries applied between log compactions (or shard_options::
// compact_entries entries). The state machine's data lives in the engine,
// so the Raft snapshot is metadata only and compaction only drops the log.
constexpr uint64_t shard_compact_bytes = 64ull << 20;

// A request waiting for the driver's answer. `cmd` is kept so the leader
// applies its own proposals without decoding them, and to run reads.
struct pending_request {
  caf::typed_response_promise<shard_reply> promise;
  command cmd;
  int64_t proposed_ns = 0;  // monotonic; 0 without a clock
  // A conditional write that looked certain to fail (`predicted`, checked
  // at applied index `predicted_at`): it waits as a read and is checked
  // again once its read index is applied (serve_read), unless nothing was
  // applied since.
  std::optional<reply> predicted{};
  uint64_t predicted_at = 0;
  // An applied write's reply the driver holds (effect::hold) until a quorum
  // knows its entry is committed (effect::release).
  std::optional<reply> held{};
};

struct shard_state {
  shard_options options_;
  std::shared_ptr<state_machine> machine_;
  std::shared_ptr<raft::log_store> store_;  // the driver refers to it
  std::unique_ptr<cluster::replica> replica_;
  std::vector<cluster::effect> effects_;  // carry_out's batch, kept for its capacity
  std::unique_ptr<snapshot_streams> streams_;  // streamed snapshots, both directions
  std::unordered_map<uint64_t, pending_request> requests_;
  uint64_t next_request_ = 0;
  bool flush_scheduled_ = false;  // a shard_flush_atom is in the mailbox
  raft::node_id leader_seen_ = 0;  // for logging leader changes
  raft::term_t term_seen_ = 0;
  shard_info counters_;            // proposals, leader changes, commit latency
  std::optional<status> failure_;  // set once an engine write or fsync failed
};

using shard_pointer = shard_actor::stateful_pointer<shard_state>;

bool is_engine_failure(const status& st) {
  return st.code() == error_code::io_error || st.code() == error_code::corruption;
}

reply error_reply(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

std::string shard_name(const shard_state& st) {
  return "shard " + std::to_string(st.options_.shard_id);
}

// `never_applied`: shard_reply::never_applied.
void answer(shard_pointer self, uint64_t request, reply result, bool never_applied = false) {
  auto it = self->state.requests_.find(request);
  if (it == self->state.requests_.end()) return;
  raft::node_id leader = 0;
  if (result.st.code() == error_code::not_leader || never_applied)
    leader = self->state.replica_->leader_hint();
  it->second.promise.deliver(shard_reply{std::move(result), leader, false, never_applied});
  self->state.requests_.erase(it);
}

// The replica cannot go on: answer everything waiting, refuse what comes.
// What was waiting may already be in the log of other replicas (a leader
// sends appends before its own fsync), so it is answered with the failure's
// code (io_error, corruption, internal: outcome unknown), never with
// unavailable, which promises "never applied".
void fail_shard(shard_pointer self, const status& why) {
  auto& st = self->state;
  if (!st.failure_) st.failure_ = why;
  st.replica_->fail_all(status{why.code(), "outcome unknown: " + why.message()});
}

void carry_out(shard_pointer self);

// A persist effect with sync: the log writer's group commit covers this
// batch with every other shard's batch of the round.
void ask_durable(shard_pointer self, uint64_t token) {
  self->request(self->state.options_.log_writer, caf::infinite, sync_atom::value)
      .then(
          [=](const sync_result& result) {
            if (result.st.ok()) {
              self->state.replica_->persisted(token);
            } else {
              fail_shard(self, {error_code::io_error, shard_name(self->state) +
                                                          ": Raft log fsync failed: " +
                                                          result.st.message()});
            }
            carry_out(self);
          },
          [=](caf::error& err) {
            fail_shard(self, {error_code::io_error, shard_name(self->state) +
                                                        ": log writer unreachable: " +
                                                        self->system().render(err)});
            carry_out(self);
          });
}

void persist(shard_pointer self, cluster::effect& fx) {
  auto& st = self->state;
  if (st.failure_) return;
  if (auto written = st.options_.engine_->write(fx.batch, write_options{}); !written.ok()) {
    fail_shard(self, {error_code::io_error,
                      shard_name(st) + ": Raft log write failed: " + written.message()});
    return;
  }
  if (!fx.sync) return;
  if (st.options_.log_writer) ask_durable(self, fx.token);
  else st.replica_->persisted(fx.token);
}

void apply_entry(shard_pointer self, const raft::entry& e, uint64_t request, bool hold) {
  auto& st = self->state;
  if (e.index <= st.machine_->applied_index()) {
    // Held already: a streamed snapshot brought a state newer than its Raft
    // index (actors/snapshot_stream.hpp). The entry is in that state; its
    // reply is not.
    answer(self, request, error_reply({error_code::timeout,
                                       "outcome unknown: the entry arrived in a snapshot"}));
    return;
  }
  // The leader's no-op of a new term and membership changes carry no command.
  if (e.kind != raft::entry_kind::normal || e.data.empty()) return;
  if (st.failure_) {
    answer(self, request, error_reply({st.failure_->code(),
                                       "outcome unknown: " + st.failure_->message()}));
    return;
  }
  auto it = request != 0 ? st.requests_.find(request) : st.requests_.end();
  std::optional<command> decoded;
  if (it == st.requests_.end()) {
    auto read = decode_command(e.data);
    if (!read.ok()) {
      fail_shard(self, {error_code::corruption, shard_name(st) + ": log entry " +
                                                    std::to_string(e.index) +
                                                    " is not a command: " + read.error().message()});
      return;
    }
    decoded = std::move(read.value());
  }
  reply result = st.machine_->apply(e.index, decoded ? *decoded : it->second.cmd);
  if (is_engine_failure(result.st)) fail_shard(self, result.st);
  if (it != st.requests_.end() && it->second.proposed_ns != 0 && st.options_.env) {
    st.counters_.commit_latency_ns_total +=
        static_cast<uint64_t>(st.options_.env->monotonic_ns() - it->second.proposed_ns);
    ++st.counters_.committed_proposals;
  }
  if (it == st.requests_.end()) return;
  if (hold) {
    it->second.held = std::move(result);
    return;
  }
  it->second.promise.deliver(shard_reply{std::move(result)});
  st.requests_.erase(it);
}

// A held reply: a quorum now knows its entry is committed.
void release(shard_pointer self, uint64_t request) {
  auto& st = self->state;
  auto it = st.requests_.find(request);
  if (it == st.requests_.end() || !it->second.held) return;
  it->second.promise.deliver(shard_reply{std::move(*it->second.held)});
  st.requests_.erase(it);
}

void propose(shard_pointer self, uint64_t request);

void serve_read(shard_pointer self, uint64_t request) {
  auto& st = self->state;
  auto it = st.requests_.find(request);
  if (it == st.requests_.end()) return;
  if (it->second.predicted && !st.failure_) {
    // The applied state is now linearizable for this request: a write that
    // still fails fails here, like a read; one that no longer does is logged.
    std::optional<reply> failed = st.machine_->applied_index() == it->second.predicted_at
                                      ? std::move(it->second.predicted)
                                      : st.machine_->certain_failure(it->second.cmd);
    it->second.predicted.reset();
    if (!failed) {
      propose(self, request);
      return;
    }
    ++st.counters_.failed_writes_read;
    it->second.promise.deliver(shard_reply{std::move(*failed)});
    st.requests_.erase(it);
    return;
  }
  reply result = st.failure_ ? error_reply(*st.failure_) : st.machine_->apply(0, it->second.cmd);
  shard_reply out{std::move(result)};
  out.applied = st.machine_->applied_index();
  it->second.promise.deliver(std::move(out));
  st.requests_.erase(it);
}

// Leader changes are worth a line at info: they explain latency spikes.
void note_leader(shard_pointer self) {
  auto& st = self->state;
  const raft::raft& core = st.replica_->core();
  if (core.leader_hint() == st.leader_seen_ && core.term() == st.term_seen_) return;
  if (core.leader_hint() != st.leader_seen_ && core.leader_hint() != 0) {
    ++st.counters_.leader_changes;
    spdlog::info("shard {} on node {}: leader is node {} in term {}", st.options_.shard_id,
                 st.options_.node_id, core.leader_hint(), core.term());
  }
  st.leader_seen_ = core.leader_hint();
  st.term_seen_ = core.term();
}

// Sends what the snapshot streams want sent.
void send_streams(shard_pointer self) {
  auto& st = self->state;
  for (snapshot_wire& out : st.streams_->take_outgoing())
    if (st.options_.outbox) self->send(st.options_.outbox, snap_out_atom::value, std::move(out));
}

// A send effect: the core's snapshot messages become snapshot streams (the
// Raft snapshot is metadata only; the data follows from the engine), the
// rest goes to the mux.
void send_messages(shard_pointer self, std::vector<raft::message>& messages) {
  auto& st = self->state;
  if (!st.options_.outbox) return;
  std::vector<raft::message> rest;
  for (raft::message& m : messages) {
    if (m.type == raft::message_type::snapshot_chunk) st.streams_->on_core_snapshot(m);
    else rest.push_back(std::move(m));
  }
  if (!rest.empty())
    self->send(st.options_.outbox, raft_out_atom::value,
               raft_messages{st.options_.shard_id, std::move(rest)});
  send_streams(self);
}

// Carries out the driver's effects, in order, until it has none left.
void carry_out(shard_pointer self) {
  auto& st = self->state;
  note_leader(self);
  // Moved out while in use, so a nested carry_out could never clear the
  // batch being walked; its capacity returns to the state at the end.
  std::vector<cluster::effect> batch = std::move(st.effects_);
  while (st.replica_->has_effects()) {
    st.replica_->take_effects(batch);
    for (cluster::effect& fx : batch) {
      switch (fx.type) {
        case cluster::effect::kind::send:
          send_messages(self, fx.messages);
          break;
        case cluster::effect::kind::persist:
          persist(self, fx);
          break;
        case cluster::effect::kind::restore:
          // The stream installed the state before the snapshot message was
          // stepped (on_snapshot_wire); anything else is a bug.
          if (!st.streams_->holds(fx.snapshot->meta.index, st.machine_->applied_index()))
            fail_shard(self, {error_code::internal,
                              shard_name(st) + ": the core installed snapshot " +
                                  std::to_string(fx.snapshot->meta.index) +
                                  " that the state machine does not hold"});
          break;
        case cluster::effect::kind::apply:
          apply_entry(self, fx.entry, fx.request, fx.hold);
          break;
        case cluster::effect::kind::release:
          release(self, fx.request);
          break;
        case cluster::effect::kind::read:
          serve_read(self, fx.request);
          break;
        case cluster::effect::kind::fail:
          answer(self, fx.request, error_reply(std::move(fx.error)), fx.never_applied);
          break;
        case cluster::effect::kind::capture:
          // The engine holds the state at this index: the snapshot is the
          // shard's key ranges, so compaction only drops the log prefix.
          st.replica_->compact(fx.index, std::string{});
          break;
      }
    }
    batch.clear();
  }
  st.effects_ = std::move(batch);
}

// A snapshot stream chunk or ack from another replica of the group.
void on_snapshot_wire(shard_pointer self, const snapshot_wire& in) {
  auto& st = self->state;
  if (st.failure_) return;
  if (in.ack) {
    st.streams_->on_ack(in.peer, in.payload);
  } else {
    auto got = st.streams_->on_chunk(in.peer, in.payload, st.replica_->core().term(),
                                     st.machine_->applied_index());
    if (!got.error.ok()) {
      fail_shard(self, {error_code::io_error, shard_name(st) + ": snapshot install failed: " +
                                                  got.error.message()});
    } else if (got.reopen && !st.machine_->open().ok()) {
      fail_shard(self, {error_code::corruption,
                        shard_name(st) + ": cannot reopen after a snapshot install"});
    } else if (got.step) {
      st.replica_->step(*got.step);
    }
  }
  send_streams(self);
  carry_out(self);
}

// Every request already in the mailbox is ahead of the flush, so they share
// one ready: one Raft batch, one fsync. (Memory mode does not batch: the
// driver forms a ready per request at once.)
void schedule_flush(shard_pointer self) {
  if (self->state.flush_scheduled_ || !self->state.replica_->batches_requests()) return;
  self->state.flush_scheduled_ = true;
  self->send(self, shard_flush_atom::value);
}

// Proposes the write of a waiting request (its entry's apply answers it).
void propose(shard_pointer self, uint64_t request) {
  auto& st = self->state;
  auto it = st.requests_.find(request);
  if (it == st.requests_.end()) return;
  if (st.options_.env) it->second.proposed_ns = st.options_.env->monotonic_ns();
  status started = st.replica_->propose(request, encode_command(it->second.cmd));
  if (!started.ok()) {
    // The core refused it (not leader, a leadership transfer): never logged.
    answer(self, request, error_reply(started), started.code() == error_code::unavailable);
    return;
  }
  ++st.counters_.proposals;
  schedule_flush(self);
}

// A read at local, eventual or quorum level: this replica's applied state,
// no leader involved (at once, or at its commit index for quorum).
void read_here(shard_pointer self, uint64_t request, consistency level) {
  auto& st = self->state;
  ++st.counters_.replica_reads;
  if (status started = st.replica_->read_local(request, level == consistency::quorum);
      !started.ok())
    answer(self, request, error_reply(started));
}

// An eventual write: answered once the leader accepted it into its log
// (before any fsync or replication; it may be lost if this leader dies).
// Its entry applies later like any other, with nobody waiting.
void propose_eventual(shard_pointer self, uint64_t request) {
  auto& st = self->state;
  auto it = st.requests_.find(request);
  if (it == st.requests_.end()) return;
  // What the leader's applied state already refuses is answered now: once
  // accepted, nobody would hear of its failure.
  if (st.replica_->core().current_role() == raft::role::leader) {
    if (auto failed = st.machine_->failure_now(it->second.cmd)) {
      answer(self, request, std::move(*failed));
      return;
    }
  }
  status started = st.replica_->propose(request, encode_command(it->second.cmd));
  if (!started.ok()) {
    answer(self, request, error_reply(started), started.code() == error_code::unavailable);
    return;
  }
  ++st.counters_.proposals;
  ++st.counters_.eventual_writes;
  // Only what is known now: the document's id and the log index the write
  // was appended at (its revision if it applies); version 0: not applied yet.
  reply accepted;
  document doc;
  std::visit(
      [&](const auto& c) {
        if constexpr (requires { c.id; }) doc.id = c.id;
      },
      it->second.cmd);
  doc.revision = st.replica_->core().last_index();
  accepted.doc = std::move(doc);
  it->second.promise.deliver(shard_reply{std::move(accepted)});
  st.requests_.erase(it);
  schedule_flush(self);
}

void handle_request(shard_pointer self, command cmd, consistency level,
                    caf::typed_response_promise<shard_reply>& promise) {
  auto& st = self->state;
  uint64_t request = ++st.next_request_;
  if (level != consistency::strong && is_read(cmd)) {
    st.requests_.emplace(request, pending_request{promise, std::move(cmd), 0});
    read_here(self, request, level);
    // Nothing to batch or persist: the read's effect is ready now.
    carry_out(self);
    return;
  }
  if (level == consistency::eventual) {
    st.requests_.emplace(request, pending_request{promise, std::move(cmd), 0});
    propose_eventual(self, request);
    carry_out(self);
    return;
  }
  // A leader answers a conditional write that can only fail (a CAS on a
  // version already gone, say) as a linearizable read: no log entry, no
  // fsync on any replica (storage/state_machine.hpp, certain_failure). Not
  // in memory mode: there a logged failure costs no fsync, and the check
  // would only add a document decode.
  std::optional<reply> predicted;
  if (!is_read(cmd) && st.options_.log_writer &&
      st.replica_->core().current_role() == raft::role::leader)
    predicted = st.machine_->certain_failure(cmd);
  if (is_read(cmd) || predicted) {
    st.requests_.emplace(request, pending_request{promise, std::move(cmd), 0,
                                                  std::move(predicted),
                                                  st.machine_->applied_index()});
    if (status started = st.replica_->read(request, raft::read_mode::safe, 0); !started.ok())
      answer(self, request, error_reply(started), started.code() == error_code::unavailable);
  } else {
    st.requests_.emplace(request, pending_request{promise, std::move(cmd), 0});
    propose(self, request);
  }
  schedule_flush(self);
  carry_out(self);
}

bool alone(const shard_options& options) {
  return options.voters.empty() ||
         (options.voters.size() == 1 && options.voters.front() == options.node_id);
}

cluster::replica_config replica_config_for(const shard_options& options) {
  cluster::replica_config cfg;
  cfg.raft.id = options.node_id;
  cfg.raft.random_seed = options.node_id * 1'000'003 + options.shard_id;
  cfg.raft.election_ticks = options.timing.election_ticks;
  cfg.raft.heartbeat_ticks = options.timing.heartbeat_ticks;
  cfg.tick_ns = int64_t{options.timing.tick_ms} * 1'000'000;
  // A lagging follower of a replicated group gets the shard streamed
  // (actors/snapshot_stream.hpp); a quarter of the threshold stays in the
  // log so one a little behind catches up by appends instead.
  cfg.compact_entries = options.compact_entries;
  cfg.compact_bytes = options.compact_entries == 0 ? 0 : shard_compact_bytes;
  cfg.compact_keep_entries = alone(options) ? 0 : options.compact_entries / 4;
  cfg.volatile_log = !options.log_writer;
  // Batching saves fsyncs; a volatile log has none to save, and the flush
  // message it needs would double the shard's messages per request.
  cfg.batch_requests = !cfg.volatile_log;
  return cfg;
}

shard_actor::behavior_type shard_impl(shard_pointer self, shard_options options,
                                      std::shared_ptr<state_machine> machine,
                                      std::shared_ptr<raft::log_store> store,
                                      std::shared_ptr<cluster::start_state> start) {
  auto& init = self->state;
  init.options_ = std::move(options);
  init.machine_ = std::move(machine);
  init.store_ = std::move(store);
  int64_t now_ns = init.options_.env ? init.options_.env->monotonic_ns() : 0;
  init.replica_ = std::make_unique<cluster::replica>(replica_config_for(init.options_),
                                                     std::move(start->state), start->applied,
                                                     *init.store_, now_ns);
  init.streams_ = std::make_unique<snapshot_streams>(
      *init.options_.engine_, init.options_.shard_id, init.options_.node_id,
      static_cast<uint64_t>(now_ns) << 8, init.options_.snapshot_chunk_bytes);
  // A group of one: nobody else can lead, so no election timeout to wait.
  if (init.replica_->core().conf().voters ==
      std::vector<raft::node_id>{init.options_.node_id})
    init.replica_->campaign();
  carry_out(self);
  return {
      [=](apply_atom, shard_request& request) {
        auto& st = self->state;
        auto promise = self->make_response_promise<shard_reply>();
        if (st.failure_) {
          promise.deliver(shard_reply{error_reply(
              {error_code::unavailable, shard_name(st) + " failed: " + st.failure_->message()})});
        } else if (st.requests_.size() >= shard_backlog_max) {
          promise.deliver(shard_reply{error_reply(
              {error_code::overloaded, shard_name(st) + ": too many requests waiting"})});
        } else {
          handle_request(self, std::move(request.cmd), request.level, promise);
        }
        return promise;
      },
      [=](shard_flush_atom) {
        self->state.flush_scheduled_ = false;
        self->state.replica_->flush();
        carry_out(self);
      },
      [=](raft_step_atom, const raft_messages& in) {
        auto& st = self->state;
        if (st.failure_) return;
        for (const raft::message& m : in.messages) {
          // Snapshot messages never travel as Raft messages: this node steps
          // one only once a stream installed its state (on_snapshot_wire).
          if (m.type != raft::message_type::snapshot_chunk) st.replica_->step(m);
        }
        carry_out(self);
      },
      [=](raft_tick_atom) {
        auto& st = self->state;
        if (st.failure_ || !st.options_.env) return;
        st.replica_->tick_to(st.options_.env->monotonic_ns());
        st.streams_->tick(st.replica_->core().current_role() == raft::role::leader);
        send_streams(self);
        carry_out(self);
      },
      [=](snap_in_atom, const snapshot_wire& in) { on_snapshot_wire(self, in); },
      [=](schema_atom, const std::string& collection) {
        auto* found = self->state.machine_->find_schema(collection);
        return found ? schema_reply{*found} : schema_reply{};
      },
      [=](shard_handoff_atom) -> uint64_t {
        auto& st = self->state;
        if (st.failure_) return 0;
        raft::node_id target = st.replica_->hand_off();
        carry_out(self);
        if (target != 0)
          spdlog::info("shard {} on node {}: handing leadership to node {}", st.options_.shard_id,
                       st.options_.node_id, target);
        return target;
      },
      [=](shard_info_atom) {
        auto& st = self->state;
        const raft::raft& core = st.replica_->core();
        shard_info info = st.counters_;
        info.shard_id = st.options_.shard_id;
        info.applied_index = st.machine_->applied_index();
        info.durable_index = core.commit_index();
        info.backlog = st.requests_.size();
        info.snapshots_sent = st.streams_->sent();
        info.snapshots_installed = st.streams_->installed();
        info.failed = st.failure_.has_value();
        info.role = std::string{raft::to_string(core.current_role())};
        info.term = core.term();
        info.leader = core.leader_hint();
        if (core.current_role() == raft::role::leader) {
          for (raft::node_id voter : core.conf().voters) {
            if (voter == st.options_.node_id) continue;
            info.followers.push_back({voter, core.match_of(voter).value_or(0)});
          }
        }
        return info;
      },
  };
}

// Loads the shard's Raft state (persistent mode) and lets
// cluster/replica_start.hpp decide where the group starts; a new group's
// state is made durable before the shard runs.
status_or<cluster::start_state> initial_state(const shard_options& options,
                                             raft::log_store& store, uint64_t applied) {
  const bool persistent = static_cast<bool>(options.log_writer);
  std::optional<raft::durable_state> held;
  if (persistent) {
    auto loaded = store.load();
    if (!loaded.ok()) return loaded.error();
    held = std::move(loaded.value());
  }
  auto start = cluster::replica_start_state(
      std::move(held), alone(options) ? std::vector<raft::node_id>{options.node_id} : options.voters,
      applied);
  if (!start.ok()) return start.error();
  if (persistent && start->fresh) {
    raft::ready first;
    first.snap = start->state.snap;
    first.snapshot_from_leader = true;
    first.hard = start->state.hard;
    first.must_sync = true;
    if (auto written = store.persist(first); !written.ok()) return written;
  }
  return std::move(start.value());
}

}  // namespace

status_or<shard_actor> spawn_shard(caf::actor_system& system, shard_options options) {
  VELOCITY_CHECK(options.engine_ != nullptr);
  if (!alone(options) && (!options.log_writer || !options.outbox || !options.env))
    return status{error_code::invalid_argument,
                  "a shard replicated on several nodes needs persistent mode, a peer outbox "
                  "and a clock"};
  auto name = "shard " + std::to_string(options.shard_id);
  // A snapshot install the node stopped in finishes (or its staging is
  // dropped) before the state machine looks at the shard.
  auto recovered = recover_install(*options.engine_, options.shard_id);
  if (!recovered.ok())
    return status{recovered.error().code(),
                  name + ": cannot recover a snapshot install: " + recovered.error().message()};
  if (recovered.value())
    spdlog::info("{}: finished a snapshot install (Raft index {}) that a restart interrupted",
                 name, recovered.value()->index);
  auto machine = std::make_shared<state_machine>(*options.engine_, options.shard_id);
  if (auto st = machine->open(); !st.ok())
    return status{st.code(), name + ": cannot recover: " + st.message()};
  auto store = std::make_shared<raft::log_store>(*options.engine_, options.shard_id);
  auto durable = initial_state(options, *store, machine->applied_index());
  if (!durable.ok())
    return status{durable.error().code(),
                  name + ": cannot recover its Raft log: " + durable.error().message()};
  return system.spawn(shard_impl, std::move(options), std::move(machine), std::move(store),
                      std::make_shared<cluster::start_state>(std::move(durable.value())));
}

}  // namespace velocity
