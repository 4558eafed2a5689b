// Implementation of cluster_support.hpp: per-node settings, the status request
// over a raw socket, and bounded waits on what the nodes report.
//
// Thread safety: see the header.
#include "cluster_support.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "actors/transport.hpp"
#include "schema/json.hpp"

namespace velocity::process_test {
namespace {

using clock_type = std::chrono::steady_clock;

// Between two looks at the nodes' status: a Raft tick or so, not a spin.
constexpr uint32_t status_poll_interval_ms = 100;
constexpr uint32_t status_request_timeout_ms = 2000;
constexpr size_t groups_max = 1024;

bool past(clock_type::time_point deadline) { return clock_type::now() >= deadline; }

// The text after "key": inside one JSON object (no nesting, as the status has).
// A non-negative integer member of a status object, or false.
bool member_number(const value_map& object, const std::string& key, uint64_t& out) {
  auto it = object.find(key);
  if (it == object.end() || !it->second.is_int() || it->second.as_int() < 0) return false;
  out = static_cast<uint64_t>(it->second.as_int());
  return true;
}

status_or<group_status> parse_group(const value& item) {
  if (!item.is_map()) return status{error_code::malformed, "a group is not an object"};
  const auto& object = item.as_map();
  group_status g;
  uint64_t shard = 0;
  auto role = object.find("role");
  bool ok = member_number(object, "shard", shard) && member_number(object, "term", g.term) &&
            member_number(object, "leader", g.leader) &&
            member_number(object, "commit", g.commit) &&
            member_number(object, "applied", g.applied) && role != object.end() &&
            role->second.is_string();
  if (!ok) return status{error_code::malformed, "bad group: " + to_json(item)};
  g.shard = static_cast<uint32_t>(shard);
  g.role = role->second.as_string();
  return g;
}

}  // namespace

status_or<std::vector<group_status>> parse_groups(std::string_view json) {
  auto parsed = parse_json(json);
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_map()) return status{error_code::malformed, "status is not an object"};
  auto groups = parsed->as_map().find("groups");
  if (groups == parsed->as_map().end() || !groups->second.is_list())
    return status{error_code::malformed, "no groups in status"};
  std::vector<group_status> out;
  for (const value& item : groups->second.as_list()) {
    if (out.size() >= groups_max) break;
    auto group = parse_group(item);
    if (!group.ok()) return group.error();
    out.push_back(std::move(group.value()));
  }
  return out;
}

status_or<std::vector<member_status>> parse_members(std::string_view json) {
  auto parsed = parse_json(json);
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_map()) return status{error_code::malformed, "status is not an object"};
  auto members = parsed->as_map().find("members");
  if (members == parsed->as_map().end() || !members->second.is_list())
    return status{error_code::malformed, "no members in status"};
  std::vector<member_status> out;
  for (const value& item : members->second.as_list()) {
    if (!item.is_map()) return status{error_code::malformed, "a member is not an object"};
    const value_map& m = item.as_map();
    auto id = m.find("id");
    auto state = m.find("state");
    auto incarnation = m.find("incarnation");
    if (id == m.end() || !id->second.is_int() || state == m.end() || !state->second.is_string() ||
        incarnation == m.end() || !incarnation->second.is_int())
      return status{error_code::malformed, "a member without id, state or incarnation"};
    out.push_back({static_cast<uint64_t>(id->second.as_int()), state->second.as_string(),
                   static_cast<uint64_t>(incarnation->second.as_int())});
  }
  return out;
}

test_cluster::test_cluster(cluster_options options)
    : options_(std::move(options)), dir_(options_.name) {
  auto n = options_.node_count;
  for (size_t i = 0; i < n; ++i) {
    ports_.push_back(
        ports{free_port_below_ephemeral(), free_port_below_ephemeral(), free_port_below_ephemeral()});
    nodes_.push_back(std::make_unique<server_process>());
  }
  for (size_t from = 0; from < n; ++from)
    for (size_t to = 0; to < n; ++to)
      proxies_.push_back(options_.proxied && from != to
                             ? std::make_unique<tcp_proxy>(ports_[to].peer)
                             : nullptr);
  for (size_t from = 0; from < n; ++from) {
    std::string members;
    for (size_t to = 0; to < n; ++to) {
      auto& proxy = proxies_[from * n + to];
      members += (to == 0 ? "" : ",") + std::to_string(node_id(to)) + "@127.0.0.1:" +
                 std::to_string(proxy ? proxy->port() : ports_[to].peer);
    }
    members_.push_back(std::move(members));
  }
}

