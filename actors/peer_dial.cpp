// Outbound connects for the peer transport (see peer_dial.hpp).
//
// Actor safety: dial_peer blocks for at most (addresses tried) x timeout_ms
// plus name resolution; it runs only in the detached dialer actor, never on
// the multiplexer thread.
#include "actors/peer_dial.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "caf/actor_system.hpp"
#include "caf/blocking_actor.hpp"
#include "caf/send.hpp"
#include "protocols/check.hpp"

namespace velocity {
namespace {

using caf::io::network::invalid_native_socket;
using caf::io::network::native_socket;

// A name may resolve to many addresses; a dead host must not hold a dialer
// (and the actor system's shutdown, which waits for it) for long.
constexpr int addresses_tried_max = 4;
// poll interrupted by signals this often in one attempt is treated as a failure.
constexpr int poll_interrupts_max = 16;

std::string describe(const std::string& host, uint16_t port, const std::string& what) {
  return "connect to " + host + ":" + std::to_string(port) + ": " + what;
}

// Connects fd (non-blocking) to address; empty on success, else the reason.
std::string connect_one(native_socket fd, const addrinfo& address, uint32_t timeout_ms) {
  if (::connect(fd, address.ai_addr, address.ai_addrlen) == 0) return {};
  if (errno != EINPROGRESS) return std::strerror(errno);
  pollfd waiting{fd, POLLOUT, 0};
  int ready = -1;
  for (int interrupts = 0; interrupts < poll_interrupts_max; ++interrupts) {
    ready = ::poll(&waiting, 1, static_cast<int>(timeout_ms));
    if (ready >= 0 || errno != EINTR) break;
  }
  if (ready < 0) return std::strerror(errno);
  if (ready == 0) return "timed out after " + std::to_string(timeout_ms) + " ms";
  int error = 0;
  socklen_t length = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return std::strerror(errno);
  if (error != 0) return std::strerror(error);
  return {};
}

}  // namespace

dialed_socket::~dialed_socket() {
  if (fd_ != invalid_native_socket) ::close(fd_);
}

native_socket dialed_socket::release() {
  VELOCITY_CHECK(connected());
  return std::exchange(fd_, invalid_native_socket);
}

std::shared_ptr<dialed_socket> dial_peer(const std::string& host, uint16_t port,
                                         uint32_t timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  int resolved = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (resolved != 0)
    return std::make_shared<dialed_socket>(invalid_native_socket,
                                           describe(host, port, ::gai_strerror(resolved)));
  std::string last_error = "no address";
  int tried = 0;
  for (auto* a = found; a != nullptr && tried < addresses_tried_max; a = a->ai_next, ++tried) {
    native_socket fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                a->ai_protocol);
    if (fd == invalid_native_socket) {
      last_error = std::strerror(errno);
      continue;
    }
    last_error = connect_one(fd, *a, timeout_ms);
    if (last_error.empty()) {
      ::freeaddrinfo(found);
      return std::make_shared<dialed_socket>(fd, std::string{});
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return std::make_shared<dialed_socket>(invalid_native_socket,
                                         describe(host, port, last_error));
}

void spawn_dialer(caf::actor_system& system, caf::actor broker, uint64_t peer, uint64_t attempt,
                  std::string host, uint16_t port, uint32_t timeout_ms) {
  // A blocking actor runs on its own thread; it ends when the function returns.
  system.spawn([broker, peer, attempt, host, port, timeout_ms](caf::blocking_actor*) {
    caf::anon_send(broker, dialed_atom::value, peer, attempt, dial_peer(host, port, timeout_ms));
  });
}

}  // namespace velocity
