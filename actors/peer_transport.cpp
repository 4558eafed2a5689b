// The peer transport broker (actors/peer_transport.hpp, docs/peer-protocol.md):
// one broker per node owns the listening socket and every peer connection.
//
// Life of a link to a peer with a higher id (we dial): dialing (a detached
// dialer actor connects, peer_dial.hpp) -> handshaking (the socket is adopted
// with add_scribe, our Hello is sent, theirs is awaited) -> up -> on any
// failure backoff (a timer) -> dialing again. A link to a peer with a lower
// id (it dials) is idle until its Hello arrives on an accepted connection,
// then up, and idle again when the connection ends.
//
// Actor safety: everything runs on the multiplexer thread and never blocks;
// state is the broker's own. Invariants: a link has at most one connection
// (link.connection), and only an up link's connection carries envelopes; a
// connection's unsent bytes stay within queue_bytes_max (a message that would
// pass it is dropped, never waited for); at most handshakes_pending_max
// accepted connections wait for their Hello, each at most
// handshake_timeout_ms. CAF 0.17 gaps (actors/broker_exit.hpp): the mailbox
// closes at exit, and no socket is closed (one connection, or all of them when
// the broker quits) before the multiplexer has applied its registration,
// which is confirmed by one registered_atom per adopted socket, in order.
#include <spdlog/spdlog.h>

#include <deque>
#include <future>
#include <optional>
#include <set>

#include "actors/broker_exit.hpp"
#include "actors/environment.hpp"
#include "actors/peer_dial.hpp"
#include "actors/peer_transport.hpp"
#include "caf/io/broker.hpp"
#include "caf/io/middleman.hpp"
#include "caf/io/receive_policy.hpp"
#include "caf/io/system_messages.hpp"
#include "caf/send.hpp"

