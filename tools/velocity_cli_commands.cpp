// The `velocity` CLI subcommands: turn parsed arguments into client calls and
// print JSON results (one document per line for lists). Errors go to stderr as
// "error: <code_name>: <message>" with the exit codes of velocity_cli.hpp.
//
// Thread safety: single-threaded program.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "schema/filter.hpp"
#include "schema/json.hpp"
#include "schema/schema.hpp"
#include "tools/velocity_cli.hpp"

namespace velocity::cli {

int exit_code_for(error_code code) {
  switch (code) {
    case error_code::ok: return exit_ok;
    case error_code::not_found:
    case error_code::unknown_collection: return exit_not_found;
    case error_code::already_exists:
    case error_code::version_conflict:
    case error_code::condition_failed:
    case error_code::unique_violation: return exit_conflict;
    case error_code::schema_violation:
    case error_code::invalid_argument:
    case error_code::too_large:
    case error_code::malformed:
    case error_code::invalid_consistency: return exit_invalid;
    case error_code::unavailable:
    case error_code::not_leader:
    case error_code::timeout:
    case error_code::overloaded:
    case error_code::not_local: return exit_unavailable;
    case error_code::compacted:
    case error_code::corruption:
    case error_code::io_error:
    case error_code::internal: return exit_server_fault;
  }
  return exit_server_fault;
}

int report(const status& st) {
  std::cerr << "error: " << to_string(st.code()) << ": " << st.message() << '\n';
  return exit_code_for(st.code());
}

namespace {

status_or<std::string> read_all(std::istream& in, const std::string& what) {
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > limits::json_text_bytes_max)
      return status{error_code::too_large, what + " is larger than " +
                                               std::to_string(limits::json_text_bytes_max) + " bytes"};
  }
  return text;
}

status_or<value> parse(const std::string& text, const std::string& what) {
  auto parsed = parse_json(text);
  if (!parsed.ok()) return status{parsed.error().code(), what + ": " + parsed.error().message()};
  return parsed;
}

int print_document(const status_or<document>& d) {
  if (!d.ok()) return report(d.error());
  std::cout << document_to_json(d.value()) << '\n';
  return exit_ok;
}

// --index/--from/--to as an index range (nullopt when no --index).
status_or<std::optional<index_range>> range_argument(const arguments& a) {
  if (a.index.empty()) {
    if (!a.from.empty() || !a.to.empty())
      return status{error_code::invalid_argument, "--from and --to need --index"};
    return std::optional<index_range>{};
  }
  index_range range;
  range.index = a.index;
  if (!a.from.empty()) {
    auto from = json_prefix_argument(a.from, "--from");
    if (!from.ok()) return from.error();
    range.from = std::move(from).value();
  }
  if (!a.to.empty()) {
    auto to = json_prefix_argument(a.to, "--to");
    if (!to.ok()) return to.error();
    range.to = std::move(to).value();
  }
  return std::optional<index_range>{std::move(range)};
}

status_or<filter> where_argument(const std::string& text) {
  if (text.empty()) return filter{};
  auto v = json_argument(text);
  if (!v.ok()) return v.error();
  auto f = filter_from_value(v.value());
  if (!f.ok()) return status{f.error().code(), "--where: " + f.error().message()};
  return f;
}

}  // namespace

status_or<value> json_argument(const std::string& text) {
  if (text != "-") return parse(text, "JSON argument");
  auto all = read_all(std::cin, "stdin");
  if (!all.ok()) return all.error();
  return parse(all.value(), "JSON from stdin");
}

status_or<value> json_file(const std::string& path) {
  if (path == "-") return json_argument("-");
  std::ifstream in(path, std::ios::binary);
  if (!in) return status{error_code::io_error, "cannot read " + path};
  auto all = read_all(in, path);
  if (!all.ok()) return all.error();
  return parse(all.value(), path);
}

status_or<value_map> json_object_argument(const std::string& text, const char* what) {
  auto v = json_argument(text);
  if (!v.ok()) return v.error();
  if (!v->is_map())
    return status{error_code::invalid_argument,
                  std::string{what} + " must be a JSON object, not " +
                      std::string{to_string(v->kind())}};
  return std::move(v->as_map());
}

status_or<std::vector<value>> json_prefix_argument(const std::string& text, const char* what) {
  auto v = parse(text, what);
  if (!v.ok()) return v.error();
  if (v->is_list()) return std::move(v->as_list());
  return std::vector<value>{std::move(v).value()};
}

int run_insert(client& c, const arguments& a) {
  auto fields = json_object_argument(a.json, "document");
  if (!fields.ok()) return report(fields.error());
  return print_document(c.insert(a.collection, std::move(fields).value(), a.id));
}

int run_get(client& c, const arguments& a) { return print_document(c.get(a.collection, a.id)); }

int run_update(client& c, const arguments& a) {
  auto patch = json_object_argument(a.json, "patch");
  if (!patch.ok()) return report(patch.error());
  return print_document(c.update(a.collection, a.id, std::move(patch).value(), a.expect_version));
}

int run_replace(client& c, const arguments& a) {
  auto fields = json_object_argument(a.json, "document");
  if (!fields.ok()) return report(fields.error());
  return print_document(c.replace(a.collection, a.id, std::move(fields).value(), a.expect_version));
}

int run_delete(client& c, const arguments& a) {
  auto st = c.erase(a.collection, a.id, a.expect_version);
  return st.ok() ? exit_ok : report(st);
}

