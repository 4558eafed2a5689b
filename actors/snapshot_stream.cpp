// Implements snapshot_stream.hpp.
//
// Thread safety: none (one owner, the shard actor).
#include "actors/snapshot_stream.hpp"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace velocity {

snapshot_streams::snapshot_streams(engine& e, uint32_t shard, raft::node_id self,
                                   uint64_t session_base, size_t chunk_bytes)
    : engine_(e),
      shard_(shard),
      self_(self),
      next_session_(session_base),
      chunk_bytes_(std::min(chunk_bytes, snapshot_chunk_bytes_max)) {}

void snapshot_streams::on_core_snapshot(const raft::message& m) {
  if (senders_.count(m.to) != 0) return;  // a transfer is under way (the core resends)
  transfer t{cluster::snapshot_sender(m.to, ++next_session_, m.term, m.snap_meta),
             std::make_unique<shard_reader>(engine_, engine_.make_snapshot(), shard_)};
  auto [it, added] = senders_.emplace(m.to, std::move(t));
  spdlog::info("shard {} on node {}: streaming a snapshot (Raft index {}, term {}) to node {}",
               shard_, self_, m.snap_meta.index, m.snap_meta.term, m.to);
  if (status pumped = pump(it->second); !pumped.ok()) {
    spdlog::warn("shard {} on node {}: snapshot stream to node {} failed: {}", shard_, self_,
                 m.to, pumped.to_string());
    senders_.erase(it);
  }
}

status snapshot_streams::pump(transfer& t) {
  while (t.sender.window_open()) {
    auto items = t.reader->next(chunk_bytes_);
    if (!items.ok()) return items.error();
    const bool last = t.reader->done();
    cluster::snapshot_chunk chunk = t.sender.next_chunk(std::move(items.value()), last);
    outgoing_.push_back(
        snapshot_wire{shard_, t.sender.to(), false, cluster::encode_snapshot_chunk(chunk)});
  }
  return status{};
}

void snapshot_streams::on_ack(raft::node_id from, std::string_view payload) {
  auto ack = cluster::decode_snapshot_ack(payload);
  auto it = senders_.find(from);
  if (!ack.ok() || it == senders_.end()) return;
  using outcome = cluster::snapshot_sender::outcome;
  const outcome result = it->second.sender.on_ack(ack.value());
  if (result == outcome::going) {
    if (status pumped = pump(it->second); pumped.ok()) return;
    spdlog::warn("shard {} on node {}: snapshot stream to node {} failed reading the engine",
                 shard_, self_, from);
  } else {
    if (result == outcome::finished) ++sent_;
    spdlog::info("shard {} on node {}: snapshot stream to node {} {} after {} chunks", shard_,
                 self_, from, result == outcome::finished ? "installed" : "aborted",
                 it->second.sender.chunks_sent());
  }
  senders_.erase(it);
}

void snapshot_streams::tick(bool leading) {
  for (auto it = senders_.begin(); it != senders_.end();) {
    if (leading && it->second.sender.tick() == cluster::snapshot_sender::outcome::going) {
      ++it;
      continue;
    }
    spdlog::info("shard {} on node {}: snapshot stream to node {} aborted ({})", shard_, self_,
                 it->first, leading ? "no answer in time" : "no longer leader");
    it = senders_.erase(it);
  }
}

void snapshot_streams::send_ack(raft::node_id to, const cluster::snapshot_ack& ack) {
  outgoing_.push_back(snapshot_wire{shard_, to, true, cluster::encode_snapshot_ack(ack)});
}

status snapshot_streams::install(const cluster::snapshot_chunk& chunk) {
  write_batch batch;
  stage_marker(shard_, install_marker{chunk.meta.index, chunk.meta.term}, batch);
  if (status marked = engine_.write(batch); !marked.ok()) return marked;
  return finish_install(engine_, shard_);
}

snapshot_streams::received snapshot_streams::on_chunk(raft::node_id from,
                                                      std::string_view payload,
                                                      raft::term_t term, uint64_t applied) {
  received out;
  auto decoded = cluster::decode_snapshot_chunk(payload);
  if (!decoded.ok()) {
    spdlog::warn("shard {} on node {}: bad snapshot chunk from node {}: {}", shard_, self_, from,
                 decoded.error().to_string());
    return out;  // the leader's transfer times out
  }
  const cluster::snapshot_chunk& chunk = decoded.value();
  if (holds(chunk.meta.index, applied)) {
    receiver_.reset();
    send_ack(from, cluster::snapshot_ack{chunk.session, chunk.seq, false, true});
    out.step = cluster::snapshot_message_for(chunk, from, self_);
    return out;
  }
  using action = cluster::snapshot_receiver::action;
  const auto decision = receiver_.on_chunk(from, chunk, term);
  if (decision.what == action::reject) {
    send_ack(from, cluster::snapshot_ack{chunk.session, chunk.seq, true, false});
    return out;
  }
  if (decision.what == action::duplicate) {
    send_ack(from, receiver_.progress_ack());
    return out;
  }
  write_batch batch;
  if (decision.start) stage_clear_staging(shard_, batch);
  if (status staged = stage_items(shard_, chunk.items, batch); !staged.ok()) {
    spdlog::warn("shard {} on node {}: refused a snapshot chunk from node {}: {}", shard_, self_,
                 from, staged.to_string());
    receiver_.reset();
    send_ack(from, cluster::snapshot_ack{chunk.session, chunk.seq, true, false});
    return out;
  }
  if (status written = engine_.write(batch); !written.ok()) {
    out.error = written;
    return out;
  }
  if (!receiver_.staged(chunk)) {
    send_ack(from, receiver_.progress_ack());
    return out;
  }
  receiver_.reset();
  if (status installed = install(chunk); !installed.ok()) {
    out.error = installed;
    return out;
  }
  spdlog::info("shard {} on node {}: installed a snapshot from node {} (Raft index {}, {} chunks)",
               shard_, self_, from, chunk.meta.index, chunk.seq + 1);
  installed_ = std::max(installed_, chunk.meta.index);
  ++installed_count_;
  send_ack(from, cluster::snapshot_ack{chunk.session, chunk.seq, false, true});
  out.reopen = true;
  out.step = cluster::snapshot_message_for(chunk, from, self_);
  return out;
}

bool snapshot_streams::holds(raft::index_t index, uint64_t applied) const {
  return index <= std::max<uint64_t>(applied, installed_);
}

std::vector<snapshot_wire> snapshot_streams::take_outgoing() {
  std::vector<snapshot_wire> out;
  out.swap(outgoing_);
  return out;
}

}  // namespace velocity
