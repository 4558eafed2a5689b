// Implementation of process_support.hpp: fork/exec of velocityd, readiness by
// health request, bounded waits, raw loopback sockets.
//
// Between fork and exec the child calls only async-signal-safe functions (the
// parent runs CAF threads): everything it needs is prepared before the fork.
//
// Thread safety: see the header.
#include "process_support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "actors/transport.hpp"
#include "protocols/framing.hpp"

#ifndef VELOCITYD_PATH
#error "VELOCITYD_PATH must name the velocityd binary (tests/process/CMakeLists.txt)"
#endif
#ifndef VELOCITY_SOURCE_DIR
#error "VELOCITY_SOURCE_DIR must name the source tree (tests/process/CMakeLists.txt)"
#endif

namespace velocity::process_test {
namespace {

using clock_type = std::chrono::steady_clock;

// A cold start opens RocksDB and spawns the actor system; on two busy cores
// that has taken seconds, so readiness waits generously but not forever.
constexpr uint32_t ready_wait_ms_max = 20000;
constexpr uint32_t ready_poll_interval_ms = 50;
// velocityd exits with 2 when it cannot bind (a port taken since we probed it).
constexpr int start_attempts_max = 4;
constexpr uint32_t reap_poll_interval_ms = 10;
constexpr size_t log_tail_bytes_max = 2000;

uint32_t elapsed_ms(clock_type::time_point since) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count());
}

std::string log_tail(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  auto all = text.str();
  return all.size() > log_tail_bytes_max ? all.substr(all.size() - log_tail_bytes_max) : all;
}

// Polls fd for `events` until the deadline; true if ready.
bool poll_until(int fd, short events, clock_type::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Reads exactly out.size() bytes before the deadline. 1 = done, 0 = closed, -1 = timeout/error.
int read_exact(int fd, std::string& out, clock_type::time_point deadline) {
  size_t got = 0;
  while (got < out.size()) {
    if (!poll_until(fd, POLLIN, deadline)) return -1;
    auto n = ::recv(fd, out.data() + got, out.size() - got, 0);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno == ECONNRESET ? 0 : -1;
    }
    got += static_cast<size_t>(n);
  }
  return 1;
}

}  // namespace

temp_dir::temp_dir(std::string_view stem) {
  std::string pattern = "/tmp/velocity-" + std::string{stem} + "-" + std::to_string(::getpid()) +
                        "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  VELOCITY_CHECK(::mkdtemp(buffer.data()) != nullptr);
  path_ = buffer.data();
}

