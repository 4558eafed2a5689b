// Group commit: many sync requests queued before the log writer runs share one
// fsync; every request is answered; stats count batches and requests.
#define CAF_SUITE log_writer
#define FAIL(msg) CAF_FAIL(msg)  // 0.17.6: dsl.hpp uses FAIL without defining it
#include "caf/test/dsl.hpp"

#include "actors/log_writer.hpp"
#include "storage/memory_engine.hpp"
#include "tests/actors/actor_test_support.hpp"

using namespace velocity;

namespace {

struct log_writer_fixture : test_coordinator_fixture<> {
  std::shared_ptr<test::counting_engine> counted =
      std::make_shared<test::counting_engine>(std::make_shared<memory_engine>());
  log_writer_actor writer =
      spawn_log_writer(sys, counted, make_real_environment(1), /*detached=*/false);

  log_writer_stats stats() {
    auto handle = self->request(writer, caf::infinite, lw_stats_atom::value);
    run();
    log_writer_stats out;
    handle.receive([&](const log_writer_stats& s) { out = s; },
                   [&](caf::error& e) { CAF_FAIL("stats failed: " << sys.render(e)); });
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(log_writer_tests, log_writer_fixture)

CAF_TEST(sync requests queued before the flush share one fsync) {
  constexpr size_t requesters = 20;
  size_t answered_ok = 0;
  for (size_t i = 0; i < requesters; ++i) {
    sys.spawn([&](caf::event_based_actor* requester) {
      requester->request(writer, caf::infinite, sync_atom::value)
          .then([&](const sync_result& r) { answered_ok += r.st.ok() ? 1 : 0; });
    });
  }
  run();
  CAF_CHECK_EQUAL(answered_ok, requesters);
  CAF_CHECK_EQUAL(counted->syncs(), 1u);
  auto s = stats();
  CAF_CHECK_EQUAL(s.batches, 1u);
  CAF_CHECK_EQUAL(s.requests, requesters);
  CAF_CHECK_EQUAL(s.failures, 0u);
}

CAF_TEST(a request after a flush gets a fsync of its own) {
  for (int round = 0; round < 3; ++round) {
    auto handle = self->request(writer, caf::infinite, sync_atom::value);
    run();
    bool ok = false;
    handle.receive([&](const sync_result& r) { ok = r.st.ok(); },
                   [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
    CAF_CHECK(ok);
  }
  CAF_CHECK_EQUAL(counted->syncs(), 3u);
  CAF_CHECK_EQUAL(stats().batches, 3u);
}

CAF_TEST(a flush with nothing pending runs no fsync) {
  caf::anon_send(writer, flush_atom::value);
  run();
  CAF_CHECK_EQUAL(counted->syncs(), 0u);
  CAF_CHECK_EQUAL(stats().batches, 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
