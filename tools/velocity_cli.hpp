// Shared pieces of the `velocity` CLI (tools/velocity_cli*.cpp): exit codes,
// input helpers, output helpers.
//
// Exit codes (also printed by --help):
//   0 success          1 claim found nothing eligible
//   2 usage / unreadable input file
//   3 not found        (not_found, unknown_collection)
//   4 conflict         (already_exists, version_conflict, condition_failed, unique_violation)
//   5 invalid input    (schema_violation, invalid_argument, too_large, malformed,
//                       invalid_consistency; also bad JSON given on the command line)
//   6 unavailable      (unavailable, not_leader, timeout, overloaded, not_local;
//                       no endpoint accepts a connection)
//   7 server fault     (corruption, compacted, io_error, internal)
//
// Thread safety: single-threaded program.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "protocols/error.hpp"
#include "schema/value.hpp"
#include "velocity/client.hpp"

namespace velocity::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_nothing = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_not_found = 3;
inline constexpr int exit_conflict = 4;
inline constexpr int exit_invalid = 5;
inline constexpr int exit_unavailable = 6;
inline constexpr int exit_server_fault = 7;

int exit_code_for(error_code code);

// Prints "error: <code_name>: <message>" to stderr; returns exit_code_for(code).
int report(const status& st);

// JSON text from an argument: "-" reads stdin, anything else is the JSON itself.
status_or<value> json_argument(const std::string& text);
// JSON text from a file path, or stdin for "-".
status_or<value> json_file(const std::string& path);
// A JSON argument that must be an object.
status_or<value_map> json_object_argument(const std::string& text, const char* what);
// A tuple prefix: a JSON list, or a scalar standing for a one-element list.
status_or<std::vector<value>> json_prefix_argument(const std::string& text, const char* what);

// Everything a subcommand needs, filled from the command line.
struct arguments {
  std::string collection;
  std::string id;
  std::string json;
  std::string file;
  std::optional<uint64_t> expect_version;
  std::string where;
  std::string set;
  bool replace = false;
  std::string prefix;
  bool prefix_given = false;
  std::string index;
  std::string from;
  std::string to;
  uint32_t limit = 0;
  std::string cursor;
  bool reverse = false;
};

// The subcommands (tools/velocity_cli_commands.cpp); each returns an exit code.
int run_insert(client& c, const arguments& a);
int run_get(client& c, const arguments& a);
int run_update(client& c, const arguments& a);
int run_replace(client& c, const arguments& a);
int run_delete(client& c, const arguments& a);
int run_cas(client& c, const arguments& a);
int run_list(client& c, const arguments& a);
int run_count(client& c, const arguments& a);
int run_claim(client& c, const arguments& a);
int run_schema_apply(client& c, const arguments& a);
int run_schema_get(client& c, const arguments& a);
int run_schema_drop(client& c, const arguments& a);
int run_status(client& c, const arguments& a);
int run_members(client& c, const arguments& a);
int run_health(client& c, const arguments& a);

}  // namespace velocity::cli
