// JSON text <-> values for the human edges (see json.hpp).
//
// Parsing: simdjson's DOM parser does the syntax, UTF-8 validation and depth
// limit; this file converts its tree to values while enforcing what simdjson does
// not: duplicate keys, int64 range, string sizes, {"$bytes": base64}. simdjson's
// error codes are turned into messages a person can act on; where one code covers
// several mistakes (numbers, structure) a light scan of the text says which one
// and where. Writing is done here: compact, keys sorted (maps are sorted),
// shortest round-trip floats.
//
// Invariants: parse_json(to_json(v)) == v for every value within the limits
// whose floats are finite, except a map whose only key is "$bytes" with a string
// value (it reads back as bytes, or fails as bad base64).
//
// Thread safety: pure functions; each call builds its own parser.
#include "schema/json.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace velocity {
namespace {

constexpr std::string_view bytes_key = "$bytes";
constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// Longest text quoted inside an error message.
constexpr size_t quote_bytes_max = 40;

status malformed(std::string message) { return status{error_code::malformed, std::move(message)}; }
status too_large(std::string message) { return status{error_code::too_large, std::move(message)}; }

std::string quoted(std::string_view s) {
  if (s.size() > quote_bytes_max) return "\"" + std::string{s.substr(0, quote_bytes_max)} + "...\"";
  return "\"" + std::string{s} + "\"";
}

std::string too_deep_message(size_t depth_max) {
  return "JSON nesting deeper than " + std::to_string(depth_max);
}

// ---- base64 (RFC 4648, standard alphabet, padded) ----

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t group = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(base64_alphabet[(group >> shift) & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 0) return out;
  uint32_t group = byte(i) << 16;
  if (rest == 2) group |= byte(i + 1) << 8;
  out.push_back(base64_alphabet[(group >> 18) & 63]);
  out.push_back(base64_alphabet[(group >> 12) & 63]);
  out.push_back(rest == 2 ? base64_alphabet[(group >> 6) & 63] : '=');
  out.push_back('=');
  return out;
}

int base64_digit(char c) {
  const char* found = std::strchr(base64_alphabet, c);
  return c != '\0' && found != nullptr ? static_cast<int>(found - base64_alphabet) : -1;
}

// Strict decoding: padded length, alphabet only, '=' only at the end, and
// unused bits zero, so every byte string has exactly one accepted text.
status_or<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0)
    return malformed("invalid base64 in $bytes: length " + std::to_string(in.size()) +
                     " is not a multiple of 4");
  size_t padding = 0;
  if (!in.empty() && in.back() == '=') padding = in[in.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      size_t at = i + k;
      bool pad = at >= in.size() - padding;
      int digit = pad ? 0 : base64_digit(in[at]);
      if (digit < 0)
        return malformed("invalid base64 in $bytes: unexpected character at offset " + std::to_string(at));
      group = (group << 6) | static_cast<uint32_t>(digit);
    }
    out.push_back(static_cast<char>(group >> 16));
    out.push_back(static_cast<char>((group >> 8) & 0xff));
    out.push_back(static_cast<char>(group & 0xff));
  }
  out.resize(out.size() - padding);
  // The bits below the last kept byte must be zero.
  if (padding > 0) {
    int last = base64_digit(in[in.size() - padding - 1]);
    int unused_mask = padding == 1 ? 0x3 : 0xf;
    if ((last & unused_mask) != 0) return malformed("invalid base64 in $bytes: non-zero padding bits");
  }
  return out;
}

// ---- explaining simdjson's errors ----

// Where a scan of the text stopped and why.
struct text_scan {
  size_t open_containers = 0;  // unclosed [ or { at the end
  bool open_string = false;    // the text ends inside a string
  size_t trailing_at = std::string_view::npos;  // first byte after the top-level value
  std::string_view bad_number;                  // a well-formed number that overflows
  size_t bad_number_at = 0;
};

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i - start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') ++i;
  else if (digits() == 0) return false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == t.size();
}

// A well-formed JSON number that int64 or double cannot hold.
bool overflows(std::string_view token) {
  if (!is_json_number(token)) return false;
  std::string copy{token};
  bool integer = copy.find_first_of(".eE") == std::string::npos;
  if (integer) {
    int64_t parsed = 0;
    auto [end, error] = std::from_chars(copy.data(), copy.data() + copy.size(), parsed);
    return end == copy.data() + copy.size() && error == std::errc::result_out_of_range;
  }
  return std::isinf(std::strtod(copy.c_str(), nullptr));
}

