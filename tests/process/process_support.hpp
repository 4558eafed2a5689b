// Support for end-to-end process tests: a velocityd child process started with
// fork/exec on free loopback ports, a temporary directory, and raw-socket
// helpers that speak the frame protocol (docs/protocol.md) byte by byte.
//
// Every wait here is bounded in time and in count; a server_process kills its
// child (SIGKILL, by pid) when destroyed if it still runs, and a temp_dir removes
// itself, so a failing test leaves nothing behind.
//
// Thread safety: none of these objects is shared between threads; the raw
// socket helpers are free functions on a file descriptor owned by the caller.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/messages.hpp"
#include "protocols/error.hpp"

namespace velocity::process_test {

// A fresh directory under /tmp named after the test and the pid, removed
// (recursively) on destruction unless $VELOCITY_PROCESS_KEEP_DIRS is set (to
// read the servers' logs after a failure).
class temp_dir {
 public:
  explicit temp_dir(std::string_view stem);
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The seed for a test's randomness: $VELOCITY_PROCESS_SEED if set, otherwise
// drawn from the clock. Printed so a failing run can be repeated.
uint64_t test_seed(std::string_view test_name);

struct server_settings {
  std::string mode = "memory";  // memory | persistent
  std::string data_dir;         // persistent mode
  std::string log_path;         // velocityd's stdout and stderr go here
  // The soft RLIMIT_NOFILE velocityd starts with (0 = the test's own). A
  // typical login default is 1024, lower than what the test raises itself to.
  uint64_t open_files_soft = 0;
  // Fixed ports (0 = pick free ones on each attempt). A cluster node keeps its
  // ports across restarts, since its peers know it by its peer port.
  uint16_t port = 0;
  uint16_t http_port = 0;
  // More --velocity.KEY=VALUE arguments, appended after the ones above.
  std::vector<std::string> extra_args{};
};

// One velocityd child. start() picks free ports (bind to port 0, release,
// pass to velocityd) and waits until a health request succeeds; a port taken
// in between makes velocityd exit early and start() retries with new ports.
class server_process {
 public:
  server_process() = default;
  ~server_process();  // SIGKILLs and reaps a child that still runs
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  status start(const server_settings& settings);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  // SIGKILL and reap.
  void kill_hard();
  // Sends SIGTERM and waits at most wait_ms for the exit. The exit status
  // (WEXITSTATUS), -1 if it died from a signal, or nullopt if it did not
  // exit in time (then it is SIGKILLed).
  std::optional<int> terminate(uint32_t wait_ms);
  // Whether the child has exited on its own (reaps it if so).
  bool exited();
  // SIGSTOP / SIGCONT: the process stays alive but runs no instruction, like
  // a long GC pause or a VM stall. pause() returns once the child has stopped.
  void pause();
  void resume();

 private:
  status start_once(const server_settings& settings);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// A loopback port that was free a moment ago (bound to port 0, then closed).
uint16_t free_port();
// A free loopback port below the ephemeral range: for ports chosen now and
// bound later (a cluster's members list names them before its nodes start),
// which an outgoing connection could otherwise take in between.
uint16_t free_port_below_ephemeral();

// ---- raw sockets ----

// A blocking TCP connection to 127.0.0.1:port, or -1.
int connect_loopback(uint16_t port);
// Writes all of bytes; false on an error (e.g. the peer closed).
bool send_all(int fd, std::string_view bytes);
// One length-prefixed frame wrapping payload.
std::string frame(std::string_view payload);
// Reads one frame within timeout_ms and decodes it as a ClientResponse.
// unavailable if the connection closed, timeout if nothing came in time.
status_or<client_response> read_response(int fd, uint32_t timeout_ms);
// True once the peer closes the connection (EOF or reset) within timeout_ms;
// any bytes that arrive first are discarded.
bool wait_closed(int fd, uint32_t timeout_ms);
// Sends a health request with request_id on fd and checks its ok response.
bool health_roundtrip(int fd, uint64_t request_id, uint32_t timeout_ms);

}  // namespace velocity::process_test
