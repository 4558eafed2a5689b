// The merge of schema-change replies (router/schema_broadcast.hpp) against
// real state machines: N shards on one memory engine, each with its own log,
// so their schema documents differ (revision = the shard's log index) while
// the change is the same. Also: partial changes are reported with the shards
// that hold them, and re-applying the same change completes them.
#define CAF_SUITE schema_broadcast
#include "caf/test/unit_test.hpp"

#include <memory>
#include <string>
#include <vector>

#include "router/placement.hpp"
#include "router/schema_broadcast.hpp"
#include "storage/memory_engine.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

collection_schema people_schema() {
  collection_schema s;
  s.collection = "people";
  s.fields = {field_spec{"email", field_type::string, false, std::nullopt}};
  return s;
}

collection_schema with_unique_email(collection_schema s) {
  s.indexes.push_back(index_spec{"by_email", {"email"}, true});
  return s;
}

std::string code_of(const status& st) { return std::string{to_string(st.code())}; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An id whose document lives on `shard` of `shard_count`.
std::string id_on(uint32_t shard, uint32_t shard_count, int nth = 0) {
  for (int i = 0;; ++i) {
    std::string id = "p" + std::to_string(i);
    if (shard_of(value{id}, shard_count) == shard && nth-- == 0) return id;
  }
}

// N state machines, each with its own log index (as on a node).
struct shards_fixture {
  memory_engine engine;
  std::vector<std::unique_ptr<state_machine>> shards;
  std::vector<uint64_t> next_index;

  explicit shards_fixture(uint32_t shard_count) {
    for (uint32_t i = 0; i < shard_count; ++i) {
      shards.push_back(std::make_unique<state_machine>(engine, i));
      CAF_REQUIRE(shards.back()->open().ok());
      next_index.push_back(1);
    }
  }

  uint32_t shard_count() const { return static_cast<uint32_t>(shards.size()); }

  reply apply_on(uint32_t shard, const command& c) {
    return shards[shard]->apply(next_index[shard]++, c);
  }

  // What the router does: every shard applies, then (if needed) every shard
  // says which schema it holds, then the merge.
  reply broadcast(const command& change) {
    std::vector<reply> replies;
    for (uint32_t i = 0; i < shard_count(); ++i) replies.push_back(apply_on(i, change));
    held_schemas held;
    if (needs_held_schemas(change, replies)) held = holding(change);
    return merge_schema_change(change, replies, held);
  }

  held_schemas holding(const command& change) {
    const auto& name = std::get<cmd::create_schema>(change).schema.collection;
    held_schemas held;
    for (auto& shard : shards) {
      const collection_schema* found = shard->find_schema(name);
      held.by_shard.push_back(found ? std::optional<collection_schema>{*found} : std::nullopt);
    }
    return held;
  }

  void insert(const std::string& id, const std::string& email) {
    cmd::insert c{"people", id, {{"email", value{email}}}, 5};
    CAF_REQUIRE(apply_on(shard_of(value{id}, shard_count()), c).ok());
  }
};

}  // namespace

CAF_TEST(replies that differ only in the schema document of each shard merge into one success) {
  shards_fixture node{4};
  CAF_REQUIRE(node.broadcast(cmd::create_schema{people_schema(), 1}).ok());
  node.insert(id_on(2, 4), "a@x");  // shard 2's log is now one entry ahead
  collection_schema other = people_schema();
  other.collection = "other";
  std::vector<reply> replies;
  for (uint32_t i = 0; i < 4; ++i)
    replies.push_back(node.apply_on(i, cmd::create_schema{other, 2}));
  CAF_REQUIRE(replies[0].doc && replies[2].doc);
  CAF_CHECK_NOT_EQUAL(replies[0].doc->revision, replies[2].doc->revision);
  reply merged = merge_schema_change(cmd::create_schema{other, 2}, replies, {});
  CAF_REQUIRE(merged.ok());
  CAF_CHECK(merged.schema == canonical_schema(other));
  CAF_CHECK(!merged.doc);  // a shard's schema document is that shard's own
}

CAF_TEST(shards that applied different schemas answer internal) {
  reply a;
  a.schema = people_schema();
  reply b = a;
  b.schema->strict = true;
  reply merged = merge_schema_change(cmd::alter_schema{people_schema(), 1}, {a, b}, {});
  CAF_CHECK_EQUAL(code_of(merged.st), "internal");
}

CAF_TEST(a change every shard refuses answers the failure of the lowest shard) {
  shards_fixture node{3};
  reply merged = node.broadcast(cmd::alter_schema{people_schema(), 1});
  CAF_CHECK_EQUAL(code_of(merged.st), "unknown_collection");
  CAF_CHECK(!contains(merged.st.message(), "incomplete"));
}

CAF_TEST(a create every shard already holds answers already_exists) {
  shards_fixture node{3};
  CAF_REQUIRE(node.broadcast(cmd::create_schema{people_schema(), 1}).ok());
  reply again = node.broadcast(cmd::create_schema{people_schema(), 2});
  CAF_CHECK_EQUAL(code_of(again.st), "already_exists");
  CAF_CHECK(!contains(again.st.message(), "incomplete"));
}

