# Node <-> node frames (Raft, gossip, forwarding; the Raft and cluster issues
# fill in the payloads). Same framing as client connections. Nodes never hold
# each other's actor handles: everything between nodes is an Envelope.
@0xb730f1e09f6038e2;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

struct Envelope {
  sourceNode @0 :Text;        # node id of the sender
  targetNode @1 :Text;
  # The local actor the payload is for, e.g. "shard/3", "gossip", "router".
  targetAddress @2 :Text;
  # A Cap'n Proto message whose type the target address implies.
  payload @3 :Data;
}
