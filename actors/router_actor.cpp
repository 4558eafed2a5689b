// The router actor (see router_actor.hpp).
//
// Actor safety: state is touched only by the router actor. Replies from shards
// arrive as `then` continuations on the same actor.
#include "actors/router_actor.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "caf/sec.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "command/command_codec.hpp"
#include "router/consistency_rules.hpp"
#include "router/ids.hpp"
#include "router/list_merge.hpp"
#include "router/redirect.hpp"
#include "router/replica_reads.hpp"
#include "router/placement.hpp"
#include "router/schema_broadcast.hpp"

namespace velocity {

namespace {

// What the router knows about a collection: how it is partitioned and its
// schema (list merges need the index definitions). Cached from shard 0; a
// schema change through this router drops the entry when it completes.
struct collection_info {
  partitioning parts;
  std::optional<collection_schema> schema;
};

constexpr size_t operation_count = static_cast<size_t>(operation_kind::get_schema) + 1;

// The router's metric series, looked up once per (operation, outcome) and
// kept: the registry's mutex is off the request path after the first hit.
struct router_metrics {
  std::shared_ptr<metrics_registry> registry;  // null: metrics off
  std::array<std::array<counter*, error_code_count>, operation_count> requests{};
  std::array<histogram*, operation_count> latency{};
  gauge* in_flight = nullptr;
};

struct router_state {
  router_options options_;
  // Continuations waiting for a retry timer (router_retry_atom), by id.
  std::map<uint64_t, std::function<void()>> retries_;
  std::vector<raft::node_id> leaders_;  // per shard: where the leader was last seen (0: ask locally)
  uint64_t next_retry_ = 0;
  router_metrics metrics_;
  std::map<std::string, collection_info, std::less<>> collections_;
  int64_t started_ns_ = 0;
  size_t in_flight_ = 0;
  bool draining_ = false;
  std::vector<caf::typed_response_promise<uint64_t>> drain_waiters_;
  uint64_t drained_requests_ = 0;  // answered while draining
  // The gossiper's latest member table (a cluster), and the members it
  // holds dead or gone: never asked, never waited for.
  std::optional<member_view> members_;
  std::vector<raft::node_id> dead_;
};

using router_pointer = router_control_actor::stateful_pointer<router_state>;

bool is_dead(const router_state& st, raft::node_id node) {
  return std::find(st.dead_.begin(), st.dead_.end(), node) != st.dead_.end();
}
// A request's promise with what its metrics need: the operation and when the
// router received it.
struct client_promise {
  caf::typed_response_promise<client_response> promise;
  operation_kind operation = operation_kind::health;
  int64_t received_ns = 0;
};

void init_metrics(router_metrics& m, std::shared_ptr<metrics_registry> registry) {
  m.registry = std::move(registry);
  if (!m.registry) return;
  m.in_flight = &m.registry->get_gauge("velocity_requests_in_flight",
                                       "Requests accepted by the router and not yet answered.");
  for (size_t op = 0; op < operation_count; ++op)
    m.latency[op] = &m.registry->get_histogram(
        "velocity_request_duration_seconds",
        "Request latency from router receive to reply, by operation.", latency_buckets_seconds(),
        {{"operation", std::string{to_string(static_cast<operation_kind>(op))}}});
}

// Counts one answered request (accepted or refused) and its latency.
void record(router_pointer self, const client_promise& promise, error_code outcome) {
  auto& m = self->state.metrics_;
  if (!m.registry) return;
  auto op = static_cast<size_t>(promise.operation);
  auto code = static_cast<size_t>(outcome);
  VELOCITY_CHECK(op < operation_count && code < error_code_count);
  auto*& requests = m.requests[op][code];
  if (!requests)
    requests = &m.registry->get_counter(
        "velocity_requests_total", "Requests answered by the router, by operation and outcome.",
        {{"operation", std::string{to_string(promise.operation)}},
         {"outcome", std::string{to_string(outcome)}}});
  requests->increment();
  auto elapsed_ns = self->state.options_.env->monotonic_ns() - promise.received_ns;
  m.latency[op]->observe(static_cast<double>(elapsed_ns) / 1e9);
}

void set_in_flight(router_pointer self) {
  auto& st = self->state;
  if (st.metrics_.in_flight) st.metrics_.in_flight->set(static_cast<double>(st.in_flight_));
}

client_response error_response(uint64_t request_id, status st) {
  client_response out;
  out.request_id = request_id;
  out.result.st = std::move(st);
  return out;
}

// Answers one accepted request and wakes drain waiters once nothing is left.
void finish(router_pointer self, client_promise& promise, client_response response) {
  auto& st = self->state;
  record(self, promise, response.result.st.code());
  promise.promise.deliver(std::move(response));
  VELOCITY_CHECK(st.in_flight_ > 0);
  --st.in_flight_;
  set_in_flight(self);
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
  // The shard may have received it before it went away: outcome unknown.
  return {error_code::timeout,
          "outcome unknown: shard unreachable: " + self->system().render(err)};
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

void after(router_pointer self, int64_t delay_ms, std::function<void()> next) {
  auto id = ++self->state.next_retry_;
  self->state.retries_.emplace(id, std::move(next));
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, router_retry_atom::value, id);
}

// Asks the replica of `shard` on node `target` (0: this node's) and carries
// out router/redirect.hpp's policy: forward to the leader a not_leader names
// (over the peer mux), or wait and ask locally; only what never reached a log
// is retried. done(reply, true) for an answer from a replica, done(failure,
// false) when none could be had before the deadline.
// One command on its way to its shard's replicas: shared by the attempts of
// ask_replica, so a redirect neither copies the command nor the callback.
struct replica_ask {
  uint32_t shard = 0;
  command cmd;
  consistency level = consistency::strong;
  int64_t deadline_ns = 0;
  uint32_t timeout_ms = 0;
  std::function<void(reply, bool)> done;
};

// Milliseconds left before the ask's deadline (<= 0: none).
int64_t remaining_ms(router_pointer self, const replica_ask& ask) {
  return (ask.deadline_ns - self->state.options_.env->monotonic_ns()) / 1'000'000;
}

// Asks the replica of `shard` on `node` (this node's when it is this node)
// once, with no redirect; a CAF failure becomes the reply's status.
void ask_once(router_pointer self, const replica_ask& ask, raft::node_id node,
              std::function<void(shard_reply&)> answered) {
  auto& st = self->state;
  auto timeout = std::chrono::milliseconds{std::max<int64_t>(remaining_ms(self, ask), 1)};
  auto on_error = [self, answered, timeout_ms = ask.timeout_ms](caf::error& err) {
    shard_reply failed;
    failed.result.st = shard_failure(self, err, timeout_ms);
    answered(failed);
  };
  if (node == 0 || node == st.options_.node || !st.options_.mux) {
    // This node's replica answers a local or eventual read at once from its
    // applied state (or refuses it at once), so no CAF timeout: each one is
    // two events on CAF's clock thread. A quorum read part may wait for the
    // commit index and keeps it.
    bool at_once = ask.level == consistency::local || ask.level == consistency::eventual;
    self->request(st.options_.shards.at(ask.shard),
                  at_once ? caf::duration{caf::infinite} : caf::duration{timeout}, apply_atom::value,
                  shard_request{ask.cmd, ask.level})
        .then([answered](shard_reply& r) { answered(r); }, on_error);
  } else {
    self->request(st.options_.mux, timeout, forward_atom::value,
                  forwarded_command{node, ask.shard, ask.cmd, ask.level})
        .then([answered](shard_reply& r) { answered(r); }, on_error);
  }
}

// The nodes holding a replica of `shard`.
std::vector<raft::node_id> replica_nodes(router_pointer self, uint32_t shard) {
  auto& st = self->state;
  if (shard < st.options_.replicas.size() && !st.options_.replicas[shard].empty())
    return st.options_.replicas[shard];
  return {st.options_.node};
}

// A local read: this node's replica, no further hop (not_local when the
// node holds none).
void read_local(router_pointer self, std::shared_ptr<replica_ask> ask) {
  auto nodes = replica_nodes(self, ask->shard);
  if (std::find(nodes.begin(), nodes.end(), self->state.options_.node) == nodes.end()) {
    reply r;
    r.st = {error_code::not_local, "node " + std::to_string(self->state.options_.node) +
                                       " holds no replica of shard " +
                                       std::to_string(ask->shard) + "; use eventual"};
    return ask->done(std::move(r), true);
  }
  ask_once(self, *ask, 0, [ask](shard_reply& r) { ask->done(std::move(r.result), true); });
}

// An eventual read: the replicas in router/replica_reads.hpp's order until
// one serves it.
void read_eventual(router_pointer self, std::shared_ptr<replica_ask> ask,
                   std::shared_ptr<std::vector<raft::node_id>> order, size_t next) {
  if (next >= order->size() || (next > 0 && remaining_ms(self, *ask) <= 0)) {
    reply r;
    r.st = {error_code::unavailable, "eventual read of shard " + std::to_string(ask->shard) +
                                         ": no replica could serve it"};
    return ask->done(std::move(r), false);
  }
  ask_once(self, *ask, (*order)[next], [self, ask, order, next](shard_reply& r) {
    if (eventual_read_retries(r.result.st.code()) && next + 1 < order->size())
      return read_eventual(self, ask, order, next + 1);
    bool served = !eventual_read_retries(r.result.st.code());
    ask->done(std::move(r.result), served);
  });
}

// A quorum read: every replica at its commit index; the most applied of a
// majority's answers (router/replica_reads.hpp).
void read_quorum(router_pointer self, std::shared_ptr<replica_ask> ask) {
  auto nodes = replica_nodes(self, ask->shard);
  auto gather = std::make_shared<quorum_read>(ask->shard, nodes.size());
  for (raft::node_id node : nodes) {
    if (node != self->state.options_.node && is_dead(self->state, node)) {
      reply gone;
      gone.st = {error_code::unavailable, "node " + std::to_string(node) + " is dead (gossip)"};
      gather->on_answer(node, std::move(gone), 0);
      if (gather->finished()) {
        reply out = gather->result();
        return ask->done(std::move(out), out.st.code() != error_code::unavailable);
      }
      continue;
    }
    ask_once(self, *ask, node, [ask, gather, node](shard_reply& r) {
      if (gather->finished()) return;
      gather->on_answer(node, std::move(r.result), r.applied);
      if (!gather->finished()) return;
      reply out = gather->result();
      bool served = out.st.code() != error_code::unavailable;
      ask->done(std::move(out), served);
    });
  }
}

void ask_replica(router_pointer self, std::shared_ptr<replica_ask> ask, uint32_t attempt,
                 raft::node_id target) {
  auto& st = self->state;
  const uint32_t shard = ask->shard;
  if (attempt == 0 && ask->level != consistency::strong && is_read(ask->cmd)) {
    switch (ask->level) {
      case consistency::local:
        return read_local(self, ask);
      case consistency::eventual:
        return read_eventual(self, ask,
                             std::make_shared<std::vector<raft::node_id>>(eventual_read_order(
                                 replica_nodes(self, shard), st.options_.node, st.dead_)),
                             0);
      case consistency::quorum:
        return read_quorum(self, ask);
      case consistency::strong:
        break;
    }
  }
  // Start where the last answer said the leader is (saves the local hop).
  if (attempt == 0 && target == 0 && shard < st.leaders_.size()) target = st.leaders_[shard];
  int64_t left_ms = remaining_ms(self, *ask);
  if (left_ms <= 0) {
    // Every attempt so far certainly never reached a log (only those are
    // retried): nothing was applied.
    reply late;
    late.st = {error_code::unavailable,
               "no leader of shard " + std::to_string(shard) +
                   " answered before the deadline (a majority of its replicas may be down or "
                   "unreachable)"};
    return ask->done(std::move(late), false);
  }
  bool clustered = static_cast<bool>(st.options_.mux);
  raft::node_id me = st.options_.node;
  auto on_reply = [=](shard_reply& r) {
    replica_answer answer{r.result.st.code(), r.leader, r.never_sent, r.never_applied};
    auto& leaders = self->state.leaders_;
    if (leaders.size() <= shard) leaders.resize(self->state.options_.shards.size(), 0);
    leaders[shard] = cached_leader_after(answer, me, target);
    redirect_step step = next_redirect(answer, me, target, attempt, clustered);
    switch (step.type) {
      case redirect_step::kind::answer:
        return ask->done(std::move(r.result), true);
      case redirect_step::kind::forward:
        return ask_replica(self, ask, attempt + 1, step.target);
      case redirect_step::kind::retry_local:
        // Never wait past the deadline: the last attempt answers there, well
        // before the transport gives up on the router.
        after(self, std::clamp<int64_t>(remaining_ms(self, *ask), 0, step.delay_ms),
              [=] { ask_replica(self, ask, attempt + 1, 0); });
        return;
    }
  };
  const bool read_only = is_read(ask->cmd);
  auto on_error = [=](caf::error& err) {
    if (shard < self->state.leaders_.size()) self->state.leaders_[shard] = 0;
    reply failed;
    if (err == caf::sec::request_timeout && read_only) {
      // A read changes nothing, so its outcome is never unknown: the leader
      // it waited on (a ReadIndex it could not confirm) did not answer.
      failed.st = {error_code::unavailable,
                   "no leader of shard " + std::to_string(shard) +
                       " confirmed a read before the deadline (a majority of its replicas may "
                       "be down or unreachable)"};
    } else {
      failed.st = shard_failure(self, err, ask->timeout_ms);
    }
    ask->done(std::move(failed), false);
  };
  if (target != 0 && target != me && is_dead(st, target)) {
    // Gossip says that node is dead: as if the forward could not be queued.
    shard_reply gone;
    gone.result.st = {error_code::unavailable,
                      "node " + std::to_string(target) + " is dead (gossip)"};
    gone.never_sent = true;
    return on_reply(gone);
  }
  auto timeout = std::chrono::milliseconds{left_ms};
  // Only a cluster redirects (router/redirect.hpp), so a single node hands
  // the command over instead of keeping a copy for another attempt.
  command cmd = clustered ? ask->cmd : std::move(ask->cmd);
  if (target == 0 || target == st.options_.node) {
    self->request(st.options_.shards.at(shard), timeout, apply_atom::value,
                  shard_request{std::move(cmd), ask->level})
        .then(on_reply, on_error);
  } else {
    self->request(st.options_.mux, timeout, forward_atom::value,
                  forwarded_command{target, shard, std::move(cmd), ask->level})
        .then(on_reply, on_error);
  }
}

// Sends commands[i].second to shard commands[i].first; done(replies, in the
// same order) once all answered. A shard that could not be asked (timeout,
// unreachable) gets that failure as its reply's status and its position in
// `unanswered`.
void ask_each_shard(router_pointer self, uint32_t timeout_ms,
                    std::vector<std::pair<uint32_t, command>> commands,
                    std::function<void(std::vector<reply>, std::vector<size_t> unanswered)> done,
                    consistency level = consistency::strong) {
  struct gather {
    std::vector<reply> results;
    std::vector<size_t> unanswered;
    size_t remaining = 0;
  };
  auto g = std::make_shared<gather>();
  g->results.resize(commands.size());
  g->remaining = commands.size();
  auto complete = [g, done] {
    if (--g->remaining > 0) return;
    std::sort(g->unanswered.begin(), g->unanswered.end());
    done(std::move(g->results), std::move(g->unanswered));
  };
  int64_t deadline_ns = self->state.options_.env->monotonic_ns() + int64_t{timeout_ms} * 1'000'000;
  for (size_t i = 0; i < commands.size(); ++i) {
    auto ask = std::make_shared<replica_ask>();
    ask->shard = commands[i].first;
    ask->cmd = std::move(commands[i].second);
    ask->level = level;
    ask->deadline_ns = deadline_ns;
    ask->timeout_ms = timeout_ms;
    ask->done = [g, i, complete](reply r, bool answered) {
      g->results[i] = std::move(r);
      if (!answered) g->unanswered.push_back(i);
      complete();
    };
    ask_replica(self, std::move(ask), 0, 0);
  }
}

// As ask_each_shard, but done(failure of the lowest unanswered command) if
// any shard could not be asked.
void ask_shards(router_pointer self, uint32_t timeout_ms,
                std::vector<std::pair<uint32_t, command>> commands,
                std::function<void(status_or<std::vector<reply>>)> done,
                consistency level = consistency::strong) {
  auto all = [done](std::vector<reply> replies, std::vector<size_t> unanswered) {
    if (!unanswered.empty()) return done(replies[unanswered.front()].st);
    done(std::move(replies));
  };
  ask_each_shard(self, timeout_ms, std::move(commands), std::move(all), level);
}

client_response command_response(uint64_t request_id, reply r) {
  client_response out;
  out.request_id = request_id;
  out.result = std::move(r);
  return out;
}

// The collection a command addresses.
std::string collection_of(const command& c) {
  return std::visit(
      [](const auto& x) -> std::string {
        if constexpr (requires { x.collection; }) return x.collection;
        else return x.schema.collection;
      },
      c);
}

// Looks the collection up (cache, else shard 0) and calls next with it, or
// with a failure status (then the info is empty). Not status_or: GCC 12 warns
// maybe-uninitialized on status_or<collection_info> inside std::function.
void with_collection(router_pointer self, const std::string& name, uint32_t timeout_ms,
                     std::function<void(status, const collection_info&)> next) {
  auto& cache = self->state.collections_;
  if (auto found = cache.find(name); found != cache.end()) return next({}, found->second);
  self->request(self->state.options_.shards[0], std::chrono::milliseconds{timeout_ms},
                schema_atom::value, name)
      .then(
          [self, name, next](schema_reply& r) {
            if (!r.schema) return next({}, collection_info{partitioning_by_id(name), std::nullopt});
            collection_info info{partitioning_of(*r.schema), std::move(r.schema)};
            self->state.collections_.insert_or_assign(name, info);
            next({}, info);
          },
          [self, next, timeout_ms](caf::error& err) {
            next(shard_failure(self, err, timeout_ms), collection_info{});
          });
}

// Claim across shards: one at a time, in ascending order, until one claims.
void claim_step(router_pointer self, client_promise promise, uint64_t request_id,
                std::shared_ptr<claim_fan_out> fan_out, command cmd, uint32_t timeout_ms) {
  if (fan_out->finished())
    return finish(self, promise, command_response(request_id, fan_out->result()));
  auto shard = fan_out->next_shard();
  auto done = [=](status_or<std::vector<reply>> replies) mutable {
    if (!replies.ok()) return finish(self, promise, error_response(request_id, replies.error()));
    fan_out->on_reply(std::move(replies.value()[0]));
    claim_step(self, promise, request_id, fan_out, std::move(cmd), timeout_ms);
  };
  ask_shards(self, timeout_ms, {{shard, cmd}}, std::move(done));
}

void route_list(router_pointer self, client_promise promise, uint64_t request_id,
                const cmd::list& list, const collection_info& info, uint32_t timeout_ms,
                consistency level) {
  auto shard_count = static_cast<uint32_t>(self->state.options_.shards.size());
  if (!info.schema)
    return finish(self, promise, error_response(request_id, {error_code::unknown_collection,
                                                             "no schema for collection " +
                                                                 list.collection}));
  auto fan_out = begin_list_fan_out(list, shard_count);
  if (!fan_out.ok()) return finish(self, promise, error_response(request_id, fan_out.error()));
  std::vector<std::pair<uint32_t, command>> commands;
  for (auto& request : fan_out->requests) commands.emplace_back(request.shard, request.list);
  auto schema = *info.schema;
  auto plan = std::move(fan_out).value();
  auto done = [=](status_or<std::vector<reply>> pages) mutable {
    if (!pages.ok()) return finish(self, promise, error_response(request_id, pages.error()));
    finish(self, promise,
           command_response(request_id, merge_list_pages(list, schema, plan, pages.value())));
  };
  ask_shards(self, timeout_ms, std::move(commands), std::move(done), level);
}

// A schema change: every shard applies it; if a create met already_exists,
// every shard is asked which schema it holds; router/schema_broadcast.hpp
// merges. The cached schema is dropped whatever the outcome.
void broadcast_schema_change(router_pointer self, client_promise promise, uint64_t request_id,
                             command change, uint32_t timeout_ms) {
  auto shard_count = static_cast<uint32_t>(self->state.options_.shards.size());
  std::vector<std::pair<uint32_t, command>> all;
  for (uint32_t i = 0; i < shard_count; ++i) all.emplace_back(i, change);
  auto name = collection_of(change);
  auto answer = [=](const std::vector<reply>& replies, const held_schemas& held) mutable {
    self->state.collections_.erase(name);
    finish(self, promise, command_response(request_id, merge_schema_change(change, replies, held)));
  };
  auto applied = [=](std::vector<reply> replies, std::vector<size_t>) mutable {
    if (!needs_held_schemas(change, replies)) return answer(replies, held_schemas{});
    auto asked = [answer, replies](status_or<std::vector<schema_reply>> found) mutable {
      held_schemas held;
      if (!found.ok()) {
        held.st = found.error();
      } else {
        for (auto& r : found.value()) held.by_shard.push_back(std::move(r.schema));
      }
      answer(replies, held);
    };
    ask_all<schema_reply>(self, timeout_ms, std::move(asked), schema_atom::value, name);
  };
  ask_each_shard(self, timeout_ms, std::move(all), std::move(applied));
}

// Runs a plan from router/placement.hpp.
void run_plan(router_pointer self, client_promise promise, uint64_t request_id, command cmd,
              const collection_info& info, route_plan plan, uint32_t timeout_ms,
              consistency level) {
  auto shard_count = static_cast<uint32_t>(self->state.options_.shards.size());
  auto merge = [=](std::function<reply(const std::vector<reply>&)> combine) {
    return [=](status_or<std::vector<reply>> replies) mutable {
      if (!replies.ok()) return finish(self, promise, error_response(request_id, replies.error()));
      finish(self, promise, command_response(request_id, combine(replies.value())));
    };
  };
  std::vector<std::pair<uint32_t, command>> all;
  switch (plan.kind) {
    case route_kind::single:
      return ask_shards(self, timeout_ms, {{plan.shard, std::move(cmd)}},
                        merge([](const std::vector<reply>& r) { return r[0]; }), level);
    case route_kind::list_merge:
      return route_list(self, promise, request_id, std::get<cmd::list>(cmd), info, timeout_ms,
                        level);
    case route_kind::claim_in_order:
      return claim_step(self, promise, request_id, std::make_shared<claim_fan_out>(shard_count),
                        std::move(cmd), timeout_ms);
    case route_kind::count_sum:
      for (uint32_t i = 0; i < shard_count; ++i) all.emplace_back(i, cmd);
      return ask_shards(self, timeout_ms, std::move(all), merge(sum_counts), level);
    case route_kind::broadcast:
      VELOCITY_CHECK(is_schema_change(cmd));
      return broadcast_schema_change(self, promise, request_id, std::move(cmd), timeout_ms);
  }
}

void route_command(router_pointer self, client_promise promise, client_request& request,
                   uint32_t timeout_ms) {
  auto& st = self->state;
  auto cmd = std::get<command>(std::move(request.body));
  auto id = request.request_id;
  if (auto ok = check_consistency(cmd, request.level); !ok.ok())
    return finish(self, promise, error_response(id, ok));
  if (!is_read(cmd)) set_command_time_ns(cmd, st.options_.env->now_ns());
  if (auto* insert = std::get_if<cmd::insert>(&cmd); insert && insert->id.empty())
    insert->id = generate_id(insert->time_ns, st.options_.env->random_u64());
  auto name = collection_of(cmd);
  auto partition = std::move(request.partition);
  auto level = request.level;
  auto next = [self, promise, id, cmd = std::move(cmd), partition, timeout_ms,
               level](status looked_up, const collection_info& info) mutable {
    if (!looked_up.ok()) return finish(self, promise, error_response(id, std::move(looked_up)));
    auto shard_count = static_cast<uint32_t>(self->state.options_.shards.size());
    auto plan = plan_route(cmd, info.parts, partition, shard_count);
    if (!plan.ok()) return finish(self, promise, error_response(id, plan.error()));
    // The shard checks the partition value against the document it names.
    set_command_partition(cmd, partition);
    run_plan(self, promise, id, std::move(cmd), info, plan.value(), timeout_ms, level);
  };
  with_collection(self, name, timeout_ms, std::move(next));
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

// A leader's view of its followers: [{"node":2,"match":41,"behind":1}, ...]
// (behind: entries committed that the follower is not known to hold).
std::string followers_json(const shard_info& info) {
  std::string out;
  for (const follower_progress& f : info.followers) {
    uint64_t behind = info.durable_index > f.match ? info.durable_index - f.match : 0;
    out += std::string{out.empty() ? "" : ","} + "{\"node\":" + std::to_string(f.node) +
           ",\"match\":" + std::to_string(f.match) + ",\"behind\":" + std::to_string(behind) +
           "}";
  }
  return out;
}

// ,"members":[{"id":1,"state":"alive","incarnation":0,"client":...,"led":[0]}],
// "gossip":{...}: the gossiper's table as the router last heard it ("" on a
// single node).
std::string members_json(const router_state& st) {
  if (!st.members_) return "";
  const member_view& v = *st.members_;
  std::string out = ",\"members\":[";
  for (size_t i = 0; i < v.members.size(); ++i) {
    const member_entry& m = v.members[i];
    std::string led;
    for (uint32_t shard : m.meta.led) led += (led.empty() ? "" : ",") + std::to_string(shard);
    out += std::string{i == 0 ? "" : ","} + "{\"id\":" + std::to_string(m.id) +
           ",\"state\":" + json_string(swim::to_string(m.state)) +
           ",\"incarnation\":" + std::to_string(m.incarnation) +
           ",\"client\":" + json_string(m.meta.client) + ",\"peer\":" + json_string(m.meta.peer) +
           ",\"ops\":" + json_string(m.meta.ops) + ",\"led\":[" + led + "]}";
  }
  out += "],\"gossip\":{\"local_health\":" + std::to_string(v.local_health) +
         ",\"probes\":" + std::to_string(v.counters.probes_sent) +
         ",\"suspicions\":" + std::to_string(v.counters.suspicions_raised) +
         ",\"refutations\":" + std::to_string(v.counters.refutations) +
         ",\"false_suspicions\":" + std::to_string(v.false_suspicions) +
         ",\"bytes_sent\":" + std::to_string(v.bytes_sent) +
         ",\"bytes_received\":" + std::to_string(v.bytes_received) + "}";
  return out;
}

void route_status(router_pointer self, client_promise promise, uint64_t request_id,
                  uint32_t timeout_ms) {
  auto done = [self, promise, request_id](status_or<std::vector<shard_info>> all) mutable {
    if (!all.ok()) return finish(self, promise, error_response(request_id, all.error()));
    auto& st = self->state;
    auto uptime_ms = (st.options_.env->monotonic_ns() - st.started_ns_) / 1000000;
    std::string applied;
    std::string durable;
    std::string groups;
    for (auto& info : all.value()) {
      applied += (applied.empty() ? "" : ",") + std::to_string(info.applied_index);
      durable += (durable.empty() ? "" : ",") + std::to_string(info.durable_index);
      groups += std::string{groups.empty() ? "" : ","} + "{\"shard\":" +
                std::to_string(info.shard_id) + ",\"role\":" + json_string(info.role) +
                ",\"term\":" + std::to_string(info.term) +
                ",\"leader\":" + std::to_string(info.leader) +
                ",\"commit\":" + std::to_string(info.durable_index) +
                ",\"applied\":" + std::to_string(info.applied_index) +
                ",\"followers\":[" + followers_json(info) + "]}";
    }
    client_response out;
    out.request_id = request_id;
    out.text = "{\"node_id\":" + std::to_string(st.options_.node) + ",\"mode\":" +
               json_string(to_string(st.options_.mode)) +
               ",\"shards\":" + std::to_string(st.options_.shards.size()) +
               ",\"uptime_ms\":" + std::to_string(uptime_ms) + ",\"applied_indexes\":[" +
               applied + "],\"durable_indexes\":[" + durable + "],\"groups\":[" + groups +
               "],\"in_flight\":" + std::to_string(st.in_flight_ - 1) +
               members_json(st) + "}";
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

operation_kind operation_of_request(const client_request& request) {
  if (auto* c = std::get_if<command>(&request.body)) return operation_of(*c);
  if (std::holds_alternative<health_request>(request.body)) return operation_kind::health;
  if (std::holds_alternative<status_request>(request.body)) return operation_kind::status;
  return operation_kind::get_schema;
}

// Answers a request that was never accepted (not counted in flight).
void refuse(router_pointer self, client_promise& promise, uint64_t request_id, status st) {
  record(self, promise, st.code());
  promise.promise.deliver(error_response(request_id, std::move(st)));
}

void handle_request(router_pointer self, client_promise& promise, client_request& request) {
  auto& st = self->state;
  auto id = request.request_id;
  if (st.draining_)
    return refuse(self, promise, id, {error_code::unavailable, "node is shutting down"});
  if (st.in_flight_ >= st.options_.in_flight_max)
    return refuse(self, promise, id,
                  {error_code::overloaded, "router: too many requests in flight"});
  ++st.in_flight_;
  set_in_flight(self);
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
  init_metrics(self->state.metrics_, options.metrics);
  self->state.options_ = std::move(options);
  return {
      [=](request_atom, client_request& request) {
        client_promise promise{self->make_response_promise<client_response>(),
                               operation_of_request(request),
                               self->state.options_.env->monotonic_ns()};
        handle_request(self, promise, request);
        return promise.promise;
      },
      [=](router_retry_atom, uint64_t id) {
        auto it = self->state.retries_.find(id);
        if (it == self->state.retries_.end()) return;
        auto next = std::move(it->second);
        self->state.retries_.erase(it);
        next();
      },
      [=](member_view_atom, member_view& view) {
        auto& st = self->state;
        st.dead_ = view.ids_in(swim::member_state::dead);
        auto& leaders = st.leaders_;
        if (leaders.size() < st.options_.shards.size()) leaders.resize(st.options_.shards.size(), 0);
        for (auto& cached : leaders)
          if (cached != 0 && is_dead(st, cached)) cached = 0;
        // Leader hints from gossip (up to a poll interval old) only for the
        // shards this node holds no replica of: a local replica's not_leader
        // names the leader Raft knows, which is fresher (the simulation lost
        // two thirds of its throughput to stale gossip hints).
        for (const auto& m : view.members) {
          if (m.state != swim::member_state::alive || m.id == st.options_.node) continue;
          for (uint32_t shard : m.meta.led) {
            if (shard >= leaders.size() || leaders[shard] != 0) continue;
            auto holders = replica_nodes(self, shard);
            if (std::find(holders.begin(), holders.end(), st.options_.node) == holders.end())
              leaders[shard] = m.id;
          }
        }
        st.members_ = std::move(view);
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
