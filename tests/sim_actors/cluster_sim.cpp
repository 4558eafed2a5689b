// One level-(b) run (see cluster_sim.hpp): nodes assembled from the real
// actors over simulated disks, environments and network, the nemesis, the
// event loop over the test coordinator and the phases setup -> chaos ->
// heal -> checks.
//
// A node's actors come from spawn_node_actors (actors/node_actors.hpp), the
// assembly velocityd's node::start uses, with two seams: a slow disk in
// front of the log writer and, for injected bugs, a proxy in front of each
// shard; the mux is attached to the node's link actor instead of a peer
// transport. node::start itself is not used: it opens sockets and its
// stop() blocks, which the coordinator cannot run.
//
// Thread safety: run_seed runs everything on the calling thread.
#include "tests/sim_actors/cluster_sim.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <utility>

#include "actors/node_actors.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exit_reason.hpp"
#include "caf/send.hpp"
#include "spdlog/spdlog.h"
#include "tests/sim_actors/shard_bug_proxy.hpp"
#include "tests/sim_actors/sim_checks.hpp"
#include "tests/sim_actors/sim_clients.hpp"
#include "tests/sim_actors/sim_network.hpp"
#include "tests/sim_actors/slow_log_writer.hpp"
#include "tests/sim_actors/sim_world.hpp"

