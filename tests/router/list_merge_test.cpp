// Fan-out merges against real shards: N state machines (one memory engine,
// one shard id each) hold a random collection split by shard_of, and a list
// paged through the composite cursor with random limits, in both directions,
// by id, id prefix and index range, must equal one unsplit state machine's
// list: same documents, same order, no repeats, full pages. Also: garbage
// cursors are refused, counts sum, claims walk shards in order (schema
// changes: schema_broadcast_test.cpp).
#define CAF_SUITE list_merge
#include "caf/test/unit_test.hpp"

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "command/keys.hpp"
#include "protocols/limits.hpp"
#include "router/list_merge.hpp"
#include "router/placement.hpp"
#include "storage/memory_engine.hpp"
#include "storage/state_machine.hpp"

using namespace velocity;

namespace {

collection_schema items_schema() {
  collection_schema s;
  s.collection = "items";
  s.fields = {field_spec{"group", field_type::integer, false, std::nullopt},
              field_spec{"name", field_type::string, false, std::nullopt}};
  // by_group has many equal tuples, so the id decides the order inside them.
  s.indexes = {index_spec{"by_group", {"group"}, false}, index_spec{"by_pair", {"group", "name"}, false}};
  return s;
}

std::vector<std::string> ids_of(const std::vector<document>& docs) {
  std::vector<std::string> out;
  for (const auto& doc : docs) out.push_back(doc.id);
  return out;
}

std::string code_of(const status& st) { return std::string{to_string(st.code())}; }

// N shards on one engine plus a reference holding every document.
struct cluster_fixture {
  memory_engine engine;
  memory_engine reference_engine;
  std::vector<std::unique_ptr<state_machine>> shards;
  state_machine reference{reference_engine, 0};
  uint64_t next_index = 1;
  collection_schema schema = items_schema();
  partitioning parts = partitioning_of(items_schema());

  explicit cluster_fixture(uint32_t shard_count) {
    CAF_REQUIRE(reference.open().ok());
    CAF_REQUIRE(reference.apply(next_index++, cmd::create_schema{schema, 1}).ok());
    for (uint32_t i = 0; i < shard_count; ++i) {
      shards.push_back(std::make_unique<state_machine>(engine, i));
      CAF_REQUIRE(shards.back()->open().ok());
      CAF_REQUIRE(shards.back()->apply(next_index++, cmd::create_schema{schema, 1}).ok());
    }
  }

  uint32_t shard_count() const { return static_cast<uint32_t>(shards.size()); }

  void insert(const std::string& id, value_map fields) {
    cmd::insert c{"items", id, std::move(fields), 5};
    auto plan = plan_route(c, parts, std::nullopt, shard_count());
    CAF_REQUIRE(plan.ok());
    CAF_REQUIRE(plan->kind == route_kind::single);
    CAF_REQUIRE(shards[plan->shard]->apply(next_index++, c).ok());
    CAF_REQUIRE(reference.apply(next_index++, c).ok());
  }

  void fill(std::mt19937_64& random, int documents) {
    for (int i = 0; i < documents; ++i) {
      std::string id = "id-" + std::to_string(random() % 100000);
      if (reference.apply(0, cmd::get{"items", id}).ok()) continue;  // taken
      insert(id, {{"group", value{static_cast<int64_t>(random() % 8)}},
                  {"name", value{"n" + std::to_string(random() % 20)}}});
    }
  }

  // One page through the router logic.
  reply page(const cmd::list& c) {
    auto fan_out = begin_list_fan_out(c, shard_count());
    if (!fan_out.ok()) {
      reply r;
      r.st = fan_out.error();
      return r;
    }
    std::vector<reply> pages;
    for (const auto& request : fan_out->requests) pages.push_back(shards[request.shard]->apply(0, request.list));
    return merge_list_pages(c, schema, *fan_out, pages);
  }

  std::vector<std::string> everything(cmd::list c) {
    c.limit = limits::list_limit_max;
    c.cursor.clear();
    reply r = reference.apply(0, c);
    CAF_REQUIRE(r.ok());
    CAF_REQUIRE(r.next_cursor.empty());
    return ids_of(r.docs);
  }

