// The node-to-node peer transport: one TCP connection per pair of nodes,
// PeerFrame messages (protocols/peer.capnp) in the client protocol's framing
// (protocols/framing.hpp). Local actors hand it peer_messages to send; what
// arrives from peers goes to one sink actor. Nodes never hold each other's CAF
// handles. The protocol, the connection rule and the drop policy are in
// docs/peer-protocol.md; in short:
//
// - Connection rule: of two nodes, the one with the LOWER id dials and the
//   higher one accepts, so a pair never has two connections. A dialer retries
//   with exponential backoff and jitter (randomness from the environment).
// - Handshake: the first frame each way is a Hello. A peer of another
//   cluster, an unknown node, a node claiming our own id, a node that breaks
//   the connection rule or a different protocol version is refused: a warning
//   naming both sides, and the connection closes.
// - Drop policy: a message is queued only on an established connection and
//   only while that connection's unsent bytes stay within queue_bytes_max.
//   Otherwise (peer down, queue full, frame too large, unknown peer) raft,
//   gossip and forward_reply messages are dropped and counted, and a
//   forward_request is answered at once by delivering to the sink a
//   forward_reply with the same correlation, an empty payload and
//   undeliverable = true. Sending never blocks.
//
// Actor safety: the transport is one broker on the middleman's multiplexer
// thread; it never blocks (connects run in short-lived detached actors).
// start_peer_transport may be called from any thread that is not an actor of
// `system` (it waits for the bind). The codec functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "cluster/raft/types.hpp"
#include "protocols/consistency.hpp"
#include "protocols/error.hpp"
#include "protocols/framing.hpp"