namespace velocity::simb {

void world::note(std::string_view line) {
  events.add(line);
  if (events.verbose) std::fprintf(stderr, "%9.3f ms  %.*s\n", static_cast<double>(now_ns()) / 1e6,
                            static_cast<int>(line.size()), line.data());
}

namespace {

constexpr int64_t ms_ns = 1'000'000;
// Bounds of each phase in virtual time; exceeding one is a liveness failure.
constexpr int64_t setup_ms_max = 30'000;
constexpr int64_t final_reads_ms_max = 60'000;
constexpr int64_t converge_ms_max = 30'000;
// Jobs the coordinator may run at one virtual instant before the run is
// declared livelocked.
constexpr size_t jobs_per_instant_max = 5'000'000;
// The linearizability search budget per key.
constexpr uint64_t linearizability_states_max = 500'000;

struct run_state {
  caf::actor_system& system;
  world& w;
  int64_t next_nemesis_ns = -1;  // -1: no nemesis
  bool nemesis_mid_cascade = false;  // the next fault waits for a cascade to strike in
  uint64_t crashes = 0;
  uint64_t partitions = 0;
  uint64_t unsynced_batches_lost = 0;
  uint64_t sync_failures = 0;  // nodes restarted after an injected fsync failure
  std::vector<caf::actor> clients{};
};

std::vector<raft::node_id> member_ids(const world& w) {
  std::vector<raft::node_id> ids;
  for (const auto& n : w.nodes) ids.push_back(n.id);
  return ids;
}

template <class Handle>
void kill(Handle& hdl) {
  if (hdl) caf::anon_send_exit(hdl, caf::exit_reason::kill);
  hdl = nullptr;
}

void start_node(run_state& rs, node_slot& n) {
  auto& sys = rs.system;
  world& w = rs.w;
  ++n.incarnation;
  n.engine = std::make_shared<fenced_engine>(n.disk, w.generator, w.sync_failure_per_mille);
  auto env = std::make_shared<sim_environment>(*w.clock, w.generator, n.clock_offset_ns,
                                               n.skew_ppm, n.engine);
  // The same assembly as velocityd's (actors/node_actors.hpp) with
  // velocityd's defaults; only the seams differ.
  node_actor_options options;
  options.node = n.id;
  options.mode = storage_mode::persistent;
  options.shards = w.options.shards;
  options.members = member_ids(w);
  options.replication_factor = static_cast<uint32_t>(w.nodes.size());
  options.request_timeout_ms = client_request_timeout_ms;
  options.engine_ = n.engine;
  options.env = env;
  options.detached_log_writer = false;
  options.wrap_log_writer = [&](log_writer_actor real) {
    n.slow_disk = spawn_slow_log_writer(sys, w, real);
    return n.slow_disk;
  };
  if (w.options.bug != injected_bug::none) {
    options.wrap_shard = [&](uint32_t id, shard_actor real) {
      auto proxy = spawn_shard_bug_proxy(sys, real, n.engine, id, w.options.bug, &w.clients_active);
      n.proxies.push_back(caf::actor_cast<caf::actor>(proxy));
      return proxy;
    };
  }
  auto spawned = spawn_node_actors(sys, options);
  if (!spawned.ok()) {
    w.failures.push_back("node " + std::to_string(n.id) +
                         " cannot start: " + spawned.error().to_string());
    kill(n.slow_disk);
    for (auto& p : n.proxies) kill(p);
    n.proxies.clear();
    return;
  }
  n.log_writer = spawned->log_writer;
  n.mux = spawned->mux;
  n.shards = spawned->replicas;
  n.router = spawned->router;
  n.gossiper = spawned->gossiper;
  n.link = spawn_link(sys, w, n.id, n.incarnation);
  caf::anon_send(n.mux, mux_attach_atom::value,
                 peer_mux_attachment{n.link, spawned->shards, gossip_sink_actor{spawned->gossiper}});
  n.up = true;
  w.note("start node " + std::to_string(n.id) + " incarnation " + std::to_string(n.incarnation));
}

// Every actor of the node dies; the disk forgets what was not synced.
void crash_node(run_state& rs, node_slot& n) {
  n.up = false;
  n.engine->fence();
  kill(n.router);
  kill(n.mux);
  kill(n.gossiper);
  kill(n.link);
  kill(n.log_writer);
  kill(n.slow_disk);
  for (auto& s : n.shards) kill(s);
  for (auto& p : n.proxies) kill(p);
  n.shards.clear();
  n.proxies.clear();
  rs.unsynced_batches_lost += n.disk->unsynced_batches();
  n.disk->simulate_crash();
  ++rs.crashes;
  rs.w.note("crash node " + std::to_string(n.id));
}

void block(world& w, raft::node_id from, raft::node_id to, int64_t until_ns) {
  w.links[{from, to}].blocked_until_ns = until_ns;
}

// One fault, drawn; restarts of crashed nodes whose downtime is over.
void nemesis_step(run_state& rs) {
  world& w = rs.w;
  int64_t now = w.now_ns();
  for (auto& n : w.nodes) {
    if (!n.up && n.down_until_ns <= now) {
      start_node(rs, n);
    } else if (n.up && n.engine->sync_failed()) {
      // What an operator does after an fsync error: restart the node.
      ++rs.sync_failures;
      n.down_until_ns = now + w.draw_between(100, 1000) * ms_ns;
      crash_node(rs, n);
    }
  }
  auto n_nodes = static_cast<raft::node_id>(w.nodes.size());
  raft::node_id a = 1 + static_cast<raft::node_id>(w.draw(n_nodes));
  raft::node_id b = 1 + static_cast<raft::node_id>((a + w.draw(n_nodes - 1)) % n_nodes);
  uint64_t r = w.draw(100);
  size_t up = 0;
  for (auto& n : w.nodes) up += n.up ? 1 : 0;
  if (r < 20 && up * 2 > w.nodes.size() + 1 && w.node(a).up) {
    w.node(a).down_until_ns = now + w.draw_between(300, 3000) * ms_ns;
    crash_node(rs, w.node(a));
  } else if (r < 40) {
    int64_t until = now + w.draw_between(300, 3000) * ms_ns;
    for (raft::node_id other = 1; other <= n_nodes; ++other) {
      if (other == a) continue;
      block(w, a, other, until);
      block(w, other, a, until);
    }
    ++rs.partitions;
    w.note("isolate node " + std::to_string(a));
  } else if (r < 50) {
    block(w, a, b, now + w.draw_between(300, 3000) * ms_ns);
    ++rs.partitions;
    w.note("block link " + std::to_string(a) + "->" + std::to_string(b));
  } else if (r < 65) {
    int64_t until = now + w.draw_between(300, 3000) * ms_ns;
    w.links[{a, b}].clogged_until_ns = until;
    w.links[{b, a}].clogged_until_ns = until;
    w.note("clog link " + std::to_string(a) + "<->" + std::to_string(b));
  } else if (r < 75) {
    w.links.clear();
    w.note("heal links");
  } else if (r < 78 && up == w.nodes.size()) {
    // Every node at once (a power cut): only what was synced survives.
    int64_t until = now + w.draw_between(300, 2000) * ms_ns;
    for (auto& n : w.nodes) {
      n.down_until_ns = until;
      crash_node(rs, n);
    }
  }
  rs.next_nemesis_ns = now + w.draw_between(100, 1000) * ms_ns;
  // Half the faults wait for the next cascade of messages and strike inside it.
  rs.nemesis_mid_cascade = w.draw(2) == 0;
}

// Runs jobs and timeouts in virtual time until `until_ns` or until done()
// holds (checked whenever the coordinator is idle). True when done() held.
// The next job is drawn among the runnable actors, so seeds explore
// interleavings a FIFO coordinator would never show.
template <class Done>
bool run_until(run_state& rs, int64_t until_ns, Done done) {
  world& w = rs.w;
  auto& sched = *w.sched;
  for (;;) {
    size_t jobs = 0;
    while (sched.has_job()) {
      // Any runnable actor may go next, as on a threaded scheduler; each
      // actor still handles its own mailbox in order.
      if (sched.jobs.size() > 1) std::swap(sched.jobs.front(), sched.jobs[w.draw(sched.jobs.size())]);
      sched.run_once();
      // A due fault may strike between two messages of one cascade.
      if (rs.nemesis_mid_cascade && rs.next_nemesis_ns >= 0 && rs.next_nemesis_ns <= w.now_ns() &&
          w.draw(8) == 0)
        nemesis_step(rs);
      if (++jobs > jobs_per_instant_max) {
        w.failures.push_back("livelock: more than " + std::to_string(jobs_per_instant_max) +
                             " jobs at one virtual instant");
        return false;
      }
    }
    if (done()) return true;
    int64_t now = w.now_ns();
    if (rs.next_nemesis_ns >= 0 && rs.next_nemesis_ns <= now) {
      nemesis_step(rs);
      continue;
    }
    if (now >= until_ns) return false;
    int64_t next = until_ns;
    if (rs.next_nemesis_ns >= 0 && !rs.nemesis_mid_cascade) next = std::min(next, rs.next_nemesis_ns);
    const auto& timeouts = sched.clock().schedule();
    if (!timeouts.empty()) next = std::min(next, std::max(now, w.clock->at_ns(timeouts.begin()->first)));
    sched.clock().advance_time(std::chrono::nanoseconds{next - now});
  }
}

void draw_world(world& w) {
  w.net.loss_per_mille = w.options.faults ? static_cast<uint32_t>(w.draw(30)) : 0;
  w.net.duplicate_per_mille = w.options.faults ? static_cast<uint32_t>(w.draw(30)) : 0;
  w.net.delay_ns_min = ms_ns / 2;
  w.net.delay_ns_max = w.draw_between(1, 30) * ms_ns;
  w.fsync_ns_max = w.draw_between(0, 20) * ms_ns;
  w.sync_failure_per_mille = w.options.faults && w.draw(2) == 0 ? static_cast<uint32_t>(w.draw_between(1, 3)) : 0;
  for (raft::node_id id = 1; id <= w.options.nodes; ++id) {
    node_slot n;
    n.id = id;
    n.disk = std::make_shared<memory_engine>();
    n.clock_offset_ns = w.draw_between(0, 1'000'000) * ms_ns;
    n.skew_ppm = w.draw_between(-sim_clock_skew_ppm_max, sim_clock_skew_ppm_max);
    w.nodes.push_back(std::move(n));
  }
}

void record_setup(world& w, int64_t done_ns) {
  for (size_t k = 0; k < w.options.keys; ++k) {
    sim::operation h;
    h.type = sim::operation::kind::write;
    h.key = register_key(k);
    h.value = "init";
    h.invoke_time = 0;
    h.complete_time = done_ns;
    w.seen.history.push_back(std::move(h));
  }
}

bool run_script(run_state& rs, std::vector<script_step> steps, int64_t limit_ms,
                const char* what) {
  bool done = false;
  auto script = spawn_script(rs.system, rs.w, std::move(steps), &done);
  bool finished = run_until(rs, rs.w.now_ns() + limit_ms * ms_ns, [&] { return done; });
  kill(script);
  if (!finished)
    rs.w.failures.push_back(std::string{what} + " did not finish within " +
                            std::to_string(limit_ms) + " ms of virtual time");
  return finished;
}

// After healing: every node's gossiper must come to see every node alive
// (a crashed and restarted node refutes its death with a higher
// incarnation). Asks each gossiper every 500 ms of virtual time, for at
// most gossip_converge_ms.
constexpr int64_t gossip_converge_ms = 30'000;

void check_gossip(run_state& rs) {
  world& w = rs.w;
  int64_t limit = w.now_ns() + gossip_converge_ms * ms_ns;
  std::string last = "never asked";
  while (w.now_ns() < limit) {
    auto views = std::make_shared<std::vector<std::optional<member_view>>>(w.nodes.size());
    auto probe = rs.system.spawn([views, &w](caf::event_based_actor* self) -> caf::behavior {
      for (size_t i = 0; i < w.nodes.size(); ++i) {
        if (!w.nodes[i].gossiper) continue;
        self->request(w.nodes[i].gossiper, std::chrono::milliseconds{400}, members_atom::value)
            .then([views, i](member_view& v) { (*views)[i] = std::move(v); },
                  [](caf::error&) {});
      }
      return {[](int) {}};
    });
    run_until(rs, w.now_ns() + 500 * ms_ns, [] { return false; });
    kill(probe);
    bool all = true;
    for (size_t i = 0; i < w.nodes.size() && all; ++i) {
      if (!(*views)[i]) {
        all = false;
        last = "node " + std::to_string(i + 1) + " did not answer";
        break;
      }
      for (const auto& m : (*views)[i]->members) {
        if (m.state == swim::member_state::alive) continue;
        all = false;
        last = "node " + std::to_string(i + 1) + " holds node " + std::to_string(m.id) + " " +
               std::string{swim::to_string(m.state)} + " at incarnation " +
               std::to_string(m.incarnation);
        break;
      }
      if (all && (*views)[i]->members.size() != w.nodes.size()) {
        all = false;
        last = "node " + std::to_string(i + 1) + " knows " +
               std::to_string((*views)[i]->members.size()) + " members";
      }
    }
    if (all) return;
  }
  w.failures.push_back("gossip did not converge to every node alive within " +
                       std::to_string(gossip_converge_ms) + " ms after healing; last: " + last);
}

// Heals every fault, waits for the clients' last answers, reads every
// register and acknowledged job back, then waits until every shard's
// replicas applied the same index three checks in a row.
bool heal(run_state& rs) {
  world& w = rs.w;
  w.clients_active = false;
  rs.next_nemesis_ns = -1;
  w.links.clear();
  w.net.loss_per_mille = 0;
  w.net.duplicate_per_mille = 0;
  w.sync_failure_per_mille = 0;
  for (auto& n : w.nodes) {
    if (n.up && n.engine->sync_failed()) crash_node(rs, n);
    if (!n.up) start_node(rs, n);
  }
  w.note("heal");
  run_until(rs, w.now_ns() + (client_wait_timeout_ms + 100) * ms_ns, [] { return false; });
  std::vector<script_step> steps;
  for (size_t k = 0; k < w.options.keys; ++k)
    steps.push_back({script_step::kind::final_read, read_register(register_key(k)), register_key(k)});
  for (const auto& id : w.seen.acked_jobs)
    steps.push_back({script_step::kind::final_job_check, get_job(id), id});
  if (!run_script(rs, std::move(steps), final_reads_ms_max, "the final reads")) return false;
  int64_t limit = w.now_ns() + converge_ms_max * ms_ns;
  int stable = 0;
  while (w.now_ns() < limit) {
    run_until(rs, w.now_ns() + 200 * ms_ns, [] { return false; });
    bool equal = true;
    for (const auto& per_node : applied_indexes(w))
      equal = equal && std::all_of(per_node.begin(), per_node.end(),
                                   [&](uint64_t v) { return v == per_node.front(); });
    stable = equal ? stable + 1 : 0;
    if (stable >= 3) return true;
  }
  w.failures.push_back("replicas did not converge to one applied index within " +
                       std::to_string(converge_ms_max) + " ms after healing");
  return false;
}

void shut_down(run_state& rs) {
  for (auto& c : rs.clients) kill(c);
  for (auto& n : rs.w.nodes)
    if (n.up) crash_node(rs, n);
  kill(rs.w.network);
  rs.w.sched->run();
}

run_result collect(run_state& rs, bool gave_up) {
  world& w = rs.w;
  run_result out;
  out.failures = w.failures;
  out.ok = out.failures.empty();
  out.trace_hash = w.events.hash;
  out.operations_ok = w.seen.ok;
  out.operations_unknown = w.seen.unknown;
  out.operations_refused = w.seen.refused;
  out.crashes = rs.crashes;
  out.unsynced_batches_lost = rs.unsynced_batches_lost;
  out.sync_failures = rs.sync_failures;
  out.partitions = rs.partitions;
  out.messages_delivered = w.net_counters.delivered;
  out.messages_dropped = w.net_counters.dropped;
  out.claims = w.seen.claimed.size();
  out.replica_reads = w.seen.replica_reads.size();
  out.eventual_writes_acked = w.seen.eventual_acked.size();
  out.eventual_writes_lost = w.seen.eventual_lost;
  out.linearizability_gave_up = gave_up;
  out.virtual_ms = w.now_ns() / ms_ns;
  return out;
}

void run_phases(run_state& rs, bool& gave_up) {
  world& w = rs.w;
  // Fsync failures only in the chaos phase, where the nemesis restarts nodes.
  uint32_t sync_failure_per_mille = w.sync_failure_per_mille;
  w.sync_failure_per_mille = 0;
  std::vector<script_step> setup;
  for (auto& c : setup_commands(w.options.keys)) setup.push_back({script_step::kind::setup, c, ""});
  if (!run_script(rs, std::move(setup), setup_ms_max, "the setup")) return;
  record_setup(w, w.now_ns());
  w.note("setup done");
  w.sync_failure_per_mille = sync_failure_per_mille;
  w.clients_active = true;
  for (uint32_t c = 1; c <= w.options.clients; ++c)
    rs.clients.push_back(spawn_client(rs.system, w, c));
  if (w.options.faults) rs.next_nemesis_ns = w.now_ns() + w.draw_between(0, 500) * ms_ns;
  run_until(rs, w.now_ns() + w.options.chaos_ms * ms_ns, [] { return false; });
  if (!heal(rs)) return;
  w.note("converged");
  check_gossip(rs);
  check_replicas_identical(w);
  check_logs(w);
  check_claims(w);
  check_replica_reads(w);
  gave_up = check_history(w, linearizability_states_max);
}

}  // namespace

std::string_view to_string(injected_bug bug) {
  switch (bug) {
    case injected_bug::none: return "none";
    case injected_bug::ack_before_apply: return "ack_before_apply";
    case injected_bug::read_without_read_index: return "read_without_read_index";
    case injected_bug::propose_twice: return "propose_twice";
    case injected_bug::cas_fail_without_read_index: return "cas_fail_without_read_index";
  }
  return "unknown";
}

bool from_string(std::string_view name, injected_bug& out) {
  for (auto bug : {injected_bug::none, injected_bug::ack_before_apply,
                   injected_bug::read_without_read_index, injected_bug::propose_twice,
                   injected_bug::cas_fail_without_read_index}) {
    if (to_string(bug) == name) {
      out = bug;
      return true;
    }
  }
  return false;
}

std::string run_result::summary() const {
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(trace_hash));
  return std::string{ok ? "ok" : "FAILED"} + ": " + std::to_string(operations_ok) + " ops ok, " +
         std::to_string(operations_unknown) + " unknown, " + std::to_string(operations_refused) +
         " refused, " + std::to_string(claims) + " claims, " + std::to_string(crashes) +
         " crashes (" + std::to_string(unsynced_batches_lost) + " unsynced batches lost, " +
         std::to_string(sync_failures) + " after an fsync failure), " +
         std::to_string(partitions) + " partitions, " + std::to_string(replica_reads) +
         " local/eventual/quorum reads, " + std::to_string(eventual_writes_lost) + " of " +
         std::to_string(eventual_writes_acked) + " eventual writes lost, " +
         std::to_string(messages_delivered) + " messages delivered, " +
         std::to_string(messages_dropped) + " dropped, " + std::to_string(virtual_ms) +
         " virtual ms" + (linearizability_gave_up ? ", linearizability gave up" : "") +
         ", trace " + hash;
}