// A light scan (not a parser): tracks strings and brackets to tell truncation from
// trailing text, and finds the first number token that is out of range.
text_scan scan_text(std::string_view text) {
  text_scan scan;
  bool in_string = false;
  bool top_value_done = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      if (!in_string && scan.open_containers == 0) top_value_done = true;
      continue;
    }
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (space) continue;
    if (top_value_done && scan.trailing_at == std::string_view::npos) scan.trailing_at = i;
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++scan.open_containers;
    } else if (c == ']' || c == '}') {
      if (scan.open_containers > 0) --scan.open_containers;
      if (scan.open_containers == 0) top_value_done = true;
    } else if (is_number_char(c)) {
      size_t end = i;
      while (end < text.size() && is_number_char(text[end])) ++end;
      auto token = text.substr(i, end - i);
      if (scan.bad_number.empty() && overflows(token)) {
        scan.bad_number = token;
        scan.bad_number_at = i;
      }
      if (scan.open_containers == 0) top_value_done = true;
      i = end - 1;
    } else if (scan.open_containers == 0 && std::isalpha(static_cast<unsigned char>(c))) {
      while (i + 1 < text.size() && std::isalpha(static_cast<unsigned char>(text[i + 1]))) ++i;
      top_value_done = true;
    }
  }
  scan.open_string = in_string;
  return scan;
}

status explain_structure(std::string_view text) {
  text_scan scan = scan_text(text);
  if (scan.open_string) return malformed("truncated JSON: the text ends inside a string");
  if (scan.open_containers > 0)
    return malformed("truncated JSON: " + std::to_string(scan.open_containers) +
                     " array(s) or object(s) not closed at the end of the text");
  if (scan.trailing_at != std::string_view::npos)
    return malformed("trailing garbage after the JSON value at byte " + std::to_string(scan.trailing_at));
  return malformed("malformed JSON: a comma, colon, bracket or key is missing or misplaced");
}

status explain_number(std::string_view text) {
  text_scan scan = scan_text(text);
  if (!scan.bad_number.empty())
    return malformed("number out of range: " + quoted(scan.bad_number) + " at byte " +
                     std::to_string(scan.bad_number_at));
  return malformed("malformed JSON number (leading zero, missing digits or bad exponent)");
}

status explain(simdjson::error_code error, std::string_view text, size_t depth_max) {
  switch (error) {
    case simdjson::EMPTY: return malformed("empty JSON input");
    case simdjson::UTF8_ERROR: return malformed("JSON text is not valid UTF-8");
    case simdjson::DEPTH_ERROR: return too_large(too_deep_message(depth_max));
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE: return explain_number(text);
    case simdjson::STRING_ERROR:
      return malformed("malformed JSON string (bad escape or unpaired surrogate)");
    case simdjson::UNESCAPED_CHARS:
      return malformed("JSON string contains an unescaped control character");
    case simdjson::UNCLOSED_STRING: return malformed("truncated JSON: a string is never closed");
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return malformed("malformed JSON literal (expected true, false or null)");
    case simdjson::CAPACITY:
    case simdjson::MEMALLOC: return too_large("JSON text too large for the parser");
    default: return explain_structure(text);
  }
}

// ---- converting simdjson's tree to values ----

struct converter {
  const json_limits& lim;
  // List elements plus map entries still allowed (one value or document).
  size_t values_left = lim.values_max;

  status_or<value> convert(simdjson::dom::element e, size_t depth);
  status_or<value_map> convert_object(simdjson::dom::object o, size_t depth);

  // The same bound, and the same code, as the Cap'n Proto decoder's.
  status charge(size_t count) {
    if (count > values_left)
      return too_large("more than " + std::to_string(lim.values_max) +
                       " values in one document or value");
    values_left -= count;
    return status{};
  }

  status check_string(std::string_view s) const {
    if (s.size() <= lim.string_bytes_max) return status{};
    return too_large("JSON string of " + std::to_string(s.size()) + " bytes exceeds the limit of " +
                     std::to_string(lim.string_bytes_max) + " bytes");
  }
};

