// `velocity`: the command-line client. Parses arguments with CLI11, connects
// through the client library (include/velocity/client.hpp) and runs one
// subcommand. JSON results on stdout, "error: <code_name>: <message>" on
// stderr, exit codes as listed in tools/velocity_cli.hpp and in --help.
//
// Thread safety: single-threaded program (the CAF actor system runs the
// client actor on its own threads).
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <sstream>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "tools/velocity_cli.hpp"

namespace velocity::cli {
namespace {

constexpr const char* exit_codes_help =
    "Exit codes: 0 ok; 1 claim found nothing; 2 usage or unreadable file; 3 not found\n"
    "(not_found, unknown_collection); 4 conflict (already_exists, version_conflict,\n"
    "condition_failed, unique_violation); 5 invalid input (schema_violation,\n"
    "invalid_argument, too_large, malformed, invalid_consistency, bad JSON);\n"
    "6 unavailable (unavailable, not_leader, timeout, overloaded, not_local, cannot\n"
    "connect); 7 server fault (corruption, compacted, io_error, internal).\n"
    "JSON arguments given as '-' are read from stdin.";

struct global_options {
  std::string endpoints = "127.0.0.1:7400";
  std::string consistency_name = "strong";
  uint32_t timeout_ms = 5000;
  std::string partition;  // JSON; empty = none
};

using runner = std::function<int(client&, const arguments&)>;

// Registers one subcommand; `chosen` learns which one ran.
CLI::App* add_command(CLI::App& parent, const char* name, const char* help, runner run,
                      runner& chosen) {
  auto* sub = parent.add_subcommand(name, help);
  sub->footer(exit_codes_help);
  sub->callback([&chosen, run] { chosen = run; });
  return sub;
}

void add_version(CLI::App* sub, arguments& a) {
  sub->add_option("--expect-version", a.expect_version, "fail with version_conflict unless the stored version is N");
}

void add_range(CLI::App* sub, arguments& a) {
  sub->add_option("--index", a.index, "index name for a range");
  sub->add_option("--from", a.from, "range start: JSON tuple prefix (list or scalar), inclusive");
  sub->add_option("--to", a.to, "range end: JSON tuple prefix (list or scalar), inclusive");
}

void add_document_commands(CLI::App& app, arguments& a, runner& chosen) {
  auto* insert = add_command(app, "insert", "insert a document (JSON object)", run_insert, chosen);
  insert->add_option("COLLECTION", a.collection)->required();
  insert->add_option("JSON", a.json, "the document's fields, or - for stdin")->required();
  insert->add_option("--id", a.id, "document id (default: generated)");
  auto* get = add_command(app, "get", "print a document", run_get, chosen);
  get->add_option("COLLECTION", a.collection)->required();
  get->add_option("ID", a.id)->required();
  for (auto [name, help, run] :
       {std::tuple{"update", "merge a JSON patch (RFC 7396) into a document", runner{run_update}},
        std::tuple{"replace", "replace a document's fields", runner{run_replace}}}) {
    auto* sub = add_command(app, name, help, run, chosen);
    sub->add_option("COLLECTION", a.collection)->required();
    sub->add_option("ID", a.id)->required();
    sub->add_option("JSON", a.json, "JSON object, or - for stdin")->required();
    add_version(sub, a);
  }
  auto* erase = add_command(app, "delete", "delete a document", run_delete, chosen);
  erase->add_option("COLLECTION", a.collection)->required();
  erase->add_option("ID", a.id)->required();
  add_version(erase, a);
  auto* cas = add_command(app, "cas", "compare-and-swap: write only if version and condition hold",
                          run_cas, chosen);
  cas->add_option("COLLECTION", a.collection)->required();
  cas->add_option("ID", a.id)->required();
  cas->add_option("JSON", a.json, "patch (or fields with --replace), or - for stdin")->required();
  add_version(cas, a);
  cas->add_option("--where", a.where, "JSON filter the stored fields must match");
  cas->add_flag("--replace", a.replace, "replace the fields instead of merging a patch");
}

void add_query_commands(CLI::App& app, arguments& a, runner& chosen) {
  auto* list = add_command(app, "list", "list documents, one JSON document per line", run_list, chosen);
  list->add_option("COLLECTION", a.collection)->required();
  list->add_option("--prefix", a.prefix, "only ids starting with P")
      ->each([&a](const std::string&) { a.prefix_given = true; });
  add_range(list, a);
  list->add_option("--limit", a.limit, "page size (default: the server's)");
  list->add_option("--cursor", a.cursor, "continue after a previous page (printed on stderr)");
  list->add_flag("--reverse", a.reverse, "descending order");
  auto* count = add_command(app, "count", "count documents (all, or in an index range)", run_count, chosen);
  count->add_option("COLLECTION", a.collection)->required();
  add_range(count, a);
  auto* claim = add_command(app, "claim",
                            "atomically take the first matching document in an index prefix",
                            run_claim, chosen);
  claim->add_option("COLLECTION", a.collection)->required();
  claim->add_option("--index", a.index, "index name")->required();
  claim->add_option("--prefix", a.prefix, "JSON tuple prefix (list or scalar)")->required();
  claim->add_option("--where", a.where, "JSON filter");
  claim->add_option("--set", a.set, "JSON patch merged into the claimed document")->required();
}

void add_admin_commands(CLI::App& app, arguments& a, runner& chosen) {
  auto* schema = app.add_subcommand("schema", "manage collection schemas");
  schema->require_subcommand(1);
  schema->footer(exit_codes_help);
  auto* apply = add_command(*schema, "apply", "create or alter a schema from a JSON file",
                            run_schema_apply, chosen);
  apply->add_option("FILE", a.file, "schema JSON file, or - for stdin")->required();
  auto* get = add_command(*schema, "get", "print a collection's schema", run_schema_get, chosen);
  get->add_option("COLLECTION", a.collection)->required();
  auto* drop = add_command(*schema, "drop", "drop a collection's schema", run_schema_drop, chosen);
  drop->add_option("COLLECTION", a.collection)->required();
  add_command(app, "status", "print the node's status (JSON)", run_status, chosen);
  add_command(app, "members",
              "the cluster's members as this node's gossip sees them: id, state, incarnation, "
              "addresses, shards led",
              run_members, chosen);
  add_command(app, "health", "check that the node answers", run_health, chosen);
}

status_or<client_options> make_options(const global_options& g) {
  client_options options;
  options.endpoints.clear();
  std::stringstream list{g.endpoints};
  for (std::string endpoint; std::getline(list, endpoint, ',');)
    if (!endpoint.empty()) options.endpoints.push_back(endpoint);
  if (options.endpoints.empty())
    return status{error_code::invalid_argument, "--endpoints lists no endpoint"};
  if (!from_string(g.consistency_name, options.level))
    return status{error_code::invalid_consistency,
                  "unknown consistency '" + g.consistency_name + "' (strong|quorum|eventual|local)"};
  if (g.timeout_ms == 0) return status{error_code::invalid_argument, "--timeout must be positive"};
  options.timeout_ms = g.timeout_ms;
  return options;
}

int connect_and_run(const global_options& g, const arguments& a, const runner& run) {
  auto options = make_options(g);
  if (!options.ok()) return report(options.error());
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system system{cfg};
  auto connected = client::connect(system, options.value());
  if (!connected.ok()) {
    report(connected.error());
    return exit_unavailable;
  }
  if (!g.partition.empty()) {
    auto partition = json_argument(g.partition);
    if (!partition.ok()) return report(partition.error());
    connected.value()->set_partition(std::move(partition).value());
  }
  return run(*connected.value(), a);
}

}  // namespace

int main_cli(int argc, char** argv) {
  CLI::App app{"velocity: the VelocityDB command-line client"};
  app.footer(exit_codes_help);
  app.require_subcommand(1);
  // Global options may also follow the subcommand (velocity get jobs j1 --partition '"c1"').
  app.fallthrough();
  global_options g;
  app.add_option("--endpoints", g.endpoints, "host:port[,host:port...]")->capture_default_str();
  app.add_option("--consistency", g.consistency_name, "strong|quorum|eventual|local")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_ms, "request timeout in milliseconds")->capture_default_str();
  app.add_option("--partition", g.partition,
                 "JSON value of the partition key: names the document's partition for "
                 "get/update/delete/cas, narrows list/count/claim to that partition");
  arguments a;
  runner chosen;
  add_document_commands(app, a, chosen);
  add_query_commands(app, a, chosen);
  add_admin_commands(app, a, chosen);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }
  if (!chosen) return exit_usage;
  return connect_and_run(g, a, chosen);
}

}  // namespace velocity::cli

int main(int argc, char** argv) { return velocity::cli::main_cli(argc, argv); }