run_options mixed_options(uint64_t seed) {
  run_options options;
  options.seed = seed;
  options.nodes = seed % 3 == 0 ? 5 : 3;
  options.chaos_ms = 6000 + static_cast<int64_t>(seed % 4) * 2000;
  options.clients = 3 + static_cast<uint32_t>(seed % 4);
  options.keys = 3 + static_cast<uint32_t>(seed / 4 % 4);
  return options;
}

run_result run_seed(const run_options& options) {
  // The actors' log lines join a verbose trace, without spdlog's wall-clock stamp.
  spdlog::set_level(options.verbose ? spdlog::level::info : spdlog::level::off);
  if (options.verbose) spdlog::set_pattern("[%l] %v");
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system system{cfg};
  world w;
  w.options = options;
  w.generator.seed(options.seed);
  w.sched = &dynamic_cast<caf::scheduler::test_coordinator&>(system.scheduler());
  w.clock.emplace(w.sched->clock());
  w.events.verbose = options.verbose;
  draw_world(w);
  run_state rs{system, w};
  w.network = spawn_network(system, w);
  for (auto& n : w.nodes) start_node(rs, n);
  bool gave_up = false;
  run_phases(rs, gave_up);
  run_result out = collect(rs, gave_up);
  shut_down(rs);
  return out;
}

}  // namespace velocity::simb