status_or<value> converter::convert(simdjson::dom::element e, size_t depth) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::NULL_VALUE: return value{};
    case element_type::BOOL: return value{bool{e.get_bool().value_unsafe()}};
    case element_type::INT64: return value{int64_t{e.get_int64().value_unsafe()}};
    case element_type::UINT64:
      return malformed("number out of range: " + std::to_string(e.get_uint64().value_unsafe()) +
                       " does not fit int64");
    case element_type::DOUBLE: return value{e.get_double().value_unsafe()};
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      if (auto st = check_string(s); !st.ok()) return st;
      return value{s};
    }
    case element_type::ARRAY: {
      if (depth + 1 > lim.nesting_depth_max) return too_large(too_deep_message(lim.nesting_depth_max));
      value_list items;
      simdjson::dom::array array = e.get_array().value_unsafe();
      if (auto st = charge(array.size()); !st.ok()) return st;
      for (simdjson::dom::element item : array) {
        auto converted = convert(item, depth + 1);
        if (!converted.ok()) return converted.error();
        items.push_back(std::move(converted).value());
      }
      return value{std::move(items)};
    }
    case element_type::OBJECT: {
      if (depth + 1 > lim.nesting_depth_max) return too_large(too_deep_message(lim.nesting_depth_max));
      simdjson::dom::object object = e.get_object().value_unsafe();
      // {"$bytes": "<base64>"} alone is bytes; any other shape is a map.
      if (object.size() == 1 && (*object.begin()).key == bytes_key && (*object.begin()).value.is_string()) {
        auto decoded = base64_decode((*object.begin()).value.get_string().value_unsafe());
        if (!decoded.ok()) return decoded.error();
        if (auto st = check_string(*decoded); !st.ok()) return st;
        return value{bytes_value{std::move(decoded).value()}};
      }
      auto entries = convert_object(object, depth);
      if (!entries.ok()) return entries.error();
      return value{std::move(entries).value()};
    }
  }
  return malformed("unknown JSON element type");
}

status_or<value_map> converter::convert_object(simdjson::dom::object o, size_t depth) {
  if (auto st = charge(o.size()); !st.ok()) return st;
  value_map entries;
  for (auto field : o) {
    if (auto st = check_string(field.key); !st.ok()) return st;
    auto converted = convert(field.value, depth + 1);
    if (!converted.ok()) return converted.error();
    if (!entries.try_emplace(std::string{field.key}, std::move(converted).value()).second)
      return malformed("duplicate object key " + quoted(field.key));
  }
  return entries;
}

// Runs simdjson over text with the limits; `extra_depth` allows wrapper objects.
template <class Use>
auto parse_with(std::string_view text, const json_limits& lim, size_t extra_depth, Use use)
    -> decltype(use(simdjson::dom::element{})) {
  if (text.size() > lim.text_bytes_max)
    return too_large("JSON text of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                     std::to_string(lim.text_bytes_max) + " bytes");
  simdjson::dom::parser parser;
  size_t depth_max = lim.nesting_depth_max + extra_depth;
  // simdjson counts the root as one level; allow one more and check ours exactly.
  if (auto error = parser.allocate(std::max<size_t>(text.size(), 64), depth_max + 1); error)
    return explain(error, text, lim.nesting_depth_max);
  simdjson::dom::element root;
  if (auto error = parser.parse(text.data(), text.size(), true).get(root); error)
    return explain(error, text, lim.nesting_depth_max);
  return use(root);
}

// ---- writing ----

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t utf8_sequence_bytes(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t lead = at(i);
  size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t code = n == 1 ? lead : lead & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (at(i + k) & 0x3f);
  }
  constexpr uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  bool surrogate = code >= 0xd800 && code <= 0xdfff;
  return code < smallest[n] || code > 0x10ffff || surrogate ? 0 : n;
}

