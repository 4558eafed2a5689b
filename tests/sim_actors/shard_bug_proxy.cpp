// The injected-bug proxy (see shard_bug_proxy.hpp).
//
// Actor safety: the proxy's state is its own.
#include "tests/sim_actors/shard_bug_proxy.hpp"

#include <optional>
#include <utility>

#include "caf/typed_event_based_actor.hpp"
#include "storage/state_machine.hpp"

namespace velocity::simb {

namespace {

// The shard's own answer can take a minute at most (the mux's forward limit).
constexpr auto proxy_wait = std::chrono::seconds{60};

// A get served from the replica's engine as it is now: a fresh state
// machine reads the schemas and documents the shard applied so far.
reply read_locally(engine& disk, uint32_t shard_id, const command& cmd) {
  state_machine machine(disk, shard_id);
  if (auto st = machine.open(); !st.ok()) {
    reply r;
    r.st = st;
    return r;
  }
  return machine.apply(0, cmd);
}

// The failure a CAS gets from the replica's engine as it is now, if any.
std::optional<reply> fail_locally(engine& disk, uint32_t shard_id, const command& cmd) {
  state_machine machine(disk, shard_id);
  if (!machine.open().ok()) return std::nullopt;
  return machine.certain_failure(cmd);
}

shard_actor::behavior_type proxy_impl(shard_actor::pointer self, shard_actor shard,
                                      std::shared_ptr<engine> disk, uint32_t shard_id,
                                      injected_bug bug, const bool* armed) {
  return {
      [=](apply_atom a, const shard_request& request) -> caf::result<shard_reply> {
        if (!*armed) return self->delegate(shard, a, request);
        bool read = is_read(request.cmd);
        bool get = std::holds_alternative<cmd::get>(request.cmd) &&
                   request.level == consistency::strong;
        if (bug == injected_bug::read_without_read_index && get)
          return shard_reply{read_locally(*disk, shard_id, request.cmd)};
        if (bug == injected_bug::cas_fail_without_read_index &&
            std::holds_alternative<cmd::compare_and_swap>(request.cmd)) {
          if (auto failed = fail_locally(*disk, shard_id, request.cmd))
            return shard_reply{std::move(*failed)};
        }
        if (bug == injected_bug::ack_before_apply && !read) {
          self->request(shard, proxy_wait, a, request).then([](const shard_reply&) {},
                                                            [](caf::error&) {});
          return shard_reply{};
        }
        if (bug == injected_bug::propose_twice && !read)
          self->request(shard, proxy_wait, a, request).then([](const shard_reply&) {},
                                                            [](caf::error&) {});
        return self->delegate(shard, a, request);
      },
      [=](schema_atom a, const std::string& collection) {
        return self->delegate(shard, a, collection);
      },
      [=](shard_info_atom a) { return self->delegate(shard, a); },
      [=](shard_handoff_atom a) { return self->delegate(shard, a); },
      [=](shard_flush_atom) {},
      [=](raft_step_atom a, const raft_messages& in) { self->send(shard, a, in); },
      [=](raft_tick_atom a) { self->send(shard, a); },
      [=](snap_in_atom a, const snapshot_wire& in) { self->send(shard, a, in); },
  };
}

}  // namespace

shard_actor spawn_shard_bug_proxy(caf::actor_system& system, shard_actor shard,
                                  std::shared_ptr<engine> disk, uint32_t shard_id,
                                  injected_bug bug, const bool* armed) {
  return system.spawn(proxy_impl, std::move(shard), std::move(disk), shard_id, bug, armed);
}

}  // namespace velocity::simb
