// Unit tests of cluster/raft/message_codec: every message type round trips
// with every field set, and bytes that are not a valid batch (garbage,
// truncation, unknown enum values, ill-formed memberships, oversize input)
// give an error value, never a crash or an out-of-range enum.
#define CAF_SUITE raft_message_codec
#include "caf/test/unit_test.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cluster/raft/message_codec.hpp"
#include "protocols/raft.capnp.h"

using namespace velocity;
using namespace velocity::raft;

namespace {

constexpr uint16_t message_type_count = 12;

// A message of `type` with every field away from its default.
message full_message(message_type type, uint64_t seed) {
  message m;
  m.type = type;
  m.from = 1 + seed;
  m.to = 0x0102030405060708ULL + seed;
  m.term = 9 + seed;
  m.log_term = 8 + seed;
  m.index = 1000 + seed;
  m.entries = {entry{8, 1001 + seed, entry_kind::normal, std::string("a\0b\xff", 4)},
               entry{9, 1002 + seed, entry_kind::conf_change,
                     encode_conf_change({conf_change::kind::add_learner, 7})},
               entry{9, 1003 + seed, entry_kind::normal, ""}};
  m.commit = 999 + seed;
  m.reject = true;
  m.reject_hint = 500 + seed;
  m.context = 0xfedcba9876543210ULL - seed;
  m.force = true;
  m.snap_meta = snapshot_meta{400 + seed, 7, membership{{1, 2, 3}, {5, 0xffffffffffffffffULL}}};
  m.snap_offset = 65536;
  m.snap_total_bytes = 1 << 20;
  m.snap_data = std::string("\0snapshot\x80", 10);
  m.snap_done = true;
  return m;
}

std::string flatten(capnp::MallocMessageBuilder& builder) {
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// A one-message batch built on the wire types directly, so a test can write
// values encode_raft_batch never would.
struct raw_batch {
  capnp::MallocMessageBuilder builder;
  wire::RaftMessage::Builder message = builder.initRoot<wire::RaftBatch>()
                                           .initGroups(1)[0]
                                           .initMessages(1)[0];
};

error_code code_of(std::string_view bytes) {
  return decode_raft_batch(bytes).to_status().code();
}

}  // namespace

CAF_TEST(every message type round trips with every field set) {
  std::vector<shard_messages> batch{{3, {}}, {0xffffffffu, {}}};
  for (uint16_t t = 0; t < message_type_count; ++t) {
    batch[t % 2].messages.push_back(full_message(static_cast<message_type>(t), t));
  }
  auto decoded = decode_raft_batch(encode_raft_batch(batch));
  CAF_REQUIRE(decoded.ok());
  CAF_REQUIRE_EQUAL(decoded->size(), 2u);
  CAF_CHECK_EQUAL((*decoded)[0].messages.size(), 6u);
  CAF_CHECK_EQUAL((*decoded)[1].messages.size(), 6u);
  CAF_CHECK((*decoded)[1].shard == 0xffffffffu);
  CAF_CHECK(*decoded == batch);
}

CAF_TEST(default messages empty groups and an empty batch round trip) {
  std::vector<shard_messages> batch{{1, {message{}}}, {2, {}}};
  auto decoded = decode_raft_batch(encode_raft_batch(batch));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(*decoded == batch);
  auto empty = decode_raft_batch(encode_raft_batch({}));
  CAF_REQUIRE(empty.ok());
  CAF_CHECK(empty->empty());
}

CAF_TEST(a batch at an unaligned address decodes the same) {
  std::vector<shard_messages> batch{{4, {full_message(message_type::append, 0)}}};
  std::string shifted = "x" + encode_raft_batch(batch);
  auto decoded = decode_raft_batch(std::string_view(shifted).substr(1));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(*decoded == batch);
}

CAF_TEST(bytes that are not one whole message are malformed) {
  std::string good = encode_raft_batch({{1, {full_message(message_type::vote, 0)}}});
  CAF_CHECK(code_of("") == error_code::malformed);
  CAF_CHECK(code_of("1234567") == error_code::malformed);
  CAF_CHECK(code_of(good.substr(0, good.size() - 1)) == error_code::malformed);
  CAF_CHECK(code_of(good.substr(0, good.size() - 8)) == error_code::malformed);
  CAF_CHECK(code_of(good + std::string(8, '\0')) == error_code::malformed);
  CAF_CHECK(code_of(std::string(16, '\xff')) == error_code::malformed);
}

CAF_TEST(input beyond the batch limit is too large before it is read) {
  std::string huge(raft_batch_bytes_max + 8, '\0');
  CAF_CHECK(code_of(huge) == error_code::too_large);
}

CAF_TEST(random garbage gives an error or a well formed batch and never crashes) {
  const uint64_t seed = 20261202;  // fixed: a failure reproduces exactly
  CAF_MESSAGE("seed " << seed);
  std::mt19937_64 random(seed);
  std::string good = encode_raft_batch({{1, {full_message(message_type::append, 0)}}});
  size_t errors = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = good;
    // Flip a few bytes of a valid batch: pointers, sizes and enum values break.
    for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips)
      bytes[random() % bytes.size()] = static_cast<char>(random());
    auto decoded = decode_raft_batch(bytes);
    if (!decoded.ok()) {
      CAF_CHECK(decoded.error().code() == error_code::malformed);
      ++errors;
      continue;
    }
    for (const auto& group : *decoded)
      for (const auto& m : group.messages) {
        CAF_CHECK(static_cast<uint16_t>(m.type) < message_type_count);
        CAF_CHECK(well_formed(m.snap_meta.conf));
        for (const auto& e : m.entries) CAF_CHECK(static_cast<uint16_t>(e.kind) <= 1);
      }
  }
  CAF_CHECK(errors > 0);
}

CAF_TEST(an unknown message type is malformed) {
  raw_batch raw;
  raw.message.setType(static_cast<wire::RaftMessageType>(message_type_count));
  auto decoded = decode_raft_batch(flatten(raw.builder));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::malformed);
  CAF_CHECK(decoded.error().message().find("message.type") != std::string::npos);
}

CAF_TEST(an unknown entry kind is malformed) {
  raw_batch raw;
  raw.message.initEntries(1)[0].setKind(static_cast<wire::RaftEntryKind>(2));
  auto decoded = decode_raft_batch(flatten(raw.builder));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::malformed);
  CAF_CHECK(decoded.error().message().find("entry.kind") != std::string::npos);
}

CAF_TEST(a membership that is not well formed is malformed) {
  auto with_conf = [](std::vector<uint64_t> voters, std::vector<uint64_t> learners) {
    raw_batch raw;
    auto meta = raw.message.initSnapMeta();
    auto v = meta.initVoters(static_cast<unsigned>(voters.size()));
    for (unsigned i = 0; i < voters.size(); ++i) v.set(i, voters[i]);
    auto l = meta.initLearners(static_cast<unsigned>(learners.size()));
    for (unsigned i = 0; i < learners.size(); ++i) l.set(i, learners[i]);
    return code_of(flatten(raw.builder));
  };
  CAF_CHECK(with_conf({1, 2}, {3}) == error_code::ok);
  CAF_CHECK(with_conf({2, 1}, {}) == error_code::malformed);     // unsorted
  CAF_CHECK(with_conf({1, 1}, {}) == error_code::malformed);     // duplicate
  CAF_CHECK(with_conf({0, 1}, {}) == error_code::malformed);     // node 0
  CAF_CHECK(with_conf({1, 2}, {2}) == error_code::malformed);    // voter and learner
}
