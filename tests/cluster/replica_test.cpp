// The replica driver (cluster/replica.hpp): the effects it hands its shell,
// their order, and which request each answer goes to. A small harness plays
// the shell: it carries out effects in order over memory engines, routes
// messages between replicas, and holds syncs until the test releases them.
#define CAF_SUITE cluster_replica
#include "caf/test/unit_test.hpp"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <algorithm>
#include <vector>

#include "cluster/replica.hpp"
#include "command/keys.hpp"
#include "storage/memory_engine.hpp"

using namespace velocity;
using namespace velocity::cluster;

namespace {

constexpr int64_t tick_ns = 1000;

struct node {
  std::unique_ptr<memory_engine> disk = std::make_unique<memory_engine>();
  std::unique_ptr<raft::log_store> store;
  std::unique_ptr<replica> driver;
  std::vector<uint64_t> applied_requests;  // requests answered by apply effects
  std::vector<uint64_t> released;          // held replies released (quorum knows the commit)
  std::vector<raft::index_t> applied_indexes;
  std::vector<uint64_t> reads;
  std::map<uint64_t, status> failed;
  std::set<uint64_t> never_applied;  // failed requests the driver marked never_applied
  std::vector<uint64_t> sync_tokens;  // persist effects waiting for the test
  std::vector<std::string> order;     // effect kinds in the order carried out
  std::vector<raft::index_t> captures;
};

struct harness {
  std::map<raft::node_id, node> nodes;
  std::deque<raft::message> wire;
  std::set<raft::node_id> isolated;
  // Messages this returns true for are lost (when set).
  std::function<bool(const raft::message&)> drop;
  bool hold_syncs = false;
  replica_config base_;
  int64_t now_ns = 0;

  harness(std::vector<raft::node_id> ids, replica_config base) : base_(base) {
    for (raft::node_id id : ids) {
      node& n = nodes[id];
      n.store = std::make_unique<raft::log_store>(*n.disk, 1);
      raft::ready boot;
      boot.snap = raft::bootstrap_state(ids).snap;
      boot.snapshot_from_leader = true;
      boot.must_sync = true;
      CAF_REQUIRE(n.store->persist(boot).ok());
      auto loaded = n.store->load();
      CAF_REQUIRE(loaded.ok());
      replica_config cfg = base;
      cfg.raft.id = id;
      cfg.raft.random_seed = id * 7;
      n.driver = std::make_unique<replica>(cfg, std::move(loaded.value()), 0, *n.store, now_ns);
    }
  }

  // A process restart of node `id`: a new driver over what its store holds,
  // with the application's applied index `applied`; effects not carried out
  // and syncs not released are lost.
  void restart(raft::node_id id, raft::index_t applied) {
    node& n = nodes.at(id);
    n.sync_tokens.clear();
    n.store = std::make_unique<raft::log_store>(*n.disk, 1);
    auto loaded = n.store->load();
    CAF_REQUIRE(loaded.ok());
    replica_config cfg = base_;
    cfg.raft.id = id;
    cfg.raft.random_seed = id * 7;
    n.driver = std::make_unique<replica>(cfg, std::move(loaded.value()), applied, *n.store, now_ns);
  }

