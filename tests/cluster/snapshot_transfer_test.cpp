// cluster/snapshot_transfer.hpp: the chunk and ack codec round-trips and
// refuses bad input; the sender keeps a bounded window and aborts on
// rejects, acks for chunks never sent and silence; the receiver stages only
// in order and refuses gaps, unknown sessions and deposed leaders.
#define CAF_SUITE snapshot_transfer
#include "caf/test/unit_test.hpp"

#include <string>
#include <vector>

#include "cluster/snapshot_transfer.hpp"
#include "command/keys.hpp"

using namespace velocity;
using namespace velocity::cluster;

namespace {

raft::snapshot_meta meta_at(raft::index_t index) {
  raft::snapshot_meta m;
  m.index = index;
  m.term = 2;
  m.conf.voters = {1, 2, 3};
  return m;
}

snapshot_chunk chunk(uint64_t session, uint64_t seq, bool last = false) {
  snapshot_chunk c;
  c.session = session;
  c.seq = seq;
  c.last = last;
  c.leader_term = 3;
  c.meta = meta_at(40);
  c.items = {stream_item{column::documents, keys::shard_prefix(5) + "k", std::string(10, 'v')}};
  return c;
}

}  // namespace

CAF_TEST(chunks and acks round trip through the codec) {
  snapshot_chunk c = chunk(9, 4, true);
  c.items.push_back(stream_item{column::meta, keys::shard_prefix(5) + "applied", "12345678"});
  auto decoded = decode_snapshot_chunk(encode_snapshot_chunk(c));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(decoded.value() == c);
  snapshot_ack a{9, 4, false, true};
  auto back = decode_snapshot_ack(encode_snapshot_ack(a));
  CAF_REQUIRE(back.ok());
  CAF_CHECK(back.value() == a);
}

CAF_TEST(the codec refuses malformed chunks) {
  CAF_CHECK_EQUAL(decode_snapshot_chunk("").error().code(), error_code::malformed);
  CAF_CHECK_EQUAL(decode_snapshot_chunk("12345").error().code(), error_code::malformed);
  CAF_CHECK_EQUAL(decode_snapshot_chunk(std::string(16, '\xff')).error().code(),
                  error_code::malformed);
  snapshot_chunk no_voter = chunk(1, 0);
  no_voter.meta.conf.voters.clear();
  CAF_CHECK_EQUAL(decode_snapshot_chunk(encode_snapshot_chunk(no_voter)).error().code(),
                  error_code::malformed);
  snapshot_chunk unsorted = chunk(1, 0);
  unsorted.meta.conf.voters = {3, 1};
  CAF_CHECK_EQUAL(decode_snapshot_chunk(encode_snapshot_chunk(unsorted)).error().code(),
                  error_code::malformed);
  snapshot_chunk bad_column = chunk(1, 0);
  bad_column.items[0].col = static_cast<column>(9);
  CAF_CHECK_EQUAL(decode_snapshot_chunk(encode_snapshot_chunk(bad_column)).error().code(),
                  error_code::malformed);
  snapshot_chunk stale_meta = chunk(1, 0);
  stale_meta.leader_term = 1;  // below the snapshot's term
  CAF_CHECK_EQUAL(decode_snapshot_chunk(encode_snapshot_chunk(stale_meta)).error().code(),
                  error_code::malformed);
  // A flipped byte inside a value is caught by the checksum.
  snapshot_chunk valued = chunk(1, 0);
  valued.items[0].value = std::string(64, 'v');
  std::string bytes = encode_snapshot_chunk(valued);
  const size_t at = bytes.find(std::string(64, 'v'));
  CAF_REQUIRE(at != std::string::npos);
  bytes[at + 10] = 'w';
  CAF_CHECK_EQUAL(decode_snapshot_chunk(bytes).error().code(), error_code::corruption);
  // Every truncation of a valid chunk is refused or decodes, never crashes.
  const std::string good = encode_snapshot_chunk(chunk(1, 0));
  for (size_t n = 0; n < good.size(); n += 8) (void)decode_snapshot_chunk(good.substr(0, n));
}

CAF_TEST(the rebuilt raft message is the metadata only snapshot the core sends) {
  raft::message m = snapshot_message_for(chunk(1, 0), 1, 2);
  CAF_CHECK(m.type == raft::message_type::snapshot_chunk);
  CAF_CHECK_EQUAL(m.term, 3u);
  CAF_CHECK(m.snap_meta == meta_at(40));
  CAF_CHECK(m.snap_done);
  CAF_CHECK(m.snap_data.empty());
  CAF_CHECK_EQUAL(m.snap_total_bytes, 0u);
}

