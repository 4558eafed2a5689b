// PeerFrame payloads <-> peer_hello / peer_message (protocols/peer.capnp). The
// one edge where bytes from another node become values: every Cap'n Proto
// exception is caught here, so bad bytes become a status, never a crash.
//
// Thread safety: pure functions.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "actors/peer_transport.hpp"
#include "protocols/capnp_message.hpp"
#include "protocols/peer.capnp.h"
#include "schema/document_codec.hpp"

namespace velocity {
namespace {

constexpr size_t word_bytes = sizeof(capnp::word);
// A PeerFrame is one small struct and one Data blob: nothing nests deeper.
constexpr int peer_frame_nesting_max = 8;
// Traversal room beyond the frame's own words (none needed for an honest
// message; a little slack costs nothing and the frame itself is bounded).
constexpr uint64_t traversal_slack_words = 64;

wire::PayloadKind to_wire(payload_kind kind) {
  switch (kind) {
    case payload_kind::raft: return wire::PayloadKind::RAFT;
    case payload_kind::forward_request: return wire::PayloadKind::FORWARD_REQUEST;
    case payload_kind::forward_reply: return wire::PayloadKind::FORWARD_REPLY;
    case payload_kind::gossip: return wire::PayloadKind::GOSSIP;
    case payload_kind::snapshot_chunk: return wire::PayloadKind::SNAPSHOT_CHUNK;
    case payload_kind::snapshot_ack: return wire::PayloadKind::SNAPSHOT_ACK;
  }
  return wire::PayloadKind::RAFT;
}

// False for a kind this version does not know (a newer peer's).
bool from_wire(wire::PayloadKind kind, payload_kind& out) {
  switch (kind) {
    case wire::PayloadKind::RAFT: out = payload_kind::raft; return true;
    case wire::PayloadKind::FORWARD_REQUEST: out = payload_kind::forward_request; return true;
    case wire::PayloadKind::FORWARD_REPLY: out = payload_kind::forward_reply; return true;
    case wire::PayloadKind::GOSSIP: out = payload_kind::gossip; return true;
    case wire::PayloadKind::SNAPSHOT_CHUNK: out = payload_kind::snapshot_chunk; return true;
    case wire::PayloadKind::SNAPSHOT_ACK: out = payload_kind::snapshot_ack; return true;
  }
  return false;
}

status_or<peer_frame> read_frame(capnp::MessageReader& reader) {
  auto root = reader.getRoot<wire::PeerFrame>();
  switch (root.which()) {
    case wire::PeerFrame::HELLO: {
      auto in = root.getHello();
      peer_hello out;
      out.cluster_id = in.getClusterId().cStr();
      out.from = in.getFromNode();
      out.to = in.getToNode();
      out.protocol_version = in.getProtocolVersion();
      return peer_frame{std::move(out)};
    }
    case wire::PeerFrame::ENVELOPE: {
      auto in = root.getEnvelope();
      peer_message out;
      if (!from_wire(in.getKind(), out.kind))
        return status{error_code::invalid_argument,
                      "envelope of unknown payload kind " +
                          std::to_string(static_cast<unsigned>(in.getKind()))};
      out.from = in.getFromNode();
      out.to = in.getToNode();
      out.shard = in.getShard();
      out.correlation = in.getCorrelation();
      out.leader = in.getLeader();
      out.never_applied = in.getNeverApplied();
      out.applied = in.getApplied();
      if (uint8_t level = in.getConsistency(); level > 1) {
        if (level > static_cast<uint8_t>(consistency::local))
          return status{error_code::malformed,
                        "envelope with unknown consistency " + std::to_string(level)};
        out.level = static_cast<consistency>(level);
      }
      auto payload = in.getPayload();
      out.payload.assign(reinterpret_cast<const char*>(payload.begin()), payload.size());
      return peer_frame{std::move(out)};
    }
  }
  return status{error_code::malformed, "peer frame is neither hello nor envelope"};
}

}  // namespace

std::string encode_peer_hello(const peer_hello& hello) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  auto out = message.initRoot<wire::PeerFrame>().initHello();
  out.setClusterId(hello.cluster_id);
  out.setFromNode(hello.from);
  out.setToNode(hello.to);
  out.setProtocolVersion(hello.protocol_version);
  return builder.flat();
}

std::string encode_peer_envelope(const peer_message& m) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  auto out = message.initRoot<wire::PeerFrame>().initEnvelope();
  out.setFromNode(m.from);
  out.setToNode(m.to);
  out.setKind(to_wire(m.kind));
  out.setShard(m.shard);
  out.setCorrelation(m.correlation);
  out.setLeader(m.leader);
  out.setNeverApplied(m.never_applied);
  out.setConsistency(m.level == consistency::strong ? 0 : static_cast<uint8_t>(m.level));
  out.setApplied(m.applied);
  out.setPayload(kj::arrayPtr(reinterpret_cast<const kj::byte*>(m.payload.data()), m.payload.size()));
  return builder.flat();
}

status_or<peer_frame> decode_peer_frame(std::string_view payload) {
  if (payload.empty() || payload.size() % word_bytes != 0)
    return status{error_code::malformed, "peer frame size " + std::to_string(payload.size()) +
                                             " is not a non-zero multiple of 8 bytes"};
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(payload, copy);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = payload.size() / word_bytes + traversal_slack_words;
  options.nestingLimit = peer_frame_nesting_max;
  try {
    capnp::FlatArrayMessageReader reader(array, options);
    auto trailing_bytes = static_cast<size_t>(array.end() - reader.getEnd()) * word_bytes;
    if (trailing_bytes != 0)
      return status{error_code::malformed, "peer frame has " + std::to_string(trailing_bytes) +
                                               " bytes after its message"};
    return read_frame(reader);
  } catch (const kj::Exception& e) {
    return status{error_code::malformed,
                  std::string{"peer frame is malformed: "} + e.getDescription().cStr()};
  } catch (const std::exception& e) {
    return status{error_code::malformed, std::string{"peer frame is malformed: "} + e.what()};
  }
}

}  // namespace velocity
