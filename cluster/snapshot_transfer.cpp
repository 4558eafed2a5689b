// Implements snapshot_transfer.hpp: the codec (protocols/peer.capnp
// SnapshotChunk / SnapshotAck) and the two ends' session rules.
//
// Thread safety: pure functions; the session classes have one owner.
#include "cluster/snapshot_transfer.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <exception>
#include <utility>

#include "cluster/raft/log_store.hpp"
#include "protocols/check.hpp"
#include "protocols/framing.hpp"
#include "protocols/peer.capnp.h"
#include "schema/document_codec.hpp"

namespace velocity::cluster {

namespace {

constexpr size_t word_bytes = sizeof(capnp::word);
constexpr uint64_t traversal_words_max = (frame_bytes_max / word_bytes) * 2;

status malformed(std::string message) { return status{error_code::malformed, std::move(message)}; }

capnp::Data::Reader bytes_of(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string string_of(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

std::string to_bytes(capnp::MallocMessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

void write_ids(const std::vector<raft::node_id>& ids, capnp::List<uint64_t>::Builder out) {
  for (size_t i = 0; i < ids.size(); ++i) out.set(static_cast<unsigned>(i), ids[i]);
}

std::vector<raft::node_id> read_ids(capnp::List<uint64_t>::Reader in) {
  std::vector<raft::node_id> ids;
  ids.reserve(in.size());
  for (uint64_t id : in) ids.push_back(id);
  return ids;
}

// Opens `bytes` as one Cap'n Proto message and hands its root to `read`;
// every failure (limits, bad pointers) becomes malformed naming `what`.
template <typename Root, typename Read>
auto decode(std::string_view bytes, const char* what, Read read) -> decltype(read(
    std::declval<typename Root::Reader>())) {
  if (bytes.size() > frame_bytes_max)
    return status{error_code::too_large, std::string{what} + " of " +
                                             std::to_string(bytes.size()) + " bytes"};
  if (bytes.empty() || bytes.size() % word_bytes != 0)
    return malformed(std::string{what} + " size is not a non-zero multiple of 8 bytes");
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(bytes, copy);
  try {
    capnp::FlatArrayMessageReader reader(array, codec_reader_options(traversal_words_max));
    if (reader.getEnd() != array.end())
      return malformed(std::string{what} + " has bytes after the message");
    return read(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return malformed(std::string{what} + " is malformed: " + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return malformed(std::string{what} + " is malformed: " + e.what());
  }
}

void add_u64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(x >> shift));
}

// CRC-32C over the chunk's header and every item (column, lengths, bytes),
// chained item by item so no copy of the chunk is made.
uint32_t chunk_crc(const snapshot_chunk& c) {
  std::string header;
  for (uint64_t x : {c.session, c.seq, uint64_t{c.last}, c.leader_term, c.meta.index, c.meta.term})
    add_u64(header, x);
  for (raft::node_id id : c.meta.conf.voters) add_u64(header, id);
  add_u64(header, 0);  // separates voters from learners
  for (raft::node_id id : c.meta.conf.learners) add_u64(header, id);
  uint32_t crc = raft::crc32c(header);
  for (const stream_item& item : c.items) {
    std::string lengths(1, static_cast<char>(item.col));
    add_u64(lengths, item.key.size());
    add_u64(lengths, item.value.size());
    crc = raft::crc32c(item.value, raft::crc32c(item.key, raft::crc32c(lengths, crc)));
  }
  return crc;
}

status_or<snapshot_chunk> read_chunk(wire::SnapshotChunk::Reader in) {
  snapshot_chunk c;
  c.session = in.getSession();
  c.seq = in.getSeq();
  c.last = in.getLast();
  c.leader_term = in.getLeaderTerm();
  c.meta.index = in.getIndex();
  c.meta.term = in.getTerm();
  c.meta.conf.voters = read_ids(in.getVoters());
  c.meta.conf.learners = read_ids(in.getLearners());
  if (!raft::well_formed(c.meta.conf) || c.meta.conf.voters.empty())
    return malformed("snapshot chunk membership must be well formed with a voter");
  if (c.meta.index == 0 || c.meta.term == 0 || c.leader_term < c.meta.term)
    return malformed("snapshot chunk index, term and leader term must be non-zero and ordered");
  auto items = in.getItems();
  if (items.size() > snapshot_chunk_items_max)
    return malformed("snapshot chunk holds " + std::to_string(items.size()) + " items");
  c.items.reserve(items.size());
  for (auto item : items) {
    if (item.getColumn() >= column_count)
      return malformed("snapshot chunk item column " + std::to_string(item.getColumn()));
    c.items.push_back(stream_item{static_cast<column>(item.getColumn()),
                                  string_of(item.getKey()), string_of(item.getValue())});
  }
  if (chunk_crc(c) != in.getCrc())
    return status{error_code::corruption, "snapshot chunk checksum mismatch"};
  return c;
}

}  // namespace

std::string encode_snapshot_chunk(const snapshot_chunk& chunk) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::SnapshotChunk>();
  out.setSession(chunk.session);
  out.setSeq(chunk.seq);
  out.setLast(chunk.last);
  out.setLeaderTerm(chunk.leader_term);
  out.setIndex(chunk.meta.index);
  out.setTerm(chunk.meta.term);
  write_ids(chunk.meta.conf.voters,
            out.initVoters(static_cast<unsigned>(chunk.meta.conf.voters.size())));
  write_ids(chunk.meta.conf.learners,
            out.initLearners(static_cast<unsigned>(chunk.meta.conf.learners.size())));
  auto items = out.initItems(static_cast<unsigned>(chunk.items.size()));
  for (size_t i = 0; i < chunk.items.size(); ++i) {
    auto item = items[static_cast<unsigned>(i)];
    item.setColumn(static_cast<uint8_t>(chunk.items[i].col));
    item.setKey(bytes_of(chunk.items[i].key));
    item.setValue(bytes_of(chunk.items[i].value));
  }
  out.setCrc(chunk_crc(chunk));
  return to_bytes(builder);
}

status_or<snapshot_chunk> decode_snapshot_chunk(std::string_view bytes) {
  return decode<wire::SnapshotChunk>(bytes, "snapshot chunk", read_chunk);
}

std::string encode_snapshot_ack(const snapshot_ack& ack) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::SnapshotAck>();
  out.setSession(ack.session);
  out.setSeq(ack.seq);
  out.setReject(ack.reject);
  out.setInstalled(ack.installed);
  return to_bytes(builder);
}

status_or<snapshot_ack> decode_snapshot_ack(std::string_view bytes) {
  return decode<wire::SnapshotAck>(bytes, "snapshot ack",
                                   [](wire::SnapshotAck::Reader in) -> status_or<snapshot_ack> {
                                     snapshot_ack a;
                                     a.session = in.getSession();
                                     a.seq = in.getSeq();
                                     a.reject = in.getReject();
                                     a.installed = in.getInstalled();
                                     return a;
                                   });
}

raft::message snapshot_message_for(const snapshot_chunk& chunk, raft::node_id from,
                                   raft::node_id to) {
  // What raft::impl::send_snapshot_chunk emits for a snapshot without data.
  raft::message m;
  m.type = raft::message_type::snapshot_chunk;
  m.from = from;
  m.to = to;
  m.term = chunk.leader_term;
  m.snap_meta = chunk.meta;
  m.snap_offset = 0;
  m.snap_total_bytes = 0;
  m.snap_done = true;
  return m;
}

// ---------------------------------------------------------------- sender

snapshot_sender::snapshot_sender(raft::node_id to, uint64_t session, raft::term_t leader_term,
                                 raft::snapshot_meta meta, transfer_limits limits)
    : to_(to), session_(session), leader_term_(leader_term), meta_(std::move(meta)),
      limits_(limits) {
  VELOCITY_CHECK_LT(0u, limits_.chunks_in_flight_max);
}

bool snapshot_sender::window_open() const {
  return !last_sent_ && next_seq_ - acked_ < limits_.chunks_in_flight_max;
}

snapshot_chunk snapshot_sender::next_chunk(std::vector<stream_item> items, bool last) {
  VELOCITY_CHECK(window_open());
  snapshot_chunk c;
  c.session = session_;
  c.seq = next_seq_++;
  c.last = last;
  c.leader_term = leader_term_;
  c.meta = meta_;
  c.items = std::move(items);
  last_sent_ = last;
  return c;
}

snapshot_sender::outcome snapshot_sender::on_ack(const snapshot_ack& ack) {
  if (ack.session != session_) return outcome::going;  // an earlier session's
  if (ack.reject) return outcome::aborted;
  if (ack.installed) return outcome::finished;
  if (ack.seq >= next_seq_) return outcome::aborted;  // acknowledges a chunk never sent
  if (ack.seq + 1 <= acked_) return outcome::going;   // a duplicate
  acked_ = ack.seq + 1;
  idle_ticks_ = 0;
  return outcome::going;
}

snapshot_sender::outcome snapshot_sender::tick() {
  ++idle_ticks_;
  const bool waiting_install = last_sent_ && acked_ == next_seq_;
  const uint32_t limit = waiting_install ? limits_.install_timeout_ticks : limits_.ack_timeout_ticks;
  return idle_ticks_ >= limit ? outcome::aborted : outcome::going;
}

// ---------------------------------------------------------------- receiver

snapshot_receiver::decision snapshot_receiver::on_chunk(raft::node_id from,
                                                        const snapshot_chunk& chunk,
                                                        raft::term_t current_term) {
  if (chunk.leader_term < current_term) return {action::reject, false};  // a deposed leader
  if (chunk.seq == 0) {
    active_ = true;
    from_ = from;
    session_ = chunk.session;
    next_seq_ = 0;
    return {action::stage, true};
  }
  if (!active_ || from != from_ || chunk.session != session_) return {action::reject, false};
  if (chunk.seq < next_seq_) return {action::duplicate, false};
  if (chunk.seq > next_seq_) {
    active_ = false;  // a chunk was lost: the leader starts again
    return {action::reject, false};
  }
  return {action::stage, false};
}

bool snapshot_receiver::staged(const snapshot_chunk& chunk) {
  VELOCITY_CHECK(active_ && chunk.session == session_ && chunk.seq == next_seq_);
  next_seq_ = chunk.seq + 1;
  return chunk.last;
}

snapshot_ack snapshot_receiver::progress_ack() const {
  snapshot_ack a;
  a.session = session_;
  a.seq = next_seq_ == 0 ? 0 : next_seq_ - 1;
  return a;
}

}  // namespace velocity::cluster
