# State machine commands and their replies, as they travel inside client
# requests (protocols/client.capnp) and, later, Raft log entries. Mirrors
# command/commands.hpp; command/command_codec.hpp converts both ways.
#
# Evolution rules: never renumber or retype a field; add fields at the end of
# a struct or as new union members; readers treat unknown union members as
# invalid_argument ("unsupported command").
@0xda9825834986bdbf;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

using import "value.capnp".Value;
using import "value.capnp".Document;
using import "common.capnp".ErrorCode;

# A range over one index: from/to are tuple prefixes, both inclusive at the
# prefix level; an absent end is open.
struct IndexRange {
  index @0 :Text;
  hasFrom @1 :Bool;
  from @2 :List(Value);
  hasTo @3 :Bool;
  to @4 :List(Value);
}

# Optional uint64 (Cap'n Proto has no optional scalars).
struct OptionalVersion {
  present @0 :Bool;
  version @1 :UInt64;
}

# Filters and schemas travel in their value form (schema/filter.hpp,
# schema/schema.hpp): the same shape users write as JSON.
struct Command {
  timeNs @0 :Int64;           # set by the proposer (router); ignored by reads
  union {
    insert :group {
      collection @1 :Text;
      id @2 :Text;
      fields @3 :Value;       # a map
    }
    get :group {
      collection @4 :Text;
      id @5 :Text;
    }
    update :group {
      collection @6 :Text;
      id @7 :Text;
      patch @8 :Value;        # a map: RFC 7396 merge patch
      expectedVersion @9 :OptionalVersion;
    }
    replace :group {
      collection @10 :Text;
      id @11 :Text;
      fields @12 :Value;
      expectedVersion @13 :OptionalVersion;
    }
    delete :group {
      collection @14 :Text;
      id @15 :Text;
      expectedVersion @16 :OptionalVersion;
    }
    compareAndSwap :group {
      collection @17 :Text;
      id @18 :Text;
      expectedVersion @19 :OptionalVersion;
      condition @20 :Value;   # filter value form; null = no condition
      fields @21 :Value;
      merge @22 :Bool;
    }
    list :group {
      collection @23 :Text;
      hasIdPrefix @24 :Bool;
      idPrefix @25 :Text;
      hasRange @26 :Bool;
      range @27 :IndexRange;
      limit @28 :UInt32;
      cursor @29 :Text;
      descending @30 :Bool;
    }
    count :group {
      collection @31 :Text;
      hasRange @32 :Bool;
      range @33 :IndexRange;
    }
    claim :group {
      collection @34 :Text;
      range @35 :IndexRange;
      condition @36 :Value;
      patch @37 :Value;
    }
    createSchema @38 :Value;  # schema value form
    alterSchema @39 :Value;
    dropSchema @40 :Text;     # collection name
  }
  # The partition value of get, update, delete, compareAndSwap, list, count and
  # claim (docs/data-model.md, "Partitions"). Set by the node from
  # ClientRequest.partition; a client's value here is overwritten.
  hasPartition @41 :Bool;
  partition @42 :Value;
}

struct Reply {
  code @0 :ErrorCode;
  message @1 :Text;
  hasDocument @2 :Bool;
  document @3 :Document;
  documents @4 :List(Document);
  nextCursor @5 :Text;
  count @6 :UInt64;
  currentVersion @7 :UInt64;
  schema @8 :Value;           # null when absent
  claimed @9 :Bool;
}
