// Implements sim_kv.hpp: the command and snapshot codecs and the apply rule.
//
// Thread safety: pure functions.
#include "tests/sim/sim_kv.hpp"

#include <sstream>
#include <vector>

namespace velocity::sim {

namespace {

constexpr std::string_view absent_marker = "~";

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find(' ', start);
    const size_t stop = end == std::string_view::npos ? text.size() : end;
    words.emplace_back(text.substr(start, stop - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return words;
}

std::optional<uint64_t> parse_u64(const std::string& text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

std::string encode_command(const command& c) {
  std::ostringstream out;
  switch (c.type) {
    case command::kind::write:
      out << "W " << c.request << ' ' << c.key << ' ' << c.value;
      break;
    case command::kind::cas:
      out << "C " << c.request << ' ' << c.key << ' '
          << (c.expected ? *c.expected : std::string{absent_marker}) << ' ' << c.value;
      break;
    case command::kind::noop:
      out << "N " << c.request;
      break;
  }
  return out.str();
}

std::optional<command> decode_command(std::string_view data) {
  const auto words = split_words(data);
  if (words.size() < 2) return std::nullopt;
  const auto request = parse_u64(words[1]);
  if (!request) return std::nullopt;
  command c;
  c.request = *request;
  if (words[0] == "N" && words.size() == 2) {
    c.type = command::kind::noop;
  } else if (words[0] == "W" && words.size() == 4) {
    c.type = command::kind::write;
    c.key = words[2];
    c.value = words[3];
  } else if (words[0] == "C" && words.size() == 5) {
    c.type = command::kind::cas;
    c.key = words[2];
    if (words[3] != absent_marker) c.expected = words[3];
    c.value = words[4];
  } else {
    return std::nullopt;
  }
  return c;
}

bool apply_command(kv_map& map, const command& c) {
  switch (c.type) {
    case command::kind::noop:
      return true;
    case command::kind::write:
      map[c.key] = c.value;
      return true;
    case command::kind::cas: {
      const auto it = map.find(c.key);
      const bool matches = it == map.end() ? !c.expected.has_value()
                                           : (c.expected && *c.expected == it->second);
      if (matches) map[c.key] = c.value;
      return matches;
    }
  }
  return false;
}

std::string encode_map(const kv_map& map) {
  std::string out;
  for (const auto& [key, value] : map) {
    out += key;
    out += ' ';
    out += value;
    out += '\n';
  }
  return out;
}

std::optional<kv_map> decode_map(std::string_view data) {
  kv_map map;
  size_t start = 0;
  while (start < data.size()) {
    const size_t end = data.find('\n', start);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view line = data.substr(start, end - start);
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    map.emplace(std::string{line.substr(0, space)}, std::string{line.substr(space + 1)});
    start = end + 1;
  }
  return map;
}

}  // namespace velocity::sim
