// Outbound connects for the peer transport. CAF 0.17 has no asynchronous
// connect (docs/caf guide, pitfall 13): connecting from a broker would stall
// the multiplexer thread that every broker of the node shares while a dead
// host times out. So a short-lived detached actor resolves and connects
// (non-blocking connect + poll with a timeout) and sends the connected socket
// to the transport broker, which adopts it with abstract_broker::add_scribe.
//
// Thread safety: dial_peer blocks; call it only from a detached actor. A
// dialed_socket belongs to whoever holds the last reference: if the broker
// never takes the socket (it ended, or the attempt is stale), the destructor
// closes it, so a socket in transit never leaks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "caf/actor.hpp"
#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/atom.hpp"
#include "caf/io/network/native_socket.hpp"

namespace velocity {

class dialed_socket {
 public:
  dialed_socket(caf::io::network::native_socket fd, std::string error)
      : fd_(fd), error_(std::move(error)) {}
  ~dialed_socket();
  dialed_socket(const dialed_socket&) = delete;
  dialed_socket& operator=(const dialed_socket&) = delete;

  bool connected() const { return fd_ != caf::io::network::invalid_native_socket; }
  // Why the attempt failed (empty when connected).
  const std::string& error() const { return error_; }
  // REQUIRES: connected(). Hands the socket over; the destructor no longer closes it.
  caf::io::network::native_socket release();

 private:
  caf::io::network::native_socket fd_;
  std::string error_;
};

// Resolves host:port and connects, giving each resolved address at most
// timeout_ms. The socket is non-blocking and close-on-exec; adopting it
// (add_scribe) also sets TCP_NODELAY and suppresses SIGPIPE, as for accepted
// sockets (CAF's event_handler constructor calls set_fd_flags; checked in the
// disassembly of libcaf_io.so.0.17.6).
std::shared_ptr<dialed_socket> dial_peer(const std::string& host, uint16_t port,
                                         uint32_t timeout_ms);

// The dialer's report to the broker: (dialed_atom, peer node id, attempt
// number, socket or failure).
using dialed_atom = caf::atom_constant<caf::atom("dialed")>;

// Spawns a detached actor that dials and reports to `broker`, then ends.
void spawn_dialer(caf::actor_system& system, caf::actor broker, uint64_t peer, uint64_t attempt,
                  std::string host, uint16_t port, uint32_t timeout_ms);

}  // namespace velocity

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<velocity::dialed_socket>)
