// Test harness for the Raft rule suites (tests/raft/rules_*.cpp): N raft cores
// with ids 1..N, each with an in-memory "disk" written exactly as THE READY
// CONTRACT (cluster/raft/types.hpp) says, an application that records what it
// applied, and a message pool whose delivery the test controls (deliver all,
// deliver by predicate, drop, isolate a node, cut a link, inject by hand).
//
// The harness also checks the ready contract on every ready it handles and
// records each breach in violations(): a response or vote request in
// `messages` (must wait for persistence), a changed term/vote/log without
// must_sync, a committed entry that was not durable before its ready, applied
// entries out of order or twice, a heartbeat whose commit exceeds the
// follower's match, a ready that truncates a committed entry. Tests assert
// violations() is empty.
//
// Determinism: no clocks and no randomness besides config.random_seed (fixed
// per node: base seed * 1000 + id); every container iterated is ordered.
// Thread safety: none; one test owns one cluster.
//
// Invariants: a node's `disk` holds exactly what its readies asked to persist
// (contiguous entries after disk.snap.meta.index); `synced` holds what the
// last must_sync ready covered; `applied_index` is the index of the last entry
// (or restored snapshot) handed to the application.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft/raft.hpp"
#include "cluster/raft/types.hpp"

namespace velocity::raft::testing {

// Upper bound of delivery rounds in stabilize(): a cluster that still talks
// after this many rounds is livelocked (a bug, reported as a violation).
inline constexpr size_t stabilize_rounds_max = 10'000;
// Upper bound of ticks tick_until_leader() spends before giving up.
inline constexpr size_t election_ticks_max = 1'000;

// What survives restart(): everything written, or only what a sync covered.
enum class crash_mode : uint8_t { keep_written = 0, keep_synced = 1 };

struct node_state {
  config cfg;
  std::unique_ptr<raft> core;
  durable_state disk;    // every write of every handled ready
  durable_state synced;  // only what a must_sync ready made durable
  std::vector<entry> applied;      // entries delivered in `committed` since start
  std::vector<std::string> app;    // the application state: data of applied normal entries
  index_t applied_index = 0;
  std::vector<read_state> reads;   // read_states received, in order
  std::vector<uint64_t> dropped_reads;
  size_t readies_handled = 0;
};

// A log of `terms.size()` entries with these terms (index i + 1 has terms[i]),
// data "t<term>i<index>".
std::vector<entry> make_log(const std::vector<term_t>& terms);

// A durable state for an initial voter of `voters` with the given log and hard state.
durable_state state_with_log(const std::vector<node_id>& voters, const std::vector<term_t>& terms,
                             hard_state hard);

// The application's snapshot format: the `app` strings, length-prefixed.
std::string encode_app(const std::vector<std::string>& app);
std::vector<std::string> decode_app(const std::string& data);

class cluster {
 public:
  // `n` initial voters with ids 1..n from bootstrap_state; `base` supplies
  // every field of the config except id and random_seed.
  explicit cluster(size_t n, config base = {});
  // One node per state, ids 1..states.size().
  cluster(std::vector<durable_state> states, config base);

  // Adds a node that starts from `state` (default: empty, joins later).
  void add_node(node_id id, durable_state state = {});

  node_state& at(node_id id);
  raft& core(node_id id) { return *at(id).core; }
  std::vector<node_id> ids() const;
  config& base_config() { return base_; }

  // ---- time
  void tick(node_id id, size_t ticks = 1);
  void tick_all(size_t ticks = 1);
  // Ticks every node one tick at a time, stabilizing after each, until one
  // node leads with no other leader in the same or a higher term among the
  // reachable nodes. Returns the leader, or no_node after election_ticks_max.
  node_id tick_until_leader();
  // The unique leader of the highest term among non-isolated nodes, or no_node.
  node_id leader() const;

  // ---- readies
  // Handles one ready of `id` as the contract says (send, persist, send
  // after persist, apply, reads, advance). Returns false when none was ready.
  bool process_ready(node_id id);
  // Handles readies of every node until none has one.
  void process_all();
  // The steps of process_ready, for tests that interleave them by hand.
  ready take(node_id id);
  void send(const std::vector<message>& messages);
  void persist(node_id id, const ready& rd);
  void apply(node_id id, const ready& rd);
  void finish(node_id id, ready& rd);  // persist, send after-persist, apply, advance

  // ---- network
  std::vector<message>& pool() { return pool_; }
  // Steps every pooled message matching `pred` into its destination (in pool order).
  size_t deliver(const std::function<bool(const message&)>& pred);
  size_t deliver_all();
  size_t deliver_type(message_type type);
  size_t deliver_between(node_id a, node_id b);  // both directions
  size_t drop(const std::function<bool(const message&)>& pred);
  std::vector<message> take_messages(const std::function<bool(const message&)>& pred);
  void inject(const message& m);  // steps `m` into m.to now, bypassing the network
  // Process readies and deliver until the network is quiet.
  void stabilize();
  // Process readies, then deliver only messages matching `pred` until quiet;
  // others are dropped.
  void stabilize_only(const std::function<bool(const message&)>& pred);

  void isolate(node_id id);  // drops pooled and future messages to and from id
  void cut(node_id a, node_id b);
  void heal();  // restores every node and link
  bool reachable(node_id from, node_id to) const;

  // Every message ever sent (before network filtering), in order.
  const std::vector<message>& sent() const { return sent_; }
  void clear_sent() { sent_.clear(); }
  size_t count_sent(const std::function<bool(const message&)>& pred) const;

  // ---- faults
  // Rebuilds `id` from its disk (or only what a sync covered). The
  // application restarts from the disk's snapshot.
  void restart(node_id id, crash_mode mode = crash_mode::keep_written);

  // ---- application helpers
  // Proposes on `id`; CHECKs success; returns the entry id.
  entry_id propose(node_id id, const std::string& data);
  // Compacts `id` at its applied index with its application state.
  status compact(node_id id);

  // Contract breaches seen so far, one line each ("" when none).
  const std::vector<std::string>& violations() const { return violations_; }
  std::string violations_text() const;

 private:
  void check_ready(node_id id, const ready& rd);
  void check_committed(node_id id, const ready& rd);
  void enqueue(const message& m);
  void add_violation(node_id id, const std::string& what);

  config base_;
  std::map<node_id, node_state> nodes_;
  std::vector<message> pool_;
  std::vector<message> sent_;
  std::set<node_id> isolated_;
  std::set<std::pair<node_id, node_id>> cut_;
  std::vector<std::string> violations_;
};

// A config with pre-vote and check-quorum off, for suites testing the plain
// rules of the paper (those features have their own suite).
config plain_config();
// Ticks `id` alone, stabilizing after each tick, until it leads (false
// after election_ticks_max ticks).
bool elect(cluster& c, node_id id);
// Ticks every node but `except` until one of them leads; returns it (no_node
// after election_ticks_max ticks).
node_id elect_without(cluster& c, node_id except);
// The entries `core` holds, first_index() to last_index().
std::vector<entry> log_of(const raft& core);
// The last message of `type` from `from` in c.sent(), if any.
std::optional<message> last_sent(const cluster& c, message_type type, node_id from);

// True for the message types the contract allows in `messages` (before persist).
bool allowed_before_persist(message_type type);

// Predicates for deliver / drop / count_sent.
std::function<bool(const message&)> of_type(message_type type);
std::function<bool(const message&)> to_node(node_id id);
std::function<bool(const message&)> from_node(node_id id);

}  // namespace velocity::raft::testing
