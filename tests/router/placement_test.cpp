// Shard choice (hash stability and spread) and the routing plan of every
// command, for collections partitioned by id and by a field.
#define CAF_SUITE placement
#include "caf/test/unit_test.hpp"

#include <random>
#include <string>
#include <vector>

#include "router/placement.hpp"
#include "schema/key_encoding.hpp"

using namespace velocity;

namespace {

// jobs partitioned by colony; by_state starts with the partition key, by_name does not.
collection_schema jobs_by_colony() {
  collection_schema s;
  s.collection = "jobs";
  s.fields = {field_spec{"colony", field_type::string, false, value{"default-colony"}},
              field_spec{"name", field_type::string, false, std::nullopt},
              field_spec{"priority", field_type::integer, false, std::nullopt},
              field_spec{"state", field_type::string, false, std::nullopt}};
  s.indexes = {index_spec{"by_state", {"colony", "state", "priority"}, false},
               index_spec{"by_name", {"name"}, true}};
  s.partition_key = "colony";
  return s;
}

constexpr uint32_t shards = 8;

std::string code_of(const status& st) { return std::string{to_string(st.code())}; }

template <class T>
std::string message_of(const status_or<T>& x) {
  return x.ok() ? std::string{} : x.error().message();
}

route_plan single(uint32_t shard) { return route_plan{route_kind::single, shard}; }

bool plan_is(const status_or<route_plan>& plan, route_plan expected) {
  return plan.ok() && plan.value() == expected;
}

index_range range_of(std::string index, std::optional<std::vector<value>> from,
                     std::optional<std::vector<value>> to) {
  return index_range{std::move(index), std::move(from), std::move(to)};
}

}  // namespace

CAF_TEST(the hash is FNV-1a with an avalanche step and never changes) {
  // Reference values computed by an independent implementation.
  CAF_CHECK_EQUAL(stable_hash(""), 0xefd01f60ba992926ULL);
  CAF_CHECK_EQUAL(stable_hash("a"), 0x82a2a958a9bece5bULL);
  CAF_CHECK_EQUAL(stable_hash("colony-1"), 0x9f354635cbdba4e3ULL);
  std::string encoded;
  encode_key_part(encoded, value{"colony-1"});
  CAF_CHECK_EQUAL(partition_hash(value{"colony-1"}), stable_hash(encoded));
}

CAF_TEST(values that compare equal land on the same shard) {
  for (uint32_t count : {2u, 3u, 8u, 1024u}) {
    CAF_CHECK_EQUAL(shard_of(value{2}, count), shard_of(value{2.0}, count));
    CAF_CHECK_EQUAL(shard_of(value{0.0}, count), shard_of(value{-0.0}, count));
    CAF_CHECK_EQUAL(shard_of(value{"x"}, count), shard_of(value{std::string{"x"}}, count));
  }
  CAF_CHECK_EQUAL(shard_of(value{"anything"}, 1), 0u);
}

CAF_TEST(partition values spread evenly over any shard count) {
  std::mt19937_64 random{11};
  for (uint32_t count : {2u, 3u, 7u, 8u, 16u}) {
    std::vector<uint32_t> per_shard(count, 0);
    constexpr int documents = 16000;
    for (int i = 0; i < documents; ++i) {
      // Half sequential names (differing in few bits), half random integers.
      value v = i % 2 == 0 ? value{"job-" + std::to_string(i)} : value{static_cast<int64_t>(random() >> 1)};
      ++per_shard[shard_of(v, count)];
    }
    const double mean = static_cast<double>(documents) / count;
    for (uint32_t n : per_shard) {
      CAF_CHECK_GREATER(n, mean * 0.9);
      CAF_CHECK_LESS(n, mean * 1.1);
    }
  }
}

CAF_TEST(inserts and replaces go where their partition field sends them) {
  auto p = partitioning_of(jobs_by_colony());
  value_map fields{{"colony", value{"c1"}}, {"state", value{"waiting"}}};
  auto plan = plan_route(cmd::insert{"jobs", "j1", fields, 1}, p, std::nullopt, shards);
  CAF_CHECK(plan_is(plan, single(shard_of(value{"c1"}, shards))));
  plan = plan_route(cmd::replace{"jobs", "j1", fields, std::nullopt, 1}, p, value{"c1"}, shards);
  CAF_CHECK(plan_is(plan, single(shard_of(value{"c1"}, shards))));
  // A missing partition field takes the schema default, as the stored document will.
  plan = plan_route(cmd::insert{"jobs", "j2", {}, 1}, p, std::nullopt, shards);
  CAF_CHECK(plan_is(plan, single(shard_of(value{"default-colony"}, shards))));
  // A passed partition value must agree with the fields.
  plan = plan_route(cmd::insert{"jobs", "j3", fields, 1}, p, value{"c2"}, shards);
  CAF_CHECK_EQUAL(code_of(plan.to_status()), "invalid_argument");
  // Ids are generated before routing.
  plan = plan_route(cmd::insert{"jobs", "", fields, 1}, p, std::nullopt, shards);
  CAF_CHECK(message_of(plan).find("has no id") != std::string::npos);
}