  void carry_out(raft::node_id id) {
    node& n = nodes.at(id);
    while (n.driver->has_effects()) {
      for (effect& fx : n.driver->take_effects()) {
        switch (fx.type) {
          case effect::kind::send:
            n.order.push_back("send");
            for (auto& m : fx.messages)
              if (!isolated.count(m.from) && !isolated.count(m.to)) wire.push_back(m);
            break;
          case effect::kind::persist:
            n.order.push_back(fx.sync ? "persist-sync" : "persist");
            CAF_REQUIRE(n.disk->write(fx.batch, write_options{}).ok());
            if (fx.sync) n.sync_tokens.push_back(fx.token);
            break;
          case effect::kind::apply:
            n.order.push_back("apply");
            n.applied_indexes.push_back(fx.entry.index);
            if (fx.request != 0) n.applied_requests.push_back(fx.request);
            break;
          case effect::kind::read:
            n.order.push_back("read");
            n.reads.push_back(fx.request);
            break;
          case effect::kind::fail:
            n.order.push_back("fail");
            n.failed.emplace(fx.request, fx.error);
            if (fx.never_applied) n.never_applied.insert(fx.request);
            break;
          case effect::kind::capture:
            n.order.push_back("capture");
            n.captures.push_back(fx.index);
            n.driver->compact(fx.index, std::string{});
            break;
          case effect::kind::restore:
            n.order.push_back("restore");
            break;
          case effect::kind::release:
            n.order.push_back("release");
            n.released.push_back(fx.request);
            break;
        }
      }
      if (!hold_syncs) release_syncs(id);
    }
  }

  void release_syncs(raft::node_id id) {
    node& n = nodes.at(id);
    auto tokens = std::move(n.sync_tokens);
    n.sync_tokens.clear();
    for (uint64_t token : tokens) {
      CAF_REQUIRE(n.disk->sync().ok());
      n.driver->persisted(token);
    }
  }

  // Delivers messages and effects until nothing moves.
  void settle() {
    for (size_t round = 0; round < 100'000; ++round) {
      bool moved = false;
      for (auto& [id, n] : nodes) {
        if (n.driver->has_effects()) {
          carry_out(id);
          moved = true;
        }
      }
      if (!wire.empty()) {
        raft::message m = std::move(wire.front());
        wire.pop_front();
        if (nodes.count(m.to) && !isolated.count(m.to) && !(drop && drop(m)))
          nodes.at(m.to).driver->step(m);
        moved = true;
      }
      if (!moved) return;
    }
    CAF_FAIL("the replicas never settled");
  }

  void advance_ms(int64_t ticks) {
    for (int64_t i = 0; i < ticks; ++i) {
      now_ns += tick_ns;
      for (auto& [id, n] : nodes)
        if (!isolated.count(id)) n.driver->tick_to(now_ns);
      settle();
    }
  }

  raft::node_id leader() const {
    for (const auto& [id, n] : nodes)
      if (!isolated.count(id) && n.driver->core().current_role() == raft::role::leader) return id;
    return raft::no_node;
  }

  // Elects a leader and lets it settle: the leader and one follower.
  std::pair<raft::node_id, raft::node_id> leader_and_follower() {
    raft::node_id lead = elect();
    CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
    advance_ms(2);
    return {lead, lead == 1 ? 2 : 1};
  }

  raft::node_id elect() {
    for (int i = 0; i < 200 && leader() == raft::no_node; ++i) advance_ms(1);
    return leader();
  }
};

replica_config base_config() {
  replica_config cfg;
  cfg.tick_ns = tick_ns;
  cfg.raft.election_ticks = 10;
  cfg.raft.heartbeat_ticks = 1;
  cfg.raft.lease_ticks = 5;
  cfg.compact_entries = 0;
  return cfg;
}

}  // namespace

CAF_TEST(a group of one commits on its own sync and answers the proposer with the apply) {
  harness h({1}, base_config());
  CAF_REQUIRE_EQUAL(h.elect(), 1u);
  node& n = h.nodes.at(1);
  h.hold_syncs = true;
  n.order.clear();
  CAF_REQUIRE(n.driver->propose(7, "seven").ok());
  h.carry_out(1);
  // The entry is written, and nothing is applied before its sync.
  CAF_CHECK_EQUAL(n.order, (std::vector<std::string>{"persist-sync"}));
  CAF_CHECK(n.applied_requests.empty());
  CAF_CHECK(n.driver->persist_in_flight());
  // A second proposal waits in the core while the first sync is in flight.
  CAF_REQUIRE(n.driver->propose(8, "eight").ok());
  h.carry_out(1);
  CAF_CHECK_EQUAL(n.order.size(), 1u);
  h.release_syncs(1);
  h.hold_syncs = false;
  h.carry_out(1);
  CAF_CHECK_EQUAL(n.applied_requests, (std::vector<uint64_t>{7, 8}));
  CAF_CHECK(!n.driver->persist_in_flight());
}

