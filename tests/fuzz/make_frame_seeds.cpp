// Writes the seed corpus of frame_fuzz (tests/fuzz/corpus/frame/): real
// ClientRequest frames for every command kind and the other request kinds, as
// frame_fuzz reads them (one chunk-size byte, then a byte stream of frames).
// Some seeds hold several frames, one ends with a truncated frame and one with
// a bad length prefix. Rerun after changing client.capnp or command.capnp:
//   frame_seeds_gen tests/fuzz/corpus/frame
//
// Thread safety: a single-threaded tool.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "command/command_codec.hpp"
#include "protocols/client.capnp.h"
#include "protocols/framing.hpp"

namespace {

using namespace velocity;

std::string flatten(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string request_frame(uint64_t id, const command& c) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<wire::ClientRequest>();
  request.setRequestId(id);
  request.setConsistency(wire::Consistency::QUORUM);
  request.setTimeoutMs(250);
  write_command(c, request.initCommand());
  std::string out;
  append_frame(out, flatten(message));
  return out;
}

std::string health_frame(uint64_t id) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<wire::ClientRequest>();
  request.setRequestId(id);
  request.setHealth();
  std::string out;
  append_frame(out, flatten(message));
  return out;
}

std::string reply_frame(const reply& r) {
  std::string out;
  append_frame(out, encode_reply(r));
  return out;
}

filter sample_filter() {
  return filter_from_value(value{value_map{{"cpu", value{value_map{{"$le", value{4}}}}},
                                           {"state", value{"waiting"}}}})
      .value();
}

collection_schema sample_schema() {
  value_map fields{{"colony", value{value_map{{"type", value{"string"}}, {"required", value{true}}}}},
                   {"state", value{value_map{{"type", value{"string"}}}}}};
  value_list indexes{value{value_map{{"name", value{"by_state"}},
                                     {"fields", value{value_list{value{"colony"}, value{"state"}}}}}}};
  return schema_from_value(value{value_map{{"collection", value{"jobs"}},
                                           {"fields", value{std::move(fields)}},
                                           {"indexes", value{std::move(indexes)}}}})
      .value();
}

std::vector<command> commands() {
  value_map fields{{"colony", value{"c1"}}, {"state", value{"waiting"}}, {"cpu", value{2}},
                   {"tags", value{value_list{value{"a"}, value{1.5}}}},
                   {"raw", value{bytes_value{"\x01\x02"}}}};
  index_range range{"by_state", std::vector<value>{value{"c1"}, value{"waiting"}},
                    std::vector<value>{value{"c1"}, value{"waiting"}}};
  return {cmd::insert{"jobs", "j1", fields, 1},
          cmd::get{"jobs", "j1"},
          cmd::update{"jobs", "j1", value_map{{"cpu", value{}}}, 1, 2},
          cmd::replace{"jobs", "j1", fields, std::nullopt, 3},
          cmd::erase{"jobs", "j1", 2, 4},
          cmd::compare_and_swap{"jobs", "j1", 3, sample_filter(), fields, true, 5},
          cmd::list{"jobs", std::string{"j"}, std::nullopt, 10, "", true},
          cmd::list{"jobs", std::nullopt, range, 0, "00ff", false},
          cmd::count{"jobs", range},
          cmd::claim{"jobs", range, sample_filter(), value_map{{"state", value{"running"}}}, 6},
          cmd::create_schema{sample_schema(), 7},
          cmd::alter_schema{sample_schema(), 8},
          cmd::drop_schema{"jobs", 9}};
}

bool write_seed(const std::string& dir, const std::string& name, char chunk, const std::string& stream) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(chunk);
  out << stream;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  bool ok = true;
  auto all = commands();
  std::string pipelined;
  for (size_t i = 0; i < all.size(); ++i) {
    auto frame = request_frame(i + 1, all[i]);
    ok &= write_seed(dir, "command_" + std::to_string(i), static_cast<char>(255), frame);
    pipelined += frame;
  }
  ok &= write_seed(dir, "health", static_cast<char>(3), health_frame(99));
  ok &= write_seed(dir, "pipelined", static_cast<char>(7), pipelined);
  ok &= write_seed(dir, "truncated", static_cast<char>(64), pipelined.substr(0, pipelined.size() / 2));
  ok &= write_seed(dir, "bad_prefix", static_cast<char>(0), health_frame(1) + std::string("\x05\0\0\0", 4));
  reply full;
  full.st = status{error_code::version_conflict, "jobs/j1 expected version 2, stored version 3"};
  full.doc = document{"j1", 3, 1, 2, 40, value_map{{"state", value{"running"}}}};
  full.docs = {*full.doc, *full.doc};
  full.next_cursor = "00ff";
  full.schema = sample_schema();
  ok &= write_seed(dir, "reply", static_cast<char>(255), reply_frame(full));
  if (!ok) std::fprintf(stderr, "could not write seeds under %s\n", dir.c_str());
  return ok ? 0 : 1;
}
