// The shard actor (see shard.hpp): propose -> apply -> durable -> reply.
//
// Actor safety: state is touched only by the shard actor.
#include "actors/shard.hpp"

#include <algorithm>
#include <deque>
#include <utility>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "storage/state_machine.hpp"

namespace velocity {

namespace {

// A reply held back until every write up to `index` is durable.
struct pending_reply {
  uint64_t index = 0;
  caf::typed_response_promise<shard_reply> promise;
  reply result;
};

struct shard_state {
  shard_options options_;
  std::shared_ptr<state_machine> machine_;
  std::deque<pending_reply> pending_;  // ascending index
  uint64_t durable_index_ = 0;
  std::optional<status> failure_;      // set once an engine write failed
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

// Answers, in order, every held reply whose writes are now durable.
void release_durable(shard_pointer self) {
  auto& st = self->state;
  while (!st.pending_.empty() && st.pending_.front().index <= st.durable_index_) {
    auto& front = st.pending_.front();
    front.promise.deliver(shard_reply{std::move(front.result)});
    st.pending_.pop_front();
  }
}

// The log writer answered for every write up to `index`.
void on_durable(shard_pointer self, uint64_t index, const status& synced) {
  auto& st = self->state;
  if (!synced.ok()) {
    // The writes are applied but maybe not on disk: tell their clients so
    // instead of acknowledging, and stop accepting (reopen to recover).
    status lost{error_code::io_error, "shard " + std::to_string(st.options_.shard_id) +
                                          ": write applied but fsync failed: " + synced.message()};
    for (auto& entry : st.pending_)
      if (entry.index <= index) entry.result = error_reply(lost);
    if (!st.failure_) st.failure_ = lost;
  }
  st.durable_index_ = std::max(st.durable_index_, index);
  release_durable(self);
}

void ask_durable(shard_pointer self, uint64_t index) {
  self->request(self->state.options_.log_writer, caf::infinite, sync_atom::value)
      .then([=](const sync_result& result) { on_durable(self, index, result.st); },
            [=](caf::error& err) {
              on_durable(self, index,
                         {error_code::unavailable,
                          "log writer unreachable: " + self->system().render(err)});
            });
}

void handle_apply(shard_pointer self, const command& cmd,
                  caf::typed_response_promise<shard_reply>& promise) {
  auto& st = self->state;
  auto& machine = *st.machine_;
  bool persistent = static_cast<bool>(st.options_.log_writer);
  if (is_read(cmd)) {
    auto result = machine.apply(0, cmd);
    if (st.pending_.empty()) {
      promise.deliver(shard_reply{std::move(result)});
    } else {
      st.pending_.push_back({machine.applied_index(), promise, std::move(result)});
    }
    return;
  }
  auto index = machine.applied_index() + 1;
  auto result = machine.apply(index, cmd);
  if (is_engine_failure(result.st)) st.failure_ = result.st;
  if (!persistent) {
    st.durable_index_ = machine.applied_index();
    promise.deliver(shard_reply{std::move(result)});
    return;
  }
  st.pending_.push_back({index, promise, std::move(result)});
  ask_durable(self, index);
}

shard_actor::behavior_type shard_impl(shard_pointer self, shard_options options,
                                      std::shared_ptr<state_machine> machine) {
  self->state.options_ = std::move(options);
  self->state.machine_ = std::move(machine);
  self->state.durable_index_ = self->state.machine_->applied_index();
  return {
      [=](apply_atom, const shard_request& request) {
        auto& st = self->state;
        auto promise = self->make_response_promise<shard_reply>();
        auto name = "shard " + std::to_string(st.options_.shard_id);
        if (st.failure_) {
          promise.deliver(shard_reply{error_reply(
              {error_code::unavailable, name + " failed: " + st.failure_->message()})});
        } else if (st.pending_.size() >= shard_backlog_max) {
          promise.deliver(shard_reply{error_reply(
              {error_code::overloaded, name + ": too many writes waiting for fsync"})});
        } else {
          handle_apply(self, request.cmd, promise);
        }
        return promise;
      },
      [=](schema_atom, const std::string& collection) {
        auto* found = self->state.machine_->find_schema(collection);
        return found ? schema_reply{*found} : schema_reply{};
      },
      [=](shard_info_atom) {
        auto& st = self->state;
        return shard_info{st.options_.shard_id, st.machine_->applied_index(), st.durable_index_,
                          st.pending_.size(), st.failure_.has_value()};
      },
  };
}

}  // namespace

status_or<shard_actor> spawn_shard(caf::actor_system& system, shard_options options) {
  VELOCITY_CHECK(options.engine_ != nullptr);
  auto machine = std::make_shared<state_machine>(*options.engine_, options.shard_id);
  if (auto st = machine->open(); !st.ok())
    return status{st.code(), "shard " + std::to_string(options.shard_id) +
                                 ": cannot recover: " + st.message()};
  return system.spawn(shard_impl, std::move(options), std::move(machine));
}

}  // namespace velocity
