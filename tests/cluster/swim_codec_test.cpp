// The SWIM message codec (cluster/swim/message_codec.hpp): every message type
// round-trips, and bytes that are not a message the core could have sent are
// refused as values (never a crash): sizes, trailing bytes, unknown enum
// values, member 0, oversized metadata, too many updates, corruption.
#define CAF_SUITE swim_codec
#include "caf/test/unit_test.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <random>
#include <string>

#include "cluster/swim/message_codec.hpp"
#include "protocols/capnp_message.hpp"
#include "protocols/gossip.capnp.h"

using namespace velocity;
using namespace velocity::swim;

namespace {

message sample(message_type type) {
  message m;
  m.type = type;
  m.from = 7;
  m.to = 9;
  m.sequence = 123456789012345ULL;
  m.target = 11;
  m.join = type == message_type::push_pull;
  m.rumors.push_back(rumor{update{7, 3, member_state::alive, 2, "addr=10.0.0.7:7000"}, 0});
  m.rumors.push_back(rumor{update{11, 1, member_state::suspect, 0, {}}, 9});
  m.rumors.push_back(rumor{update{12, 0, member_state::dead, 0, {}}, 7});
  m.rumors.push_back(rumor{update{13, 4, member_state::left, 0, {}}, 0});
  return m;
}

// A GossipMessage with one update, built field by field so tests can set
// values the encoder never writes.
std::string raw(uint16_t type, uint64_t member, uint16_t state, size_t meta_bytes) {
  capnp::MallocMessageBuilder builder;
  auto m = builder.initRoot<wire::GossipMessage>();
  m.setType(static_cast<wire::GossipMessageType>(type));
  m.setFrom(1);
  m.setTo(2);
  auto u = m.initUpdates(1)[0];
  u.setMember(member);
  u.setState(static_cast<wire::MemberState>(state));
  std::string meta(meta_bytes, 'x');
  u.setMeta(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(meta.data()), meta.size()));
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

error_code code_of(std::string_view bytes) {
  auto decoded = decode_swim_message(bytes);
  CAF_REQUIRE(!decoded.ok());
  return decoded.error().code();
}

}  // namespace

CAF_TEST(every message type survives a round trip) {
  for (uint8_t t = 0; t <= message_type_max; ++t) {
    const message m = sample(static_cast<message_type>(t));
    auto decoded = decode_swim_message(encode_swim_message(m));
    CAF_REQUIRE(decoded.ok());
    CAF_CHECK(decoded.value() == m);
  }
  message empty;  // no rumors, all defaults
  auto decoded = decode_swim_message(encode_swim_message(empty));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(decoded.value() == empty);
}

CAF_TEST(a whole table of a thousand members round-trips) {
  message m;
  m.type = message_type::push_pull_reply;
  m.from = 1;
  m.to = 2;
  for (member_id id = 1; id <= 1000; ++id)
    m.rumors.push_back(rumor{update{id, id % 5, member_state::alive, 1, std::string(64, 'm')}, 0});
  auto decoded = decode_swim_message(encode_swim_message(m));
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK(decoded.value() == m);
}

CAF_TEST(bytes of the wrong size are refused) {
  CAF_CHECK(code_of("") == error_code::malformed);
  CAF_CHECK(code_of("1234567") == error_code::malformed);
  CAF_CHECK(code_of(std::string(gossip_message_bytes_max + 8, '\0')) == error_code::too_large);
  std::string good = encode_swim_message(sample(message_type::ping));
  CAF_CHECK(code_of(good + std::string(8, '\0')) == error_code::malformed);  // trailing bytes
  CAF_CHECK(code_of(good.substr(0, good.size() - 8)) == error_code::malformed);  // truncated
}

CAF_TEST(unknown enum values member zero and oversized metadata are refused) {
  CAF_CHECK(decode_swim_message(raw(7, 5, 3, 10)).ok());  // the largest known values
  CAF_CHECK(code_of(raw(8, 5, 0, 0)) == error_code::malformed);
  CAF_CHECK(code_of(raw(0, 5, 4, 0)) == error_code::malformed);
  CAF_CHECK(code_of(raw(0, 0, 0, 0)) == error_code::malformed);
  CAF_CHECK(decode_swim_message(raw(0, 5, 0, meta_bytes_max)).ok());
  CAF_CHECK(code_of(raw(0, 5, 0, meta_bytes_max + 1)) == error_code::malformed);
}

CAF_TEST(more updates than a message may hold are refused) {
  capnp::MallocMessageBuilder builder;
  auto m = builder.initRoot<wire::GossipMessage>();
  auto updates = m.initUpdates(static_cast<unsigned>(updates_per_message_max + 1));
  for (unsigned i = 0; i < updates.size(); ++i) updates[i].setMember(i + 1);
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  auto decoded =
      decode_swim_message(std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
  CAF_REQUIRE(!decoded.ok());
  CAF_CHECK(decoded.error().code() == error_code::malformed);
}

CAF_TEST(corrupted bytes are refused or decoded but never crash) {
  const std::string good = encode_swim_message(sample(message_type::push_pull));
  std::mt19937_64 random{20261202};
  size_t refused = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < flips; ++i)
      bad[random() % bad.size()] = static_cast<char>(random() & 0xff);
    auto decoded = decode_swim_message(bad);
    if (!decoded.ok()) {
      ++refused;
      CAF_CHECK(decoded.error().code() == error_code::malformed);
      continue;
    }
    for (const rumor& r : decoded.value().rumors) {  // what passes is in range
      CAF_CHECK(r.about.id != 0);
      CAF_CHECK(static_cast<uint8_t>(r.about.state) <= 3);
      CAF_CHECK(r.about.meta.size() <= meta_bytes_max);
    }
  }
  CAF_CHECK_GREATER(refused, 0u);
}
