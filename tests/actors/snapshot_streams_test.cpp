// actors/snapshot_stream.hpp between two engines, without CAF: the leader's
// core snapshot message becomes a stream of small chunks with at most the
// window unacknowledged; the follower installs it byte-identical and only
// then hands back the Raft message to step; a lost chunk aborts the transfer
// and the next core resend starts a new one that completes; a leader that
// loses its role drops its transfers.
#define CAF_SUITE snapshot_streams
#include "caf/test/unit_test.hpp"

#include <deque>
#include <string>

#include "actors/snapshot_stream.hpp"
#include "storage/memory_engine.hpp"
#include "storage/shard_dump.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

constexpr uint32_t shard = 2;
constexpr size_t chunk_bytes = 300;

void fill(engine& e, const std::string& prefix, int documents) {
  state_machine sm(e, shard);
  CAF_REQUIRE(sm.open().ok());
  collection_schema schema;
  schema.collection = "jobs";
  schema.fields = {field_spec{"v", field_type::string, false, std::nullopt}};
  schema.indexes = {index_spec{"by_v", {"v"}, false}};
  uint64_t index = 0;
  CAF_REQUIRE(sm.apply(++index, cmd::create_schema{schema, 1}).ok());
  for (int i = 0; i < documents; ++i) {
    cmd::insert insert{"jobs", prefix + std::to_string(i),
                       value_map{{"v", value{prefix + std::string(30, 'x')}}}, 2};
    CAF_REQUIRE(sm.apply(++index, insert).ok());
  }
}

raft::message core_snapshot_message() {
  raft::message m;
  m.type = raft::message_type::snapshot_chunk;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.snap_meta.index = 25;
  m.snap_meta.term = 2;
  m.snap_meta.conf.voters = {1, 2, 3};
  m.snap_done = true;
  return m;
}

struct pair_of_replicas {
  memory_engine leader_disk;
  memory_engine follower_disk;
  snapshot_streams leader{leader_disk, shard, 1, 100, chunk_bytes};
  snapshot_streams follower{follower_disk, shard, 2, 200, chunk_bytes};
  std::deque<snapshot_wire> to_follower;
  size_t unacked_max = 0;
  size_t chunks = 0;
  std::optional<raft::message> stepped;
  bool reopened = false;

  void collect_leader() {
    for (auto& out : leader.take_outgoing()) {
      CAF_CHECK(!out.ack);
      CAF_CHECK_EQUAL(out.peer, 2u);
      to_follower.push_back(std::move(out));
    }
    unacked_max = std::max(unacked_max, to_follower.size());
  }

  // Delivers the follower one chunk (dropping it when `drop`), and the
  // leader its answers.
  void deliver_one(bool drop = false) {
    snapshot_wire in = std::move(to_follower.front());
    to_follower.pop_front();
    ++chunks;
    if (drop) return;
    state_machine sm(follower_disk, shard);
    CAF_REQUIRE(sm.open().ok());
    auto got = follower.on_chunk(1, in.payload, 3, sm.applied_index());
    CAF_REQUIRE(got.error.ok());
    if (got.step) stepped = got.step;
    reopened |= got.reopen;
    for (auto& out : follower.take_outgoing()) {
      CAF_CHECK(out.ack);
      leader.on_ack(2, out.payload);
    }
    collect_leader();
  }
};

}  // namespace

