// The shard's snapshot streams: the shell half of streamed Raft snapshots,
// owned by one shard actor (actors/shard.cpp) and driven by it. The
// decisions are pure (cluster/snapshot_transfer.hpp: windows, aborts, order;
// storage/snapshot_stream.hpp: chunking, the staged install and its crash
// argument); this class connects them to the engine and hands the shard the
// messages to send. No CAF inside: the shard sends what take_outgoing()
// returns to the peer mux (snap_out) and feeds in what the mux delivers
// (snap_in).
//
// Leader: the core's snapshot_chunk messages never leave the node. Each one
// for a follower without a transfer starts one: an engine snapshot taken now
// (the state machine holds at least the core's snapshot index, which is at
// most its applied index), read in chunks of <= snapshot_chunk_bytes_max,
// at most snapshot_chunks_in_flight_max unacknowledged. The streamed state
// may be newer than the Raft snapshot's index: every entry it covers is
// committed, and the follower's state machine skips entries it already
// holds (its applied-index key travels with the data).
// Follower: chunks are staged in order; after the last one the install
// (marker, copy, final batch) runs to completion in this call (the shard
// actor does nothing else meanwhile, so no read or apply sees a half-copied
// shard), the state machine must be reopened, and only then is the leader's
// Raft snapshot message (rebuilt from the chunk header) stepped into the
// core, whose restore effect then finds the state in place.
//
// Thread safety: none; one owner (the shard actor).
// Invariants: at most one outgoing transfer per follower, each holding one
// engine snapshot and at most one chunk of items at a time; a snapshot
// message is stepped into the core only for a state the state machine holds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "cluster/raft/types.hpp"
#include "cluster/snapshot_transfer.hpp"
#include "protocols/error.hpp"
#include "storage/engine.hpp"
#include "storage/snapshot_stream.hpp"

namespace velocity {

using snap_out_atom = caf::atom_constant<caf::atom("snap_out")>;
using snap_in_atom = caf::atom_constant<caf::atom("snap_in")>;

// One SnapshotChunk or SnapshotAck between a shard and its node's peer mux.
struct snapshot_wire {
  uint32_t shard = 0;
  raft::node_id peer = 0;  // the destination (snap_out) or the sender (snap_in)
  bool ack = false;        // a SnapshotAck; otherwise a SnapshotChunk
  std::string payload;     // its Cap'n Proto bytes (cluster/snapshot_transfer.hpp)
};

class snapshot_streams {
 public:
  // `session_base` seeds the leader's session ids (the node's clock, so a
  // restarted leader does not reuse its predecessor's).
  // `chunk_bytes` below snapshot_chunk_bytes_max only in tests (more chunks).
  snapshot_streams(engine& e, uint32_t shard, raft::node_id self, uint64_t session_base,
                   size_t chunk_bytes = snapshot_chunk_bytes_max);

  // Leader: a snapshot message the core wants sent (taken out of a send effect).
  void on_core_snapshot(const raft::message& m);
  void on_ack(raft::node_id from, std::string_view payload);
  // Leader: one Raft tick; `leading` false drops every outgoing transfer.
  void tick(bool leading);

  struct received {
    std::optional<raft::message> step;  // step this into the core now
    bool reopen = false;                // reopen the state machine first
    status error;                       // an engine failure: the shard fails
  };
  // Follower: a chunk. `term`: the core's term; `applied`: the state machine's.
  received on_chunk(raft::node_id from, std::string_view payload, raft::term_t term,
                    uint64_t applied);

  // True when the state machine holds the state of a snapshot at `index`
  // (installed from a stream, or already applied that far).
  bool holds(raft::index_t index, uint64_t applied) const;

  std::vector<snapshot_wire> take_outgoing();
  size_t transfers() const { return senders_.size(); }
  // Since the start: transfers this leader finished (the follower
  // acknowledged the install), and snapshots installed here from a stream.
  uint64_t sent() const { return sent_; }
  uint64_t installed() const { return installed_count_; }

 private:
  struct transfer {
    cluster::snapshot_sender sender;
    std::unique_ptr<shard_reader> reader;
  };
  status pump(transfer& t);
  void send_ack(raft::node_id to, const cluster::snapshot_ack& ack);
  status install(const cluster::snapshot_chunk& chunk);

  engine& engine_;
  uint32_t shard_;
  raft::node_id self_;
  uint64_t next_session_;
  size_t chunk_bytes_;
  std::map<raft::node_id, transfer> senders_;
  cluster::snapshot_receiver receiver_;
  raft::index_t installed_ = 0;  // the latest snapshot installed from a stream
  uint64_t sent_ = 0;
  uint64_t installed_count_ = 0;
  std::vector<snapshot_wire> outgoing_;
};

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(velocity::snapshot_wire)
