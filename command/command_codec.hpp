// Commands and replies <-> Cap'n Proto (protocols/command.capnp): how they
// travel in client requests and, later, Raft log entries.
//
// Decoding never trusts its input: every field is checked (filters and schemas
// go through filter_from_value / schema_from_value; maps must be maps), Cap'n
// Proto exceptions are caught here, and problems give invalid_argument or
// malformed with a message naming the field. Round trip: decode(encode(c)) == c
// for every valid command.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "command/commands.hpp"
#include "protocols/command.capnp.h"
#include "protocols/error.hpp"

namespace velocity {

// Builder-level conversions, for embedding in larger messages.
void write_command(const command& c, wire::Command::Builder out);
status_or<command> read_command(wire::Command::Reader in);
void write_reply(const reply& r, wire::Reply::Builder out);
status_or<reply> read_reply(wire::Reply::Reader in);

// Standalone messages (flat-array bytes), e.g. for a Raft log entry.
std::string encode_command(const command& c);
status_or<command> decode_command(std::string_view bytes);
std::string encode_reply(const reply& r);
status_or<reply> decode_reply(std::string_view bytes);

// The time_ns a write command carries (0 for reads); and setting it.
int64_t command_time_ns(const command& c);
void set_command_time_ns(command& c, int64_t time_ns);
// Sets `partition` on the commands that carry one (command/commands.hpp); the
// others take their partition value from their fields.
void set_command_partition(command& c, const std::optional<value>& partition);

}  // namespace velocity
