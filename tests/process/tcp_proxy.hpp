// A loopback TCP proxy a test puts between two cluster nodes to partition
// them: it listens on a free port and relays every accepted connection to a
// target port, byte for byte, until clogged.
//
// Clogged (both ways) means what a network partition means to TCP: nothing is delivered
// in either direction, nothing is lost and no connection is closed by the
// proxy. The proxy stops accepting and stops reading, so bytes wait in the
// kernel's buffers (and the senders' queues) and a new dial completes its
// TCP handshake in the backlog but is not relayed. Unclogged, everything
// queued flows again in order. A side that gives up on a connection (its own
// timeouts) closes it as usual and the proxy closes the other side.
//
// Thread safety: the proxy runs one thread of its own; set_clogged() and the
// destructor may be called from any one other thread. Blocking sends to a
// side that does not read are bounded by send_timeout_ms, after which that
// connection is closed.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace velocity::process_test {

class tcp_proxy {
 public:
  explicit tcp_proxy(uint16_t target_port);
  ~tcp_proxy();  // stops the thread, closes every connection
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  uint16_t port() const { return port_; }
  // Both directions.
  void set_clogged(bool clogged) { set_clogged(clogged, clogged); }
  // Per direction: `forward` carries the dialer's bytes to the target,
  // `backward` the target's bytes to the dialer. A connection clogged one way
  // still relays the other way (and is still accepted and dialed).
  void set_clogged(bool forward, bool backward);
  // Connections relayed since the start (for the test log).
  uint64_t connections() const { return connections_.load(); }

 private:
  struct link {
    int accepted_fd = -1;
    int target_fd = -1;
  };
  void run();
  void accept_one();
  // Relays what `from` has to `to`; false when the link should close.
  bool relay(int from, int to);

  uint16_t target_port_ = 0;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: set_clogged and the destructor wake the thread
  std::atomic<bool> forward_clogged_{false};
  std::atomic<bool> backward_clogged_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> connections_{0};
  std::vector<link> links_;  // the proxy thread's only
  std::thread thread_;
};

}  // namespace velocity::process_test
