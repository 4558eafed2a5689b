// Claim ("select and assign") under many interleaved claimers: 16 logical
// workers claim jobs in a seeded random interleaving while producers insert
// jobs and finished jobs are completed. Checks: no job is ever claimed twice,
// every claim returns the first eligible job in index order, and "none" is
// answered only when no eligible job exists (checked against a full scan of
// the state at that moment). Also: the filters workers use (cpu <= N, targets
// contain X or are empty, case-insensitive name) and priority order. The
// interleaving runs on the memory engine and on RocksDB (same body).
#define CAF_SUITE claim
#include "caf/test/unit_test.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "protocols/limits.hpp"

#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"
#include "storage/state_machine.hpp"
#include "tests/storage/engine_test_support.hpp"
#include "tests/storage/reference_model.hpp"

using namespace velocity;

namespace {

// Copies out of a reply (CAF_CHECK_EQUAL must not hold references into temporaries).
std::string id_of(const reply& r) { return r.doc ? r.doc->id : std::string{}; }
uint64_t version_of(const reply& r) { return r.doc ? r.doc->version : 0; }

constexpr int workers = 16;
constexpr int steps = 4000;

index_range waiting_range() {
  return index_range{"by_state", std::vector<value>{"waiting"}, std::vector<value>{"waiting"}};
}

filter worker_filter(int worker) {
  filter f;
  f.conditions.push_back({"cpu", filter_op::le, value{1 + worker % 8}});
  f.conditions.push_back({"targets", filter_op::contains_or_empty, value{"w" + std::to_string(worker)}});
  return f;
}

// One state machine on a caller-owned engine, with the jobs collection.
struct harness {
  state_machine sm;
  uint64_t next_index = 1;

  explicit harness(engine& e) : sm{e, 1} {
    CAF_REQUIRE(sm.open().ok());
    CAF_REQUIRE(write(cmd::create_schema{test::jobs_schema(), 0}).ok());
  }

  reply write(const command& c) { return sm.apply(next_index++, c); }

  // The first eligible job by a full scan of the current state, paging the
  // waiting range in index order (independent of the claim code path).
  std::optional<std::string> first_eligible(const filter& f) {
    cmd::list page{"jobs", std::nullopt, waiting_range(), 50, "", false};
    for (;;) {
      reply r = sm.apply(0, page);
      CAF_REQUIRE(r.ok());
      for (const document& d : r.docs) {
        if (matches(f, d.fields)) return d.id;
      }
      if (r.next_cursor.empty()) return std::nullopt;
      page.cursor = r.next_cursor;
    }
  }

  reply claim(const filter& f, value_map patch, int64_t time_ns) {
    return write(cmd::claim{"jobs", waiting_range(), f, std::move(patch), time_ns});
  }

  // Producers, 16 claimers and completions in a seeded interleaving, checked
  // against first_eligible and the reference model.
  void run_interleaved_claimers() {
    std::mt19937_64 rng{42};
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    test::reference_model model{test::jobs_schema()};
    (void)model.apply(1, cmd::create_schema{test::jobs_schema(), 0});
    std::map<std::string, int> owner;  // job -> worker that claimed it
    std::vector<std::string> running;
    int produced = 0, claims = 0, nones = 0;
    for (int step = 0; step < steps; ++step) {
      int action = pick(100);
      command c;
      if (action < 30) {
        value_map fields{{"priority", pick(10)}, {"cpu", pick(8) + 1}, {"name", "Job-" + std::to_string(produced)}};
        int targets = pick(4);
        if (targets == 1) fields["targets"] = value_list{};
        if (targets >= 2) fields["targets"] = value_list{value{"w" + std::to_string(pick(workers))}};
        c = cmd::insert{"jobs", "job" + std::to_string(produced++), fields, step};
      } else if (action < 85 || running.empty()) {
        int worker = pick(workers);
        filter f = worker_filter(worker);
        auto expected = first_eligible(f);
        c = cmd::claim{"jobs", waiting_range(), f, {{"state", "running"}, {"worker", worker}}, step};
        reply r = sm.apply(next_index, c);
        CAF_REQUIRE(r.ok());
        CAF_REQUIRE_EQUAL(r.claimed, expected.has_value());
        if (r.claimed) {
          ++claims;
          CAF_CHECK_EQUAL(r.doc->id, *expected);
          CAF_CHECK_EQUAL(owner.count(r.doc->id), 0u);
          owner[r.doc->id] = worker;
          running.push_back(r.doc->id);
          CAF_CHECK(r.doc->fields.at("worker") == value{worker});
        } else {
          ++nones;
        }
        reply modelled = model.apply(next_index, c);
        CAF_CHECK(modelled.claimed == r.claimed && modelled.doc == r.doc);
        ++next_index;
        continue;
      } else {
        size_t which = static_cast<size_t>(pick(static_cast<int>(running.size())));
        std::string done = running[which];
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(which));
        c = cmd::update{"jobs", done, {{"state", "done"}}, std::nullopt, step};
      }
      reply expected = model.apply(next_index, c);
      reply actual = write(c);
      CAF_REQUIRE(actual.ok());
      CAF_CHECK(expected.doc == actual.doc);
    }
    CAF_MESSAGE("produced " << produced << ", claimed " << claims << ", none " << nones);
    CAF_CHECK_GREATER(claims, 500);
    CAF_CHECK_GREATER(nones, 10);
    for (const auto& [id, worker] : owner) {
      reply r = sm.apply(0, cmd::get{"jobs", id});
      CAF_CHECK(r.doc->fields.at("worker") == value{worker});
      CAF_CHECK(r.doc->fields.at("state") != value{"waiting"});
    }
  }
};

