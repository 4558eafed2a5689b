// The fsync-latency proxy (see slow_log_writer.hpp).
//
// Actor safety: the proxy's state is its own.
#include "tests/sim_actors/slow_log_writer.hpp"

#include <chrono>
#include <deque>
#include <utility>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

namespace velocity::simb {

namespace {

struct slow_log_writer_state {
  std::deque<caf::typed_response_promise<sync_result>> waiting;  // oldest first
};

using slow_pointer = log_writer_actor::stateful_pointer<slow_log_writer_state>;

log_writer_actor::behavior_type slow_impl(slow_pointer self, world* w, log_writer_actor real) {
  return {
      [=](sync_atom) -> caf::typed_response_promise<sync_result> {
        auto promise = self->make_response_promise<sync_result>();
        self->state.waiting.push_back(promise);
        // Each flush passes on the oldest request, so order is kept.
        self->delayed_send(self, std::chrono::nanoseconds{w->draw_between(0, w->fsync_ns_max)},
                           flush_atom::value);
        return promise;
      },
      [=](flush_atom) {
        if (self->state.waiting.empty()) return;
        auto promise = std::move(self->state.waiting.front());
        self->state.waiting.pop_front();
        self->request(real, caf::infinite, sync_atom::value)
            .then([promise](const sync_result& r) mutable { promise.deliver(r); },
                  [promise](caf::error& err) mutable {
                    promise.deliver(sync_result{{error_code::io_error, "log writer: " + to_string(err)}});
                  });
      },
      [=](lw_stats_atom a) { return self->delegate(real, a); },
  };
}

}  // namespace

log_writer_actor spawn_slow_log_writer(caf::actor_system& system, world& w,
                                       log_writer_actor real) {
  return system.spawn(slow_impl, &w, std::move(real));
}

}  // namespace velocity::simb