CAF_TEST(the sender keeps at most the window in flight and finishes on installed) {
  transfer_limits limits;
  limits.chunks_in_flight_max = 2;
  snapshot_sender s(2, 77, 3, meta_at(40), limits);
  CAF_REQUIRE(s.window_open());
  auto c0 = s.next_chunk({}, false);
  auto c1 = s.next_chunk({}, false);
  CAF_CHECK_EQUAL(c0.seq, 0u);
  CAF_CHECK_EQUAL(c1.seq, 1u);
  CAF_CHECK(!s.window_open());
  CAF_CHECK(s.on_ack({77, 0, false, false}) == snapshot_sender::outcome::going);
  CAF_CHECK(s.window_open());
  auto c2 = s.next_chunk({}, true);
  CAF_CHECK(c2.last);
  CAF_CHECK(!s.window_open());  // the last chunk is out
  CAF_CHECK(s.on_ack({77, 0, false, false}) == snapshot_sender::outcome::going);  // duplicate
  CAF_CHECK(s.on_ack({76, 9, false, false}) == snapshot_sender::outcome::going);  // old session
  CAF_CHECK(s.on_ack({77, 2, false, false}) == snapshot_sender::outcome::going);
  CAF_CHECK(s.on_ack({77, 2, false, true}) == snapshot_sender::outcome::finished);
}

CAF_TEST(the sender aborts on a reject an ack from the future and silence) {
  snapshot_sender rejected(2, 1, 3, meta_at(40));
  (void)rejected.next_chunk({}, false);
  CAF_CHECK(rejected.on_ack({1, 0, true, false}) == snapshot_sender::outcome::aborted);
  snapshot_sender future(2, 1, 3, meta_at(40));
  (void)future.next_chunk({}, false);
  CAF_CHECK(future.on_ack({1, 5, false, false}) == snapshot_sender::outcome::aborted);
  transfer_limits limits;
  limits.ack_timeout_ticks = 3;
  limits.install_timeout_ticks = 6;
  snapshot_sender silent(2, 1, 3, meta_at(40), limits);
  (void)silent.next_chunk({}, false);
  CAF_CHECK(silent.tick() == snapshot_sender::outcome::going);
  CAF_CHECK(silent.tick() == snapshot_sender::outcome::going);
  CAF_CHECK(silent.tick() == snapshot_sender::outcome::aborted);
  snapshot_sender installing(2, 1, 3, meta_at(40), limits);
  (void)installing.next_chunk({}, true);
  CAF_CHECK(installing.on_ack({1, 0, false, false}) == snapshot_sender::outcome::going);
  for (int i = 0; i < 5; ++i) CAF_CHECK(installing.tick() == snapshot_sender::outcome::going);
  CAF_CHECK(installing.tick() == snapshot_sender::outcome::aborted);
}

CAF_TEST(the receiver stages in order and refuses gaps sessions and deposed leaders) {
  snapshot_receiver r;
  auto first = r.on_chunk(1, chunk(5, 0), 3);
  CAF_CHECK(first.what == snapshot_receiver::action::stage);
  CAF_CHECK(first.start);
  CAF_CHECK(!r.staged(chunk(5, 0)));
  CAF_CHECK(r.on_chunk(1, chunk(5, 0), 3).what == snapshot_receiver::action::stage);  // restart
  CAF_CHECK(!r.staged(chunk(5, 0)));
  CAF_CHECK(r.on_chunk(1, chunk(6, 1), 3).what == snapshot_receiver::action::reject);
  CAF_CHECK(r.on_chunk(2, chunk(5, 1), 3).what == snapshot_receiver::action::reject);
  CAF_CHECK(r.on_chunk(1, chunk(5, 1), 3).what == snapshot_receiver::action::stage);
  CAF_CHECK(r.staged(chunk(5, 1, true)) == true);
  CAF_CHECK_EQUAL(r.progress_ack().seq, 1u);
  CAF_CHECK(r.on_chunk(1, chunk(5, 1), 3).what == snapshot_receiver::action::duplicate);
  CAF_CHECK(r.on_chunk(1, chunk(5, 3), 3).what == snapshot_receiver::action::reject);  // gap
  CAF_CHECK(!r.active());
  CAF_CHECK(r.on_chunk(1, chunk(5, 0), 4).what == snapshot_receiver::action::reject);  // stale term
}