CAF_TEST(the only voter of a group leads as soon as it campaigns) {
  harness h({1}, base_config());
  node& n = h.nodes.at(1);
  n.driver->campaign();
  h.settle();
  CAF_CHECK_EQUAL(n.driver->core().current_role(), raft::role::leader);
  CAF_CHECK(n.driver->propose(3, "x").ok());
  h.settle();
  CAF_CHECK_EQUAL(n.applied_requests, (std::vector<uint64_t>{3}));
  CAF_CHECK_EQUAL(n.driver->ticks_delivered(), 0);
}

CAF_TEST(a campaign in a group of three does not make a leader by itself) {
  harness h({1, 2, 3}, base_config());
  h.isolated = {2, 3};
  h.nodes.at(1).driver->campaign();
  h.settle();
  CAF_CHECK_NOT_EQUAL(h.nodes.at(1).driver->core().current_role(), raft::role::leader);
}

CAF_TEST(a volatile group of one applies without persist effects) {
  replica_config cfg = base_config();
  cfg.volatile_log = true;
  harness h({1}, cfg);
  CAF_REQUIRE_EQUAL(h.elect(), 1u);
  node& n = h.nodes.at(1);
  n.order.clear();
  CAF_REQUIRE(n.driver->propose(1, "a").ok());
  h.carry_out(1);
  CAF_CHECK_EQUAL(n.order, (std::vector<std::string>{"apply"}));
  CAF_CHECK_EQUAL(n.applied_requests, (std::vector<uint64_t>{1}));
}

CAF_TEST(a follower sends its append response only after its persist is durable) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  raft::node_id follower = lead == 1 ? 2 : 1;
  h.hold_syncs = true;
  CAF_REQUIRE(h.nodes.at(lead).driver->propose(5, "x").ok());
  h.nodes.at(follower).order.clear();
  h.settle();
  node& f = h.nodes.at(follower);
  // The follower wrote the entry, but no answer left before its sync.
  CAF_REQUIRE(!f.order.empty());
  CAF_CHECK_EQUAL(f.order.back(), "persist-sync");
  CAF_CHECK(h.nodes.at(lead).applied_requests.empty());
  h.hold_syncs = false;
  for (auto& [id, n] : h.nodes) h.release_syncs(id);
  h.settle();
  h.advance_ms(2);
  CAF_CHECK_EQUAL(h.nodes.at(lead).applied_requests, (std::vector<uint64_t>{5}));
  // Every replica applied the same indexes; only the proposer answers.
  CAF_CHECK_EQUAL(f.applied_indexes, h.nodes.at(lead).applied_indexes);
  CAF_CHECK(f.applied_requests.empty());
}

CAF_TEST(a follower refuses proposals and reads with the leader it knows) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  raft::node_id follower = lead == 3 ? 2 : 3;
  status refused = h.nodes.at(follower).driver->propose(1, "x");
  CAF_CHECK_EQUAL(refused.code(), error_code::not_leader);
  CAF_CHECK_EQUAL(refused.message(), "not leader; leader is " + std::to_string(lead));
  status read = h.nodes.at(follower).driver->read(2, raft::read_mode::safe, h.now_ns);
  CAF_CHECK_EQUAL(read.code(), error_code::not_leader);
}