namespace velocity {
namespace {

using caf::io::connection_handle;

// Bytes requested per read; the decoder is incremental, so any size works.
constexpr size_t read_chunk_bytes_max = 64 << 10;
// Accepted connections that have not said Hello yet. Members are few; more
// than this at once is a scan or a misconfiguration, and waiting is bounded
// by handshake_timeout_ms.
constexpr size_t handshakes_pending_max = 64;
// Backoff doubles at most this many times (2^20 x backoff_ms_min is far
// beyond any sane backoff_ms_max; the cap avoids shifting past 64 bits).
constexpr uint32_t backoff_doublings_max = 20;

using flush_atom = caf::atom_constant<caf::atom("peer_flush")>;
using retry_atom = caf::atom_constant<caf::atom("peer_retry")>;
using registered_atom = caf::atom_constant<caf::atom("peer_reg")>;
using hello_timeout_atom = caf::atom_constant<caf::atom("peer_hto")>;

struct connection_info {
  raft::node_id peer = 0;      // outbound: the dialed node; inbound: 0 until its Hello
  bool outbound = false;       // we dialed it
  bool established = false;    // both Hellos exchanged
  bool registered = false;     // the multiplexer applied its registration
  bool close_pending = false;  // ended; closes once registered
  frame_decoder decoder;
  uint64_t unsent_bytes = 0;   // written by us, not yet on the socket
  // Tells this connection's timers from those of an earlier connection that
  // had the same handle (CAF's handles are socket numbers, which are reused).
  uint64_t serial = 0;
};

enum class link_phase : uint8_t { idle, dialing, handshaking, up, backoff };

struct peer_link {
  peer_address address;
  link_phase phase = link_phase::idle;
  std::optional<connection_handle> connection;  // while handshaking (outbound) or up
  uint64_t attempt = 0;   // the current dial or backoff timer; stale reports are ignored
  uint32_t failures = 0;  // consecutive failed dials or handshakes (backoff exponent)
  peer_link_stats stats;
};

struct peer_transport_state {
  std::shared_ptr<const peer_transport_options> options;
  std::map<raft::node_id, peer_link> links;
  std::map<connection_handle, connection_info> connections;  // every open socket
  std::deque<connection_handle> awaiting_registration;       // adoption order
  std::set<connection_handle> dirty;  // written since the last flush
  bool flush_scheduled = false;
  uint64_t connections_adopted = 0;  // the last connection_info::serial
  bool closing = false;
  caf::error quit_reason;
  peer_stats totals;  // transport-wide counters; `peers` is filled on request
};

using peer_broker = caf::io::stateful_broker<peer_transport_state>;

bool we_dial(const peer_transport_state& st, raft::node_id peer) {
  return st.options->node < peer;
}

std::string describe(peer_broker* self, connection_handle hdl, const connection_info& info) {
  if (info.peer != 0) return "node " + std::to_string(info.peer);
  return self->remote_addr(hdl) + ":" + std::to_string(self->remote_port(hdl));
}

// Delay before the next dial after `failures` consecutive failures:
// exponential, capped, then jittered into [delay / 2, delay] so that nodes
// restarted together do not reconnect in lockstep.
uint32_t backoff_delay_ms(const peer_transport_options& options, uint32_t failures) {
  uint32_t doublings = std::min(failures > 0 ? failures - 1 : 0, backoff_doublings_max);
  uint64_t delay = std::min<uint64_t>(uint64_t{options.backoff_ms_min} << doublings,
                                      options.backoff_ms_max);
  uint64_t half = delay / 2;
  return static_cast<uint32_t>(delay - half + options.env->random_u64() % (half + 1));
}

void schedule_flush(peer_broker* self, connection_handle hdl) {
  self->state.dirty.insert(hdl);
  if (self->state.flush_scheduled) return;
  self->state.flush_scheduled = true;
  // Behind everything already in the mailbox: one flush per batch of sends.
  self->send(self, flush_atom::value);
}

void write_frame(peer_broker* self, connection_handle hdl, connection_info& info,
                 const std::string& payload) {
  auto& buffer = self->wr_buf(hdl);
  auto header = buffer.size();
  std::string frame;
  append_frame(frame, payload);
  buffer.insert(buffer.end(), frame.begin(), frame.end());
  info.unsent_bytes += buffer.size() - header;
  schedule_flush(self, hdl);
}

void start_dial(peer_broker* self, raft::node_id peer) {
  auto& link = self->state.links.at(peer);
  const auto& options = *self->state.options;
  link.phase = link_phase::dialing;
  ++link.attempt;
  spawn_dialer(self->system(), caf::actor_cast<caf::actor>(self), peer, link.attempt,
               link.address.host, link.address.port, options.connect_timeout_ms);
}

void schedule_retry(peer_broker* self, raft::node_id peer, const std::string& why) {
  auto& link = self->state.links.at(peer);
  link.phase = link_phase::backoff;
  link.connection.reset();
  ++link.failures;
  ++link.attempt;
  auto delay_ms = backoff_delay_ms(*self->state.options, link.failures);
  // The first failure of a streak is worth a line; the retries are not.
  auto level = link.failures == 1 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level, "peer transport of node {}: node {} ({}:{}): {}; retry {} in {} ms",
              self->state.options->node, peer, link.address.host, link.address.port, why,
              link.failures, delay_ms);
  self->delayed_send(self, std::chrono::milliseconds{delay_ms}, retry_atom::value, peer,
                     link.attempt);
}

void quit_when_registered(peer_broker* self) {
  auto& st = self->state;
  if (st.closing && st.awaiting_registration.empty()) self->quit(st.quit_reason);
}

// Ends a connection: the link that owned it goes down (a dialer backs off),
// and the socket closes now or, if its registration is not applied yet, on
// its registered_atom (broker_exit.hpp, gap 2).
void end_connection(peer_broker* self, connection_handle hdl, const std::string& why) {
  auto& st = self->state;
  auto it = st.connections.find(hdl);
  if (it == st.connections.end() || it->second.close_pending) return;
  auto& info = it->second;
  auto peer = info.peer;
  info.peer = 0;
  info.close_pending = true;
  st.dirty.erase(hdl);
  if (info.registered) {
    self->close(hdl);
    st.connections.erase(it);
  }
  if (peer == 0 || st.closing) return;
  auto& link = st.links.at(peer);
  if (link.connection != hdl) return;
  link.connection.reset();
  bool was_up = link.phase == link_phase::up;
  if (was_up) spdlog::info("peer transport of node {}: connection to node {} lost: {}",
                           st.options->node, peer, why);
  if (we_dial(st, peer))
    schedule_retry(self, peer, was_up ? "connection lost" : why);
  else
    link.phase = link_phase::idle;
}

// Takes a connected socket into the broker: reads in chunks, reports writes.
void adopt(peer_broker* self, connection_handle hdl, raft::node_id peer, bool outbound) {
  auto& st = self->state;
  auto serial = ++st.connections_adopted;
  connection_info info{peer, outbound, false, false, false,
                       frame_decoder{st.options->frame_bytes_limit}, 0, serial};
  st.connections.emplace(hdl, std::move(info));
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk_bytes_max));
  self->ack_writes(hdl, true);
  st.awaiting_registration.push_back(hdl);
  post_after_round(self, registered_atom::value);
  self->delayed_send(self, std::chrono::milliseconds{st.options->handshake_timeout_ms},
                     hello_timeout_atom::value, hdl.id(), serial);
}

