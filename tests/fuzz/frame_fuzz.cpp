// libFuzzer target: the client connection's input path. The fuzz input is a raw
// byte stream; it goes through frame_decoder in chunks whose sizes come from the
// input itself, and every whole frame is decoded as a ClientRequest (through
// read_command, as the transport does), as a standalone Command and as a Reply.
//
// Properties checked (a violation aborts, which libFuzzer reports):
// - nothing throws out of the codecs and nothing crashes (ASan/UBSan);
// - the decoder never buffers more than one frame header plus the limit;
// - a failed decoder stays failed with the same status;
// - a command or reply that decodes re-encodes to bytes that read back to the
//   same value (encode(read(encode(c))) == encode(c)), so accepted input has
//   one meaning. The re-encoding is read without a traversal limit: Cap'n Proto
//   lets the input use zero-sized list elements that our encoder spells out in
//   full, so the limit would measure the encoder, not the meaning.
//
// Thread safety: libFuzzer calls the entry point from one thread.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command/command_codec.hpp"
#include "protocols/client.capnp.h"
#include "protocols/framing.hpp"
#include "schema/document_codec.hpp"

namespace {

using namespace velocity;

// Small frames keep the fuzzer fast; the limit logic is the same at any size.
constexpr size_t fuzz_frame_bytes_max = 1 << 16;

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "frame_fuzz property violated: %s\n", what);
  std::abort();
}

// Reads our own encoding back (aligned, no traversal limit).
template <class Root, class Result, class Read>
status_or<Result> reread(const std::string& bytes, Read read) {
  std::vector<capnp::word> words(bytes.size() / 8);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  capnp::FlatArrayMessageReader reader(kj::ArrayPtr<const capnp::word>(words.data(), words.size()),
                                       codec_reader_options(UINT64_MAX / 8));
  return read(reader.getRoot<Root>());
}

void check_command_is_stable(const command& c) {
  std::string once = encode_command(c);
  auto again = reread<wire::Command, command>(once, [](wire::Command::Reader r) { return read_command(r); });
  require(again.ok(), "a decoded command re-encodes to bytes that do not decode");
  require(encode_command(again.value()) == once, "a decoded command changes on a second round trip");
}

void check_reply_is_stable(const reply& r) {
  std::string once = encode_reply(r);
  auto again = reread<wire::Reply, reply>(once, [](wire::Reply::Reader in) { return read_reply(in); });
  require(again.ok() && again.value() == r, "a decoded reply does not round trip");
}

// Opens the frame as a ClientRequest; Cap'n Proto may throw while opening or
// following the root pointers, which the transport catches the same way. What
// read_command does with the command reader must not throw at all.
void decode_as_client_request(const std::vector<capnp::word>& words) {
  kj::ArrayPtr<const capnp::word> array(words.data(), words.size());
  std::optional<capnp::FlatArrayMessageReader> reader;
  std::optional<wire::Command::Reader> command_reader;
  try {
    reader.emplace(array, codec_reader_options(fuzz_frame_bytes_max / 8 * 2));
    auto root = reader->getRoot<wire::ClientRequest>();
    if (root.which() != wire::ClientRequest::COMMAND) return;
    command_reader = root.getCommand();
  } catch (const kj::Exception&) {
    return;
  }
  auto decoded = read_command(*command_reader);
  if (decoded.ok()) check_command_is_stable(decoded.value());
}

void decode_frame(const std::string& frame) {
  require(!frame.empty() && frame.size() % 8 == 0, "decoder produced a frame that is not whole words");
  std::vector<capnp::word> words(frame.size() / 8);
  std::memcpy(words.data(), frame.data(), frame.size());
  decode_as_client_request(words);
  auto as_command = decode_command(frame);
  if (as_command.ok()) check_command_is_stable(as_command.value());
  auto as_reply = decode_reply(frame);
  if (as_reply.ok()) check_reply_is_stable(as_reply.value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  // The first byte picks the chunk size, so splits inside headers and payloads
  // are both explored.
  size_t chunk_bytes = 1 + static_cast<unsigned char>(input[0]);
  input.remove_prefix(1);
  frame_decoder decoder(fuzz_frame_bytes_max);
  std::optional<status> failure;
  while (!input.empty()) {
    auto chunk = input.substr(0, chunk_bytes);
    input.remove_prefix(chunk.size());
    auto st = decoder.feed(chunk);
    if (failure) require(st == *failure, "a failed decoder changed its status");
    if (!st.ok()) failure = st;
    require(decoder.buffered_bytes() <= frame_header_bytes + fuzz_frame_bytes_max,
            "decoder buffered more than one frame");
    while (decoder.has_frame()) decode_frame(decoder.pop_frame());
  }
  return 0;
}