CAF_TEST(a stream installs the leader shard byte identical within its window) {
  pair_of_replicas p;
  fill(p.leader_disk, "new", 40);
  fill(p.follower_disk, "old", 10);
  p.leader.on_core_snapshot(core_snapshot_message());
  p.collect_leader();
  CAF_CHECK_EQUAL(p.to_follower.size(), cluster::snapshot_chunks_in_flight_max);
  p.leader.on_core_snapshot(core_snapshot_message());  // the core resends: nothing new
  p.collect_leader();
  CAF_CHECK_EQUAL(p.to_follower.size(), cluster::snapshot_chunks_in_flight_max);
  while (!p.to_follower.empty()) {
    CAF_CHECK(!p.stepped.has_value());  // never before the install
    p.deliver_one();
  }
  CAF_CHECK(p.chunks > 10u);
  CAF_CHECK(p.unacked_max <= cluster::snapshot_chunks_in_flight_max);
  CAF_REQUIRE(p.stepped.has_value());
  CAF_CHECK(p.reopened);
  raft::message expected = core_snapshot_message();
  raft::message stepped = *p.stepped;
  CAF_CHECK(stepped == expected);
  auto got = dump_shard(p.follower_disk, shard).value();
  auto want = dump_shard(p.leader_disk, shard).value();
  CAF_CHECK_EQUAL(got, want);
  CAF_CHECK_EQUAL(p.leader.transfers(), 0u);  // the installed ack ended it
  CAF_CHECK(p.follower.holds(25, 0));
  CAF_CHECK_EQUAL(p.leader.sent(), 1u);
  CAF_CHECK_EQUAL(p.follower.installed(), 1u);
  CAF_CHECK_EQUAL(p.follower.sent(), 0u);
}

CAF_TEST(a lost chunk aborts the transfer and the next resend completes) {
  pair_of_replicas p;
  fill(p.leader_disk, "new", 40);
  fill(p.follower_disk, "old", 10);
  const std::string old_dump = dump_shard(p.follower_disk, shard).value();
  p.leader.on_core_snapshot(core_snapshot_message());
  p.collect_leader();
  p.deliver_one();
  p.deliver_one(true);  // lost
  p.deliver_one();      // a gap: the follower rejects, the leader aborts
  CAF_CHECK_EQUAL(p.leader.transfers(), 0u);
  p.to_follower.clear();  // what was still in flight
  auto unchanged = dump_shard(p.follower_disk, shard).value();
  CAF_CHECK_EQUAL(unchanged, old_dump);  // staged, not installed
  CAF_CHECK(!p.stepped.has_value());
  p.leader.on_core_snapshot(core_snapshot_message());
  p.collect_leader();
  while (!p.to_follower.empty()) p.deliver_one();
  CAF_CHECK(p.stepped.has_value());
  auto got = dump_shard(p.follower_disk, shard).value();
  auto want = dump_shard(p.leader_disk, shard).value();
  CAF_CHECK_EQUAL(got, want);
}

CAF_TEST(a leader that loses its role or hears nothing drops its transfers) {
  pair_of_replicas p;
  fill(p.leader_disk, "new", 40);
  p.leader.on_core_snapshot(core_snapshot_message());
  CAF_CHECK_EQUAL(p.leader.transfers(), 1u);
  p.leader.tick(true);
  CAF_CHECK_EQUAL(p.leader.transfers(), 1u);
  p.leader.tick(false);
  CAF_CHECK_EQUAL(p.leader.transfers(), 0u);
  p.leader.on_core_snapshot(core_snapshot_message());
  for (uint32_t i = 0; i < cluster::transfer_limits{}.ack_timeout_ticks; ++i) p.leader.tick(true);
  CAF_CHECK_EQUAL(p.leader.transfers(), 0u);
}

CAF_TEST(a follower that already holds the snapshot steps it at once) {
  pair_of_replicas p;
  fill(p.leader_disk, "new", 40);
  fill(p.follower_disk, "mine", 30);  // applied index 31 >= 25
  const std::string mine = dump_shard(p.follower_disk, shard).value();
  p.leader.on_core_snapshot(core_snapshot_message());
  p.collect_leader();
  p.deliver_one();
  CAF_CHECK(p.stepped.has_value());
  CAF_CHECK(!p.reopened);
  CAF_CHECK_EQUAL(p.leader.transfers(), 0u);
  auto after = dump_shard(p.follower_disk, shard).value();
  CAF_CHECK_EQUAL(after, mine);
}

CAF_TEST(garbage from a peer is ignored) {
  pair_of_replicas p;
  auto got = p.follower.on_chunk(1, "not a chunk", 3, 0);
  CAF_CHECK(got.error.ok());
  CAF_CHECK(!got.step.has_value());
  CAF_CHECK(p.follower.take_outgoing().empty());
  p.leader.on_ack(2, "not an ack");
  CAF_CHECK_EQUAL(p.leader.transfers(), 0u);
}