// Quotes and escapes; bytes that are not valid UTF-8 become U+FFFD so the
// output is always valid JSON.
void write_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    auto byte = static_cast<uint8_t>(c);
    if (byte >= 0x80) {
      size_t n = utf8_sequence_bytes(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (byte < 0x20) {
      const char* digits = "0123456789abcdef";
      out += "\\u00";
      out.push_back(digits[byte >> 4]);
      out.push_back(digits[byte & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void write_float(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), d);
  std::string_view text{buffer, static_cast<size_t>(result.ptr - buffer)};
  out += text;
  // Keep it a float when read back: "2" would parse as an int.
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void write_value(std::string& out, const value& v);

void write_map(std::string& out, const value_map& entries) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, item] : entries) {
    if (!std::exchange(first, false)) out.push_back(',');
    write_string(out, key);
    out.push_back(':');
    write_value(out, item);
  }
  out.push_back('}');
}

void write_value(std::string& out, const value& v) {
  switch (v.kind()) {
    case value_kind::null: out += "null"; return;
    case value_kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case value_kind::integer: out += std::to_string(v.as_int()); return;
    case value_kind::floating: write_float(out, v.as_float()); return;
    case value_kind::string: write_string(out, v.as_string()); return;
    case value_kind::bytes:
      out += "{\"$bytes\":\"" + base64_encode(v.as_bytes().data) + "\"}";
      return;
    case value_kind::list: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.as_list()) {
        if (!std::exchange(first, false)) out.push_back(',');
        write_value(out, item);
      }
      out.push_back(']');
      return;
    }
    case value_kind::map: write_map(out, v.as_map()); return;
  }
}

// ---- documents ----

status_or<uint64_t> read_unsigned(simdjson::dom::element e, std::string_view name) {
  if (e.is_uint64()) return uint64_t{e.get_uint64().value_unsafe()};
  return malformed("document " + std::string{name} + " must be a non-negative integer");
}

status_or<int64_t> read_signed(simdjson::dom::element e, std::string_view name) {
  if (e.is_int64()) return int64_t{e.get_int64().value_unsafe()};
  return malformed("document " + std::string{name} + " must be an integer within int64");
}

// Sets one top-level member of a document; unknown names are rejected.
status read_member(document& d, std::string_view name, simdjson::dom::element e, converter& conv) {
  if (name == "id") {
    if (!e.is_string()) return malformed("document id must be a string");
    d.id = std::string{e.get_string().value_unsafe()};
    return status{};
  }
  if (name == "fields") {
    if (!e.is_object()) return malformed("document fields must be an object");
    // The fields object counts as the outermost level of the field values.
    auto fields = conv.convert(e, 0);
    if (!fields.ok()) return fields.error();
    if (!fields->is_map()) return malformed("document fields must be an object, not $bytes");
    d.fields = std::move(fields->as_map());
    return status{};
  }
  if (name == "version" || name == "revision") {
    auto number = read_unsigned(e, name);
    if (!number.ok()) return number.error();
    (name == "version" ? d.version : d.revision) = *number;
    return status{};
  }
  if (name == "created_ns" || name == "modified_ns") {
    auto number = read_signed(e, name);
    if (!number.ok()) return number.error();
    (name == "created_ns" ? d.created_ns : d.modified_ns) = *number;
    return status{};
  }
  return malformed("unknown document key " + quoted(name));
}

status_or<document> read_document(simdjson::dom::element root, const json_limits& lim) {
  if (!root.is_object()) return malformed("a document must be a JSON object");
  converter conv{lim};
  document d;
  bool seen_id = false;
  std::vector<std::string_view> seen;
  simdjson::dom::object object = root.get_object().value_unsafe();
  for (auto member : object) {
    for (auto name : seen)
      if (name == member.key) return malformed("duplicate object key " + quoted(member.key));
    seen.push_back(member.key);
    if (auto st = read_member(d, member.key, member.value, conv); !st.ok()) return st;
    seen_id = seen_id || member.key == "id";
  }
  if (!seen_id) return malformed("document has no id");
  return d;
}

}  // namespace

status_or<value> parse_json(std::string_view text, const json_limits& lim) {
  return parse_with(text, lim, 0, [&](simdjson::dom::element root) -> status_or<value> {
    return converter{lim}.convert(root, 0);
  });
}

std::string to_json(const value& v) {
  std::string out;
  write_value(out, v);
  return out;
}

std::string document_to_json(const document& d) {
  std::string out = "{\"id\":";
  write_string(out, d.id);
  out += ",\"version\":" + std::to_string(d.version);
  out += ",\"created_ns\":" + std::to_string(d.created_ns);
  out += ",\"modified_ns\":" + std::to_string(d.modified_ns);
  out += ",\"revision\":" + std::to_string(d.revision);
  out += ",\"fields\":";
  write_map(out, d.fields);
  out.push_back('}');
  return out;
}

status_or<document> document_from_json(std::string_view text, const json_limits& lim) {
  // One extra level for the document object around the fields.
  return parse_with(text, lim, 1, [&](simdjson::dom::element root) -> status_or<document> {
    return read_document(root, lim);
  });
}

}  // namespace velocity