void test_cluster::isolate(size_t i, bool isolated) {
  auto n = nodes_.size();
  for (size_t other = 0; other < n; ++other) {
    if (other == i) continue;
    VELOCITY_CHECK(proxies_[i * n + other] != nullptr);
    proxies_[i * n + other]->set_clogged(isolated);
    proxies_[other * n + i]->set_clogged(isolated);
  }
}

std::string test_cluster::endpoint(size_t i) const {
  return "127.0.0.1:" + std::to_string(ports_.at(i).client);
}

server_settings test_cluster::settings(size_t i) const {
  auto node_dir = dir_.path() + "/node" + std::to_string(node_id(i));
  server_settings s;
  s.mode = "persistent";
  s.data_dir = node_dir + "/data";
  s.log_path = dir_.path() + "/node" + std::to_string(node_id(i)) + ".log";
  s.port = ports_.at(i).client;
  s.http_port = ports_.at(i).http;
  s.extra_args = {"--velocity.node-id=" + std::to_string(node_id(i)),
                  "--velocity.members=" + members_.at(i),
                  "--velocity.cluster-id=process-test-" + std::to_string(::getpid()),
                  "--velocity.replication-factor=" + std::to_string(options_.node_count),
                  "--velocity.shards=" + std::to_string(options_.shards),
                  "--velocity.raft-tick-ms=" + std::to_string(options_.raft_tick_ms),
                  "--velocity.election-ticks=" + std::to_string(options_.election_ticks)};
  if (options_.compact_entries != 0)
    s.extra_args.push_back("--velocity.raft-compact-entries=" +
                           std::to_string(options_.compact_entries));
  if (options_.snapshot_chunk_bytes != 0)
    s.extra_args.push_back("--velocity.snapshot-chunk-bytes=" +
                           std::to_string(options_.snapshot_chunk_bytes));
  return s;
}

void test_cluster::deafen(size_t i, bool deaf) {
  auto n = nodes_.size();
  for (size_t other = 0; other < n; ++other) {
    if (other == i) continue;
    VELOCITY_CHECK(proxies_[i * n + other] != nullptr);
    // Node i dialed `other`: the target's bytes flow backward; and the reverse.
    proxies_[i * n + other]->set_clogged(false, deaf);
    proxies_[other * n + i]->set_clogged(deaf, false);
  }
}

status test_cluster::start(uint32_t ready_wait_ms) {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (auto st = start_node(i); !st.ok()) return st;
  return wait_ready(ready_wait_ms);
}

status test_cluster::start_node(size_t i) {
  auto s = settings(i);
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path{s.data_dir}.parent_path(), ignored);
  return nodes_.at(i)->start(s);
}

status_or<std::string> test_cluster::status_text(size_t i, uint32_t timeout_ms) const {
  int fd = connect_loopback(ports_.at(i).client);
  if (fd < 0) return status{error_code::unavailable, "cannot connect to " + endpoint(i)};
  client_request request;
  request.request_id = 1;
  request.body = status_request{};
  status_or<client_response> response = status{error_code::unavailable, "cannot send"};
  if (send_all(fd, frame(encode_client_request(request)))) response = read_response(fd, timeout_ms);
  ::close(fd);
  if (!response.ok()) return response.error();
  if (!response->result.ok()) return response->result.st;
  return std::move(response->text);
}

status_or<std::vector<group_status>> test_cluster::group_statuses(size_t i,
                                                                  uint32_t timeout_ms) const {
  auto text = status_text(i, timeout_ms);
  if (!text.ok()) return text.error();
  return parse_groups(text.value());
}

status_or<std::vector<member_status>> test_cluster::members(size_t i, uint32_t timeout_ms) const {
  auto text = status_text(i, timeout_ms);
  if (!text.ok()) return text.error();
  return parse_members(text.value());
}

