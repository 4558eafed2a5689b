// The router actor (see router_actor.hpp).
//
// Actor safety: state is touched only by the router actor. Replies from shards
// arrive as `then` continuations on the same actor.
#include "actors/router_actor.hpp"

#include <chrono>
#include <functional>
#include <utility>

#include "actors/router_routing.hpp"
#include "caf/sec.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "storage/command_codec.hpp"

namespace velocity {

namespace {

struct router_state {
  router_options options_;
  int64_t started_ns_ = 0;
  size_t in_flight_ = 0;
  bool draining_ = false;
  std::vector<caf::typed_response_promise<uint64_t>> drain_waiters_;
  uint64_t drained_requests_ = 0;  // answered while draining
};

using router_pointer = router_control_actor::stateful_pointer<router_state>;
using client_promise = caf::typed_response_promise<client_response>;

client_response error_response(uint64_t request_id, status st) {
  client_response out;
  out.request_id = request_id;
  out.result.st = std::move(st);
  return out;
}

// Answers one accepted request and wakes drain waiters once nothing is left.
void finish(router_pointer self, client_promise& promise, client_response response) {
  auto& st = self->state;
  promise.deliver(std::move(response));
  VELOCITY_CHECK(st.in_flight_ > 0);
  --st.in_flight_;
  if (st.draining_) ++st.drained_requests_;
  if (st.draining_ && st.in_flight_ == 0) {
    for (auto& waiter : st.drain_waiters_) waiter.deliver(st.drained_requests_);
    st.drain_waiters_.clear();
  }
}

// A CAF error from a shard request: timeout or an unreachable shard.
status shard_failure(router_pointer self, const caf::error& err, uint32_t timeout_ms) {
  if (err == caf::sec::request_timeout)
    return {error_code::timeout, "request timed out after " + std::to_string(timeout_ms) + " ms"};
  return {error_code::unavailable, "shard unreachable: " + self->system().render(err)};
}

// Asks every shard and calls done(results) once all answered, or done with
// the first failure.
template <class Reply, class... Args>
void ask_all(router_pointer self, uint32_t timeout_ms,
             std::function<void(status_or<std::vector<Reply>>)> done, Args... args) {
  struct gather {
    std::vector<Reply> results;
    size_t remaining = 0;
    std::optional<status> failure;
  };
  auto& shards = self->state.options_.shards;
  auto g = std::make_shared<gather>();
  g->results.resize(shards.size());
  g->remaining = shards.size();
  auto complete = [g, done] {
    if (--g->remaining > 0) return;
    if (g->failure) done(*g->failure);
    else done(std::move(g->results));
  };
  for (size_t i = 0; i < shards.size(); ++i) {
    self->request(shards[i], std::chrono::milliseconds{timeout_ms}, args...)
        .then([g, i, complete](Reply& r) { g->results[i] = std::move(r); complete(); },
              [self, g, complete, timeout_ms](caf::error& err) {
                if (!g->failure) g->failure = shard_failure(self, err, timeout_ms);
                complete();
              });
  }
}

// Schema changes: every shard applies the same command; they must agree.
void route_schema_change(router_pointer self, client_promise promise, uint64_t request_id,
                         command cmd, uint32_t timeout_ms) {
  auto done = [self, promise, request_id](status_or<std::vector<shard_reply>> all) mutable {
    if (!all.ok()) return finish(self, promise, error_response(request_id, all.error()));
    auto& replies = all.value();
    for (size_t i = 1; i < replies.size(); ++i) {
      if (!(replies[i].result == replies[0].result)) {
        auto text = "shards disagree on a schema change: shard 0: " +
                    replies[0].result.st.to_string() + ", shard " + std::to_string(i) + ": " +
                    replies[i].result.st.to_string();
        return finish(self, promise, error_response(request_id, {error_code::internal, text}));
      }
    }
    client_response out;
    out.request_id = request_id;
    out.result = std::move(replies[0].result);
    finish(self, promise, std::move(out));
  };
  ask_all<shard_reply>(self, timeout_ms, std::move(done), apply_atom::value,
                       shard_request{std::move(cmd)});
}

void route_command(router_pointer self, client_promise promise, client_request& request,
                   uint32_t timeout_ms) {
  auto& st = self->state;
  auto& cmd = std::get<command>(request.body);
  auto id = request.request_id;
  if (auto ok = routing::check_consistency(cmd, request.level); !ok.ok())
    return finish(self, promise, error_response(id, ok));
  if (!is_read(cmd)) set_command_time_ns(cmd, st.options_.env->now_ns());
  if (auto* insert = std::get_if<cmd::insert>(&cmd); insert && insert->id.empty())
    insert->id = routing::make_document_id(insert->time_ns, st.options_.env->random_u64());
  if (routing::is_schema_change(cmd))
    return route_schema_change(self, promise, id, std::move(cmd), timeout_ms);
  auto shard_count = static_cast<uint32_t>(st.options_.shards.size());
  auto shard = routing::choose_shard(cmd, request.partition, shard_count);
  if (!shard) {
    auto text = std::string{routing::command_name(cmd)} +
                " needs a partition value on a node with several shards";
    return finish(self, promise, error_response(id, {error_code::invalid_argument, text}));
  }
  self->request(st.options_.shards[*shard], std::chrono::milliseconds{timeout_ms},
                apply_atom::value, shard_request{std::move(cmd)})
      .then(
          [self, promise, id](shard_reply& r) mutable {
            client_response out;
            out.request_id = id;
            out.result = std::move(r.result);
            finish(self, promise, std::move(out));
          },
          [self, promise, id, timeout_ms](caf::error& err) mutable {
            finish(self, promise, error_response(id, shard_failure(self, err, timeout_ms)));
          });
}

// Minimal JSON string escaping for the status text (node ids are user config).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;  // control characters are dropped
    out += c;
  }
  return out + "\"";
}