void on_dialed(peer_broker* self, raft::node_id peer, uint64_t attempt,
               const std::shared_ptr<dialed_socket>& socket) {
  auto& st = self->state;
  auto found = st.links.find(peer);
  // A stale or late report: the socket closes with the last reference.
  if (st.closing || found == st.links.end() || found->second.attempt != attempt ||
      found->second.phase != link_phase::dialing)
    return;
  if (!socket->connected()) {
    schedule_retry(self, peer, socket->error());
    return;
  }
  auto hdl = self->add_scribe(socket->release());
  adopt(self, hdl, peer, true);
  found->second.phase = link_phase::handshaking;
  found->second.connection = hdl;
  const auto& options = *st.options;
  write_frame(self, hdl, st.connections.at(hdl),
              encode_peer_hello(peer_hello{options.cluster_id, options.node, peer,
                                           peer_protocol_version}));
}

// Why a Hello is refused, or nothing when it is acceptable.
std::optional<std::string> check_hello(const peer_transport_options& options,
                                       const connection_info& info, const peer_hello& hello) {
  if (hello.cluster_id != options.cluster_id) return std::string{"another cluster"};
  if (hello.protocol_version != peer_protocol_version)
    return "protocol version " + std::to_string(hello.protocol_version) + ", ours is " +
           std::to_string(peer_protocol_version);
  if (hello.from == options.node)
    return "it claims our own node id " + std::to_string(options.node) + " (duplicate node id)";
  if (options.members.count(hello.from) == 0 || hello.from == 0)
    return std::string{"it is not a member of the cluster"};
  if (hello.to != options.node)
    return "it believes it reached node " + std::to_string(hello.to);
  if (info.outbound && hello.from != info.peer)
    return "we dialed node " + std::to_string(info.peer) + " at that address";
  if (!info.outbound && hello.from > options.node)
    return std::string{"it dialed us, but the lower id dials (it must accept)"};
  return std::nullopt;
}

void establish(peer_broker* self, connection_handle hdl, connection_info& info,
               raft::node_id peer) {
  auto& st = self->state;
  const auto& options = *st.options;
  auto& link = st.links.at(peer);
  // A dialer that reconnects before we noticed its old connection died: the
  // new connection wins (the peer has given up the old one).
  if (link.connection && *link.connection != hdl)
    end_connection(self, *link.connection, "replaced by a new connection from the peer");
  info.established = true;
  info.peer = peer;
  if (!info.outbound)
    write_frame(self, hdl, info,
                encode_peer_hello(peer_hello{options.cluster_id, options.node, peer,
                                             peer_protocol_version}));
  link.phase = link_phase::up;
  link.connection = hdl;
  link.failures = 0;
  if (++link.stats.connects > 1) ++link.stats.reconnects;
  spdlog::info("peer transport of node {}: connected to node {} ({})", options.node, peer,
               info.outbound ? "dialed" : "accepted");
}