struct memory_holder {
  memory_engine eng{memory_engine_options{false}};
};

struct fixture : memory_holder, harness {
  fixture() : harness(eng) {}
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(claim_tests, fixture)

CAF_TEST(interleaved claimers never share a job and always get the first eligible one) {
  run_interleaved_claimers();
}

CAF_TEST(claims follow priority order within the range) {
  for (int i = 0; i < 6; ++i) {
    CAF_REQUIRE(write(cmd::insert{"jobs", "p" + std::to_string(i), {{"priority", 5 - i}}, 1}).ok());
  }
  for (int expected = 5; expected >= 0; --expected) {
    reply r = claim({}, {{"state", "running"}}, 2);
    CAF_REQUIRE(r.claimed);
    CAF_CHECK_EQUAL(r.doc->id, "p" + std::to_string(expected));
  }
  CAF_CHECK(!claim({}, {{"state", "running"}}, 3).claimed);
}

CAF_TEST(a job inserted ahead of already claimed ones is claimed next) {
  // Claims leave a scan hint past the entries they removed (claim_hints.hpp);
  // a job that sorts before the hint must still be found, and one moved back
  // into the range by an update too.
  for (int i = 0; i < 4; ++i) {
    CAF_REQUIRE(write(cmd::insert{"jobs", "j" + std::to_string(i), {{"priority", 10 + i}}, 1}).ok());
  }
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 2)), "j0");
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 2)), "j1");
  CAF_REQUIRE(write(cmd::insert{"jobs", "urgent", {{"priority", 0}}, 3}).ok());
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 4)), "urgent");
  CAF_REQUIRE(write(cmd::update{"jobs", "j0", {{"state", "waiting"}}, std::nullopt, 5}).ok());
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 6)), "j0");
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 7)), "j2");
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 7)), "j3");
  CAF_CHECK(!claim({}, {{"state", "running"}}, 8).claimed);
  CAF_REQUIRE(write(cmd::insert{"jobs", "late", {{"priority", 99}}, 9}).ok());
  CAF_CHECK_EQUAL(id_of(claim({}, {{"state", "running"}}, 10)), "late");
}

CAF_TEST(a cpu limit skips jobs that need more) {
  CAF_REQUIRE(write(cmd::insert{"jobs", "big", {{"priority", 1}, {"cpu", 8}}, 1}).ok());
  CAF_REQUIRE(write(cmd::insert{"jobs", "small", {{"priority", 2}, {"cpu", 2}}, 1}).ok());
  filter f{{filter_condition{"cpu", filter_op::le, value{4}}}};
  reply r = claim(f, {{"state", "running"}}, 2);
  CAF_REQUIRE(r.claimed);
  CAF_CHECK_EQUAL(r.doc->id, "small");
  CAF_CHECK(!claim(f, {{"state", "running"}}, 3).claimed);
}

CAF_TEST(targets must contain the worker or be empty) {
  CAF_REQUIRE(write(cmd::insert{"jobs", "for_w2", {{"priority", 1}, {"targets", value_list{value{"w2"}}}}, 1}).ok());
  CAF_REQUIRE(write(cmd::insert{"jobs", "anyone", {{"priority", 2}, {"targets", value_list{}}}, 1}).ok());
  CAF_REQUIRE(write(cmd::insert{"jobs", "untargeted", {{"priority", 3}}, 1}).ok());
  filter w1{{filter_condition{"targets", filter_op::contains_or_empty, value{"w1"}}}};
  CAF_CHECK_EQUAL(id_of(claim(w1, {{"state", "running"}}, 2)), "anyone");
  CAF_CHECK_EQUAL(id_of(claim(w1, {{"state", "running"}}, 3)), "untargeted");
  CAF_CHECK(!claim(w1, {{"state", "running"}}, 4).claimed);
  filter w2{{filter_condition{"targets", filter_op::contains_or_empty, value{"w2"}}}};
  CAF_CHECK_EQUAL(id_of(claim(w2, {{"state", "running"}}, 5)), "for_w2");
}

