// SWIM messages <-> Cap'n Proto (see message_codec.hpp and
// protocols/gossip.capnp).
//
// Decoding is the edge where another node's bytes become swim::message
// values, so nothing is trusted: the bytes must be a whole number of words
// forming exactly one message within the traversal and nesting limits; every
// enum value must be one this build knows (an unknown value would otherwise
// become an out-of-range C++ enum); list lengths are checked before anything
// is reserved (a list of zero-sized structs costs almost nothing on the
// wire). Cap'n Proto exceptions become malformed.
//
// Thread safety: pure functions.
#include "cluster/swim/message_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <exception>
#include <utility>

#include "protocols/capnp_message.hpp"
#include "protocols/gossip.capnp.h"
#include "schema/document_codec.hpp"

namespace velocity::swim {

namespace {

constexpr size_t word_bytes = sizeof(capnp::word);
constexpr uint64_t traversal_words_max = (gossip_message_bytes_max / word_bytes) * 2;

// The C++ enums and the wire enums agree value for value.
static_assert(static_cast<uint16_t>(wire::GossipMessageType::LEAVE) == message_type_max);
static_assert(static_cast<uint16_t>(wire::GossipMessageType::PUSH_PULL) ==
              static_cast<uint16_t>(message_type::push_pull));
static_assert(static_cast<uint16_t>(wire::MemberState::LEFT) ==
              static_cast<uint16_t>(member_state::left));

status malformed(std::string message) { return status{error_code::malformed, std::move(message)}; }

capnp::Data::Reader bytes_of(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

void write_rumor(const rumor& r, wire::MemberUpdate::Builder out) {
  out.setMember(r.about.id);
  out.setIncarnation(r.about.incarnation);
  out.setState(static_cast<wire::MemberState>(r.about.state));
  out.setMetaVersion(r.about.meta_version);
  out.setMeta(bytes_of(r.about.meta));
  out.setSource(r.source);
}

status_or<rumor> read_rumor(wire::MemberUpdate::Reader in, size_t index) {
  const std::string where = "updates[" + std::to_string(index) + "].";
  const auto state = static_cast<uint16_t>(in.getState());
  if (state > static_cast<uint16_t>(member_state::left))
    return malformed(where + "state: unknown value " + std::to_string(state));
  if (in.getMember() == 0) return malformed(where + "member: 0 is no member");
  const auto meta = in.getMeta();
  if (meta.size() > meta_bytes_max)
    return malformed(where + "meta: " + std::to_string(meta.size()) + " bytes exceed " +
                     std::to_string(meta_bytes_max));
  rumor r;
  r.about.id = in.getMember();
  r.about.incarnation = in.getIncarnation();
  r.about.state = static_cast<member_state>(state);
  r.about.meta_version = in.getMetaVersion();
  r.about.meta.assign(reinterpret_cast<const char*>(meta.begin()), meta.size());
  r.source = in.getSource();
  return r;
}

status_or<message> read_message(wire::GossipMessage::Reader in) {
  const auto type = static_cast<uint16_t>(in.getType());
  if (type > message_type_max) return malformed("type: unknown value " + std::to_string(type));
  const auto updates = in.getUpdates();
  if (updates.size() > updates_per_message_max)
    return malformed("updates: " + std::to_string(updates.size()) + " exceed " +
                     std::to_string(updates_per_message_max));
  message m;
  m.type = static_cast<message_type>(type);
  m.from = in.getFrom();
  m.to = in.getTo();
  m.sequence = in.getSequence();
  m.target = in.getTarget();
  m.join = in.getJoin();
  m.rumors.reserve(updates.size());
  for (unsigned i = 0; i < updates.size(); ++i) {
    auto r = read_rumor(updates[i], i);
    if (!r.ok()) return r.error();
    m.rumors.push_back(std::move(r).value());
  }
  return m;
}

}  // namespace

std::string encode_swim_message(const message& m) {
  message_builder scratch;
  auto out = scratch.init_root<wire::GossipMessage>();
  out.setType(static_cast<wire::GossipMessageType>(m.type));
  out.setFrom(m.from);
  out.setTo(m.to);
  out.setSequence(m.sequence);
  out.setTarget(m.target);
  out.setJoin(m.join);
  auto updates = out.initUpdates(static_cast<unsigned>(m.rumors.size()));
  for (size_t i = 0; i < m.rumors.size(); ++i)
    write_rumor(m.rumors[i], updates[static_cast<unsigned>(i)]);
  return scratch.flat();
}

status_or<message> decode_swim_message(std::string_view bytes) {
  if (bytes.size() > gossip_message_bytes_max)
    return status{error_code::too_large, "gossip message of " + std::to_string(bytes.size()) +
                                             " bytes exceeds " +
                                             std::to_string(gossip_message_bytes_max)};
  if (bytes.empty() || bytes.size() % word_bytes != 0)
    return malformed("gossip message size " + std::to_string(bytes.size()) +
                     " is not a non-zero multiple of 8 bytes");
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(bytes, copy);
  try {
    capnp::FlatArrayMessageReader reader(array, codec_reader_options(traversal_words_max));
    if (reader.getEnd() != array.end())
      return malformed("gossip message has bytes after the message");
    return read_message(reader.getRoot<wire::GossipMessage>());
  } catch (const kj::Exception& e) {
    return malformed(std::string{"gossip message is malformed: "} + e.getDescription().cStr());
  } catch (const std::exception& e) {
    return malformed(std::string{"gossip message is malformed: "} + e.what());
  }
}

}  // namespace velocity::swim