  // Pages through with random limits; checks every page and returns all ids.
  std::vector<std::string> paged(cmd::list c, std::mt19937_64& random) {
    std::vector<std::string> out;
    c.cursor.clear();
    for (size_t pages = 0;; ++pages) {
      CAF_REQUIRE_LESS(pages, 100000u);
      c.limit = static_cast<uint32_t>(1 + random() % 40);
      reply r = page(c);
      CAF_REQUIRE(r.ok());
      for (const auto& doc : r.docs) out.push_back(doc.id);
      if (r.next_cursor.empty()) {
        CAF_CHECK_LESS_OR_EQUAL(r.docs.size(), c.limit);
        CAF_CHECK(!r.docs.empty() || pages == 0);  // no trailing empty page
        return out;
      }
      CAF_CHECK_EQUAL(r.docs.size(), c.limit);  // full pages until the end
      c.cursor = r.next_cursor;
    }
  }
};

std::vector<cmd::list> list_shapes() {
  std::vector<cmd::list> shapes;
  for (bool descending : {false, true}) {
    shapes.push_back(cmd::list{"items", std::nullopt, std::nullopt, 0, "", descending});
    shapes.push_back(cmd::list{"items", std::string{"id-1"}, std::nullopt, 0, "", descending});
    shapes.push_back(cmd::list{"items", std::nullopt, index_range{"by_group", std::nullopt, std::nullopt}, 0, "",
                               descending});
    shapes.push_back(cmd::list{"items", std::nullopt,
                               index_range{"by_group", std::vector<value>{2}, std::vector<value>{5}}, 0, "",
                               descending});
    shapes.push_back(cmd::list{"items", std::nullopt,
                               index_range{"by_pair", std::vector<value>{3, "n1"}, std::nullopt}, 0, "",
                               descending});
  }
  return shapes;
}

}  // namespace

CAF_TEST(paging across shards yields the global order without repeats or gaps) {
  size_t shapes_checked = 0;
  for (uint32_t shard_count : {1u, 2u, 3u, 5u}) {
    std::mt19937_64 random{1000 + shard_count};
    cluster_fixture cluster{shard_count};
    cluster.fill(random, 400);
    for (const auto& shape : list_shapes()) {
      auto expected = cluster.everything(shape);
      CAF_REQUIRE(!expected.empty());
      for (int round = 0; round < 3; ++round) {
        auto got = cluster.paged(shape, random);
        CAF_CHECK_EQUAL(got, expected);
        CAF_CHECK_EQUAL(std::set<std::string>(got.begin(), got.end()).size(), got.size());
      }
      ++shapes_checked;
    }
  }
  CAF_CHECK_EQUAL(shapes_checked, 4u * 10u);
}

CAF_TEST(a list over an empty collection is one empty page without a cursor) {
  cluster_fixture cluster{3};
  reply r = cluster.page(cmd::list{"items", std::nullopt, std::nullopt, 10, "", false});
  CAF_CHECK(r.ok());
  CAF_CHECK(r.docs.empty());
  CAF_CHECK(r.next_cursor.empty());
}

CAF_TEST(documents inserted between pages appear when they sort after their shard position) {
  cluster_fixture cluster{3};
  for (int i = 10; i < 40; ++i) cluster.insert("id-" + std::to_string(i), {{"group", value{1}}});
  cmd::list c{"items", std::nullopt, std::nullopt, 10, "", false};
  reply first = cluster.page(c);
  CAF_REQUIRE(first.ok());
  CAF_REQUIRE_EQUAL(first.docs.size(), 10u);
  CAF_CHECK_EQUAL(first.docs.back().id, "id-19");
  cluster.insert("id-0", {});   // before the position: never seen
  cluster.insert("id-99", {});  // after it: seen on a later page
  c.cursor = first.next_cursor;
  std::vector<std::string> rest;
  while (!c.cursor.empty()) {
    reply r = cluster.page(c);
    CAF_REQUIRE(r.ok());
    for (const auto& doc : r.docs) rest.push_back(doc.id);
    c.cursor = r.next_cursor;
  }
  CAF_CHECK_EQUAL(rest.size(), 21u);
  CAF_CHECK_EQUAL(rest.back(), "id-99");
}

CAF_TEST(the rebuilt shard cursor equals the cursor the shard writes) {
  cluster_fixture cluster{1};
  std::mt19937_64 random{5};
  cluster.fill(random, 50);
  for (const auto& shape : list_shapes()) {
    cmd::list c = shape;
    c.limit = 3;
    reply r = cluster.shards[0]->apply(0, c);
    CAF_REQUIRE(r.ok());
    CAF_REQUIRE_EQUAL(r.docs.size(), 3u);
    auto rebuilt = shard_cursor_after(c, cluster.schema, r.docs.back());
    CAF_REQUIRE(rebuilt.ok());
    CAF_CHECK_EQUAL(*rebuilt, r.next_cursor);
  }
}

CAF_TEST(garbage composite cursors are refused with invalid_argument) {
  cluster_fixture cluster{3};
  for (int i = 0; i < 30; ++i) cluster.insert("id-" + std::to_string(i), {});
  cmd::list c{"items", std::nullopt, std::nullopt, 4, "", false};
  reply first = cluster.page(c);
  CAF_REQUIRE(!first.next_cursor.empty());
  const std::string good = first.next_cursor;
  std::vector<std::string> bad = {"zz", "abc", "00", good.substr(0, good.size() - 2), good + "00",
                                  keys::to_hex("M\x01garbage-garbage")};
  for (size_t i = 0; i < good.size(); i += 7) {  // every flipped digit breaks the check
    std::string flipped = good;
    flipped[i] = flipped[i] == '0' ? '1' : '0';
    bad.push_back(flipped);
  }
  std::mt19937_64 random{3};
  for (int i = 0; i < 200; ++i) {
    std::string noise;
    for (size_t n = random() % 80; n > 0; --n) noise.push_back("0123456789abcdef"[random() % 16]);
    if (!noise.empty()) bad.push_back(noise);
  }
  for (const auto& cursor : bad) {
    c.cursor = cursor;
    reply r = cluster.page(c);
    CAF_CHECK_EQUAL(code_of(r.st), "invalid_argument");
  }
  // A cursor made for another shard count names the mismatch.
  auto other = decode_composite_cursor(good, 4);
  CAF_REQUIRE(!other.ok());
  std::string message = other.error().message();
  CAF_CHECK(message.find("made for 3 shards, this node has 4") != std::string::npos);
  // The good one still works, and round-trips.
  auto decoded = decode_composite_cursor(good, 3);
  CAF_REQUIRE(decoded.ok());
  CAF_CHECK_EQUAL(encode_composite_cursor(*decoded), good);
}

