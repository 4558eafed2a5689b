// Streamed snapshots between the replicas of a Raft group: the messages, their
// codec, and the two ends' flow-control decisions. The data is the shard's
// state machine columns (storage/snapshot_stream.hpp reads and installs it);
// the Raft snapshot travels as metadata only (index, term, membership).
//
// Flow (docs/peer-protocol.md "Snapshot streams", docs/ARCHITECTURE.md):
//   the leader's core emits a snapshot_chunk Raft message for a follower
//   whose next entry is compacted -> the leader's shard does not send it but
//   starts a snapshot_sender session: chunks of <= snapshot_chunk_bytes_max,
//   at most chunks_in_flight_max unacknowledged, each acked by the follower
//   once staged -> the follower stages, then installs (snapshot_stream.hpp)
//   and only then steps the Raft snapshot message rebuilt from the chunk
//   header into its core (so its core reports the snapshot applied only when
//   the state machine holds it) and acks `installed`.
//   Aborts: a reject (gap, unknown session, stale leader), an ack for a chunk
//   never sent, no ack progress within ack_timeout_ticks, no installed ack
//   within install_timeout_ticks after the last chunk, the leader losing its
//   role (the shell drops every session). The core resends its snapshot
//   message every two heartbeats while unanswered, which starts a new session.
//
// Pure: no clocks (ticks are passed in), no I/O. Thread safety: none; one
// owner. Decoding never trusts its input: size limits, enum ranges,
// well-formed memberships, checked as cluster/raft/message_codec.hpp does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/raft/types.hpp"
#include "protocols/error.hpp"
#include "storage/snapshot_stream.hpp"

namespace velocity::cluster {

// Chunks sent and not yet acknowledged, per transfer: 4 MiB at most in
// flight, half the peer transport's default per-peer queue.
inline constexpr size_t snapshot_chunks_in_flight_max = 4;
// Items in one chunk on the wire (a chunk is also bounded by its bytes).
inline constexpr size_t snapshot_chunk_items_max = 1 << 20;

struct snapshot_chunk {
  uint64_t session = 0;         // chosen by the leader; seq 0 starts a session
  uint64_t seq = 0;             // 0, 1, 2... within the session
  bool last = false;            // no chunk follows
  raft::term_t leader_term = 0; // the sender's term (a stale leader is refused)
  raft::snapshot_meta meta{};   // the Raft snapshot the data covers (at least)
  std::vector<stream_item> items{};
  friend bool operator==(const snapshot_chunk&, const snapshot_chunk&) = default;
};

struct snapshot_ack {
  uint64_t session = 0;
  uint64_t seq = 0;          // every chunk up to and including seq is staged
  bool reject = false;       // the session is over: start again
  bool installed = false;    // the state machine holds the snapshot
  friend bool operator==(const snapshot_ack&, const snapshot_ack&) = default;
};

std::string encode_snapshot_chunk(const snapshot_chunk& chunk);
// malformed naming the field (bad column, conf not well formed, no voter,
// too many items), too_large above the frame limit, corruption when the
// chunk's CRC-32C (over its header and items) does not match.
status_or<snapshot_chunk> decode_snapshot_chunk(std::string_view bytes);
std::string encode_snapshot_ack(const snapshot_ack& ack);
status_or<snapshot_ack> decode_snapshot_ack(std::string_view bytes);

// The Raft message a follower steps once its state machine holds `chunk`'s
// snapshot: the leader core's metadata-only snapshot message, whole.
raft::message snapshot_message_for(const snapshot_chunk& chunk, raft::node_id from,
                                   raft::node_id to);

struct transfer_limits {
  size_t chunks_in_flight_max = snapshot_chunks_in_flight_max;
  uint32_t ack_timeout_ticks = 50;       // 5 s at 100 ms ticks
  uint32_t install_timeout_ticks = 600;  // copying a large shard takes a while
};

// One outgoing transfer (leader side).
class snapshot_sender {
 public:
  enum class outcome : uint8_t { going, finished, aborted };

  snapshot_sender(raft::node_id to, uint64_t session, raft::term_t leader_term,
                  raft::snapshot_meta meta, transfer_limits limits = {});

  // True while another chunk may be sent (the window has room, the last
  // chunk is not sent yet).
  bool window_open() const;
  // The next chunk, recorded as sent. REQUIRES: window_open().
  snapshot_chunk next_chunk(std::vector<stream_item> items, bool last);
  outcome on_ack(const snapshot_ack& ack);
  outcome tick();

  raft::node_id to() const { return to_; }
  uint64_t session() const { return session_; }
  const raft::snapshot_meta& meta() const { return meta_; }
  bool all_sent() const { return last_sent_; }
  uint64_t chunks_sent() const { return next_seq_; }

 private:
  raft::node_id to_;
  uint64_t session_;
  raft::term_t leader_term_;
  raft::snapshot_meta meta_;
  transfer_limits limits_;
  uint64_t next_seq_ = 0;  // chunks sent
  uint64_t acked_ = 0;     // chunks acknowledged (a prefix)
  bool last_sent_ = false;
  uint32_t idle_ticks_ = 0;
};

// The receiving end's session (follower side).
class snapshot_receiver {
 public:
  enum class action : uint8_t {
    stage,      // in order: stage it (start: clear staging first), then staged()
    duplicate,  // already staged: acknowledge again
    reject,     // unknown session, a gap or a stale leader: answer reject
  };
  struct decision {
    action what = action::reject;
    bool start = false;  // a new session (seq 0): clear the staging area first
  };

  // `current_term`: the receiving core's term.
  decision on_chunk(raft::node_id from, const snapshot_chunk& chunk, raft::term_t current_term);
  // The chunk decided `stage` is written; true when it was the last one.
  bool staged(const snapshot_chunk& chunk);
  // Forget the session (installed, failed, or rejected).
  void reset() { active_ = false; }
  bool active() const { return active_; }
  // The ack for everything staged so far in the session.
  snapshot_ack progress_ack() const;

 private:
  bool active_ = false;
  raft::node_id from_ = raft::no_node;
  uint64_t session_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace velocity::cluster