CAF_TEST(commands by id go to the shard of the id when partitioned by id) {
  auto p = partitioning_by_id("notes");
  const uint32_t expected = shard_of(value{"n7"}, shards);
  CAF_CHECK(plan_is(plan_route(cmd::insert{"notes", "n7", {}, 1}, p, std::nullopt, shards), single(expected)));
  CAF_CHECK(plan_is(plan_route(cmd::get{"notes", "n7"}, p, std::nullopt, shards), single(expected)));
  CAF_CHECK(plan_is(plan_route(cmd::update{"notes", "n7", {}, std::nullopt, 1}, p, std::nullopt, shards),
                    single(expected)));
  CAF_CHECK(plan_is(plan_route(cmd::erase{"notes", "n7", std::nullopt, 1}, p, std::nullopt, shards),
                    single(expected)));
  cmd::compare_and_swap cas{"notes", "n7", 1, {}, {}, true, 1};
  CAF_CHECK(plan_is(plan_route(cas, p, std::nullopt, shards), single(expected)));
  // The id itself as partition value is fine; another value contradicts it.
  CAF_CHECK(plan_is(plan_route(cmd::get{"notes", "n7"}, p, value{"n7"}, shards), single(expected)));
  CAF_CHECK(!plan_route(cmd::get{"notes", "n7"}, p, value{"n8"}, shards).ok());
}

CAF_TEST(commands by id need the partition value when partitioned by a field) {
  auto p = partitioning_of(jobs_by_colony());
  auto plan = plan_route(cmd::get{"jobs", "j1"}, p, std::nullopt, shards);
  CAF_CHECK_EQUAL(code_of(plan.to_status()), "invalid_argument");
  CAF_CHECK_EQUAL(message_of(plan), "collection jobs is partitioned by 'colony'; pass its value with get");
  CAF_CHECK(!plan_route(cmd::erase{"jobs", "j1", std::nullopt, 1}, p, std::nullopt, shards).ok());
  CAF_CHECK(!plan_route(cmd::update{"jobs", "j1", {}, std::nullopt, 1}, p, std::nullopt, shards).ok());
  // Even with one shard: a request must not start failing when shards are added.
  CAF_CHECK(!plan_route(cmd::get{"jobs", "j1"}, p, std::nullopt, 1).ok());
  const uint32_t expected = shard_of(value{"c1"}, shards);
  CAF_CHECK(plan_is(plan_route(cmd::get{"jobs", "j1"}, p, value{"c1"}, shards), single(expected)));
  CAF_CHECK(plan_is(plan_route(cmd::erase{"jobs", "j1", std::nullopt, 1}, p, value{"c1"}, shards),
                    single(expected)));
}

CAF_TEST(writes may not move a document to another partition) {
  auto p = partitioning_of(jobs_by_colony());
  const uint32_t expected = shard_of(value{"c1"}, shards);
  value_map same_colony{{"colony", value{"c1"}}, {"state", value{"running"}}};
  value_map other_colony{{"colony", value{"c2"}}};
  value_map drops_colony{{"colony", value{}}};
  auto ok = plan_route(cmd::update{"jobs", "j1", same_colony, std::nullopt, 1}, p, value{"c1"}, shards);
  CAF_CHECK(plan_is(ok, single(expected)));
  auto moved = plan_route(cmd::update{"jobs", "j1", other_colony, std::nullopt, 1}, p, value{"c1"}, shards);
  CAF_CHECK(message_of(moved).find("would change its partition key 'colony'") != std::string::npos);
  CAF_CHECK(!plan_route(cmd::update{"jobs", "j1", drops_colony, std::nullopt, 1}, p, value{"c1"}, shards).ok());
  cmd::compare_and_swap merge_cas{"jobs", "j1", 1, {}, other_colony, true, 1};
  CAF_CHECK(!plan_route(merge_cas, p, value{"c1"}, shards).ok());
  cmd::compare_and_swap replace_cas{"jobs", "j1", 1, {}, {{"state", value{"x"}}}, false, 1};
  // A replacing CAS without the field falls back to the default colony: a move.
  CAF_CHECK(!plan_route(replace_cas, p, value{"c1"}, shards).ok());
  replace_cas.fields = same_colony;
  CAF_CHECK(plan_is(plan_route(replace_cas, p, value{"c1"}, shards), single(expected)));
  CAF_CHECK(!plan_route(cmd::replace{"jobs", "j1", other_colony, std::nullopt, 1}, p, value{"c1"}, shards).ok());
}