namespace velocity {

class environment;  // actors/environment.hpp

// What a peer message carries; mirrors wire::PayloadKind value for value.
// snapshot_chunk / snapshot_ack: a streamed snapshot of a shard (cluster/snapshot_transfer.hpp).
enum class payload_kind : uint8_t {
  raft,
  forward_request,
  forward_reply,
  gossip,
  snapshot_chunk,
  snapshot_ack,
};

struct peer_message {
  raft::node_id from = 0;  // set by the sending transport to its own id
  raft::node_id to = 0;    // the destination node
  payload_kind kind = payload_kind::raft;
  uint32_t shard = 0;        // the Raft group it concerns; 0 when none
  uint64_t correlation = 0;  // pairs a forward_reply with its forward_request
  std::string payload;       // one Cap'n Proto message of the type `kind` implies
  // forward_reply: the shard_reply's leader hint and never_applied (actors/shard.hpp).
  raft::node_id leader = 0;
  bool never_applied = false;
  // forward_request: the level the replica serves it at; forward_reply to a
  // read: the replica's applied index then (shard_request, shard_reply).
  consistency level = consistency::strong;
  uint64_t applied = 0;
  // Local only, never on the wire: true on the forward_reply the transport
  // delivers itself when it could not queue a forward_request (payload empty,
  // `from` = the unreachable node). The router fails the request with
  // `unavailable` at once.
  bool undeliverable = false;
};

// Counters of one peer (a member other than this node) since the start.
struct peer_link_stats {
  raft::node_id node = 0;
  bool connected = false;       // a connection with a completed handshake is open
  uint64_t frames_out = 0;      // envelopes queued on a connection
  uint64_t bytes_out = 0;       // their bytes, length prefixes included
  uint64_t frames_in = 0;       // envelopes received and delivered to the sink
  uint64_t bytes_in = 0;        // bytes read from this peer's connections
  uint64_t dropped = 0;         // raft / gossip / forward_reply not sent (see drop policy)
  uint64_t undeliverable = 0;   // forward_requests answered as undeliverable
  uint64_t connects = 0;        // handshakes completed
  uint64_t reconnects = 0;      // handshakes completed after the first
  uint64_t queued_bytes = 0;    // bytes queued on the connection, not yet on the socket
};

struct peer_stats {
  std::vector<peer_link_stats> peers;  // every member but this node, by node id
  uint16_t port = 0;                   // the bound listening port
  uint64_t handshakes_refused = 0;     // hellos refused (cluster, id, rule, version)
  uint64_t connections_closed_bad_input = 0;  // malformed or oversize frames, protocol violations
  uint64_t dropped_unknown_peer = 0;  // messages to a node that is not a member (or to us)
  uint64_t ignored_envelopes = 0;     // envelopes of a payload kind this version does not know
};

using peer_send_atom = caf::atom_constant<caf::atom("peer_send")>;
using peer_stats_atom = caf::atom_constant<caf::atom("peer_stats")>;
using peer_deliver_atom = caf::atom_constant<caf::atom("peer_dlvr")>;

// Fire and forget: peer_send never answers and never blocks.
using peer_transport_actor =
    caf::typed_actor<caf::reacts_to<peer_send_atom, peer_message>,
                     caf::replies_to<peer_stats_atom>::with<peer_stats>>;

// Receives every envelope from a peer, in the order the peer sent them, and
// the transport's own undeliverable forward_replies. Its mailbox is unbounded:
// the sink must keep up or drop (the transport does not throttle reading).
using peer_sink_actor = caf::typed_actor<caf::reacts_to<peer_deliver_atom, peer_message>>;

struct peer_address {
  std::string host;
  uint16_t port = 0;
};

// Version of the Hello / Envelope conversation; a peer with another is refused.
inline constexpr uint32_t peer_protocol_version = 1;

struct peer_transport_options {
  std::string cluster_id;      // non-empty; peers of another cluster are refused
  raft::node_id node = 0;      // this node, non-zero
  // Every node of the cluster (this one may be listed too; it is skipped).
  std::map<raft::node_id, peer_address> members;
  std::string listen_host = "127.0.0.1";  // "" or "0.0.0.0" = all interfaces
  uint16_t listen_port = 0;               // 0 = any free port (reported back)
  // Per peer: bytes queued on its connection and not yet written to the
  // socket. A message that would exceed it is dropped (drop policy above).
  size_t queue_bytes_max = 8 << 20;
  // Largest frame sent or accepted. Larger inbound length prefixes close the
  // connection; larger outbound messages are dropped.
  size_t frame_bytes_limit = frame_bytes_max;
  // Reconnect delay after the n-th consecutive failure: min * 2^(n-1), capped
  // at max, then jittered uniformly into [delay / 2, delay].
  uint32_t backoff_ms_min = 50;
  uint32_t backoff_ms_max = 5000;
  // One connect attempt (resolution excluded) gives up after this long.
  uint32_t connect_timeout_ms = 2000;
  // A connection whose Hello does not arrive within this long is closed.
  uint32_t handshake_timeout_ms = 5000;
  std::shared_ptr<environment> env;  // randomness for the jitter
  peer_sink_actor sink;
};

struct peer_transport_handle {
  peer_transport_actor actor;  // send exit_reason::user_shutdown to stop
  uint16_t port = 0;           // the bound listening port
};

// Checks the options, binds and starts dialing the members with higher ids.
// invalid_argument naming the bad option; io_error naming the address when
// it cannot listen.
status_or<peer_transport_handle> start_peer_transport(caf::actor_system& system,
                                                      peer_transport_options options);

// ---- PeerFrame payloads (peer_codec.cpp) ----
// Payloads are one Cap'n Proto message in flat-array encoding without the
// length prefix. Decoding catches every Cap'n Proto exception: bad bytes or
// trailing bytes give malformed; an envelope of a payload kind this version
// does not know gives invalid_argument (the reader ignores it, per the
// evolution rules); a frame with neither union member gives malformed.

struct peer_hello {
  std::string cluster_id;
  raft::node_id from = 0;
  raft::node_id to = 0;
  uint32_t protocol_version = peer_protocol_version;
};

using peer_frame = std::variant<peer_hello, peer_message>;

std::string encode_peer_hello(const peer_hello& hello);
// `undeliverable` is local and not encoded.
std::string encode_peer_envelope(const peer_message& message);
status_or<peer_frame> decode_peer_frame(std::string_view payload);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::peer_message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::peer_stats)
