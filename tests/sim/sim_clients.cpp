// The client side of sim_cluster.hpp: each client keeps one operation
// outstanding, sends it to a node (its last target or a random member),
// follows leader hints on not_leader, backs off on unavailable / overloaded,
// and gives up (outcome unknown) on timeout or when the serving node crashes.
// A write or CAS completes when the node's driver answers it with the apply
// of its entry (same index AND term); a read when the driver says to serve it
// (the applied index reached its read index).
//
// Thread safety: none (one run).
#include <algorithm>

#include "tests/sim/sim_cluster.hpp"

namespace velocity::sim {

void sim_cluster::on_client_wake(size_t client) {
  if (phase_ != phase::chaos) return;
  client_state& c = workload_.client(client);
  if (c.busy) return;
  workload_.begin(client, now_us_, params_.lease_ticks > 0, rng_);
  event deadline;
  deadline.kind = event_kind::op_deadline;
  deadline.client = client;
  deadline.op_seq = c.op_seq;
  deadline.time_us = now_us_ + operation_timeout_us;
  schedule(std::move(deadline));
  const auto ids = members();
  // Mostly stay with the node that answered last (usually the leader); now
  // and then start elsewhere, as a client of a load balancer would, so a
  // deposed leader and the new one both see traffic.
  const bool keep = c.target != raft::no_node && rng_.chance_percent(70) &&
                    std::find(ids.begin(), ids.end(), c.target) != ids.end();
  event request;
  request.kind = event_kind::client_request;
  request.client = client;
  request.op_seq = c.op_seq;
  request.node = keep ? c.target : rng_.pick(ids);
  request.time_us = now_us_ + rng_.uniform(10, 1'000);
  schedule(std::move(request));
}

void sim_cluster::on_client_request(event& e) {
  sim_node& n = *find(e.node);
  client_state& c = workload_.client(e.client);
  const operation& op = workload_.op(c.op);
  c.target = n.id();
  if (op.type == operation::kind::read) {
    const uint64_t request = next_request_++;
    const auto mode = c.lease_read ? raft::read_mode::lease : raft::read_mode::safe;
    // The driver first delivers every elapsed tick of a lease read (a resumed
    // node's held ticks would otherwise come after this read); counted here.
    const int64_t ticks_before = n.replica().ticks_delivered();
    const status started = n.replica().read(request, mode, sim_node::to_ns(now_us_));
    const int64_t caught_up = n.replica().ticks_delivered() - ticks_before;
    result_.stats.ticks_caught_up += static_cast<uint64_t>(caught_up);
    if (caught_up > 0 && tracing())
      trace("node " + std::to_string(n.id()) + " catches up " + std::to_string(caught_up) +
            " ticks before a lease read");
    if (!started.ok()) {
      refused(e.client, n, started);
      return;
    }
    if (mode == raft::read_mode::lease && n.core().lease_valid()) note_lease_read(n);
    n.requests.emplace(request, pending_request{e.client, e.op_seq, true, op.key});
    return;
  }
  const command cmd = workload_.command_for(c.op, next_request_++);
  const status proposed = n.replica().propose(cmd.request, encode_command(cmd));
  if (!proposed.ok()) {
    refused(e.client, n, proposed);
    return;
  }
  trace("client " + std::to_string(e.client) + " proposed '" + describe_command(cmd) +
        "' at node " + std::to_string(n.id()) + " in term " + std::to_string(n.core().term()));
  n.requests.emplace(cmd.request, pending_request{e.client, e.op_seq, false, op.key});
}

void sim_cluster::refused(size_t client, sim_node& n, const status& why) {
  raft::node_id target = n.id();
  if (why.code() == error_code::not_leader) {
    target = n.core().leader_hint();
    if (target == raft::no_node || target == n.id()) {
      const auto ids = members();
      target = ids.empty() ? n.id() : rng_.pick(ids);
    }
  }
  retry(client, target);
}

void sim_cluster::retry(size_t client, raft::node_id target) {
  client_state& c = workload_.client(client);
  c.target = target;
  event request;
  request.kind = event_kind::client_request;
  request.client = client;
  request.op_seq = c.op_seq;
  request.node = target;
  request.time_us = now_us_ + rng_.uniform(1'000, retry_backoff_us_max);
  schedule(std::move(request));
}

void sim_cluster::on_op_deadline(size_t client, uint64_t op_seq) {
  const client_state& c = workload_.client(client);
  if (!c.busy || c.op_seq != op_seq) return;
  trace("client " + std::to_string(client) + " gives up (timeout)");
  workload_.give_up(client);
  finish_op(client);
}

void sim_cluster::give_up_at(sim_node& n) {
  auto abandon = [&](size_t client, uint64_t op_seq) {
    const client_state& c = workload_.client(client);
    if (!c.busy || c.op_seq != op_seq) return;
    trace("client " + std::to_string(client) + " gives up (node " + std::to_string(n.id()) +
          " crashed)");
    workload_.give_up(client);
    finish_op(client);
  };
  for (const auto& [request, p] : n.requests) abandon(p.client, p.op_seq);
}

void sim_cluster::finish_op(size_t client) {
  if (phase_ != phase::chaos) return;
  event wake;
  wake.kind = event_kind::client_wake;
  wake.client = client;
  wake.time_us = now_us_ + rng_.uniform(0, think_us_max);
  schedule(std::move(wake));
}

void sim_cluster::note_lease_read(sim_node& n) {
  raft::node_id newer_leader = raft::no_node;
  raft::term_t newer_term = 0;
  for (const auto& [id, other] : nodes_) {
    if (id == n.id() || !other->up()) continue;
    if (other->core().current_role() != raft::role::leader) continue;
    if (other->core().term() <= newer_term) continue;
    newer_leader = id;
    newer_term = other->core().term();
  }
  if (checker_.check_lease_read(n.id(), n.core().term(), newer_leader, newer_term, now_us_))
    return;
  ++result_.stats.lease_reads_deposed;
  trace("node " + std::to_string(n.id()) + " grants a lease read in term " +
        std::to_string(n.core().term()) + " while node " + std::to_string(newer_leader) +
        " leads in term " + std::to_string(newer_term));
}

}  // namespace velocity::sim