CAF_TEST(a create that some shards already hold completes on the others) {
  shards_fixture node{3};
  CAF_REQUIRE(node.apply_on(1, cmd::create_schema{people_schema(), 1}).ok());  // a partial create
  reply merged = node.broadcast(cmd::create_schema{people_schema(), 2});
  CAF_REQUIRE(merged.ok());
  CAF_CHECK(merged.schema == canonical_schema(people_schema()));
  for (auto& shard : node.shards) CAF_CHECK(shard->find_schema("people") != nullptr);
}

CAF_TEST(a create that meets another schema on one shard is incomplete and names that shard) {
  shards_fixture node{3};
  CAF_REQUIRE(node.apply_on(2, cmd::create_schema{with_unique_email(people_schema()), 1}).ok());
  reply merged = node.broadcast(cmd::create_schema{people_schema(), 2});
  CAF_CHECK_EQUAL(code_of(merged.st), "already_exists");
  CAF_CHECK(contains(merged.st.message(), "incomplete: shards 0 and 1 hold it, shard 2 did not"));
  CAF_CHECK(contains(merged.st.message(), "exists there with another schema"));
}

CAF_TEST(held schemas that could not be asked leave an existing shard undecided) {
  reply created;
  created.schema = canonical_schema(people_schema());
  reply exists;
  exists.st = status{error_code::already_exists, "collection 'people' already exists"};
  held_schemas unknown;
  unknown.st = status{error_code::timeout, "request timed out after 5 ms"};
  const command create = cmd::create_schema{people_schema(), 1};
  CAF_CHECK(needs_held_schemas(create, {created, exists}));
  CAF_CHECK(!needs_held_schemas(create, {created, created}));
  reply merged = merge_schema_change(create, {created, exists}, unknown);
  CAF_CHECK_EQUAL(code_of(merged.st), "already_exists");
  CAF_CHECK(contains(merged.st.message(), "which schema it holds is unknown: request timed out"));
}

CAF_TEST(a unique index over duplicates on one shard is incomplete until the data is fixed and it is applied again) {
  shards_fixture node{4};
  CAF_REQUIRE(node.broadcast(cmd::create_schema{people_schema(), 1}).ok());
  const std::string first = id_on(3, 4, 0);
  const std::string second = id_on(3, 4, 1);
  node.insert(first, "same@x");
  node.insert(second, "same@x");
  node.insert(id_on(0, 4), "zero@x");
  const command alter = cmd::alter_schema{with_unique_email(people_schema()), 2};
  reply merged = node.broadcast(alter);
  CAF_CHECK_EQUAL(code_of(merged.st), "unique_violation");
  CAF_CHECK(contains(merged.st.message(), "incomplete: shards 0-2 hold it, shard 3 did not"));
  CAF_CHECK(contains(merged.st.message(), "shard 3: unique_violation: unique index 'by_email'"));
  CAF_CHECK(contains(merged.st.message(), "apply the same change again"));
  CAF_CHECK(node.shards[0]->find_schema("people")->find_index("by_email") != nullptr);
  CAF_CHECK(node.shards[3]->find_schema("people")->find_index("by_email") == nullptr);
  cmd::update fix{"people", second, {{"email", value{"other@x"}}}, std::nullopt, 3};
  CAF_REQUIRE(node.apply_on(3, fix).ok());
  reply repaired = node.broadcast(alter);
  CAF_REQUIRE(repaired.ok());
  CAF_CHECK(repaired.schema == canonical_schema(with_unique_email(people_schema())));
  for (auto& shard : node.shards)
    CAF_CHECK(shard->find_schema("people")->find_index("by_email") != nullptr);
}

CAF_TEST(a drop completes on the shards that still hold the collection) {
  shards_fixture node{3};
  CAF_REQUIRE(node.broadcast(cmd::create_schema{people_schema(), 1}).ok());
  CAF_REQUIRE(node.apply_on(0, cmd::drop_schema{"people", 2}).ok());  // a partial drop
  reply merged = node.broadcast(cmd::drop_schema{"people", 3});
  CAF_CHECK(merged.ok());
  for (auto& shard : node.shards) CAF_CHECK(shard->find_schema("people") == nullptr);
  reply again = node.broadcast(cmd::drop_schema{"people", 4});
  CAF_CHECK_EQUAL(code_of(again.st), "unknown_collection");
}

CAF_TEST(a shard that did not answer is named as maybe holding the change) {
  reply altered;
  altered.schema = canonical_schema(people_schema());
  std::vector<reply> replies(6, altered);
  replies[3].st = status{error_code::timeout, "request timed out after 5000 ms"};
  replies[3].schema.reset();
  replies[5] = replies[3];
  reply merged = merge_schema_change(cmd::alter_schema{people_schema(), 1}, replies, {});
  CAF_CHECK_EQUAL(code_of(merged.st), "timeout");
  CAF_CHECK(contains(merged.st.message(), "shards 0-2 and 4 hold it, shards 3 and 5 did not"));
  CAF_CHECK(contains(merged.st.message(),
                     "shard 5: timeout: request timed out after 5000 ms (it may hold the change)"));
}

CAF_TEST(an incomplete message describes a bounded number of refusals) {
  reply refused;
  refused.st = status{error_code::io_error, "disk on fire"};
  std::vector<reply> replies(schema_refusals_described_max + 3, refused);
  replies[0] = reply{};
  reply merged = merge_schema_change(cmd::drop_schema{"people", 1}, replies, {});
  CAF_CHECK_EQUAL(code_of(merged.st), "io_error");
  CAF_CHECK(contains(merged.st.message(), "; and 2 more."));
}