CAF_TEST(a shard cursor from another list is refused by the shard) {
  cluster_fixture cluster{2};
  for (int i = 0; i < 30; ++i) cluster.insert("id-" + std::to_string(i), {{"group", value{i % 3}}});
  cmd::list by_id{"items", std::nullopt, std::nullopt, 4, "", false};
  reply first = cluster.page(by_id);
  CAF_REQUIRE(!first.next_cursor.empty());
  cmd::list by_index{"items", std::nullopt, index_range{"by_group", std::nullopt, std::nullopt}, 4,
                     first.next_cursor, false};
  reply r = cluster.page(by_index);
  CAF_CHECK_EQUAL(code_of(r.st), "invalid_argument");
}

CAF_TEST(a limit above the maximum is refused before any shard is asked) {
  cmd::list c{"items", std::nullopt, std::nullopt, limits::list_limit_max + 1, "", false};
  auto fan_out = begin_list_fan_out(c, 4);
  CAF_CHECK_EQUAL(code_of(fan_out.to_status()), "invalid_argument");
  c.limit = 0;
  fan_out = begin_list_fan_out(c, 4);
  CAF_REQUIRE(fan_out.ok());
  CAF_CHECK_EQUAL(fan_out->limit, limits::list_limit_default);
  CAF_CHECK_EQUAL(fan_out->requests.size(), 4u);
}

CAF_TEST(counts across shards add up) {
  cluster_fixture cluster{4};
  std::mt19937_64 random{9};
  cluster.fill(random, 200);
  for (const auto& range : {std::optional<index_range>{},
                            std::optional<index_range>{index_range{"by_group", std::vector<value>{2},
                                                                   std::vector<value>{4}}}}) {
    std::vector<reply> replies;
    for (auto& shard : cluster.shards) replies.push_back(shard->apply(0, cmd::count{"items", range}));
    reply sum = sum_counts(replies);
    reply expected = cluster.reference.apply(0, cmd::count{"items", range});
    CAF_REQUIRE(sum.ok());
    CAF_CHECK_EQUAL(sum.count, expected.count);
    CAF_CHECK_GREATER(sum.count, 0u);
  }
  std::vector<reply> failed(2);
  failed[1].st = status{error_code::unavailable, "shard 1 is down"};
  CAF_CHECK_EQUAL(code_of(sum_counts(failed).st), "unavailable");
}

CAF_TEST(a claim tries shards in ascending order until one claims) {
  cluster_fixture cluster{4};
  // Find an id that lives on shard 2 only.
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    std::string candidate = "job-" + std::to_string(i);
    if (shard_of(value{candidate}, 4) == 2) id = candidate;
  }
  cluster.insert(id, {{"group", value{1}}, {"name", value{"waiting"}}});
  cmd::claim c{"items", index_range{"by_group", std::vector<value>{1}, std::vector<value>{1}}, {},
               {{"group", value{2}}}, 9};
  claim_fan_out fan_out{4};
  std::vector<uint32_t> asked;
  while (!fan_out.finished()) {
    asked.push_back(fan_out.next_shard());
    fan_out.on_reply(cluster.shards[asked.back()]->apply(cluster.next_index++, c));
  }
  CAF_CHECK_EQUAL(asked, (std::vector<uint32_t>{0, 1, 2}));
  CAF_REQUIRE(fan_out.result().ok());
  CAF_CHECK(fan_out.result().claimed);
  CAF_CHECK_EQUAL(fan_out.result().doc->id, id);
  // Nothing left anywhere: every shard is asked, the answer is "nothing eligible".
  claim_fan_out again{4};
  size_t asked_again = 0;
  while (!again.finished()) {
    ++asked_again;
    again.on_reply(cluster.shards[again.next_shard()]->apply(cluster.next_index++, c));
  }
  CAF_CHECK_EQUAL(asked_again, 4u);
  CAF_CHECK(again.result().ok());
  CAF_CHECK(!again.result().claimed);
  // A failure ends the walk.
  claim_fan_out failing{4};
  reply down;
  down.st = status{error_code::unavailable, "shard 0 is down"};
  failing.on_reply(down);
  CAF_CHECK(failing.finished());
  CAF_CHECK_EQUAL(code_of(failing.result().st), "unavailable");
}
