# Client <-> node frames. Each frame on a connection is a 4-byte little-endian
# length followed by one Cap'n Proto message (flat array encoding, no packing):
# a ClientRequest from client to node, a ClientResponse from node to client.
# Every request carries a requestId chosen by the client; responses echo it and
# may come back in any order, so a client can pipeline. See docs/protocol.md.
@0xa27d69cd65285ad0;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

using import "command.capnp".Command;
using import "command.capnp".Reply;
using import "common.capnp".ErrorCode;
using import "value.capnp".Value;

enum Consistency {
  default @0;     # strong
  strong @1;
  quorum @2;
  eventual @3;
  local @4;       # reads only; writes answer invalidConsistency
}

struct ClientRequest {
  requestId @0 :UInt64;
  consistency @1 :Consistency;
  timeoutMs @2 :UInt32;       # 0 = the server's default
  # The value of the collection's partition key. Names the document's
  # partition for get/update/delete/cas in a collection partitioned by a field
  # (required there); narrows list/count/claim to that partition. Null = not
  # given. See docs/protocol.md and docs/data-model.md ("Partitions").
  partition @3 :Value;
  union {
    command @4 :Command;
    health @5 :Void;          # liveness: answers ok
    status @6 :Void;          # node status as JSON text in ClientResponse.text
    getSchema @7 :Text;       # collection name; the schema in reply.schema
  }
}

struct ClientResponse {
  requestId @0 :UInt64;
  reply @1 :Reply;            # code ok = success; otherwise code + message
  text @2 :Text;              # status: JSON text
  leaderHint @3 :Text;        # notLeader: "host:port" to retry at (later)
}
