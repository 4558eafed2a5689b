// ClientRequest / ClientResponse payloads <-> client_request / client_response
// (protocols/client.capnp). The one edge where client bytes become values:
// limits are applied before any field is read and every Cap'n Proto exception
// is caught here, so bad bytes become a status, never a crash.
//
// The partition value travels as an embedded wire::Value, read and written by
// the document codec's builder-level functions (one value reader in the system).
//
// Thread safety: pure functions.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "actors/transport.hpp"
#include "command/command_codec.hpp"
#include "protocols/capnp_message.hpp"
#include "protocols/client.capnp.h"
#include "protocols/limits.hpp"
#include "schema/document_codec.hpp"

namespace velocity {
namespace {

constexpr size_t word_bytes = sizeof(capnp::word);

// A list reply carries many documents: allow twice the frame's words (room for
// shared structure), bounded because the frame itself is bounded.
capnp::ReaderOptions reader_options(size_t payload_bytes) {
  return codec_reader_options(
      std::max<uint64_t>(limits::capnp_traversal_words_max, 2 * payload_bytes / word_bytes));
}

// A frame holds exactly one message and nothing after it (docs/protocol.md).
status trailing_bytes_error(const char* what, size_t trailing_bytes) {
  return status{error_code::malformed, std::string{what} + " has " +
                                           std::to_string(trailing_bytes) +
                                           " bytes after its message"};
}

// Runs read(reader, trailing_bytes) over payload with alignment, size and
// exception checks; trailing_bytes counts the frame's bytes after the message
// (read decides when to report them, e.g. after reading the request id).
template <class Result, class Read>
status_or<Result> with_reader(std::string_view payload, const char* what, Read read) {
  if (payload.empty() || payload.size() % word_bytes != 0)
    return status{error_code::malformed, std::string{what} + " size " +
                                             std::to_string(payload.size()) +
                                             " is not a non-zero multiple of 8 bytes"};
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> array = message_words(payload, copy);
  try {
    capnp::FlatArrayMessageReader reader(array, reader_options(payload.size()));
    auto trailing_bytes = static_cast<size_t>(array.end() - reader.getEnd()) * word_bytes;
    return read(reader, trailing_bytes);
  } catch (const kj::Exception& e) {
    return status{error_code::malformed,
                  std::string{what} + " is malformed: " + e.getDescription().cStr()};
  } catch (const std::exception& e) {
    return status{error_code::malformed, std::string{what} + " is malformed: " + e.what()};
  }
}

wire::Consistency to_wire(consistency level) {
  switch (level) {
    case consistency::strong: return wire::Consistency::STRONG;
    case consistency::quorum: return wire::Consistency::QUORUM;
    case consistency::eventual: return wire::Consistency::EVENTUAL;
    case consistency::local: return wire::Consistency::LOCAL;
  }
  return wire::Consistency::DEFAULT;
}

status_or<consistency> from_wire(wire::Consistency level) {
  switch (level) {
    case wire::Consistency::DEFAULT:
    case wire::Consistency::STRONG: return consistency::strong;
    case wire::Consistency::QUORUM: return consistency::quorum;
    case wire::Consistency::EVENTUAL: return consistency::eventual;
    case wire::Consistency::LOCAL: return consistency::local;
  }
  return status{error_code::invalid_consistency,
                "unknown consistency level " + std::to_string(static_cast<int>(level))};
}

status_or<client_request> read_request(wire::ClientRequest::Reader in) {
  client_request out;
  out.request_id = in.getRequestId();
  auto level = from_wire(in.getConsistency());
  if (!level.ok()) return level.error();
  out.level = level.value();
  out.timeout_ms = in.getTimeoutMs();
  if (in.hasPartition() && in.getPartition().which() != wire::Value::NULL_) {
    auto partition = read_value(in.getPartition(), error_code::malformed);
    if (!partition.ok()) return partition.error();
    out.partition = std::move(partition).value();
  }
  switch (in.which()) {
    case wire::ClientRequest::COMMAND: {
      auto c = read_command(in.getCommand());
      if (!c.ok()) return c.error();
      out.body = std::move(c).value();
      return out;
    }
    case wire::ClientRequest::HEALTH: out.body = health_request{}; return out;
    case wire::ClientRequest::STATUS: out.body = status_request{}; return out;
    case wire::ClientRequest::GET_SCHEMA:
      out.body = get_schema_request{std::string{in.getGetSchema().cStr()}};
      return out;
  }
  return status{error_code::invalid_argument, "unsupported request kind " +
                                                  std::to_string(static_cast<int>(in.which()))};
}

}  // namespace

std::string encode_client_request(const client_request& request) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  auto out = message.initRoot<wire::ClientRequest>();
  out.setRequestId(request.request_id);
  out.setConsistency(to_wire(request.level));
  out.setTimeoutMs(request.timeout_ms);
  if (request.partition) write_value(*request.partition, out.initPartition());
  if (const auto* c = std::get_if<command>(&request.body)) {
    write_command(*c, out.initCommand());
  } else if (std::holds_alternative<health_request>(request.body)) {
    out.setHealth();
  } else if (std::holds_alternative<status_request>(request.body)) {
    out.setStatus();
  } else {
    out.setGetSchema(std::get<get_schema_request>(request.body).collection);
  }
  return builder.flat();
}

status_or<client_request> decode_client_request(std::string_view payload,
                                                std::optional<uint64_t>& request_id) {
  request_id.reset();
  return with_reader<client_request>(
      payload, "request",
      [&](capnp::MessageReader& reader, size_t trailing_bytes) -> status_or<client_request> {
        auto root = reader.getRoot<wire::ClientRequest>();
        request_id = root.getRequestId();
        if (trailing_bytes != 0) return trailing_bytes_error("request", trailing_bytes);
        return read_request(root);
      });
}

std::string encode_client_response(const client_response& response) {
  message_builder builder;
  capnp::MessageBuilder& message = builder.get();
  auto out = message.initRoot<wire::ClientResponse>();
  out.setRequestId(response.request_id);
  write_reply(response.result, out.initReply());
  out.setText(response.text);
  out.setLeaderHint(response.leader_hint);
  return builder.flat();
}

status_or<client_response> decode_client_response(std::string_view payload) {
  return with_reader<client_response>(
      payload, "response",
      [](capnp::MessageReader& reader, size_t trailing_bytes) -> status_or<client_response> {
        if (trailing_bytes != 0) return trailing_bytes_error("response", trailing_bytes);
        auto root = reader.getRoot<wire::ClientResponse>();
        client_response out;
        out.request_id = root.getRequestId();
        auto r = read_reply(root.getReply());
        if (!r.ok()) return r.error();
        out.result = std::move(r).value();
        out.text = root.getText().cStr();
        out.leader_hint = root.getLeaderHint().cStr();
        return out;
      });
}

client_response error_response(uint64_t request_id, error_code code, std::string message) {
  client_response out;
  out.request_id = request_id;
  out.result.st = status{code, std::move(message)};
  return out;
}

}  // namespace velocity
