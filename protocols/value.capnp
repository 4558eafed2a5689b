# Documents at rest and on the wire. JSON exists only at human edges; inside the
# system a document is this Cap'n Proto structure (schema/document_codec.hpp).
@0xabbeed4a406c2b27;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

# A JSON-like value. Maps keep their keys sorted and unique (the codec enforces
# it on encode and rejects violations on decode), so equal values encode equally.
struct Value {
  union {
    null @0 :Void;
    bool @1 :Bool;
    int @2 :Int64;
    float @3 :Float64;
    string @4 :Text;
    bytes @5 :Data;
    list @6 :List(Value);
    map @7 :List(Entry);
  }
  struct Entry {
    key @0 :Text;
    value @1 :Value;
  }
}

struct Document {
  id @0 :Text;
  version @1 :UInt64;      # 1 on insert, +1 on every change
  createdNs @2 :Int64;     # nanoseconds since the Unix epoch, from the command
  modifiedNs @3 :Int64;
  revision @4 :UInt64;     # log index of the last change in its shard
  fields @5 :List(Value.Entry);
}
