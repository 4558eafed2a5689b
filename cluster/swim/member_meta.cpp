// Implements member_meta.hpp.
//
// Thread safety: pure functions.
#include "cluster/swim/member_meta.hpp"

#include <algorithm>
#include <charconv>

namespace velocity::swim {

namespace {

// An address is printable ASCII without the separators.
bool address_ok(std::string_view v) {
  return v.size() <= 300 && std::all_of(v.begin(), v.end(), [](char c) {
           return c > ' ' && c < 127 && c != ';' && c != '=';
         });
}

std::optional<std::vector<uint32_t>> parse_shards(std::string_view v) {
  std::vector<uint32_t> out;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    uint32_t shard = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), shard);
    if (ec != std::errc{} || end != item.data() + item.size() || item.empty()) return std::nullopt;
    if (!out.empty() && shard <= out.back()) return std::nullopt;  // ascending, unique
    out.push_back(shard);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
    if (v.empty()) return std::nullopt;  // a trailing comma
  }
  return out;
}

}  // namespace

std::string encode_member_meta(const member_meta& meta) {
  std::string out = "client=" + meta.client + ";peer=" + meta.peer + ";ops=" + meta.ops + ";led=";
  for (size_t i = 0; i < meta.led.size(); ++i)
    out += (i == 0 ? "" : ",") + std::to_string(meta.led[i]);
  return out;
}

std::optional<member_meta> decode_member_meta(std::string_view text) {
  member_meta out;
  while (!text.empty()) {
    size_t semi = text.find(';');
    std::string_view pair = text.substr(0, semi);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = pair.substr(0, eq);
    std::string_view value = pair.substr(eq + 1);
    if (key == "led") {
      auto shards = parse_shards(value);
      if (!shards) return std::nullopt;
      out.led = std::move(*shards);
    } else if (key == "client" || key == "peer" || key == "ops") {
      if (!address_ok(value)) return std::nullopt;
      (key == "client" ? out.client : key == "peer" ? out.peer : out.ops) = std::string{value};
    }
    if (semi == std::string_view::npos) break;
    text.remove_prefix(semi + 1);
  }
  return out;
}

}  // namespace velocity::swim