CAF_TEST(scans go to one shard only when the partition is pinned) {
  auto p = partitioning_of(jobs_by_colony());
  const uint32_t c1 = shard_of(value{"c1"}, shards);
  cmd::list whole{"jobs", std::nullopt, std::nullopt, 10, "", false};
  CAF_CHECK(plan_is(plan_route(whole, p, std::nullopt, shards), route_plan{route_kind::list_merge, 0}));
  CAF_CHECK(plan_is(plan_route(whole, p, value{"c1"}, shards), single(c1)));
  // An id prefix never determines a hash.
  cmd::list by_prefix{"jobs", std::string{"j"}, std::nullopt, 10, "", false};
  CAF_CHECK(plan_is(plan_route(by_prefix, p, std::nullopt, shards), route_plan{route_kind::list_merge, 0}));
  // by_state starts with colony: from == to on that component pins it.
  cmd::list pinned{"jobs", std::nullopt,
                   range_of("by_state", std::vector<value>{"c1", "a"}, std::vector<value>{"c1", "z"}), 10, "",
                   false};
  CAF_CHECK(plan_is(plan_route(pinned, p, std::nullopt, shards), single(c1)));
  CAF_CHECK(!plan_route(pinned, p, value{"c2"}, shards).ok());  // contradicts the range
  cmd::list spans{"jobs", std::nullopt, range_of("by_state", std::vector<value>{"c1"}, std::vector<value>{"c2"}),
                  10, "", false};
  CAF_CHECK(plan_is(plan_route(spans, p, std::nullopt, shards), route_plan{route_kind::list_merge, 0}));
  cmd::list open_end{"jobs", std::nullopt, range_of("by_state", std::vector<value>{"c1"}, std::nullopt), 10,
                     "", false};
  CAF_CHECK(plan_is(plan_route(open_end, p, std::nullopt, shards), route_plan{route_kind::list_merge, 0}));
  // by_name does not start with the partition key: equal ends pin nothing.
  cmd::count names{"jobs", range_of("by_name", std::vector<value>{"x"}, std::vector<value>{"x"})};
  CAF_CHECK(plan_is(plan_route(names, p, std::nullopt, shards), route_plan{route_kind::count_sum, 0}));
  CAF_CHECK(plan_is(plan_route(cmd::count{"jobs", std::nullopt}, p, std::nullopt, shards),
                    route_plan{route_kind::count_sum, 0}));
  cmd::claim claim_pinned{"jobs", range_of("by_state", std::vector<value>{"c1", "waiting"},
                                           std::vector<value>{"c1", "waiting"}), {}, {}, 1};
  CAF_CHECK(plan_is(plan_route(claim_pinned, p, std::nullopt, shards), single(c1)));
  cmd::claim claim_any{"jobs", range_of("by_name", std::nullopt, std::nullopt), {}, {}, 1};
  CAF_CHECK(plan_is(plan_route(claim_any, p, std::nullopt, shards), route_plan{route_kind::claim_in_order, 0}));
  // Int 2 and float 2.0 pin the same shard.
  auto p_numbers = partitioning_of(jobs_by_colony());
  cmd::list numeric{"jobs", std::nullopt, range_of("by_state", std::vector<value>{2}, std::vector<value>{2.0}),
                    10, "", false};
  CAF_CHECK(plan_is(plan_route(numeric, p_numbers, std::nullopt, shards), single(shard_of(value{2}, shards))));
}

CAF_TEST(schema changes go to every shard and one shard needs no fan out) {
  auto p = partitioning_of(jobs_by_colony());
  const route_plan broadcast{route_kind::broadcast, 0};
  CAF_CHECK(plan_is(plan_route(cmd::create_schema{jobs_by_colony(), 1}, p, std::nullopt, shards), broadcast));
  CAF_CHECK(plan_is(plan_route(cmd::alter_schema{jobs_by_colony(), 1}, p, std::nullopt, shards), broadcast));
  CAF_CHECK(plan_is(plan_route(cmd::drop_schema{"jobs", 1}, p, std::nullopt, shards), broadcast));
  CAF_CHECK(plan_is(plan_route(cmd::drop_schema{"jobs", 1}, p, std::nullopt, 1), single(0)));
  cmd::list whole{"jobs", std::nullopt, std::nullopt, 10, "", false};
  CAF_CHECK(plan_is(plan_route(whole, p, std::nullopt, 1), single(0)));
}
