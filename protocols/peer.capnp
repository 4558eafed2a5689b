# Node <-> node frames (docs/peer-protocol.md). Same framing as client
# connections: a 4-byte little-endian length, then one Cap'n Proto message in
# flat-array encoding; here that message is always a PeerFrame. Nodes never
# hold each other's actor handles: everything between nodes is a PeerFrame.
#
# A connection carries, in each direction, exactly one `hello` first and then
# only `envelope`s. Evolution: fields, union members and enum values are only
# ever appended (new ordinals); a reader ignores envelopes whose kind it does
# not know.
@0x9c6594d4fa532c8d;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

# The first frame each way. The dialer sends its hello at once; the acceptor
# checks it and answers with its own, or closes the connection.
struct Hello {
  clusterId @0 :Text;         # the sender's cluster id; must equal the receiver's
  fromNode @1 :UInt64;        # the sender's node id (non-zero)
  toNode @2 :UInt64;          # the node the sender believes it reached (non-zero)
  protocolVersion @3 :UInt32; # 1 in this version; a different value is refused
}

# What an envelope's payload is; it tells the receiving node which local actor
# gets it. Append only.
enum PayloadKind {
  raft @0;            # a Raft message of shard `shard`
  forwardRequest @1;  # a client request forwarded to the node that can serve it
  forwardReply @2;    # the answer to a forwardRequest with the same correlation
  gossip @3;          # membership / liveness gossip
  snapshotChunk @4;   # a SnapshotChunk of shard `shard`'s state, leader -> follower
  snapshotAck @5;     # a SnapshotAck for it, follower -> leader
}

struct Envelope {
  fromNode @0 :UInt64;        # sender; must be the node that said hello on this connection
  toNode @1 :UInt64;          # receiver; must be the node that answered the hello
  kind @2 :PayloadKind;       # what the payload is (above)
  shard @3 :UInt32;           # the shard (Raft group) it concerns; 0 when none
  correlation @4 :UInt64;     # matches a forwardReply to its forwardRequest; 0 when unused
  payload @5 :Data;           # one Cap'n Proto message of the type `kind` implies
  # forwardReply only: the shard's leader as the answering replica knows it
  # (0: unknown), and whether the request certainly never reached a Raft log
  # (so the origin may retry it without applying it twice).
  leader @6 :UInt64;
  neverApplied @7 :Bool;
  # forwardRequest only: the consistency level the receiving replica serves
  # it at (0 or 1 strong, 2 quorum, 3 eventual, 4 local: the values of
  # client.capnp's Consistency; any other value makes the frame malformed).
  consistency @8 :UInt8;
  # forwardReply to a read only: the answering replica's applied index when
  # it served the read (a quorum read keeps the most applied answer).
  applied @9 :UInt64;
}

struct PeerFrame {
  union {
    hello @0 :Hello;
    envelope @1 :Envelope;
  }
}

# Streamed snapshots (docs/peer-protocol.md, "Snapshot streams"). A Raft
# snapshot is metadata only; these carry the shard's state machine columns.

# One key of a state machine column (meta 0, documents 1, indexes 2).
struct SnapshotItem {
  column @0 :UInt8;
  key @1 :Data;
  value @2 :Data;
}

struct SnapshotChunk {
  session @0 :UInt64;         # chosen by the leader; seq 0 starts a session
  seq @1 :UInt64;             # 0, 1, 2... in order
  last @2 :Bool;              # no chunk follows
  leaderTerm @3 :UInt64;      # the sender's Raft term
  index @4 :UInt64;           # the Raft snapshot the data covers: index, term,
  term @5 :UInt64;            # and membership (sorted, unique, disjoint, no 0)
  voters @6 :List(UInt64);
  learners @7 :List(UInt64);
  items @8 :List(SnapshotItem);  # in (column, key) order, at most 1 MiB in all
  crc @9 :UInt32;             # CRC-32C over the fields above (cluster/snapshot_transfer.cpp)
}

struct SnapshotAck {
  session @0 :UInt64;
  seq @1 :UInt64;             # every chunk up to seq is staged
  reject @2 :Bool;            # the session is over; the leader starts again
  installed @3 :Bool;         # the follower's state machine holds the snapshot
}
