# SWIM membership messages between nodes (cluster/swim/swim.hpp,
# swim::message), as they travel node to node inside an Envelope payload of
# kind `gossip` (protocols/peer.capnp, docs/peer-protocol.md). One
# GossipMessage per envelope. cluster/swim/message_codec.hpp converts both ways.
#
# Evolution: numbers are append-only. Enum values mirror the C++ enums value
# for value; a decoder refuses a value it does not know.
@0xaf2dfdaa227398cd;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

enum GossipMessageType {
  ping @0;           # are you alive? `sequence` matches the ack
  ack @1;            # answer to a ping, or relayed by an indirect prober
  pingReq @2;        # ping `target` for me and relay its ack
  nack @3;           # the indirect prober heard no ack from `target` (Lifeguard)
  pushPull @4;       # the sender's whole table; answer with yours
  pushPullReply @5;  # the answerer's whole table
  gossip @6;         # pending updates only
  leave @7;          # the sender's `left` update first, then pending updates
}

enum MemberState {
  alive @0;
  suspect @1;
  dead @2;
  left @3;
}

# What one member says about another (swim::rumor).
struct MemberUpdate {
  member @0 :UInt64;       # the member's node id (non-zero)
  incarnation @1 :UInt64;  # raised only by the member itself, to refute
  state @2 :MemberState;
  metaVersion @3 :UInt64;  # alive updates: the metadata's version within the incarnation
  meta @4 :Data;           # alive updates: opaque metadata, at most 1024 bytes
  source @5 :UInt64;       # suspect/dead: the member that raised it (0: none)
}

struct GossipMessage {
  type @0 :GossipMessageType;
  from @1 :UInt64;
  to @2 :UInt64;
  sequence @3 :UInt64;     # ping, ack, pingReq, nack
  target @4 :UInt64;       # pingReq, nack
  join @5 :Bool;           # pushPull: the sender is joining through this seed
  # Piggybacked updates (at most 16384); pushPull(Reply): the whole table.
  updates @6 :List(MemberUpdate);
}