void route_status(router_pointer self, client_promise promise, uint64_t request_id,
                  uint32_t timeout_ms) {
  auto done = [self, promise, request_id](status_or<std::vector<shard_info>> all) mutable {
    if (!all.ok()) return finish(self, promise, error_response(request_id, all.error()));
    auto& st = self->state;
    auto uptime_ms = (st.options_.env->monotonic_ns() - st.started_ns_) / 1000000;
    std::string applied;
    std::string durable;
    for (auto& info : all.value()) {
      applied += (applied.empty() ? "" : ",") + std::to_string(info.applied_index);
      durable += (durable.empty() ? "" : ",") + std::to_string(info.durable_index);
    }
    client_response out;
    out.request_id = request_id;
    out.text = "{\"node_id\":" + json_string(st.options_.node_id) + ",\"mode\":" +
               json_string(to_string(st.options_.mode)) +
               ",\"shards\":" + std::to_string(st.options_.shards.size()) +
               ",\"uptime_ms\":" + std::to_string(uptime_ms) + ",\"applied_indexes\":[" +
               applied + "],\"durable_indexes\":[" + durable +
               "],\"in_flight\":" + std::to_string(st.in_flight_ - 1) + "}";
    finish(self, promise, std::move(out));
  };
  ask_all<shard_info>(self, timeout_ms, std::move(done), shard_info_atom::value);
}

// Every shard holds the same schemas; shard 0 answers.
void route_get_schema(router_pointer self, client_promise promise, uint64_t request_id,
                      std::string collection, uint32_t timeout_ms) {
  self->request(self->state.options_.shards[0], std::chrono::milliseconds{timeout_ms},
                schema_atom::value, collection)
      .then(
          [self, promise, request_id, collection](schema_reply& r) mutable {
            if (!r.schema)
              return finish(self, promise,
                            error_response(request_id, {error_code::unknown_collection,
                                                        "no schema for collection " + collection}));
            client_response out;
            out.request_id = request_id;
            out.result.schema = std::move(r.schema);
            finish(self, promise, std::move(out));
          },
          [self, promise, request_id, timeout_ms](caf::error& err) mutable {
            finish(self, promise, error_response(request_id, shard_failure(self, err, timeout_ms)));
          });
}

void handle_request(router_pointer self, client_promise& promise, client_request& request) {
  auto& st = self->state;
  auto id = request.request_id;
  if (st.draining_) {
    promise.deliver(error_response(id, {error_code::unavailable, "node is shutting down"}));
    return;
  }
  if (st.in_flight_ >= st.options_.in_flight_max) {
    promise.deliver(
        error_response(id, {error_code::overloaded, "router: too many requests in flight"}));
    return;
  }
  ++st.in_flight_;
  auto timeout_ms =
      request.timeout_ms != 0 ? request.timeout_ms : st.options_.request_timeout_ms_default;
  if (std::holds_alternative<health_request>(request.body)) {
    client_response out;
    out.request_id = id;
    out.text = "ok";
    return finish(self, promise, std::move(out));
  }
  if (std::holds_alternative<status_request>(request.body))
    return route_status(self, promise, id, timeout_ms);
  if (auto* schema = std::get_if<get_schema_request>(&request.body))
    return route_get_schema(self, promise, id, schema->collection, timeout_ms);
  route_command(self, promise, request, timeout_ms);
}

router_control_actor::behavior_type router_impl(router_pointer self, router_options options) {
  VELOCITY_CHECK(!options.shards.empty());
  VELOCITY_CHECK(options.env != nullptr);
  self->state.started_ns_ = options.env->monotonic_ns();
  self->state.options_ = std::move(options);
  return {
      [=](request_atom, client_request& request) {
        auto promise = self->make_response_promise<client_response>();
        handle_request(self, promise, request);
        return promise;
      },
      [=](drain_atom) {
        auto& st = self->state;
        st.draining_ = true;
        auto promise = self->make_response_promise<uint64_t>();
        if (st.in_flight_ == 0) promise.deliver(st.drained_requests_);
        else st.drain_waiters_.push_back(promise);
        return promise;
      },
  };
}

}  // namespace

router_control_actor spawn_router(caf::actor_system& system, router_options options) {
  return system.spawn(router_impl, std::move(options));
}

}  // namespace velocity