CAF_TEST(an overwritten proposal fails with unavailable and is never applied) {
  harness h({1, 2, 3}, base_config());
  raft::node_id old_leader = h.elect();
  CAF_REQUIRE_NOT_EQUAL(old_leader, raft::no_node);
  h.advance_ms(2);
  // The old leader appends an entry nobody else sees, then loses its term.
  h.isolated.insert(old_leader);
  CAF_REQUIRE(h.nodes.at(old_leader).driver->propose(42, "lost").ok());
  h.carry_out(old_leader);
  raft::node_id new_leader = h.elect();
  CAF_REQUIRE_NOT_EQUAL(new_leader, raft::no_node);
  CAF_REQUIRE(h.nodes.at(new_leader).driver->propose(43, "won").ok());
  h.advance_ms(3);
  h.isolated.clear();
  h.advance_ms(30);
  node& old = h.nodes.at(old_leader);
  CAF_REQUIRE_EQUAL(old.failed.count(42), 1u);
  CAF_CHECK_EQUAL(old.failed.at(42).code(), error_code::unavailable);
  CAF_CHECK_EQUAL(old.never_applied.count(42), 1u);  // so the router may retry it
  CAF_CHECK(old.applied_requests.empty());
  CAF_CHECK_EQUAL(h.nodes.at(new_leader).applied_requests, (std::vector<uint64_t>{43}));
  CAF_CHECK_EQUAL(old.applied_indexes, h.nodes.at(new_leader).applied_indexes);
}

CAF_TEST(a read is served after the applied index reaches its read index) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  node& l = h.nodes.at(lead);
  CAF_REQUIRE(l.driver->propose(1, "w").ok());
  CAF_REQUIRE(l.driver->read(2, raft::read_mode::safe, h.now_ns).ok());
  h.settle();
  CAF_REQUIRE_EQUAL(l.reads, (std::vector<uint64_t>{2}));
  // The write the read was issued after was applied before the read was served.
  CAF_CHECK_EQUAL(l.applied_requests, (std::vector<uint64_t>{1}));
  auto apply_at = std::find(l.order.begin(), l.order.end(), "apply");
  auto read_at = std::find(l.order.begin(), l.order.end(), "read");
  CAF_CHECK(apply_at < read_at);
}

CAF_TEST(a read at a new leader waits for the first commit of its term) {
  harness h({1}, base_config());
  node& n = h.nodes.at(1);
  h.hold_syncs = true;
  n.driver->campaign();
  h.carry_out(1);
  CAF_REQUIRE_EQUAL(n.driver->core().current_role(), raft::role::leader);
  // The leader's no-op is not durable yet, so nothing of this term is committed.
  CAF_REQUIRE(n.driver->read(4, raft::read_mode::safe, h.now_ns).ok());
  h.carry_out(1);
  CAF_CHECK(n.reads.empty());
  h.hold_syncs = false;
  h.release_syncs(1);
  h.carry_out(1);
  CAF_CHECK_EQUAL(n.reads, (std::vector<uint64_t>{4}));
}

CAF_TEST(the only voter serves a read at once when nothing is pending) {
  harness h({1}, base_config());
  node& n = h.nodes.at(1);
  n.driver->campaign();
  h.settle();
  CAF_REQUIRE(n.driver->propose(1, "w").ok());
  h.settle();
  n.order.clear();
  CAF_REQUIRE(n.driver->read(2, raft::read_mode::safe, h.now_ns).ok());
  CAF_CHECK_EQUAL(n.order, std::vector<std::string>{});
  h.carry_out(1);
  CAF_CHECK_EQUAL(n.order, (std::vector<std::string>{"read"}));
}