int run_cas(client& c, const arguments& a) {
  auto fields = json_object_argument(a.json, a.replace ? "document" : "patch");
  if (!fields.ok()) return report(fields.error());
  auto condition = where_argument(a.where);
  if (!condition.ok()) return report(condition.error());
  cmd::compare_and_swap request{a.collection, a.id, a.expect_version, std::move(condition).value(),
                                std::move(fields).value(), !a.replace, 0, std::nullopt};
  return print_document(c.compare_and_swap(std::move(request)));
}

int run_list(client& c, const arguments& a) {
  auto range = range_argument(a);
  if (!range.ok()) return report(range.error());
  list_options options;
  if (a.prefix_given) options.id_prefix = a.prefix;
  options.range = std::move(range).value();
  options.limit = a.limit;
  options.cursor = a.cursor;
  options.descending = a.reverse;
  auto page = c.list(a.collection, options);
  if (!page.ok()) return report(page.error());
  for (const auto& d : page->docs) std::cout << document_to_json(d) << '\n';
  // The cursor goes to stderr so stdout stays one document per line.
  if (!page->next_cursor.empty()) std::cerr << "next-cursor: " << page->next_cursor << '\n';
  return exit_ok;
}

int run_count(client& c, const arguments& a) {
  auto range = range_argument(a);
  if (!range.ok()) return report(range.error());
  auto n = c.count(a.collection, std::move(range).value());
  if (!n.ok()) return report(n.error());
  std::cout << n.value() << '\n';
  return exit_ok;
}

int run_claim(client& c, const arguments& a) {
  auto prefix = json_prefix_argument(a.prefix, "--prefix");
  if (!prefix.ok()) return report(prefix.error());
  auto condition = where_argument(a.where);
  if (!condition.ok()) return report(condition.error());
  auto patch = json_object_argument(a.set, "--set");
  if (!patch.ok()) return report(patch.error());
  cmd::claim request;
  request.collection = a.collection;
  request.range = index_range{a.index, prefix.value(), prefix.value()};
  request.condition = std::move(condition).value();
  request.patch = std::move(patch).value();
  auto claimed = c.claim(std::move(request));
  if (!claimed.ok()) return report(claimed.error());
  if (!claimed.value()) return exit_nothing;
  std::cout << document_to_json(*claimed.value()) << '\n';
  return exit_ok;
}

int run_schema_apply(client& c, const arguments& a) {
  auto v = json_file(a.file);
  if (!v.ok()) return v.error().code() == error_code::io_error ? (report(v.error()), exit_usage)
                                                              : report(v.error());
  auto schema = schema_from_value(v.value());
  if (!schema.ok()) return report(schema.error());
  // Apply = create, or alter when the collection exists already.
  auto created = c.create_schema(schema.value());
  if (!created.ok() && created.error().code() == error_code::already_exists)
    created = c.alter_schema(std::move(schema).value());
  if (!created.ok()) return report(created.error());
  std::cout << to_json(schema_to_value(created.value())) << '\n';
  return exit_ok;
}

int run_schema_get(client& c, const arguments& a) {
  auto schema = c.get_schema(a.collection);
  if (!schema.ok()) return report(schema.error());
  std::cout << to_json(schema_to_value(schema.value())) << '\n';
  return exit_ok;
}

int run_schema_drop(client& c, const arguments& a) {
  auto st = c.drop_schema(a.collection);
  return st.ok() ? exit_ok : report(st);
}

int run_status(client& c, const arguments&) {
  auto text = c.node_status();
  if (!text.ok()) return report(text.error());
  std::cout << text.value() << '\n';
  return exit_ok;
}

// One field of a status member as text ("" when absent).
std::string member_field(const value_map& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return "";
  if (it->second.is_string()) return it->second.as_string();
  if (it->second.is_int()) return std::to_string(it->second.as_int());
  if (it->second.is_list()) {
    std::string out;
    for (const value& v : it->second.as_list())
      if (v.is_int()) out += (out.empty() ? "" : ",") + std::to_string(v.as_int());
    return out.empty() ? "-" : out;
  }
  return "";
}

int run_members(client& c, const arguments&) {
  auto text = c.node_status();
  if (!text.ok()) return report(text.error());
  auto parsed = parse_json(text.value());
  if (!parsed.ok() || !parsed->is_map())
    return report(status{error_code::internal, "the node's status is not a JSON object"});
  const value_map& root = parsed->as_map();
  auto members = root.find("members");
  if (members == root.end() || !members->second.is_list()) {
    std::cout << "a single node (no membership gossip): node " << member_field(root, "node_id")
              << '\n';
    return exit_ok;
  }
  std::printf("%-4s %-8s %-11s %-22s %-22s %-22s %s\n", "ID", "STATE", "INCARNATION", "CLIENT",
              "PEER", "OPS", "LEADS");
  for (const value& v : members->second.as_list()) {
    if (!v.is_map()) continue;
    const value_map& m = v.as_map();
    std::printf("%-4s %-8s %-11s %-22s %-22s %-22s %s\n", member_field(m, "id").c_str(),
                member_field(m, "state").c_str(), member_field(m, "incarnation").c_str(),
                member_field(m, "client").c_str(), member_field(m, "peer").c_str(),
                member_field(m, "ops").c_str(), member_field(m, "led").c_str());
  }
  return exit_ok;
}

int run_health(client& c, const arguments&) {
  auto st = c.health();
  if (!st.ok()) return report(st);
  std::cout << "{\"ok\":true}\n";
  return exit_ok;
}

}  // namespace velocity::cli
