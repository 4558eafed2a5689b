# Raft messages between the replicas of a shard (cluster/raft/types.hpp,
# raft::message), as they travel node to node inside an Envelope payload
# (protocols/node.capnp). A RaftBatch carries the messages of one or many
# shards in one frame. cluster/raft/message_codec.hpp converts both ways.
#
# Evolution: numbers are append-only. Enum values mirror the C++ enums value
# for value; a decoder refuses a value it does not know.
@0xb7902ae25e6de467;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

enum RaftMessageType {
  preVote @0;
  preVoteResponse @1;
  vote @2;
  voteResponse @3;
  append @4;
  appendResponse @5;
  heartbeat @6;
  heartbeatResponse @7;
  snapshotChunk @8;
  snapshotResponse @9;
  timeoutNow @10;
  commitNotice @11;   # follower -> leader: its commit index advanced (nothing durable promised)
}

enum RaftEntryKind {
  normal @0;
  confChange @1;
}

struct RaftEntry {
  term @0 :UInt64;
  index @1 :UInt64;
  kind @2 :RaftEntryKind;
  data @3 :Data;
}

struct RaftSnapshotMeta {
  index @0 :UInt64;
  term @1 :UInt64;
  # The membership as of index: sorted, duplicate-free, no node 0, disjoint.
  voters @2 :List(UInt64);
  learners @3 :List(UInt64);
}

# One struct for every message type; see raft::message for which fields each
# type uses. Unused fields stay at their defaults.
struct RaftMessage {
  type @0 :RaftMessageType;
  from @1 :UInt64;
  to @2 :UInt64;
  term @3 :UInt64;
  logTerm @4 :UInt64;
  index @5 :UInt64;
  entries @6 :List(RaftEntry);
  commit @7 :UInt64;
  reject @8 :Bool;
  rejectHint @9 :UInt64;
  context @10 :UInt64;
  force @11 :Bool;
  snapMeta @12 :RaftSnapshotMeta;
  snapOffset @13 :UInt64;
  snapTotalBytes @14 :UInt64;
  snapData @15 :Data;
  snapDone @16 :Bool;
}

# The messages of one shard's Raft group, in sending order.
struct RaftShardMessages {
  shard @0 :UInt32;
  messages @1 :List(RaftMessage);
}

struct RaftBatch {
  groups @0 :List(RaftShardMessages);
}
