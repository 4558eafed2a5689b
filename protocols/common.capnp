# Shared wire vocabulary: error codes. The numeric values are part of the wire
# format: never renumber, only append. protocols/error.hpp mirrors this enum and
# protocols/error.cpp checks at compile time that both agree.
@0x974abb2c5a015f24;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("velocity::wire");

enum ErrorCode {
  ok @0;
  notFound @1;            # the document does not exist
  alreadyExists @2;       # insert of an id that is taken; create of an existing collection
  versionConflict @3;     # expected version did not match the stored one
  conditionFailed @4;     # a compare-and-swap field predicate did not hold
  schemaViolation @5;     # the document breaks its collection's schema
  invalidArgument @6;     # a request that can never succeed as written
  tooLarge @7;            # a size limit was exceeded (document, frame, string, batch)
  unknownCollection @8;   # the collection has no schema (was never created, or was dropped)
  uniqueViolation @9;     # a unique index already holds this key for another document
  unavailable @10;        # try again later (no quorum, shutting down, overloaded)
  notLeader @11;          # this replica is not the leader; the reply names a hint
  timeout @12;            # the deadline passed before an outcome was known
  invalidConsistency @13; # the consistency level is not allowed for this operation
  notLocal @14;           # local read on a node that holds no replica of the shard
  compacted @15;          # the requested history is gone
  corruption @16;         # stored bytes failed a checksum or could not be decoded
  ioError @17;            # the storage engine reported an I/O failure
  internal @18;           # a bug: an invariant did not hold
  malformed @19;          # input bytes or text could not be parsed (JSON, frame)
  overloaded @20;         # a bounded queue is full; back off and retry
}
