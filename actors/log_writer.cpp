// Group commit (see log_writer.hpp).
//
// Actor safety: state is touched only by the log writer's own thread.
#include "actors/log_writer.hpp"

#include <utility>
#include <vector>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

namespace velocity {

namespace {

struct log_writer_state {
  std::shared_ptr<engine> engine_;
  std::shared_ptr<environment> env_;
  std::vector<caf::typed_response_promise<sync_result>> pending_;
  bool flush_scheduled_ = false;
  log_writer_stats stats_;
};

using log_writer_pointer = log_writer_actor::stateful_pointer<log_writer_state>;

// Runs one fsync for every pending request and answers them all.
void flush_pending(log_writer_pointer self) {
  auto& st = self->state;
  st.flush_scheduled_ = false;
  if (st.pending_.empty()) return;
  auto waiting = std::move(st.pending_);
  st.pending_.clear();
  auto started_ns = st.env_->monotonic_ns();
  auto synced = st.engine_->sync();
  auto elapsed_ns = static_cast<uint64_t>(st.env_->monotonic_ns() - started_ns);
  ++st.stats_.batches;
  st.stats_.requests += waiting.size();
  st.stats_.fsync_ns_total += elapsed_ns;
  if (elapsed_ns > st.stats_.fsync_ns_max) st.stats_.fsync_ns_max = elapsed_ns;
  if (!synced.ok()) ++st.stats_.failures;
  for (auto& promise : waiting) promise.deliver(sync_result{synced});
}

log_writer_actor::behavior_type log_writer_impl(log_writer_pointer self, std::shared_ptr<engine> e,
                                                std::shared_ptr<environment> env) {
  self->state.engine_ = std::move(e);
  self->state.env_ = std::move(env);
  return {
      [=](sync_atom) -> caf::typed_response_promise<sync_result> {
        auto& st = self->state;
        auto promise = self->make_response_promise<sync_result>();
        if (st.pending_.size() >= log_writer_pending_max) {
          promise.deliver(
              sync_result{{error_code::overloaded, "log writer: too many writes waiting for fsync"}});
          return promise;
        }
        st.pending_.push_back(promise);
        if (!st.flush_scheduled_) {
          // Everything already in the mailbox is ahead of this flush, so it
          // joins the same fsync.
          st.flush_scheduled_ = true;
          self->send(self, flush_atom::value);
        }
        return promise;
      },
      [=](flush_atom) { flush_pending(self); },
      [=](lw_stats_atom) { return self->state.stats_; },
  };
}

}  // namespace

log_writer_actor spawn_log_writer(caf::actor_system& system, std::shared_ptr<engine> e,
                                  std::shared_ptr<environment> env, bool detached) {
  if (!detached) return system.spawn(log_writer_impl, std::move(e), std::move(env));
  return system.spawn<caf::detached>(log_writer_impl, std::move(e), std::move(env));
}

}  // namespace velocity