void on_hello(peer_broker* self, connection_handle hdl, connection_info& info,
              const peer_hello& hello) {
  auto& st = self->state;
  const auto& options = *st.options;
  if (info.established) {
    ++st.totals.connections_closed_bad_input;
    spdlog::warn("peer transport of node {}: closing the connection with {}: a second hello",
                 options.node, describe(self, hdl, info));
    end_connection(self, hdl, "a second hello");
    return;
  }
  if (auto refusal = check_hello(options, info, hello)) {
    ++st.totals.handshakes_refused;
    spdlog::warn(
        "peer transport of node {} (cluster '{}'): refused the connection {} {}, which says it "
        "is node {} of cluster '{}': {}",
        options.node, options.cluster_id, info.outbound ? "to" : "from",
        describe(self, hdl, info), hello.from, hello.cluster_id, *refusal);
    end_connection(self, hdl, "handshake refused: " + *refusal);
    return;
  }
  establish(self, hdl, info, hello.from);
}

// Handles one decoded frame. It may end the connection (and erase `info`).
void on_frame(peer_broker* self, connection_handle hdl, connection_info& info,
              const std::string& payload) {
  auto& st = self->state;
  auto decoded = decode_peer_frame(payload);
  if (!decoded.ok() && decoded.error().code() == error_code::invalid_argument &&
      info.established) {
    ++st.totals.ignored_envelopes;  // a newer peer's payload kind
    return;
  }
  std::string violation;
  if (!decoded.ok()) {
    violation = decoded.error().to_string();
  } else if (auto* hello = std::get_if<peer_hello>(&decoded.value())) {
    on_hello(self, hdl, info, *hello);
    return;
  } else {
    auto& message = std::get<peer_message>(decoded.value());
    if (!info.established)
      violation = "an envelope before the hello";
    else if (message.from != info.peer || message.to != st.options->node)
      violation = "an envelope from node " + std::to_string(message.from) + " to node " +
                  std::to_string(message.to);
    if (violation.empty()) {
      ++st.links.at(info.peer).stats.frames_in;
      message.undeliverable = false;
      self->send(st.options->sink, peer_deliver_atom::value, std::move(message));
      return;
    }
  }
  ++st.totals.connections_closed_bad_input;
  spdlog::warn("peer transport of node {}: closing the connection with {}: {}",
               st.options->node, describe(self, hdl, info), violation);
  end_connection(self, hdl, violation);
}

void on_bytes(peer_broker* self, connection_handle hdl, const std::vector<char>& bytes) {
  auto& st = self->state;
  auto it = st.connections.find(hdl);
  if (it == st.connections.end() || it->second.close_pending) return;
  auto& info = it->second;
  if (info.peer != 0) st.links.at(info.peer).stats.bytes_in += bytes.size();
  auto fed = info.decoder.feed(std::string_view{bytes.data(), bytes.size()});
  // Whole frames before a bad length prefix are still handled. A frame may
  // end the connection, so look it up again each time.
  for (;;) {
    it = st.connections.find(hdl);
    if (it == st.connections.end() || it->second.close_pending) return;
    if (!it->second.decoder.has_frame()) break;
    auto payload = it->second.decoder.pop_frame();
    on_frame(self, hdl, it->second, payload);
  }
  if (!fed.ok()) {
    ++st.totals.connections_closed_bad_input;
    spdlog::warn("peer transport of node {}: closing the connection with {}: {}",
                 st.options->node, describe(self, hdl, it->second), fed.to_string());
    end_connection(self, hdl, fed.to_string());
  }
}

// The drop policy (peer_transport.hpp): never waits, never blocks.
void refuse_send(peer_broker* self, peer_link* link, peer_message&& message) {
  auto& st = self->state;
  if (message.kind != payload_kind::forward_request) {
    if (link)
      ++link->stats.dropped;
    else
      ++st.totals.dropped_unknown_peer;
    return;
  }
  if (link)
    ++link->stats.undeliverable;
  else
    ++st.totals.dropped_unknown_peer;
  peer_message reply;
  reply.from = message.to;
  reply.to = st.options->node;
  reply.kind = payload_kind::forward_reply;
  reply.shard = message.shard;
  reply.correlation = message.correlation;
  reply.undeliverable = true;
  self->send(st.options->sink, peer_deliver_atom::value, std::move(reply));
}

