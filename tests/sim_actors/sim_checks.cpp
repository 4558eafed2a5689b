// The end-of-run checkers (see sim_checks.hpp).
//
// Thread safety: on the test coordinator's thread with no job running.
#include "tests/sim_actors/sim_checks.hpp"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <variant>

#include "cluster/raft/log_store.hpp"
#include "command/command_codec.hpp"
#include "storage/keys.hpp"
#include "storage/shard_dump.hpp"
#include "tests/sim/linearizability.hpp"
#include "tests/sim_actors/sim_clients.hpp"

namespace velocity::simb {

namespace {

uint64_t read_applied(engine& disk, uint32_t shard) {
  std::string bytes;
  if (!disk.get(column::meta, keys::applied_key(shard), bytes).ok() || bytes.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

// The unique value a workload write carries (registers: "v"; jobs: the id),
// or "" for commands without one (deletes, claims, schemas, the setup).
std::string token_of(const command& c) {
  auto field = [](const value_map& fields) -> std::string {
    auto it = fields.find(register_field);
    return it != fields.end() && it->second.is_string() ? it->second.as_string() : "";
  };
  std::string token;
  if (const auto* insert = std::get_if<cmd::insert>(&c))
    token = insert->collection == jobs_collection ? insert->id : field(insert->fields);
  else if (const auto* update = std::get_if<cmd::update>(&c))
    token = field(update->patch);
  else if (const auto* cas = std::get_if<cmd::compare_and_swap>(&c))
    token = field(cas->fields);
  return token == "init" ? "" : token;
}

}  // namespace

std::vector<std::vector<uint64_t>> applied_indexes(world& w) {
  std::vector<std::vector<uint64_t>> out(w.options.shards);
  for (uint32_t shard = 0; shard < w.options.shards; ++shard)
    for (auto& n : w.nodes) out[shard].push_back(read_applied(*n.disk, shard));
  return out;
}

void check_replicas_identical(world& w) {
  for (uint32_t shard = 0; shard < w.options.shards; ++shard) {
    std::string first;
    for (auto& n : w.nodes) {
      auto dump = dump_shard(*n.disk, shard);
      if (!dump.ok()) {
        w.failures.push_back("node " + std::to_string(n.id) + " shard " + std::to_string(shard) +
                             ": dump failed: " + dump.error().to_string());
        continue;
      }
      if (n.id == 1) first = dump.value();
      else if (dump.value() != first)
        w.failures.push_back("replicas differ after healing: shard " + std::to_string(shard) +
                             " on node " + std::to_string(n.id) + " (" +
                             std::to_string(dump.value().size()) + " bytes) is not node 1's (" +
                             std::to_string(first.size()) + " bytes)");
    }
  }
}

void check_logs(world& w) {
  for (auto& n : w.nodes) {
    for (uint32_t shard = 0; shard < w.options.shards; ++shard) {
      std::string where = "node " + std::to_string(n.id) + " shard " + std::to_string(shard);
      auto loaded = raft::log_store(*n.disk, shard).load();
      if (!loaded.ok()) {
        w.failures.push_back(where + ": log unreadable: " + loaded.error().to_string());
        continue;
      }
      uint64_t applied = read_applied(*n.disk, shard);
      std::map<std::string, uint64_t> seen;  // token -> first index
      for (const raft::entry& e : loaded->entries) {
        if (e.index > applied || e.kind != raft::entry_kind::normal || e.data.empty()) continue;
        auto decoded = decode_command(e.data);
        if (!decoded.ok()) continue;
        std::string token = token_of(decoded.value());
        if (token.empty()) continue;
        auto [it, fresh] = seen.emplace(token, e.index);
        if (!fresh)
          w.failures.push_back("write applied twice: " + token + " at indexes " +
                               std::to_string(it->second) + " and " + std::to_string(e.index) +
                               " of " + where);
        if (w.seen.refused_values.count(token))
          w.failures.push_back("write answered \"never applied\" was applied: " + token +
                               " at index " + std::to_string(e.index) + " of " + where);
      }
    }
  }
}

namespace {

// Where each workload write's token sits in the committed logs: token ->
// log index (the logs of converged replicas agree; the first found wins).
// `complete` is false when some log was compacted (older writes may be
// missing).
struct committed_writes {
  std::map<std::string, uint64_t> index_of;
  bool complete = true;
};

committed_writes collect_committed(world& w) {
  committed_writes out;
  for (auto& n : w.nodes) {
    for (uint32_t shard = 0; shard < w.options.shards; ++shard) {
      auto loaded = raft::log_store(*n.disk, shard).load();
      if (!loaded.ok()) continue;
      if (loaded->snap.meta.index > 0) out.complete = false;
      uint64_t applied = read_applied(*n.disk, shard);
      for (const raft::entry& e : loaded->entries) {
        if (e.index > applied || e.kind != raft::entry_kind::normal || e.data.empty()) continue;
        auto decoded = decode_command(e.data);
        if (!decoded.ok()) continue;
        std::string token = token_of(decoded.value());
        if (!token.empty()) out.index_of.emplace(token, e.index);
      }
    }
  }
  return out;
}

std::string describe(const replica_read& r) {
  return std::string{to_string(r.level)} + " read of " + r.key + " via node " +
         std::to_string(r.node) + " at " + std::to_string(r.invoke_ns / 1'000'000) + " ms = " +
         r.value.value_or("<absent>") + " (revision " + std::to_string(r.revision) + ")";
}

}  // namespace

void check_replica_reads(world& w) {
  committed_writes logs = collect_committed(w);
  // Local and eventual reads (and quorum reads) return states that existed:
  // the value they saw is the one a committed entry wrote at that revision.
  for (const replica_read& r : w.seen.replica_reads) {
    if (!r.value || *r.value == "init") continue;
    auto it = logs.index_of.find(*r.value);
    if (it == logs.index_of.end()) {
      if (logs.complete)
        w.failures.push_back(describe(r) + ": no committed entry wrote that value");
      continue;
    }
    if (it->second != r.revision)
      w.failures.push_back(describe(r) + ": the value was written at index " +
                           std::to_string(it->second));
  }
  // A replica's answers only move forward: two local reads of one key
  // through one node incarnation, the second sent after the first was
  // answered, never go back in revision.
  std::map<std::tuple<raft::node_id, uint64_t, std::string>, std::vector<const replica_read*>>
      local;
  for (const replica_read& r : w.seen.replica_reads)
    if (r.level == consistency::local && r.revision > 0)
      local[{r.node, r.incarnation, r.key}].push_back(&r);
  for (const auto& [where, reads] : local)
    for (const replica_read* a : reads)
      for (const replica_read* b : reads)
        if (a->complete_ns < b->invoke_ns && b->revision < a->revision)
          w.failures.push_back("local reads went backwards: " + describe(*a) + ", then " +
                               describe(*b));
  // A quorum read sees every strong or quorum write acknowledged before it
  // began.
  for (const replica_read& r : w.seen.replica_reads) {
    if (r.level != consistency::quorum || r.revision == 0) continue;
    for (const acked_write& a : w.seen.acked_writes)
      if (a.key == r.key && a.complete_ns < r.invoke_ns && a.revision > r.revision)
        w.failures.push_back(describe(r) + " missed " + a.value + " (revision " +
                             std::to_string(a.revision) + "), acknowledged at " +
                             std::to_string(a.complete_ns / 1'000'000) + " ms");
  }
  // Eventual writes may be lost: counted, not failed.
  for (const std::string& value : w.seen.eventual_acked)
    if (!logs.index_of.count(value)) ++w.seen.eventual_lost;
}

void check_claims(world& w) {
  std::set<std::string> ids;
  for (const auto& id : w.seen.claimed)
    if (!ids.insert(id).second) w.failures.push_back("document claimed twice: " + id);
}

bool check_history(world& w, uint64_t states_max) {
  auto result = sim::check_linearizable(w.seen.history, states_max);
  if (!result.linearizable)
    w.failures.push_back("not linearizable: key " + result.key + ": " + result.explanation);
  return result.gave_up;
}

}  // namespace velocity::simb
