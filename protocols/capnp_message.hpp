// Encoding one Cap'n Proto message without heap churn: `message_builder`
// takes its first segment from a per-thread scratch buffer, and
// `to_flat_string` writes the standard flat form (segment table, then the
// segments) straight into the result string.
//
// Why: capnp::MallocMessageBuilder's default first segment is 8 KiB taken
// with calloc for every message; on the write path (a client request's
// command encoded for the Raft log, every reply encoded for its client) that
// zeroing and glibc's large-chunk handling cost more than the encoding.
//
// Thread safety: a message_builder belongs to the thread that made it (the
// scratch buffer is thread_local). Builders may nest on one thread: only the
// first live one uses the scratch, the others allocate as before.
// Invariant: the scratch buffer is all zeros whenever no builder holds it
// (capnp's destructor zeroes what a message used, which its contract for a
// caller-supplied first segment requires).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "capnp/message.h"

namespace velocity {

class message_builder {
 public:
  message_builder();
  ~message_builder();
  message_builder(const message_builder&) = delete;
  message_builder& operator=(const message_builder&) = delete;

  capnp::MessageBuilder& get() { return *message_; }
  template <class Root>
  typename Root::Builder init_root() {
    return message_->initRoot<Root>();
  }
  // The message as one flat array (capnp::messageToFlatArray's bytes).
  std::string flat() { return to_flat_string(*message_); }

  static std::string to_flat_string(capnp::MessageBuilder& message);
  // What flat() would return, in bytes, without building it.
  static size_t flat_bytes(capnp::MessageBuilder& message);

 private:
  bool holds_scratch_ = false;
  std::optional<capnp::MallocMessageBuilder> message_;
};

}  // namespace velocity