void on_send(peer_broker* self, peer_message&& message) {
  auto& st = self->state;
  const auto& options = *st.options;
  message.from = options.node;
  message.undeliverable = false;
  auto found = message.to == options.node ? st.links.end() : st.links.find(message.to);
  if (found == st.links.end() || st.closing) {
    refuse_send(self, found == st.links.end() ? nullptr : &found->second, std::move(message));
    return;
  }
  auto& link = found->second;
  // Checked before encoding: an oversize payload is never copied.
  if (link.phase != link_phase::up || message.payload.size() > options.frame_bytes_limit) {
    refuse_send(self, &link, std::move(message));
    return;
  }
  auto payload = encode_peer_envelope(message);
  auto& info = st.connections.at(*link.connection);
  auto frame_bytes = frame_header_bytes + payload.size();
  if (payload.size() > options.frame_bytes_limit ||
      info.unsent_bytes + frame_bytes > options.queue_bytes_max) {
    refuse_send(self, &link, std::move(message));
    return;
  }
  write_frame(self, *link.connection, info, payload);
  ++link.stats.frames_out;
  link.stats.bytes_out += frame_bytes;
}

peer_stats make_stats(const peer_transport_state& st) {
  peer_stats out = st.totals;
  for (const auto& [node, link] : st.links) {
    auto stats = link.stats;
    stats.node = node;
    stats.connected = link.phase == link_phase::up;
    stats.queued_bytes = stats.connected ? st.connections.at(*link.connection).unsent_bytes : 0;
    out.peers.push_back(stats);
  }
  return out;
}

void on_new_connection(peer_broker* self, connection_handle hdl) {
  auto& st = self->state;
  size_t waiting = 0;
  for (const auto& [other, info] : st.connections)
    if (!info.outbound && !info.established && !info.close_pending) ++waiting;
  adopt(self, hdl, 0, false);
  if (st.closing || waiting >= handshakes_pending_max) {
    spdlog::warn("peer transport of node {}: closing a connection from {}: {} connections "
                 "already await their hello",
                 st.options->node, describe(self, hdl, st.connections.at(hdl)), waiting);
    end_connection(self, hdl, "too many handshakes");
  }
}

void on_registered(peer_broker* self) {
  auto& st = self->state;
  if (st.awaiting_registration.empty()) return;
  auto hdl = st.awaiting_registration.front();
  st.awaiting_registration.pop_front();
  auto it = st.connections.find(hdl);
  if (it != st.connections.end()) {
    it->second.registered = true;
    if (it->second.close_pending) {
      self->close(hdl);
      st.connections.erase(it);
    }
  }
  quit_when_registered(self);
}

void on_hello_timeout(peer_broker* self, connection_handle hdl, uint64_t serial) {
  auto& st = self->state;
  auto it = st.connections.find(hdl);
  if (it == st.connections.end() || it->second.serial != serial || it->second.established) return;
  spdlog::warn("peer transport of node {}: closing the connection with {}: no hello within {} ms",
               st.options->node, describe(self, hdl, it->second),
               st.options->handshake_timeout_ms);
  end_connection(self, hdl, "no hello in time");
}

void on_connection_closed(peer_broker* self, connection_handle hdl) {
  auto& st = self->state;
  auto it = st.connections.find(hdl);
  if (it == st.connections.end()) return;
  // CAF has dropped the socket already: no close of ours must follow.
  it->second.registered = false;
  end_connection(self, hdl, "closed by the peer");
  st.connections.erase(hdl);
}

void on_flush(peer_broker* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  for (auto hdl : st.dirty) self->flush(hdl);
  st.dirty.clear();
}

// Binds the listening socket; reports the port (or the failure) to `bound`.
bool listen(peer_broker* self, const std::shared_ptr<std::promise<status_or<uint16_t>>>& bound) {
  const auto& options = *self->state.options;
  bool any_address = options.listen_host.empty() || options.listen_host == "0.0.0.0";
  auto res = self->add_tcp_doorman(options.listen_port,
                                   any_address ? nullptr : options.listen_host.c_str(), true);
  if (!res) {
    bound->set_value(status{error_code::io_error,
                            "peer transport cannot listen on " + options.listen_host + ":" +
                                std::to_string(options.listen_port) + ": " +
                                self->system().render(res.error())});
    self->quit(res.error());
    return false;
  }
  auto port = res->second;
  self->state.totals.port = port;
  // Reported after this round, once the listening socket is registered (an
  // exit sent by the caller at once must not close it unregistered).
  self->backend().post([bound, port] { bound->set_value(port); });
  return true;
}

