// Raft messages <-> Cap'n Proto (see message_codec.hpp and protocols/raft.capnp).
//
// Decoding is the edge where another node's bytes become raft::message values,
// so nothing is trusted: the bytes must be a whole number of words forming
// exactly one message within the traversal and nesting limits, every enum value
// must be one this build knows (an unknown value would otherwise become an
// out-of-range C++ enum), and every membership must be well formed (the core's
// lookups bisect the sorted lists). Cap'n Proto exceptions (bad pointers,
// limits exceeded) are caught here and become malformed.
//
// Thread safety: pure functions.
#include "cluster/raft/message_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <exception>
#include <utility>

#include "protocols/capnp_message.hpp"
#include "protocols/check.hpp"
#include "protocols/raft.capnp.h"
#include "schema/document_codec.hpp"

namespace velocity::raft {

namespace {

constexpr size_t word_bytes = sizeof(capnp::word);
// Words Cap'n Proto may read while decoding one batch: the whole frame, with
// the same room for shared structure as the client frame and reply readers.
constexpr uint64_t batch_traversal_words_max = (raft_batch_bytes_max / word_bytes) * 2;

// The C++ enums and the wire enums agree value for value.
static_assert(static_cast<uint16_t>(wire::RaftMessageType::TIMEOUT_NOW) ==
              static_cast<uint16_t>(message_type::timeout_now));
static_assert(static_cast<uint16_t>(wire::RaftMessageType::COMMIT_NOTICE) ==
              static_cast<uint16_t>(message_type::commit_notice));
static_assert(static_cast<uint16_t>(wire::RaftEntryKind::CONF_CHANGE) ==
              static_cast<uint16_t>(entry_kind::conf_change));

status malformed(std::string message) { return status{error_code::malformed, std::move(message)}; }

capnp::Data::Reader bytes_of(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string string_of(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

// ---------------------------------------------------------------- encode

void write_ids(const std::vector<node_id>& ids, capnp::List<uint64_t>::Builder out) {
  for (size_t i = 0; i < ids.size(); ++i) out.set(static_cast<unsigned>(i), ids[i]);
}

void write_snapshot_meta(const snapshot_meta& meta, wire::RaftSnapshotMeta::Builder out) {
  out.setIndex(meta.index);
  out.setTerm(meta.term);
  write_ids(meta.conf.voters, out.initVoters(static_cast<unsigned>(meta.conf.voters.size())));
  write_ids(meta.conf.learners,
            out.initLearners(static_cast<unsigned>(meta.conf.learners.size())));
}

void write_entry(const entry& e, wire::RaftEntry::Builder out) {
  out.setTerm(e.term);
  out.setIndex(e.index);
  out.setKind(static_cast<wire::RaftEntryKind>(e.kind));
  out.setData(bytes_of(e.data));
}

void write_message(const message& m, wire::RaftMessage::Builder out) {
  VELOCITY_CHECK(well_formed(m.snap_meta.conf));
  out.setType(static_cast<wire::RaftMessageType>(m.type));
  out.setFrom(m.from);
  out.setTo(m.to);
  out.setTerm(m.term);
  out.setLogTerm(m.log_term);
  out.setIndex(m.index);
  auto entries = out.initEntries(static_cast<unsigned>(m.entries.size()));
  for (size_t i = 0; i < m.entries.size(); ++i)
    write_entry(m.entries[i], entries[static_cast<unsigned>(i)]);
  out.setCommit(m.commit);
  out.setReject(m.reject);
  out.setRejectHint(m.reject_hint);
  out.setContext(m.context);
  out.setForce(m.force);
  write_snapshot_meta(m.snap_meta, out.initSnapMeta());
  out.setSnapOffset(m.snap_offset);
  out.setSnapTotalBytes(m.snap_total_bytes);
  out.setSnapData(bytes_of(m.snap_data));
  out.setSnapDone(m.snap_done);
}

// ---------------------------------------------------------------- decode

std::vector<node_id> read_ids(capnp::List<uint64_t>::Reader in) {
  std::vector<node_id> ids;
  ids.reserve(in.size());
  for (uint64_t id : in) ids.push_back(id);
  return ids;
}

status_or<snapshot_meta> read_snapshot_meta(wire::RaftSnapshotMeta::Reader in) {
  snapshot_meta meta;
  meta.index = in.getIndex();
  meta.term = in.getTerm();
  meta.conf.voters = read_ids(in.getVoters());
  meta.conf.learners = read_ids(in.getLearners());
  if (!well_formed(meta.conf))
    return malformed("snap_meta.conf: voters and learners must be sorted, unique, disjoint and "
                     "without node 0");
  return meta;
}

status_or<entry> read_entry(wire::RaftEntry::Reader in) {
  const auto kind = static_cast<uint16_t>(in.getKind());
  if (kind > static_cast<uint16_t>(entry_kind::conf_change))
    return malformed("entry.kind: unknown value " + std::to_string(kind));
  entry e;
  e.term = in.getTerm();
  e.index = in.getIndex();
  e.kind = static_cast<entry_kind>(kind);
  e.data = string_of(in.getData());
  return e;
}

status_or<message> read_message(wire::RaftMessage::Reader in) {
  const auto type = static_cast<uint16_t>(in.getType());
  if (type > static_cast<uint16_t>(message_type::commit_notice))
    return malformed("message.type: unknown value " + std::to_string(type));
  message m;
  m.type = static_cast<message_type>(type);
  m.from = in.getFrom();
  m.to = in.getTo();
  m.term = in.getTerm();
  m.log_term = in.getLogTerm();
  m.index = in.getIndex();
  m.entries.reserve(in.getEntries().size());
  for (auto e : in.getEntries()) {
    auto decoded = read_entry(e);
    if (!decoded.ok()) return decoded.error();
    m.entries.push_back(std::move(decoded).value());
  }
  m.commit = in.getCommit();
  m.reject = in.getReject();
  m.reject_hint = in.getRejectHint();
  m.context = in.getContext();
  m.force = in.getForce();
  auto meta = read_snapshot_meta(in.getSnapMeta());
  if (!meta.ok()) return meta.error();
  m.snap_meta = std::move(meta).value();
  m.snap_offset = in.getSnapOffset();
  m.snap_total_bytes = in.getSnapTotalBytes();
  m.snap_data = string_of(in.getSnapData());
  m.snap_done = in.getSnapDone();
  return m;
}

status_or<std::vector<shard_messages>> read_batch(wire::RaftBatch::Reader in) {
  std::vector<shard_messages> groups;
  groups.reserve(in.getGroups().size());
  for (auto group : in.getGroups()) {
    shard_messages out;
    out.shard = group.getShard();
    out.messages.reserve(group.getMessages().size());
    for (auto m : group.getMessages()) {
      auto decoded = read_message(m);
      if (!decoded.ok())
        return malformed("shard " + std::to_string(out.shard) + ": " + decoded.error().message());
      out.messages.push_back(std::move(decoded).value());
    }
    groups.push_back(std::move(out));
  }
  return groups;
}

}  // namespace

std::string encode_raft_batch(const std::vector<shard_messages>& groups) {
  message_builder scratch;
  capnp::MessageBuilder& builder = scratch.get();
  auto batch = builder.initRoot<wire::RaftBatch>();
  auto out = batch.initGroups(static_cast<unsigned>(groups.size()));
  for (size_t g = 0; g < groups.size(); ++g) {
    auto group = out[static_cast<unsigned>(g)];
    group.setShard(groups[g].shard);
    const auto& messages = groups[g].messages;
    auto list = group.initMessages(static_cast<unsigned>(messages.size()));
    for (size_t i = 0; i < messages.size(); ++i)
      write_message(messages[i], list[static_cast<unsigned>(i)]);
  }
  return scratch.flat();
}

status_or<std::vector<shard_messages>> decode_raft_batch(std::string_view bytes) {
  if (bytes.size() > raft_batch_bytes_max)
    return status{error_code::too_large, "raft batch of " + std::to_string(bytes.size()) +
                                             " bytes exceeds " +
                                             std::to_string(raft_batch_bytes_max)};
  if (bytes.empty() || bytes.size() % word_bytes != 0)
    return malformed("raft batch size " + std::to_string(bytes.size()) +
                     " is not a non-zero multiple of 8 bytes");
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(bytes, copy);
  try {
    capnp::FlatArrayMessageReader reader(array, codec_reader_options(batch_traversal_words_max));
    if (reader.getEnd() != array.end()) return malformed("raft batch has bytes after the message");
    return read_batch(reader.getRoot<wire::RaftBatch>());
  } catch (const kj::Exception& e) {
    return malformed(std::string{"raft batch is malformed: "} + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return malformed(std::string{"raft batch is malformed: "} + e.what());
  }
}

}  // namespace velocity::raft
