// Test helpers for tests/net: a stub router actor with fixed replies, a
// blocking loopback socket, and an actor system config with the middleman.
//
// The stub answers get(collection, id) with a document whose id is the
// requested id and whose version is the request id; ids starting with "hold"
// are kept until a release_atom arrives (to force out-of-order replies and to
// fill in-flight windows); ids starting with "big" get a 64 KiB field (to fill
// write buffers); health answers ok; anything else answers
// invalid_argument. Thread safety: the socket helper belongs to one thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/transport.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "protocols/framing.hpp"

namespace velocity::test {

using release_atom = caf::atom_constant<caf::atom("release")>;
using held_atom = caf::atom_constant<caf::atom("held")>;
using seen_atom = caf::atom_constant<caf::atom("seen")>;

// Size of the "payload" field in answers to ids starting with "big".
inline constexpr size_t big_payload_bytes = 64 << 10;

using stub_router_actor = router_actor::extend<caf::reacts_to<release_atom>,
                                               caf::replies_to<held_atom>::with<uint64_t>,
                                               caf::replies_to<seen_atom>::with<uint64_t>>;

struct stub_state {
  std::vector<std::pair<client_response, caf::typed_response_promise<client_response>>> held;
  uint64_t held_total = 0;  // requests held so far (released or not)
  uint64_t seen_total = 0;  // requests received
};

inline client_response stub_answer(const client_request& request) {
  client_response out;
  out.request_id = request.request_id;
  if (std::holds_alternative<health_request>(request.body)) return out;
  const auto* c = std::get_if<command>(&request.body);
  const auto* get = c ? std::get_if<cmd::get>(c) : nullptr;
  if (!get) {
    out.result.st = status{error_code::invalid_argument, "stub answers only get and health"};
    return out;
  }
  document d;
  d.id = get->id;
  d.version = request.request_id;
  d.fields["collection"] = value{get->collection};
  if (get->id.rfind("big", 0) == 0) d.fields["payload"] = value{std::string(big_payload_bytes, 'x')};
  out.result.doc = d;
  return out;
}

inline stub_router_actor::behavior_type stub_router(
    stub_router_actor::stateful_pointer<stub_state> self) {
  return {
      [=](request_atom, const client_request& request)
          -> caf::typed_response_promise<client_response> {
        auto promise = self->make_response_promise<client_response>();
        ++self->state.seen_total;
        auto answer = stub_answer(request);
        const auto* c = std::get_if<command>(&request.body);
        const auto* get = c ? std::get_if<cmd::get>(c) : nullptr;
        if (get && get->id.rfind("hold", 0) == 0) {
          self->state.held.emplace_back(answer, promise);
          ++self->state.held_total;
        } else {
          promise.deliver(answer);
        }
        return promise;
      },
      [=](release_atom) {
        auto held = std::move(self->state.held);
        self->state.held.clear();
        for (auto& [answer, promise] : held) promise.deliver(answer);
      },
      [=](held_atom) { return self->state.held_total; },
      [=](seen_atom) { return self->state.seen_total; },
  };
}

struct net_config : caf::actor_system_config {
  net_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 2);
  }
};

// A blocking client socket with a receive timeout, speaking raw frames.
class raw_socket {
 public:
  explicit raw_socket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~raw_socket() { ::close(fd_); }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  bool connected() const { return connected_; }

  bool send_bytes(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  bool send_request(const client_request& request) {
    std::string frame;
    append_frame(frame, encode_client_request(request));
    return send_bytes(frame);
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // The next response, or nullopt on EOF, timeout or a bad frame.
  std::optional<client_response> read_response() {
    while (!decoder_.has_frame()) {
      char buffer[4096];
      auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        eof_ = n == 0;
        return std::nullopt;
      }
      if (!decoder_.feed(std::string_view{buffer, static_cast<size_t>(n)}).ok()) return std::nullopt;
    }
    auto response = decode_client_response(decoder_.pop_frame());
    if (!response.ok()) return std::nullopt;
    return std::move(response).value();
  }
  // True once the server closed the connection (read_response returned EOF).
  bool closed_by_server() {
    if (!eof_) {
      auto response = read_response();
      (void)response;
    }
    return eof_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  frame_decoder decoder_;
};

inline client_request get_request(uint64_t request_id, std::string id) {
  client_request request;
  request.request_id = request_id;
  request.body = command{cmd::get{"jobs", std::move(id)}};
  return request;
}

}  // namespace velocity::test