temp_dir::~temp_dir() {
  if (std::getenv("VELOCITY_PROCESS_KEEP_DIRS") != nullptr) {
    std::cout << "kept " << path_ << " (VELOCITY_PROCESS_KEEP_DIRS)" << std::endl;
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

uint64_t test_seed(std::string_view test_name) {
  uint64_t seed = 0;
  if (const char* text = std::getenv("VELOCITY_PROCESS_SEED"); text != nullptr)
    seed = std::strtoull(text, nullptr, 10);
  else
    seed = static_cast<uint64_t>(clock_type::now().time_since_epoch().count());
  std::cout << test_name << ": seed " << seed << " (repeat with VELOCITY_PROCESS_SEED=" << seed
            << ")" << std::endl;
  return seed;
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  VELOCITY_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
               ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  VELOCITY_CHECK(bound);
  return ntohs(addr.sin_port);
}

uint16_t free_port_below_ephemeral() {
  // Outgoing connections take their local port from the ephemeral range, so
  // a port below it that is free now stays free until we bind it (unless
  // another test picks the same one: random choice, then a bind check).
  unsigned low = 32768, high = 60999;
  if (std::FILE* range = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(range, "%u %u", &low, &high) != 2) low = 32768;
    std::fclose(range);
  }
  const unsigned first = 10000;
  VELOCITY_CHECK(low > first + 1000);
  static std::mt19937 random{std::random_device{}()};
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<uint16_t>(first + random() % (low - first));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    VELOCITY_CHECK(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (bound) return port;
  }
  return free_port();
}

server_process::~server_process() { kill_hard(); }

status server_process::start(const server_settings& settings) {
  VELOCITY_CHECK(!running());
  status last;
  for (int attempt = 0; attempt < start_attempts_max; ++attempt) {
    last = start_once(settings);
    if (last.ok()) return last;
    kill_hard();
  }
  return last;
}

status server_process::start_once(const server_settings& settings) {
  port_ = settings.port != 0 ? settings.port : free_port();
  uint16_t http_port = settings.http_port != 0 ? settings.http_port : free_port();
  std::vector<std::string> args{VELOCITYD_PATH,
                                "--config-file=" VELOCITY_SOURCE_DIR "/configs/single.ini",
                                "--velocity.port=" + std::to_string(port_),
                                "--velocity.http-port=" + std::to_string(http_port),
                                "--velocity.mode=" + settings.mode};
  if (!settings.data_dir.empty()) args.push_back("--velocity.data-dir=" + settings.data_dir);
  args.insert(args.end(), settings.extra_args.begin(), settings.extra_args.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int log_fd = ::open(settings.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return {error_code::io_error, "cannot open " + settings.log_path};
  rlimit open_files{};
  ::getrlimit(RLIMIT_NOFILE, &open_files);
  if (settings.open_files_soft > 0 && settings.open_files_soft < open_files.rlim_max)
    open_files.rlim_cur = settings.open_files_soft;
  pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child == 0) {
    // Child: async-signal-safe calls only. Inherit nothing but the log, and
    // die with the test: a test process that aborts (watchdog, crash) runs no
    // destructor, and must still leave no server behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    ::setrlimit(RLIMIT_NOFILE, &open_files);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (child < 0) return {error_code::internal, "fork failed"};
  pid_ = child;
  auto started = clock_type::now();
  for (uint64_t probe = 1; elapsed_ms(started) < ready_wait_ms_max; ++probe) {
    if (exited())
      return {error_code::unavailable, "velocityd exited during start: " + log_tail(settings.log_path)};
    int fd = connect_loopback(port_);
    if (fd >= 0) {
      bool healthy = health_roundtrip(fd, probe, 1000);
      ::close(fd);
      if (healthy) return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{ready_poll_interval_ms});
  }
  return {error_code::timeout, "velocityd not ready within " + std::to_string(ready_wait_ms_max) +
                                   " ms: " + log_tail(settings.log_path)};
}

void server_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

bool server_process::exited() {
  if (pid_ <= 0) return true;
  int wstatus = 0;
  if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

void server_process::pause() {
  VELOCITY_CHECK(running());
  ::kill(pid_, SIGSTOP);
  // SIGSTOP takes effect asynchronously: on busy cores the node ran on long
  // enough to commit a write the test meant for the others. Return only once
  // the child has stopped (or died).
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, WUNTRACED) == -1 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) || WIFSIGNALED(wstatus)) pid_ = -1;
}

void server_process::resume() {
  VELOCITY_CHECK(running());
  ::kill(pid_, SIGCONT);
}

std::optional<int> server_process::terminate(uint32_t wait_ms) {
  VELOCITY_CHECK(running());
  ::kill(pid_, SIGTERM);
  auto started = clock_type::now();
  while (elapsed_ms(started) < wait_ms) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{reap_poll_interval_ms});
  }
  kill_hard();
  return std::nullopt;
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string frame(std::string_view payload) {
  std::string out;
  append_frame(out, payload);
  return out;
}

status_or<client_response> read_response(int fd, uint32_t timeout_ms) {
  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  std::string header(frame_header_bytes, '\0');
  int got = read_exact(fd, header, deadline);
  if (got == 0) return status{error_code::unavailable, "connection closed"};
  if (got < 0) return status{error_code::timeout, "no response frame in time"};
  uint32_t length = 0;
  for (size_t i = 0; i < frame_header_bytes; ++i)
    length |= uint32_t{static_cast<uint8_t>(header[i])} << (8 * i);
  if (length == 0 || length > frame_bytes_max)
    return status{error_code::malformed, "bad response length " + std::to_string(length)};
  std::string payload(length, '\0');
  got = read_exact(fd, payload, deadline);
  if (got == 0) return status{error_code::unavailable, "connection closed inside a frame"};
  if (got < 0) return status{error_code::timeout, "response frame incomplete in time"};
  return decode_client_response(payload);
}

bool wait_closed(int fd, uint32_t timeout_ms) {
  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  char sink[4096];
  for (;;) {
    if (!poll_until(fd, POLLIN, deadline)) return false;
    auto n = ::recv(fd, sink, sizeof(sink), 0);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
}

bool health_roundtrip(int fd, uint64_t request_id, uint32_t timeout_ms) {
  client_request request;
  request.request_id = request_id;
  request.body = health_request{};
  if (!send_all(fd, frame(encode_client_request(request)))) return false;
  auto response = read_response(fd, timeout_ms);
  return response.ok() && response->request_id == request_id && response->result.ok();
}

}  // namespace velocity::process_test
