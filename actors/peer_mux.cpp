// The peer mux (see peer_mux.hpp).
//
// Deadlines: forwards in both directions expire on the mux's tick (a count of
// ticks, no clock), not through one CAF timer each: a CAF timer is an event on
// CAF's clock thread, and a 60 s safety net per forward kept hundreds of
// thousands of them queued there under load.
//
// Actor safety: state is touched only by the mux.
#include "actors/peer_mux.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>
#include <utility>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "cluster/raft/message_codec.hpp"
#include "command/command_codec.hpp"
#include "spdlog/spdlog.h"

namespace velocity {

namespace {

struct peer_mux_state {
  peer_mux_options options_;
  peer_transport_actor transport_;
  std::vector<shard_actor> shards_;
  gossip_sink_actor gossiper_;
  // Raft messages waiting for the flush, per destination node, in order.
  std::map<raft::node_id, std::vector<raft::shard_messages>> outbound_;
  bool flush_scheduled_ = false;
  // Our forwards waiting for the other node's reply, by correlation.
  struct pending_forward {
    caf::typed_response_promise<shard_reply> promise;
    uint64_t expires_at_tick = 0;
  };
  std::unordered_map<uint64_t, pending_forward> pending_;
  // Other nodes' forwards waiting for our shard, by a local serial number:
  // the request's addressing (payload dropped) and when it expires.
  struct served_forward {
    peer_message request;
    uint64_t expires_at_tick = 0;
  };
  std::unordered_map<uint64_t, served_forward> serving_;
  uint64_t next_served_ = 0;
  uint64_t ticks_ = 0;
  uint64_t next_correlation_ = 0;
  uint64_t dropped_inbound_ = 0;  // undecodable or misaddressed payloads
};

using mux_pointer = peer_mux_actor::stateful_pointer<peer_mux_state>;

// peer_mux_forward_timeout_ms in ticks (at least one).
uint64_t forward_timeout_ticks(const peer_mux_state& st) {
  uint64_t tick_ms = std::max<uint64_t>(st.options_.tick_ms, 1);
  return std::max<uint64_t>(peer_mux_forward_timeout_ms / tick_ms, 1);
}

reply error_reply(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

void send_to_node(mux_pointer self, raft::node_id to, std::vector<raft::shard_messages> groups) {
  if (groups.empty() || !self->state.transport_) return;
  peer_message out;
  out.to = to;
  out.kind = payload_kind::raft;
  out.payload = raft::encode_raft_batch(groups);
  self->send(self->state.transport_, peer_send_atom::value, std::move(out));
}

// One envelope per destination (split above peer_mux_batch_bytes_max).
void flush(mux_pointer self) {
  auto& st = self->state;
  st.flush_scheduled_ = false;
  auto outbound = std::move(st.outbound_);
  st.outbound_.clear();
  for (auto& [to, groups] : outbound) {
    std::vector<raft::shard_messages> batch;
    size_t bytes = 0;
    for (auto& group : groups) {
      size_t group_bytes = 0;
      for (const auto& m : group.messages) group_bytes += raft::message_bytes(m);
      if (!batch.empty() && bytes + group_bytes > peer_mux_batch_bytes_max) {
        send_to_node(self, to, std::move(batch));
        batch.clear();
        bytes = 0;
      }
      bytes += group_bytes;
      batch.push_back(std::move(group));
    }
    send_to_node(self, to, std::move(batch));
  }
}

void on_raft_out(mux_pointer self, raft_messages& out) {
  auto& st = self->state;
  for (raft::message& m : out.messages) {
    auto& groups = st.outbound_[m.to];
    if (groups.empty() || groups.back().shard != out.shard)
      groups.push_back(raft::shard_messages{out.shard, {}});
    groups.back().messages.push_back(std::move(m));
  }
  if (!st.flush_scheduled_) {
    st.flush_scheduled_ = true;
    self->send(self, mux_flush_atom::value);
  }
}

void deliver_raft(mux_pointer self, const peer_message& in) {
  auto& st = self->state;
  auto groups = raft::decode_raft_batch(in.payload);
  if (!groups.ok()) {
    if (st.dropped_inbound_++ == 0)
      spdlog::warn("node {}: undecodable Raft batch from node {}: {}", st.options_.node, in.from,
                   groups.error().to_string());
    return;
  }
  for (auto& group : groups.value()) {
    if (group.shard >= st.shards_.size() || !st.shards_[group.shard]) continue;
    self->send(st.shards_[group.shard], raft_step_atom::value,
               raft_messages{group.shard, std::move(group.messages)});
  }
}

void send_snapshot_wire(mux_pointer self, snapshot_wire& out) {
  if (!self->state.transport_) return;
  peer_message m;
  m.to = out.peer;
  m.kind = out.ack ? payload_kind::snapshot_ack : payload_kind::snapshot_chunk;
  m.shard = out.shard;
  m.payload = std::move(out.payload);
  self->send(self->state.transport_, peer_send_atom::value, std::move(m));
}

// The shard decodes (and checks) the payload itself.
void deliver_snapshot_wire(mux_pointer self, const peer_message& in) {
  auto& st = self->state;
  if (in.shard >= st.shards_.size() || !st.shards_[in.shard]) return;
  self->send(st.shards_[in.shard], snap_in_atom::value,
             snapshot_wire{in.shard, in.from, in.kind == payload_kind::snapshot_ack, in.payload});
}

void reply_forward(mux_pointer self, const peer_message& request, const reply& result,
                   raft::node_id leader = 0, bool never_applied = false, uint64_t applied = 0) {
  peer_message out;
  out.to = request.from;
  out.kind = payload_kind::forward_reply;
  out.shard = request.shard;
  out.correlation = request.correlation;
  out.payload = encode_reply(result);
  out.leader = leader;
  out.never_applied = never_applied;
  out.applied = applied;
  self->send(self->state.transport_, peer_send_atom::value, std::move(out));
}

// Another node's router asks this node's replica of a shard (its leader,
// as far as that router knew). Never forwarded again: a replica that is not
// the leader answers not_leader with its hint and the origin decides.
void serve_forward(mux_pointer self, const peer_message& in) {
  auto& st = self->state;
  auto cmd = decode_command(in.payload);
  if (!cmd.ok()) return reply_forward(self, in, error_reply(cmd.error()));
  if (in.shard >= st.shards_.size() || !st.shards_[in.shard])
    return reply_forward(self, in,
                         error_reply({error_code::unavailable,
                                      "node " + std::to_string(st.options_.node) +
                                          " holds no replica of shard " +
                                          std::to_string(in.shard)}));
  uint64_t serial = ++st.next_served_;
  peer_message head;
  head.from = in.from;
  head.shard = in.shard;
  head.correlation = in.correlation;
  st.serving_.emplace(serial, peer_mux_state::served_forward{std::move(head),
                                                             st.ticks_ + forward_timeout_ticks(st)});
  // No CAF timeout: expire_forwards answers it if the shard never does.
  self->request(st.shards_[in.shard], caf::infinite, apply_atom::value,
                shard_request{std::move(cmd.value()), in.level})
      .then(
          [self, serial](const shard_reply& r) {
            auto it = self->state.serving_.find(serial);
            if (it == self->state.serving_.end()) return;  // expired
            auto request = std::move(it->second.request);
            self->state.serving_.erase(it);
            reply_forward(self, request, r.result, r.leader, r.never_applied, r.applied);
          },
          [self, serial](caf::error& err) {
            auto it = self->state.serving_.find(serial);
            if (it == self->state.serving_.end()) return;
            auto request = std::move(it->second.request);
            self->state.serving_.erase(it);
            // The shard may have proposed it before it stopped answering.
            reply_forward(self, request,
                          error_reply({error_code::timeout,
                                       "outcome unknown: the shard did not answer: " +
                                           self->system().render(err)}));
          });
}

// Answers the forwards, ours and other nodes', that waited longer than
// peer_mux_forward_timeout_ms (counted in ticks).
void expire_forwards(mux_pointer self) {
  auto& st = self->state;
  for (auto it = st.pending_.begin(); it != st.pending_.end();) {
    if (it->second.expires_at_tick > st.ticks_) {
      ++it;
      continue;
    }
    it->second.promise.deliver(shard_reply{error_reply(
        {error_code::timeout, "outcome unknown: no reply from the leader's node within " +
                                  std::to_string(peer_mux_forward_timeout_ms) + " ms"})});
    it = st.pending_.erase(it);
  }
  for (auto it = st.serving_.begin(); it != st.serving_.end();) {
    if (it->second.expires_at_tick > st.ticks_) {
      ++it;
      continue;
    }
    reply_forward(self, it->second.request,
                  error_reply({error_code::timeout,
                               "outcome unknown: the shard did not answer within " +
                                   std::to_string(peer_mux_forward_timeout_ms) + " ms"}));
    it = st.serving_.erase(it);
  }
}

void complete_forward(mux_pointer self, const peer_message& in) {
  auto& st = self->state;
  auto it = st.pending_.find(in.correlation);
  if (it == st.pending_.end()) return;  // answered twice, or after a restart
  shard_reply out;
  if (in.undeliverable) {
    out.result = error_reply({error_code::unavailable,
                              "node " + std::to_string(in.from) + " is unreachable"});
    out.never_sent = true;
  } else if (auto r = decode_reply(in.payload); r.ok()) {
    out.result = std::move(r.value());
    out.leader = in.leader;
    out.never_applied = in.never_applied;
    out.applied = in.applied;
  } else {
    out.result = error_reply({error_code::timeout, "outcome unknown: undecodable reply from node " +
                                                       std::to_string(in.from) + ": " +
                                                       r.error().message()});
  }
  it->second.promise.deliver(std::move(out));
  st.pending_.erase(it);
}

}  // namespace

peer_mux_actor::behavior_type peer_mux_impl(mux_pointer self, peer_mux_options options) {
  self->state.options_ = options;
  self->state.next_correlation_ = options.first_correlation;
  self->delayed_send(self, std::chrono::milliseconds{options.tick_ms}, mux_tick_atom::value);
  return {
      [=](raft_out_atom, raft_messages& out) { on_raft_out(self, out); },
      [=](snap_out_atom, snapshot_wire& out) { send_snapshot_wire(self, out); },
      [=](peer_deliver_atom, const peer_message& in) {
        switch (in.kind) {
          case payload_kind::raft:
            deliver_raft(self, in);
            break;
          case payload_kind::forward_request:
            serve_forward(self, in);
            break;
          case payload_kind::forward_reply:
            complete_forward(self, in);
            break;
          case payload_kind::gossip:
            if (self->state.gossiper_) self->send(self->state.gossiper_, gossip_in_atom::value, in);
            break;
          case payload_kind::snapshot_chunk:
          case payload_kind::snapshot_ack:
            deliver_snapshot_wire(self, in);
            break;
        }
      },
      [=](forward_atom, forwarded_command& f) -> caf::typed_response_promise<shard_reply> {
        auto& st = self->state;
        auto promise = self->make_response_promise<shard_reply>();
        if (!st.transport_ || st.pending_.size() >= peer_mux_forwards_max) {
          promise.deliver(shard_reply{error_reply(
              {st.transport_ ? error_code::overloaded : error_code::unavailable,
               "cannot forward to node " + std::to_string(f.node)})});
          return promise;
        }
        uint64_t correlation = ++st.next_correlation_;
        // A forward written to a link that then dies gets no reply:
        // expire_forwards answers it.
        st.pending_.emplace(correlation, peer_mux_state::pending_forward{
                                             promise, st.ticks_ + forward_timeout_ticks(st)});
        peer_message out;
        out.to = f.node;
        out.kind = payload_kind::forward_request;
        out.shard = f.shard;
        out.correlation = correlation;
        out.payload = encode_command(f.cmd);
        out.level = f.level;
        self->send(st.transport_, peer_send_atom::value, std::move(out));
        return promise;
      },
      [=](gossip_out_atom, peer_message& out) {
        if (!self->state.transport_) return;
        out.kind = payload_kind::gossip;
        self->send(self->state.transport_, peer_send_atom::value, std::move(out));
      },
      [=](mux_flush_atom) { flush(self); },
      [=](mux_tick_atom) {
        ++self->state.ticks_;
        expire_forwards(self);
        for (auto& shard : self->state.shards_)
          if (shard) self->send(shard, raft_tick_atom::value);
        self->delayed_send(self, std::chrono::milliseconds{self->state.options_.tick_ms},
                           mux_tick_atom::value);
      },
      [=](mux_attach_atom, peer_mux_attachment& a) {
        self->state.transport_ = std::move(a.transport);
        self->state.shards_ = std::move(a.shards);
        self->state.gossiper_ = std::move(a.gossiper);
      },
  };
}

peer_mux_actor spawn_peer_mux(caf::actor_system& system, peer_mux_options options) {
  return system.spawn(peer_mux_impl, std::move(options));
}

}  // namespace velocity
