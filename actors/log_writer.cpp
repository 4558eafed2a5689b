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
  // Null when metrics are off; owned by registry_.
  std::shared_ptr<metrics_registry> registry_;
  histogram* batch_requests_ = nullptr;
  histogram* fsync_seconds_ = nullptr;
  counter* fsync_failures_ = nullptr;
};

// Requests per fsync: 1 .. 4096, doubling (log_writer_pending_max is 65536,
// which lands in +Inf).
std::vector<double> batch_buckets() { return exponential_buckets(1, 2, 13); }

void init_metrics(log_writer_state& st, std::shared_ptr<metrics_registry> registry) {
  st.registry_ = std::move(registry);
  if (!st.registry_) return;
  st.batch_requests_ = &st.registry_->get_histogram(
      "velocity_group_commit_batch_requests", "Sync requests covered by one group-commit fsync.",
      batch_buckets());
  st.fsync_seconds_ = &st.registry_->get_histogram(
      "velocity_fsync_duration_seconds", "Latency of one group-commit engine sync (fsync).",
      latency_buckets_seconds());
  st.fsync_failures_ = &st.registry_->get_counter("velocity_fsync_failures_total",
                                                  "Group-commit fsyncs that returned an error.");
}

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
  if (st.registry_) {
    st.batch_requests_->observe(static_cast<double>(waiting.size()));
    st.fsync_seconds_->observe(static_cast<double>(elapsed_ns) / 1e9);
    if (!synced.ok()) st.fsync_failures_->increment();
  }
  for (auto& promise : waiting) promise.deliver(sync_result{synced});
}

log_writer_actor::behavior_type log_writer_impl(log_writer_pointer self, std::shared_ptr<engine> e,
                                                std::shared_ptr<environment> env,
                                                std::shared_ptr<metrics_registry> metrics) {
  self->state.engine_ = std::move(e);
  self->state.env_ = std::move(env);
  init_metrics(self->state, std::move(metrics));
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
                                  std::shared_ptr<environment> env, bool detached,
                                  std::shared_ptr<metrics_registry> metrics) {
  if (!detached)
    return system.spawn(log_writer_impl, std::move(e), std::move(env), std::move(metrics));
  return system.spawn<caf::detached>(log_writer_impl, std::move(e), std::move(env),
                                     std::move(metrics));
}

}  // namespace velocity