CAF_TEST(a case insensitive name filter finds the job) {
  CAF_REQUIRE(write(cmd::insert{"jobs", "a", {{"priority", 1}, {"name", "Render"}}, 1}).ok());
  CAF_REQUIRE(write(cmd::insert{"jobs", "b", {{"priority", 2}, {"name", "ALICE"}}, 1}).ok());
  filter f{{filter_condition{"name", filter_op::eq_ci, value{"alice"}}}};
  reply r = claim(f, {{"state", "running"}}, 2);
  CAF_REQUIRE(r.claimed);
  CAF_CHECK_EQUAL(r.doc->id, "b");
}

CAF_TEST(a claim whose patch leaves the job in the range is refused and writes nothing) {
  CAF_REQUIRE(write(cmd::insert{"jobs", "a", {{"priority", 1}, {"cpu", 2}}, 1}).ok());
  reply r = claim({}, {{"cpu", 3}}, 2);
  CAF_CHECK(r.st.code() == error_code::invalid_argument);
  std::string message = r.st.message();
  CAF_CHECK_NOT_EQUAL(message.find("inside the claimed range"), std::string::npos);
  CAF_CHECK_EQUAL(version_of(sm.apply(0, cmd::get{"jobs", "a"})), 1u);
}

CAF_TEST(claimers with different filters never share a job) {
  // Moving the job out of the filter alone is not enough: a claimer with a
  // wider filter over the same range would take it again.
  CAF_REQUIRE(write(cmd::insert{"jobs", "j1", {{"priority", 1}, {"cpu", 2}}, 1}).ok());
  filter narrow{{filter_condition{"cpu", filter_op::le, value{4}}}};
  reply a = claim(narrow, {{"cpu", 8}, {"worker", "A"}}, 2);
  CAF_CHECK(a.st.code() == error_code::invalid_argument);
  reply b = claim(narrow, {{"state", "running"}, {"worker", "A"}}, 3);
  CAF_REQUIRE(b.claimed);
  filter wide{{filter_condition{"cpu", filter_op::le, value{64}}}};
  reply c = claim(wide, {{"state", "running"}, {"worker", "B"}}, 4);
  CAF_REQUIRE(c.ok());
  CAF_CHECK(!c.claimed);
}

CAF_TEST(a job that cannot take the patch is skipped and the next one is claimed) {
  // "old" was stored before a stricter schema: patching it breaks the schema,
  // and it must not stop the queue.
  CAF_REQUIRE(write(cmd::insert{"jobs", "old", {{"priority", 1}, {"name", 7}}, 1}).ok() == false);
  collection_schema loose = test::jobs_schema();
  loose.fields.erase(std::remove_if(loose.fields.begin(), loose.fields.end(),
                                    [](const field_spec& f) { return f.path == "name"; }),
                     loose.fields.end());
  loose.indexes.pop_back();  // by_name
  CAF_REQUIRE(write(cmd::alter_schema{loose, 1}).ok());
  CAF_REQUIRE(write(cmd::insert{"jobs", "old", {{"priority", 1}, {"name", 7}}, 1}).ok());
  CAF_REQUIRE(write(cmd::alter_schema{test::jobs_schema(), 1}).ok());  // name: string again
  CAF_REQUIRE(write(cmd::insert{"jobs", "new", {{"priority", 2}, {"name", "fine"}}, 1}).ok());
  reply r = claim({}, {{"state", "running"}}, 2);
  CAF_REQUIRE(r.ok());
  CAF_REQUIRE(r.claimed);
  CAF_CHECK_EQUAL(r.doc->id, "new");
  CAF_CHECK_EQUAL(version_of(sm.apply(0, cmd::get{"jobs", "old"})), 1u);
  CAF_CHECK(!claim({}, {{"state", "running"}}, 3).claimed);
}

CAF_TEST(a claim that walks past the scan limit without a match is an error not none) {
  for (size_t i = 0; i <= limits::claim_scan_entries_max; ++i) {
    CAF_REQUIRE(write(cmd::insert{"jobs", "big" + std::to_string(i), {{"priority", 1}, {"cpu", 8}}, 1}).ok());
  }
  filter tiny{{filter_condition{"cpu", filter_op::le, value{1}}}};
  reply r = claim(tiny, {{"state", "running"}}, 2);
  CAF_CHECK(r.st.code() == error_code::overloaded);
  CAF_CHECK(!r.claimed);
  std::string message = r.st.message();
  CAF_CHECK_NOT_EQUAL(message.find("without a match"), std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(interleaved claimers on rocksdb never share a job and always get the first eligible one) {
  test::temp_dir dir{"claim-interleaved"};
  auto opened = rocksdb_engine::open(rocksdb_options{dir.path(), 8 << 20, true, 1 << 20});
  CAF_REQUIRE(opened.ok());
  {
    harness h{*opened.value()};
    h.run_interleaved_claimers();
  }
}