CAF_TEST(batched requests wait for flush and share one persist) {
  replica_config cfg = base_config();
  cfg.batch_requests = true;
  harness h({1}, cfg);
  node& n = h.nodes.at(1);
  n.driver->campaign();
  h.settle();
  n.order.clear();
  for (uint64_t r = 1; r <= 5; ++r) CAF_REQUIRE(n.driver->propose(r, "x").ok());
  h.carry_out(1);
  CAF_CHECK(n.order.empty());
  n.driver->flush();
  h.settle();
  CAF_CHECK_EQUAL(n.applied_requests, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  CAF_CHECK_EQUAL(std::count(n.order.begin(), n.order.end(), "persist-sync"), 1);
}

CAF_TEST(a lease read first delivers every elapsed tick) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  node& l = h.nodes.at(lead);
  int64_t before = l.driver->ticks_delivered();
  // The leader's thread stalled for 50 ticks: its lease expired meanwhile,
  // and once the ticks are delivered check-quorum has deposed it (it heard
  // from nobody for an election timeout), so the read is refused instead of
  // being served from the stale lease.
  status r = l.driver->read(9, raft::read_mode::lease, h.now_ns + 50 * tick_ns);
  CAF_CHECK_EQUAL(l.driver->ticks_delivered(), before + 50);
  CAF_CHECK_EQUAL(r.code(), error_code::not_leader);
  h.carry_out(lead);
  CAF_CHECK(l.reads.empty());
}

CAF_TEST(compaction is asked for after compact_entries and bounds the log) {
  replica_config cfg = base_config();
  cfg.compact_entries = 5;
  harness h({1}, cfg);
  CAF_REQUIRE_EQUAL(h.elect(), 1u);
  node& n = h.nodes.at(1);
  for (uint64_t r = 1; r <= 12; ++r) {
    CAF_REQUIRE(n.driver->propose(r, "v").ok());
    h.settle();
  }
  CAF_CHECK_EQUAL(n.applied_requests.size(), 12u);
  CAF_REQUIRE(n.captures.size() >= 2u);
  CAF_CHECK_EQUAL(n.driver->core().snapshot_info().index, n.captures.back());
  CAF_CHECK_EQUAL(n.driver->core().first_index(), n.captures.back() + 1);
  // The durable log was truncated too.
  auto loaded = n.store->load();
  CAF_REQUIRE(loaded.ok());
  CAF_CHECK_EQUAL(loaded->snap.meta.index, n.captures.back());
}

CAF_TEST(fail_all answers every pending proposal and read once) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  h.isolated.insert(lead);
  node& l = h.nodes.at(lead);
  CAF_REQUIRE(l.driver->propose(1, "a").ok());
  CAF_REQUIRE(l.driver->read(2, raft::read_mode::safe, h.now_ns).ok());
  l.driver->fail_all(status{error_code::unavailable, "stopping"});
  h.carry_out(lead);
  CAF_CHECK_EQUAL(l.failed.size(), 2u);
  CAF_CHECK_EQUAL(l.failed.at(1).code(), error_code::unavailable);
  CAF_CHECK_EQUAL(l.failed.at(2).code(), error_code::unavailable);
  // The proposal may be in other replicas' logs: never marked retryable.
  CAF_CHECK(l.never_applied.empty());
}

CAF_TEST(a conf change proposed through the driver is answered by its apply) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  node& l = h.nodes.at(lead);
  raft::node_id gone = lead == 3 ? 2 : 3;
  raft::conf_change change;
  change.type = raft::conf_change::kind::remove_node;
  change.node = gone;
  CAF_REQUIRE(l.driver->propose_conf_change(11, change).ok());
  h.settle();
  CAF_CHECK_EQUAL(l.applied_requests, (std::vector<uint64_t>{11}));
  CAF_CHECK(!l.driver->core().conf().contains(gone));
  // A follower refuses with the leader it knows.
  raft::node_id follower = lead == 1 ? 2 : 1;
  status refused = h.nodes.at(follower).driver->propose_conf_change(12, change);
  CAF_CHECK_EQUAL(refused.code(), error_code::not_leader);
}

CAF_TEST(a leadership transfer through the driver hands the lead to the target) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  raft::node_id target = lead == 1 ? 2 : 1;
  CAF_REQUIRE(h.nodes.at(lead).driver->transfer_leadership(target).ok());
  h.settle();
  h.advance_ms(2);
  CAF_CHECK_EQUAL(h.leader(), target);
  status refused = h.nodes.at(lead).driver->transfer_leadership(lead);
  CAF_CHECK_EQUAL(refused.code(), error_code::not_leader);
}

