// Implementation of tcp_proxy.hpp: one poll loop over the listening socket,
// an eventfd for wake-ups and both sockets of every relayed connection.
//
// Thread safety: links_ and the sockets are touched by the proxy thread only
// (after the constructor); other threads only set atomics and write the
// eventfd.
#include "tcp_proxy.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "process_support.hpp"

namespace velocity::process_test {
namespace {

constexpr size_t relay_chunk_bytes = 64 * 1024;
// A side that does not read for this long is treated as gone.
constexpr int send_timeout_ms = 2000;
constexpr int listen_backlog = 64;
// Each node pair has one connection (and a few while they race to dial).
constexpr size_t links_max = 64;

void set_send_timeout(int fd) {
  timeval limit{};
  limit.tv_sec = send_timeout_ms / 1000;
  limit.tv_usec = (send_timeout_ms % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

tcp_proxy::tcp_proxy(uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  VELOCITY_CHECK(listen_fd_ >= 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  VELOCITY_CHECK(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  VELOCITY_CHECK(::listen(listen_fd_, listen_backlog) == 0);
  VELOCITY_CHECK(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  VELOCITY_CHECK(wake_fd_ >= 0);
  thread_ = std::thread{[this] { run(); }};
}

tcp_proxy::~tcp_proxy() {
  stop_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  for (auto& l : links_) {
    ::close(l.accepted_fd);
    ::close(l.target_fd);
  }
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void tcp_proxy::set_clogged(bool forward, bool backward) {
  forward_clogged_ = forward;
  backward_clogged_ = backward;
  uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof(one));
}

void tcp_proxy::accept_one() {
  int accepted = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (accepted < 0) return;
  int target = links_.size() < links_max ? connect_loopback(target_port_) : -1;
  if (target < 0) {
    ::close(accepted);
    return;
  }
  set_send_timeout(accepted);
  set_send_timeout(target);
  links_.push_back(link{accepted, target});
  ++connections_;
}

bool tcp_proxy::relay(int from, int to) {
  char buffer[relay_chunk_bytes];
  auto n = ::recv(from, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  return send_all(to, std::string_view{buffer, static_cast<size_t>(n)});
}

void tcp_proxy::run() {
  struct watched {
    size_t link = 0;
    bool forward = true;  // accepted -> target
  };
  std::vector<pollfd> fds;
  std::vector<watched> what;  // for fds[2...]
  while (!stop_.load()) {
    bool forward = !forward_clogged_.load();
    bool backward = !backward_clogged_.load();
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    what.clear();
    if (forward || backward) {
      fds.push_back(pollfd{listen_fd_, POLLIN, 0});
      for (size_t i = 0; i < links_.size(); ++i) {
        if (forward) fds.push_back(pollfd{links_[i].accepted_fd, POLLIN, 0});
        if (forward) what.push_back(watched{i, true});
        if (backward) fds.push_back(pollfd{links_[i].target_fd, POLLIN, 0});
        if (backward) what.push_back(watched{i, false});
      }
    }
    // No timeout: every change of state writes the eventfd.
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] auto got = ::read(wake_fd_, &count, sizeof(count));
      continue;  // look at the flags again before relaying anything
    }
    if (fds.size() == 1) continue;
    std::vector<bool> open(links_.size(), true);
    for (size_t k = 0; k < what.size(); ++k) {
      const auto& l = links_[what[k].link];
      if (!open[what[k].link] || (fds[2 + k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      open[what[k].link] = what[k].forward ? relay(l.accepted_fd, l.target_fd)
                                           : relay(l.target_fd, l.accepted_fd);
    }
    for (size_t i = links_.size(); i-- > 0;) {
      if (open[i]) continue;
      ::close(links_[i].accepted_fd);
      ::close(links_[i].target_fd);
      links_.erase(links_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if ((fds[1].revents & POLLIN) != 0) accept_one();
  }
}

}  // namespace velocity::process_test
