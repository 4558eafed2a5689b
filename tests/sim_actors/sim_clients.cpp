// The workload clients and scripts of a level-(b) run (see sim_clients.hpp).
//
// Actor safety: each actor's state is its own; the world is shared on the
// test coordinator's one thread.
#include "tests/sim_actors/sim_clients.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"

namespace velocity::simb {

namespace {

using client_go_atom = caf::atom_constant<caf::atom("client_go")>;
// Think time between a client's operations, and a script's retry delay.
constexpr int64_t client_think_ms_max = 40;
constexpr int64_t script_retry_ms = 100;

enum class op_kind : uint8_t { read, update, cas, insert, erase, job_insert, claim };

struct pending_op {
  op_kind kind = op_kind::read;
  consistency level = consistency::strong;
  raft::node_id node = 0;     // the router's node
  uint64_t incarnation = 0;   // of that node when sent
  std::string key;                      // register or job id
  std::optional<std::string> value;     // the value written (registers)
  std::optional<std::string> expected;  // cas
  int64_t invoke_ns = 0;
};

struct client_state {
  uint64_t client = 0;
  uint64_t next_value = 0;
  std::map<std::string, std::optional<std::string>> last_seen;  // per register
};

bool never_applied(error_code code) {
  return code == error_code::unavailable || code == error_code::not_leader ||
         code == error_code::overloaded;
}

// A live node, or 0 when every node is down.
raft::node_id pick_node(world& w) {
  std::vector<raft::node_id> up;
  for (const auto& n : w.nodes)
    if (n.up) up.push_back(n.id);
  if (up.empty()) return 0;
  return up[w.draw(up.size())];
}

// A live node's router, or null when every node is down.
router_actor pick_router(world& w) {
  raft::node_id node = pick_node(w);
  return node == 0 ? router_actor{} : router_actor{w.node(node).router};
}

std::optional<std::string> register_value(const reply& r) {
  if (!r.doc) return std::nullopt;
  auto it = r.doc->fields.find(register_field);
  if (it == r.doc->fields.end() || !it->second.is_string()) return std::nullopt;
  return it->second.as_string();
}

sim::operation base_operation(uint64_t client, const pending_op& op, int64_t done_ns) {
  sim::operation h;
  h.client = client;
  h.key = op.key;
  h.invoke_time = op.invoke_ns;
  h.complete_time = done_ns;
  return h;
}

void record_read_absent(world& w, uint64_t client, const pending_op& op, int64_t done_ns) {
  sim::operation h = base_operation(client, op, done_ns);
  h.type = sim::operation::kind::read;
  h.value = std::nullopt;
  w.seen.history.push_back(std::move(h));
}

// One register operation's answer (code ok, a definite failure, never
// applied, or unknown) into the history.
// A local, eventual or quorum read's answer (anything else tells nothing).
void record_replica_read(world& w, const pending_op& op, error_code code, const reply* answer,
                         int64_t done_ns) {
  if (code != error_code::ok && code != error_code::not_found) return;
  replica_read r;
  r.level = op.level;
  r.node = op.node;
  r.incarnation = op.incarnation;
  r.key = op.key;
  if (code == error_code::ok && answer && answer->doc) {
    r.value = register_value(*answer);
    r.revision = answer->doc->revision;
  }
  r.invoke_ns = op.invoke_ns;
  r.complete_ns = done_ns;
  w.seen.replica_reads.push_back(std::move(r));
}

void record_register(world& w, uint64_t client, const pending_op& op, error_code code,
                     const reply* answer, int64_t done_ns) {
  if (op.kind == op_kind::read && op.level != consistency::strong) {
    code == error_code::ok || code == error_code::not_found ? ++w.seen.ok : ++w.seen.unknown;
    return record_replica_read(w, op, code, answer, done_ns);
  }
  if (op.level == consistency::eventual) {
    // May be lost (docs/consistency.md): never part of the history.
    if (never_applied(code)) {
      if (op.value) w.seen.refused_values.insert(*op.value);
      ++w.seen.refused;
    } else if (code == error_code::ok) {
      if (op.value) w.seen.eventual_acked.insert(*op.value);
      ++w.seen.ok;
    } else {
      ++w.seen.unknown;
    }
    return;
  }
  if (code == error_code::ok && op.kind != op_kind::read && op.value && answer && answer->doc)
    w.seen.acked_writes.push_back({op.key, *op.value, answer->doc->revision, done_ns});
  sim::operation h = base_operation(client, op, done_ns);
  h.value = op.value;
  h.expected = op.expected;
  bool write_like = op.kind != op_kind::read;
  if (write_like && never_applied(code)) {
    if (op.value) w.seen.refused_values.insert(*op.value);
    ++w.seen.refused;
    return;
  }
  if (code == error_code::not_found && op.kind != op_kind::insert)
    return record_read_absent(w, client, op, done_ns);
  bool definite = code == error_code::ok || code == error_code::condition_failed ||
                  code == error_code::already_exists;
  if (!definite && !write_like) return;  // a failed read constrains nothing
  h.completed = definite;
  definite ? ++w.seen.ok : ++w.seen.unknown;
  switch (op.kind) {
    case op_kind::read:
      h.type = sim::operation::kind::read;
      h.value = register_value(*answer);
      break;
    case op_kind::update:
    case op_kind::erase:
      h.type = sim::operation::kind::write;
      break;
    case op_kind::cas:
    case op_kind::insert:
      h.type = sim::operation::kind::cas;
      h.ok = code == error_code::ok;
      break;
    default:
      return;
  }
  if (h.completed && h.type == sim::operation::kind::write && code != error_code::ok) return;
  w.seen.history.push_back(std::move(h));
}

void record(world& w, uint64_t client, const pending_op& op, error_code code,
            const reply* answer) {
  int64_t done_ns = w.now_ns();
  static constexpr const char* names[] = {"get", "update", "cas", "insert", "delete",
                                          "insert job", "claim"};
  w.note("client " + std::to_string(client) + " " + names[static_cast<size_t>(op.kind)] + " " +
         op.key + (op.value ? " " + *op.value : std::string{}) + " at " +
         std::string{to_string(op.level)} + " via node " + std::to_string(op.node) + " -> " +
         std::string{to_string(code)} +
         (answer && answer->doc ? " (" + answer->doc->id + " v" +
                                      std::to_string(answer->doc->version) + ")"
                                : std::string{}));
  // Every answer that carries a document names the one the request named.
  if (answer && answer->doc && op.kind != op_kind::claim && answer->doc->id != op.key)
    w.failures.push_back("client " + std::to_string(client) + " got the answer of another " +
                         "request: " + op.key + " answered with document " + answer->doc->id);
  if (op.kind == op_kind::job_insert) {
    if (code == error_code::ok) w.seen.acked_jobs.insert(op.key);
    never_applied(code) ? ++w.seen.refused : code == error_code::ok ? ++w.seen.ok : ++w.seen.unknown;
    return;
  }
  if (op.kind == op_kind::claim) {
    if (code == error_code::ok && answer && answer->claimed && answer->doc)
      w.seen.claimed.push_back(answer->doc->id);
    code == error_code::ok ? ++w.seen.ok : ++w.seen.unknown;
    return;
  }
  record_register(w, client, op, code, answer, done_ns);
}

value_map register_fields(const std::string& v) {
  return value_map{{register_field, value{v}}};
}

command claim_waiting() {
  cmd::claim c;
  c.collection = jobs_collection;
  c.range.index = "by_state";
  c.range.from = std::vector<value>{value{"waiting"}};
  c.range.to = std::vector<value>{value{"waiting"}};
  c.patch.emplace("state", value{"running"});
  return c;
}

// Draws the next operation of a client and its command.
command draw_operation(world& w, client_state& st, pending_op& op) {
  op.key = register_key(w.draw(w.options.keys));
  std::string fresh = "c" + std::to_string(st.client) + "." + std::to_string(++st.next_value);
  auto known = st.last_seen.find(op.key);
  bool present = known == st.last_seen.end() || known->second.has_value();
  uint64_t r = w.draw(100);
  // Strong and quorum writes are linearizable (both wait until a quorum
  // knows them committed); eventual writes go to registers of their own,
  // since they may be lost.
  auto strong_or_quorum = [&] {
    return w.draw(3) == 0 ? consistency::quorum : consistency::strong;
  };
  if (r < 30) {
    op.kind = op_kind::read;
    static constexpr consistency read_levels[] = {consistency::strong, consistency::strong,
                                                  consistency::quorum, consistency::eventual,
                                                  consistency::local};
    op.level = read_levels[w.draw(5)];
    if (op.level != consistency::strong && w.draw(3) == 0)
      op.key = eventual_register_key(w.draw(w.options.keys));
    return read_register(op.key);
  }
  if (r < 36) {
    op.kind = op_kind::update;
    op.level = consistency::eventual;
    op.key = eventual_register_key(w.draw(w.options.keys));
    op.value = fresh;
    return cmd::update{register_collection, op.key, register_fields(fresh), std::nullopt, 0};
  }
  if (r < 50) {
    op.kind = op_kind::update;
    op.level = strong_or_quorum();
    op.value = fresh;
    return cmd::update{register_collection, op.key, register_fields(fresh), std::nullopt, 0};
  }
  if (r < 70 && present && known != st.last_seen.end()) {
    op.kind = op_kind::cas;
    op.value = fresh;
    op.expected = known->second;
    cmd::compare_and_swap cas;
    cas.collection = register_collection;
    cas.id = op.key;
    cas.condition.conditions.push_back({register_field, filter_op::eq, value{*op.expected}});
    cas.fields = register_fields(fresh);
    return cas;
  }
  if (r < 76 || (r < 70 && !present)) {
    op.kind = op_kind::insert;
    op.level = strong_or_quorum();
    op.value = fresh;
    return cmd::insert{register_collection, op.key, register_fields(fresh), 0};
  }
  if (r < 80) {
    op.kind = op_kind::erase;
    op.level = strong_or_quorum();
    return cmd::erase{register_collection, op.key, std::nullopt, 0};
  }
  if (r < 90) {
    op.kind = op_kind::job_insert;
    op.key = "j" + fresh;
    return cmd::insert{jobs_collection, op.key, value_map{{"state", value{"waiting"}}}, 0};
  }
  op.kind = op_kind::claim;
  op.key.clear();
  return claim_waiting();
}

void remember(client_state& st, const pending_op& op, error_code code, const reply* answer) {
  if (op.kind == op_kind::job_insert || op.kind == op_kind::claim) return;
  // What a CAS expects comes from strong answers only (others may be stale
  // or, for eventual writes, never happen).
  if (op.level != consistency::strong) return;
  if (code == error_code::not_found) st.last_seen[op.key] = std::nullopt;
  if (code != error_code::ok) return;
  if (op.kind == op_kind::read) st.last_seen[op.key] = register_value(*answer);
  else st.last_seen[op.key] = op.value;
}

using client_pointer = caf::stateful_actor<client_state>*;

void next_operation(client_pointer self, world* w) {
  if (!w->clients_active) return;
  auto think = std::chrono::milliseconds{w->draw_between(1, client_think_ms_max)};
  raft::node_id node = pick_node(*w);
  if (node == 0) return self->delayed_send(self, think, client_go_atom::value);
  router_actor router = w->node(node).router;
  pending_op op;
  op.node = node;
  op.incarnation = w->node(node).incarnation;
  client_request request;
  request.request_id = self->state.next_value + 1;
  request.timeout_ms = client_request_timeout_ms;
  request.body = draw_operation(*w, self->state, op);
  request.level = op.level;
  op.invoke_ns = w->now_ns();
  self->request(router, std::chrono::milliseconds{client_wait_timeout_ms}, request_atom::value,
                std::move(request))
      .then(
          [=](client_response& r) {
            record(*w, self->state.client, op, r.result.st.code(), &r.result);
            remember(self->state, op, r.result.st.code(), &r.result);
            self->delayed_send(self, think, client_go_atom::value);
          },
          [=](caf::error&) {
            record(*w, self->state.client, op, error_code::timeout, nullptr);
            self->delayed_send(self, think, client_go_atom::value);
          });
}

caf::behavior client_impl(client_pointer self, world* w, uint64_t client) {
  self->state.client = client;
  return {[=](client_go_atom) { next_operation(self, w); }};
}

struct script_state {
  std::vector<script_step> steps;
  size_t next = 0;
  bool* done = nullptr;
};

using script_pointer = caf::stateful_actor<script_state>*;

// Whether a step's answer ends it; records final reads and lost jobs.
bool accept(world& w, const script_step& step, error_code code, const reply& r,
            int64_t invoke_ns) {
  switch (step.type) {
    case script_step::kind::setup:
      return code == error_code::ok || code == error_code::already_exists;
    case script_step::kind::final_read: {
      if (code != error_code::ok && code != error_code::not_found) return false;
      sim::operation h;
      h.type = sim::operation::kind::read;
      h.client = 1'000'000;
      h.key = step.key;
      h.value = code == error_code::ok ? register_value(r) : std::nullopt;
      h.invoke_time = invoke_ns;
      h.complete_time = w.now_ns();
      w.seen.history.push_back(std::move(h));
      return true;
    }
    case script_step::kind::final_job_check:
      if (code == error_code::not_found)
        w.failures.push_back("acknowledged write lost: job " + step.key +
                             " was inserted (answered ok) but is not found after healing");
      return code == error_code::ok || code == error_code::not_found;
  }
  return false;
}

void run_step(script_pointer self, world* w) {
  auto& st = self->state;
  if (st.next >= st.steps.size()) {
    *st.done = true;
    return;
  }
  auto retry = std::chrono::milliseconds{script_retry_ms};
  auto router = pick_router(*w);
  if (!router) return self->delayed_send(self, retry, client_go_atom::value);
  client_request request;
  request.timeout_ms = client_request_timeout_ms;
  request.body = st.steps[st.next].cmd;
  int64_t invoke_ns = w->now_ns();
  self->request(router, std::chrono::milliseconds{client_wait_timeout_ms}, request_atom::value,
                std::move(request))
      .then(
          [=](client_response& r) {
            auto& s = self->state;
            if (accept(*w, s.steps[s.next], r.result.st.code(), r.result, invoke_ns)) {
              ++s.next;
              return run_step(self, w);
            }
            self->delayed_send(self, retry, client_go_atom::value);
          },
          [=](caf::error&) { self->delayed_send(self, retry, client_go_atom::value); });
}

caf::behavior script_impl(script_pointer self, world* w, std::vector<script_step> steps,
                          bool* done) {
  self->state.steps = std::move(steps);
  self->state.done = done;
  return {[=](client_go_atom) { run_step(self, w); }};
}

}  // namespace

std::string register_key(size_t k) { return "r" + std::to_string(k); }
std::string eventual_register_key(size_t k) { return "e" + std::to_string(k); }

command read_register(const std::string& key) { return cmd::get{register_collection, key}; }

command get_job(const std::string& id) { return cmd::get{jobs_collection, id}; }

std::vector<command> setup_commands(size_t keys) {
  collection_schema registers;
  registers.collection = register_collection;
  registers.fields = {field_spec{register_field, field_type::string, false, std::nullopt}};
  collection_schema jobs;
  jobs.collection = jobs_collection;
  jobs.fields = {field_spec{"state", field_type::string, false, std::nullopt}};
  jobs.indexes = {index_spec{"by_state", {"state"}, false}};
  std::vector<command> out{cmd::create_schema{registers, 0}, cmd::create_schema{jobs, 0}};
  for (size_t k = 0; k < keys; ++k) {
    out.push_back(cmd::insert{register_collection, register_key(k), register_fields("init"), 0});
    out.push_back(
        cmd::insert{register_collection, eventual_register_key(k), register_fields("init"), 0});
  }
  return out;
}

caf::actor spawn_client(caf::actor_system& system, world& w, uint64_t client) {
  auto hdl = system.spawn(client_impl, &w, client);
  caf::anon_send(hdl, client_go_atom::value);
  return hdl;
}

caf::actor spawn_script(caf::actor_system& system, world& w, std::vector<script_step> steps,
                        bool* done) {
  auto hdl = system.spawn(script_impl, &w, std::move(steps), done);
  caf::anon_send(hdl, client_go_atom::value);
  return hdl;
}

}  // namespace velocity::simb