CAF_TEST(a replicated group compacts below its applied index and bounds its durable log) {
  replica_config cfg = base_config();
  cfg.compact_entries = 10;
  cfg.compact_keep_entries = 4;
  harness h({1, 2, 3}, cfg);
  const raft::node_id lead = h.elect();
  CAF_REQUIRE(lead != raft::no_node);
  node& l = h.nodes.at(lead);
  for (uint64_t r = 1; r <= 60; ++r) {
    CAF_REQUIRE(l.driver->propose(r, "v").ok());
    h.settle();
  }
  for (auto& [id, n] : h.nodes) {
    CAF_REQUIRE(!n.captures.empty());
    const raft::index_t snap = n.driver->core().snapshot_info().index;
    CAF_CHECK_EQUAL(snap, n.captures.back());
    // The capture keeps compact_keep_entries entries below the applied index.
    CAF_CHECK(n.driver->core().last_index() - snap >= 4u);
    CAF_CHECK(n.driver->core().last_index() - snap <= 14u);
    scan_options range;
    range.lower = keys::shard_prefix(1);
    range.upper = keys::range_end(range.lower);
    size_t durable_entries = 0;
    for (auto it = n.disk->scan(column::raft_log, range); it->valid(); it->next())
      ++durable_entries;
    CAF_CHECK(durable_entries <= 14u);
  }
}

CAF_TEST(a follower behind the compacted log gets a metadata only snapshot and catches up) {
  replica_config cfg = base_config();
  cfg.compact_entries = 10;
  cfg.compact_keep_entries = 2;
  harness h({1, 2, 3}, cfg);
  const raft::node_id lead = h.elect();
  CAF_REQUIRE(lead != raft::no_node);
  const raft::node_id lagging = lead == 3 ? 2 : 3;
  h.isolated.insert(lagging);
  node& l = h.nodes.at(lead);
  for (uint64_t r = 1; r <= 40; ++r) {
    CAF_REQUIRE(l.driver->propose(r, "v").ok());
    h.settle();
  }
  CAF_REQUIRE(l.driver->core().snapshot_info().index > 0u);
  h.isolated.clear();
  bool saw_snapshot = false;
  for (int i = 0; i < 100 && !saw_snapshot; ++i) {
    h.advance_ms(1);
    for (const auto& m : h.wire) saw_snapshot |= m.type == raft::message_type::snapshot_chunk;
    const auto& order = h.nodes.at(lagging).order;
    saw_snapshot |= std::find(order.begin(), order.end(), "restore") != order.end();
  }
  CAF_CHECK(saw_snapshot);
  h.advance_ms(20);
  node& f = h.nodes.at(lagging);
  const auto& order = f.order;
  CAF_CHECK(std::find(order.begin(), order.end(), "restore") != order.end());
  CAF_CHECK_EQUAL(f.driver->applied(), l.driver->applied());
}