status_or<member_status> test_cluster::wait_member(size_t observer, uint64_t id,
                                                   const std::string& state, uint32_t timeout_ms,
                                                   std::optional<uint64_t> above) const {
  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  std::string last = "never asked";
  while (!past(deadline)) {
    auto seen = members(observer, status_request_timeout_ms);
    if (seen.ok()) {
      last = "not listed";
      for (const auto& m : seen.value()) {
        if (m.id != id) continue;
        last = m.state + " at incarnation " + std::to_string(m.incarnation);
        if (m.state == state && (!above || m.incarnation > *above)) return m;
      }
    } else {
      last = seen.error().to_string();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return status{error_code::timeout, "node " + std::to_string(node_id(observer)) +
                                         " did not see node " + std::to_string(id) + " " + state +
                                         " within " + std::to_string(timeout_ms) + " ms; last: " +
                                         last};
}

status test_cluster::wait_ready(uint32_t timeout_ms) const {
  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  std::string last = "no node asked";
  while (!past(deadline)) {
    bool ready = true;
    std::map<std::pair<uint32_t, uint64_t>, uint64_t> leader_of;  // (shard, term) -> leader
    for (size_t i = 0; i < nodes_.size() && ready; ++i) {
      if (!nodes_[i]->running()) continue;
      auto groups = group_statuses(i, status_request_timeout_ms);
      if (!groups.ok() || groups->size() != options_.shards) {
        last = "node " + std::to_string(node_id(i)) + ": " +
               (groups.ok() ? "wrong group count" : groups.error().to_string());
        ready = false;
        break;
      }
      for (const auto& g : groups.value()) {
        auto [it, fresh] = leader_of.emplace(std::pair{g.shard, g.term}, g.leader);
        if (g.leader == 0 || (!fresh && it->second != g.leader)) {
          last = "node " + std::to_string(node_id(i)) + ": shard " + std::to_string(g.shard) +
                 " leader " + std::to_string(g.leader) + " term " + std::to_string(g.term);
          ready = false;
        }
      }
    }
    if (ready) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds{status_poll_interval_ms});
  }
  return {error_code::timeout, "cluster not ready within " + std::to_string(timeout_ms) +
                                   " ms; last: " + last};
}

status test_cluster::wait_caught_up(size_t i, uint32_t timeout_ms) const {
  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  std::string last = "never asked";
  while (!past(deadline)) {
    std::map<uint32_t, uint64_t> others_max;  // shard -> highest applied elsewhere
    std::map<uint32_t, uint64_t> mine;
    bool complete = true;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!nodes_[n]->running()) continue;
      auto groups = group_statuses(n, status_request_timeout_ms);
      if (!groups.ok()) {
        complete = false;
        last = "node " + std::to_string(node_id(n)) + ": " + groups.error().to_string();
        break;
      }
      for (const auto& g : groups.value()) {
        if (n == i) mine[g.shard] = g.applied;
        else others_max[g.shard] = std::max(others_max[g.shard], g.applied);
      }
    }
    bool behind = !complete || mine.size() != options_.shards;
    for (const auto& [shard, applied] : others_max)
      if (mine[shard] < applied) {
        behind = true;
        last = "shard " + std::to_string(shard) + ": applied " + std::to_string(mine[shard]) +
               " < " + std::to_string(applied);
      }
    if (!behind) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds{status_poll_interval_ms});
  }
  return {error_code::timeout, "node " + std::to_string(node_id(i)) + " not caught up within " +
                                   std::to_string(timeout_ms) + " ms; last: " + last};
}

status test_cluster::wait_applied(size_t i, const std::map<uint32_t, uint64_t>& at_least,
                                  uint32_t timeout_ms) const {
  auto deadline = clock_type::now() + std::chrono::milliseconds{timeout_ms};
  std::string last = "never asked";
  while (!past(deadline)) {
    auto groups = group_statuses(i, status_request_timeout_ms);
    size_t reached = 0;
    if (groups.ok()) {
      for (const auto& g : groups.value()) {
        auto wanted = at_least.find(g.shard);
        if (wanted == at_least.end()) continue;
        if (g.applied >= wanted->second) ++reached;
        else last = "shard " + std::to_string(g.shard) + ": applied " + std::to_string(g.applied) +
                    " < " + std::to_string(wanted->second);
      }
    } else {
      last = groups.error().to_string();
    }
    if (reached == at_least.size()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds{status_poll_interval_ms});
  }
  return {error_code::timeout, "node " + std::to_string(node_id(i)) + " did not apply up to " +
                                   "the wanted indexes within " + std::to_string(timeout_ms) +
                                   " ms; last: " + last};
}

}  // namespace velocity::process_test