caf::behavior peer_transport_impl(peer_broker* self,
                                  std::shared_ptr<const peer_transport_options> options,
                                  std::shared_ptr<std::promise<status_or<uint16_t>>> bound) {
  close_mailbox_at_exit(self);
  auto& st = self->state;
  st.options = options;
  if (!listen(self, bound)) return {};
  for (const auto& [node, address] : options->members) {
    if (node == options->node) continue;
    st.links[node].address = address;
    if (we_dial(st, node)) start_dial(self, node);
  }
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason || self->state.closing) return;
    self->state.closing = true;
    self->state.quit_reason = std::move(msg.reason);
    quit_when_registered(self);
  });
  return {
      [=](peer_send_atom, peer_message& message) { on_send(self, std::move(message)); },
      [=](peer_stats_atom) { return make_stats(self->state); },
      [=](dialed_atom, raft::node_id peer, uint64_t attempt,
          const std::shared_ptr<dialed_socket>& socket) { on_dialed(self, peer, attempt, socket); },
      [=](retry_atom, raft::node_id peer, uint64_t attempt) {
        auto& link = self->state.links.at(peer);
        if (!self->state.closing && link.attempt == attempt && link.phase == link_phase::backoff)
          start_dial(self, peer);
      },
      [=](hello_timeout_atom, int64_t id, uint64_t serial) {
        on_hello_timeout(self, connection_handle::from_int(id), serial);
      },
      [=](registered_atom) { on_registered(self); },
      [=](flush_atom) { on_flush(self); },
      [=](const caf::io::new_connection_msg& msg) { on_new_connection(self, msg.handle); },
      [=](const caf::io::new_data_msg& msg) { on_bytes(self, msg.handle, msg.buf); },
      [=](const caf::io::data_transferred_msg& msg) {
        auto it = self->state.connections.find(msg.handle);
        if (it != self->state.connections.end()) it->second.unsent_bytes = msg.remaining;
      },
      [=](const caf::io::connection_closed_msg& msg) { on_connection_closed(self, msg.handle); },
      [=](const caf::io::acceptor_closed_msg&) {
        spdlog::warn("peer transport of node {}: the listening socket closed",
                     self->state.options->node);
      },
  };
}

status check_options(const peer_transport_options& options) {
  auto bad = [](const std::string& what) {
    return status{error_code::invalid_argument, "peer transport: " + what};
  };
  if (options.node == 0) return bad("the node id must not be 0");
  if (options.cluster_id.empty()) return bad("the cluster id must not be empty");
  if (!options.env) return bad("an environment is required");
  if (!options.sink) return bad("a sink actor is required");
  if (options.members.count(0) != 0) return bad("member node ids must not be 0");
  if (options.backoff_ms_min == 0 || options.backoff_ms_min > options.backoff_ms_max)
    return bad("backoff_ms_min must be positive and at most backoff_ms_max");
  if (options.queue_bytes_max == 0) return bad("queue_bytes_max must be positive");
  if (options.frame_bytes_limit == 0 || options.frame_bytes_limit > frame_bytes_max)
    return bad("frame_bytes_limit must be in [1, frame_bytes_max]");
  if (options.handshake_timeout_ms == 0 || options.connect_timeout_ms == 0)
    return bad("timeouts must be positive");
  return status{};
}

}  // namespace

status_or<peer_transport_handle> start_peer_transport(caf::actor_system& system,
                                                      peer_transport_options options) {
  auto checked = check_options(options);
  if (!checked.ok()) return checked;
  auto shared = std::make_shared<const peer_transport_options>(std::move(options));
  auto bound = std::make_shared<std::promise<status_or<uint16_t>>>();
  auto result = bound->get_future();
  auto broker = system.middleman().spawn_broker(peer_transport_impl, shared, bound);
  auto port = result.get();
  if (!port.ok()) return port.error();
  return peer_transport_handle{caf::actor_cast<peer_transport_actor>(broker), port.value()};
}

}  // namespace velocity