CAF_TEST(a compaction of the durable log is one range delete not a delete per entry) {
  memory_engine disk;
  raft::log_store store(disk, 1);
  raft::ready grow;
  grow.snap = raft::bootstrap_state({1}).snap;
  grow.snapshot_from_leader = true;
  for (raft::index_t i = 1; i <= 10'000; ++i) grow.entries.push_back(raft::entry{1, i, raft::entry_kind::normal, {}});
  grow.must_sync = true;
  CAF_REQUIRE(store.persist(grow).ok());
  raft::ready compact;
  compact.snap = raft::snapshot{raft::snapshot_meta{9'990, 1, raft::membership{{1}, {}}}, std::string{}};
  write_batch batch;
  store.stage(compact, batch);
  CAF_CHECK(batch.size() <= 2u);
  CAF_REQUIRE(disk.write(batch).ok());
  auto loaded = store.load();
  CAF_REQUIRE(loaded.ok());
  CAF_CHECK_EQUAL(loaded->entries.size(), 10u);
}

// hand_off (a stopping node): the leader transfers to the voter whose log
// matches the most of its own; a follower or a lone leader has nothing to hand.
CAF_TEST(hand_off moves leadership to the most caught-up voter) {
  harness h({1, 2, 3}, base_config());
  raft::node_id lead = h.elect();
  CAF_REQUIRE(lead != raft::no_node);
  CAF_REQUIRE(h.nodes.at(lead).driver->propose(5, "x").ok());
  h.settle();
  raft::node_id follower = lead == 1 ? 2 : 1;
  CAF_CHECK_EQUAL(h.nodes.at(follower).driver->hand_off(), raft::no_node);
  raft::node_id target = h.nodes.at(lead).driver->hand_off();
  CAF_REQUIRE(target != raft::no_node);
  CAF_CHECK(target != lead);
  h.settle();
  CAF_CHECK_EQUAL(h.leader(), target);
  harness alone({1}, base_config());
  CAF_REQUIRE_EQUAL(alone.elect(), 1u);
  CAF_CHECK_EQUAL(alone.nodes.at(1).driver->hand_off(), raft::no_node);
}

// Elects a leader of h's three replicas and has it apply proposal
// `request` while every message telling it a follower knows the entry is
// committed is lost (the followers append and acknowledge it). Returns the
// leader and the entry's index; h.drop stays set.
std::pair<raft::node_id, raft::index_t> apply_unconfirmed(harness& h, uint64_t request) {
  raft::node_id lead = h.elect();
  CAF_REQUIRE_NOT_EQUAL(lead, raft::no_node);
  h.advance_ms(2);
  node& l = h.nodes.at(lead);
  const raft::index_t index = l.driver->core().last_index() + 1;
  h.drop = [lead, index](const raft::message& m) { return m.to == lead && m.commit >= index; };
  CAF_REQUIRE(l.driver->propose(request, "x").ok());
  h.advance_ms(3);
  return {lead, index};
}

CAF_TEST(a leader holds the reply to its proposal until a quorum knows the entry is committed) {
  harness h({1, 2, 3}, base_config());
  auto [lead, index] = apply_unconfirmed(h, 5);
  node& l = h.nodes.at(lead);
  CAF_CHECK_EQUAL(l.applied_requests, (std::vector<uint64_t>{5}));  // applied, held
  CAF_CHECK(l.released.empty());
  CAF_CHECK(l.failed.empty());
  CAF_CHECK_LESS(l.driver->core().known_committed(), index);
  h.drop = nullptr;
  h.advance_ms(2);
  CAF_CHECK_EQUAL(l.released, (std::vector<uint64_t>{5}));
  CAF_CHECK_GREATER_OR_EQUAL(l.driver->core().known_committed(), index);
  auto apply_at = std::find(l.order.begin(), l.order.end(), "apply");
  auto release_at = std::find(l.order.begin(), l.order.end(), "release");
  CAF_CHECK(apply_at < release_at);
}

CAF_TEST(a held reply fails with timeout when the leader loses leadership first) {
  harness h({1, 2, 3}, base_config());
  const raft::node_id lead = apply_unconfirmed(h, 5).first;
  node& l = h.nodes.at(lead);
  CAF_REQUIRE(l.released.empty());
  CAF_REQUIRE_EQUAL(l.applied_requests, (std::vector<uint64_t>{5}));
  // Cut off, the leader steps down (check quorum) before any confirmation.
  h.drop = [&](const raft::message& m) { return m.to == lead || m.from == lead; };
  h.advance_ms(40);
  CAF_REQUIRE_NOT_EQUAL(l.driver->core().current_role(), raft::role::leader);
  CAF_REQUIRE_EQUAL(l.failed.count(5), 1u);
  CAF_CHECK_EQUAL(l.failed.at(5).code(), error_code::timeout);
  CAF_CHECK(l.released.empty());
}

CAF_TEST(a group of one answers at once: it is its own quorum) {
  harness h({1}, base_config());
  CAF_REQUIRE_EQUAL(h.elect(), 1u);
  node& n = h.nodes.at(1);
  CAF_REQUIRE(n.driver->propose(7, "seven").ok());
  h.settle();
  CAF_CHECK_EQUAL(n.applied_requests, (std::vector<uint64_t>{7}));
  CAF_CHECK(n.released.empty());  // never held
  CAF_CHECK_EQUAL(n.driver->core().known_committed(), n.driver->core().commit_index());
}

CAF_TEST(a local read on a follower is served at once from its applied state) {
  harness h({1, 2, 3}, base_config());
  auto [lead, follower] = h.leader_and_follower();
  node& f = h.nodes.at(follower);
  f.order.clear();
  CAF_REQUIRE(f.driver->read_local(9, false).ok());
  h.carry_out(follower);
  CAF_CHECK_EQUAL(f.reads, (std::vector<uint64_t>{9}));
  CAF_CHECK_EQUAL(f.order, (std::vector<std::string>{"read"}));
}

CAF_TEST(a read at the commit index waits until the replica applied that far) {
  harness h({1, 2, 3}, base_config());
  auto [lead, follower] = h.leader_and_follower();
  node& f = h.nodes.at(follower);
  // The follower learns the commit index while its own write still syncs.
  h.hold_syncs = true;
  CAF_REQUIRE(h.nodes.at(lead).driver->propose(5, "x").ok());
  h.settle();
  for (auto& [id, n] : h.nodes)
    if (id != follower) h.release_syncs(id);
  h.settle();
  for (int i = 0; i < 3; ++i) {
    h.now_ns += tick_ns;
    h.nodes.at(lead).driver->tick_to(h.now_ns);
    h.settle();
    for (auto& [id, n] : h.nodes)
      if (id != follower) h.release_syncs(id);
    h.settle();
  }
  CAF_REQUIRE_LESS(f.driver->applied(), f.driver->core().commit_index());
  CAF_REQUIRE(f.driver->read_local(9, true).ok());
  h.carry_out(follower);
  CAF_CHECK(f.reads.empty());  // not before applied reaches the commit index
  h.hold_syncs = false;
  h.release_syncs(follower);
  h.settle();
  CAF_CHECK_EQUAL(f.reads, (std::vector<uint64_t>{9}));
  CAF_CHECK_GREATER_OR_EQUAL(f.driver->applied(), h.nodes.at(lead).driver->core().commit_index());
}

CAF_TEST(a restarted replica serves reads at its commit index only once caught up) {
  harness h({1, 2, 3}, base_config());
  auto [lead, follower] = h.leader_and_follower();
  node& l = h.nodes.at(lead);
  const raft::index_t index = l.driver->core().last_index() + 1;
  // The follower holds the entry durably but never learns it is committed.
  h.drop = [&](const raft::message& m) { return m.to == follower && m.commit >= index; };
  CAF_REQUIRE(l.driver->propose(5, "x").ok());
  h.advance_ms(3);
  CAF_REQUIRE_GREATER_OR_EQUAL(h.nodes.at(follower).driver->core().last_index(), index);
  CAF_REQUIRE_LESS(h.nodes.at(follower).driver->core().commit_index(), index);
  h.restart(follower, h.nodes.at(follower).driver->applied());
  node& f = h.nodes.at(follower);
  CAF_CHECK(!f.driver->caught_up());
  status refused = f.driver->read_local(9, true);
  CAF_CHECK_EQUAL(refused.code(), error_code::unavailable);
  CAF_CHECK(f.driver->read_local(10, false).ok());  // a local read is still served
  h.drop = nullptr;
  h.advance_ms(3);
  CAF_CHECK(f.driver->caught_up());
  CAF_REQUIRE(f.driver->read_local(11, true).ok());
  h.settle();
  CAF_CHECK_EQUAL(f.reads, (std::vector<uint64_t>{10, 11}));
  CAF_CHECK_GREATER_OR_EQUAL(f.driver->applied(), index);
}
