// libFuzzer target: JSON at the human edges. Any text either fails to parse
// with a status or parses into a value whose to_json text parses back to an
// equal value (and prints the same text again), so what the CLI shows is what
// the database holds.
//
// Thread safety: libFuzzer calls the entry point from one thread.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "schema/json.hpp"

namespace {

void require(bool condition, const char* what, std::string_view text) {
  if (condition) return;
  std::fprintf(stderr, "json_fuzz property violated: %s\ntext: %.*s\n", what,
               static_cast<int>(text.size()), text.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = velocity::parse_json(text);
  if (!parsed.ok()) return 0;
  std::string printed = velocity::to_json(parsed.value());
  auto reparsed = velocity::parse_json(printed);
  require(reparsed.ok(), "to_json produced text that does not parse", printed);
  require(reparsed.value() == parsed.value(), "to_json text parses to a different value", printed);
  require(velocity::to_json(reparsed.value()) == printed, "to_json is not stable", printed);
  return 0;
}
