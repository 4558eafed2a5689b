// The shard actor (the Raft shell of a group of one) under the test
// coordinator: reads and writes through the state machine, memory mode
// answering at once, persistent mode answering only after the log writer's
// fsync of the Raft log (checked with the memory engine's crash simulation),
// pipelined writes sharing fsyncs, replies in log order, recovery by replay.
#define CAF_SUITE shard
#define FAIL(msg) CAF_FAIL(msg)  // 0.17.6: dsl.hpp uses FAIL without defining it
#include "caf/test/dsl.hpp"

#include <vector>

#include "actors/shard.hpp"
#include "storage/memory_engine.hpp"
#include "storage/snapshot_stream.hpp"
#include "storage/state_machine.hpp"
#include "tests/actors/actor_test_support.hpp"

using namespace velocity;

namespace {

// A log writer that never confirms: writes pile up waiting for durability.
log_writer_actor::behavior_type stuck_log_writer(log_writer_actor::pointer self) {
  return {
      [=](sync_atom) { return self->make_response_promise<sync_result>(); },
      [=](flush_atom) {},
      [=](lw_stats_atom) { return log_writer_stats{}; },
  };
}

// A log writer whose fsync always fails.
log_writer_actor::behavior_type failing_log_writer(log_writer_actor::pointer) {
  return {
      [=](sync_atom) { return sync_result{{error_code::io_error, "disk on fire"}}; },
      [=](flush_atom) {},
      [=](lw_stats_atom) { return log_writer_stats{}; },
  };
}

struct shard_fixture : test_coordinator_fixture<> {
  std::shared_ptr<memory_engine> memory = std::make_shared<memory_engine>();
  std::shared_ptr<test::counting_engine> counted = std::make_shared<test::counting_engine>(memory);

  shard_actor make_shard(bool persistent) {
    log_writer_actor writer;
    if (persistent) writer = spawn_log_writer(sys, counted, make_real_environment(1), false);
    auto spawned = spawn_shard(sys, shard_options{0, counted, writer});
    CAF_REQUIRE(spawned.ok());
    return spawned.value();
  }

  reply ask(const shard_actor& shard, command c) {
    auto handle = self->request(shard, caf::infinite, apply_atom::value, shard_request{std::move(c)});
    run();
    reply out;
    handle.receive([&](shard_reply& r) { out = std::move(r.result); },
                   [&](caf::error& e) { CAF_FAIL("shard request failed: " << sys.render(e)); });
    return out;
  }

  void create_jobs(const shard_actor& shard) {
    auto created = ask(shard, cmd::create_schema{test::jobs_schema(), 1});
    CAF_REQUIRE(created.ok());
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(shard_tests, shard_fixture)

CAF_TEST(a shard inserts then reads a document) {
  auto shard = make_shard(false);
  create_jobs(shard);
  auto inserted = ask(shard, test::insert_job("a"));
  CAF_REQUIRE(inserted.ok());
  CAF_CHECK_EQUAL(inserted.doc->version, 1u);
  auto got = ask(shard, test::get_job("a"));
  CAF_REQUIRE(got.ok());
  CAF_CHECK_EQUAL(got.doc->fields.at("state").as_string(), "waiting");
  auto missing = ask(shard, test::get_job("b"));
  CAF_CHECK(missing.st.code() == error_code::not_found);
}

CAF_TEST(memory mode answers without any fsync) {
  auto shard = make_shard(false);
  create_jobs(shard);
  CAF_CHECK(ask(shard, test::insert_job("a")).ok());
  CAF_CHECK_EQUAL(counted->syncs(), 0u);
  // Nothing was synced, so a crash loses the write: the mode promises no more.
  memory->simulate_crash();
  auto reopened = spawn_shard(sys, shard_options{0, counted, {}});
  CAF_REQUIRE(reopened.ok());
  CAF_CHECK(ask(reopened.value(), test::get_job("a")).st.code() == error_code::unknown_collection);
}

CAF_TEST(persistent mode acknowledges only durable writes) {
  auto shard = make_shard(true);
  create_jobs(shard);
  CAF_CHECK(ask(shard, test::insert_job("a")).ok());
  CAF_CHECK(counted->syncs() >= 1u);
  memory->simulate_crash();  // drops everything not synced
  // The Raft log was synced before the reply; the documents' own writes were
  // not, and the reopened shard replays the log into its state machine.
  auto reopened = spawn_shard(
      sys, shard_options{0, counted, spawn_log_writer(sys, counted, make_real_environment(1), false)});
  CAF_REQUIRE(reopened.ok());
  auto got = ask(reopened.value(), test::get_job("a"));
  CAF_CHECK(got.ok());
}

CAF_TEST(pipelined writes share fsyncs and are answered in log order) {
  auto shard = make_shard(true);
  create_jobs(shard);
  auto syncs_before = counted->syncs();
  constexpr int writes = 10;
  std::vector<uint64_t> revisions;
  for (int i = 0; i < writes; ++i) {
    sys.spawn([&, i](caf::event_based_actor* writer) {
      writer->request(shard, caf::infinite, apply_atom::value,
                      shard_request{test::insert_job("doc" + std::to_string(i))})
          .then([&](const shard_reply& r) {
            if (r.result.ok()) revisions.push_back(r.result.doc->revision);
          });
    });
  }
  run();
  CAF_REQUIRE_EQUAL(revisions.size(), static_cast<size_t>(writes));
  for (size_t i = 1; i < revisions.size(); ++i) CAF_CHECK(revisions[i - 1] < revisions[i]);
  CAF_CHECK(counted->syncs() - syncs_before < static_cast<size_t>(writes));
}

CAF_TEST(a reopened shard recovers its applied index and schemas) {
  auto shard = make_shard(true);
  create_jobs(shard);
  CAF_CHECK(ask(shard, test::insert_job("a")).ok());
  auto reopened = spawn_shard(
      sys, shard_options{0, counted, spawn_log_writer(sys, counted, make_real_environment(1), false)});
  CAF_REQUIRE(reopened.ok());
  auto handle = self->request(reopened.value(), caf::infinite, shard_info_atom::value);
  run();
  // Log index 1 is the leader's empty entry, 2 the schema, 3 the document.
  handle.receive([&](const shard_info& info) { CAF_CHECK_EQUAL(info.applied_index, 3u); },
                 [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
  auto schema = self->request(reopened.value(), caf::infinite, schema_atom::value, std::string{"jobs"});
  run();
  schema.receive([&](const schema_reply& r) { CAF_CHECK(r.schema.has_value()); },
                 [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
}

CAF_TEST(a claim through the shard takes the waiting job) {
  auto shard = make_shard(false);
  create_jobs(shard);
  CAF_CHECK(ask(shard, test::insert_job("a")).ok());
  auto claimed = ask(shard, test::claim_waiting());
  CAF_REQUIRE(claimed.ok());
  CAF_CHECK(claimed.claimed);
  CAF_CHECK_EQUAL(claimed.doc->fields.at("state").as_string(), "running");
  auto again = ask(shard, test::claim_waiting());
  CAF_CHECK(again.ok() && !again.claimed);
}

CAF_TEST(a conditional write that can only fail is answered as a read without a log entry) {
  auto shard = make_shard(true);
  create_jobs(shard);
  CAF_REQUIRE(ask(shard, test::insert_job("a")).ok());
  auto info = [&] {
    auto handle = self->request(shard, caf::infinite, shard_info_atom::value);
    run();
    shard_info out;
    handle.receive([&](shard_info& i) { out = std::move(i); },
                   [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
    return out;
  };
  const shard_info before = info();
  const size_t syncs = counted->syncs();
  auto lost = ask(shard, cmd::compare_and_swap{"jobs", "a", uint64_t{5}, {}, {{"state", "x"}}, true, 1});
  CAF_CHECK(lost.st.code() == error_code::version_conflict);
  CAF_CHECK_EQUAL(lost.current_version, 1u);
  auto gone = ask(shard, cmd::erase{"jobs", "b", uint64_t{1}, 1});
  CAF_CHECK(gone.st.code() == error_code::not_found);
  const shard_info after_failures = info();
  CAF_CHECK_EQUAL(after_failures.proposals, before.proposals);
  CAF_CHECK_EQUAL(after_failures.applied_index, before.applied_index);
  CAF_CHECK_EQUAL(after_failures.failed_writes_read, 2u);
  CAF_CHECK_EQUAL(counted->syncs(), syncs);
  // The same CAS with the current version is logged and applied.
  auto won = ask(shard, cmd::compare_and_swap{"jobs", "a", uint64_t{1}, {}, {{"state", "x"}}, true, 1});
  CAF_REQUIRE(won.ok());
  CAF_CHECK_EQUAL(won.doc->version, 2u);
  const shard_info after_success = info();
  CAF_CHECK_EQUAL(after_success.proposals, before.proposals + 1);
  CAF_CHECK(counted->syncs() > syncs);
}

CAF_TEST(a shard answers overloaded beyond its backlog of undurable writes) {
  auto spawned = spawn_shard(sys, shard_options{0, counted, sys.spawn(stuck_log_writer)});
  CAF_REQUIRE(spawned.ok());
  auto shard = spawned.value();
  // Fill the backlog: none of these can be acknowledged (no fsync ever comes).
  for (size_t i = 0; i < shard_backlog_max; ++i)
    caf::anon_send(shard, apply_atom::value, shard_request{test::insert_job("d" + std::to_string(i))});
  sched.run();
  CAF_CHECK_EQUAL(counted->syncs(), 0u);
  // One more write is over the bound.
  auto handle = self->request(shard, caf::infinite, apply_atom::value,
                              shard_request{test::insert_job("extra")});
  sched.run();
  reply last;
  handle.receive([&](shard_reply& r) { last = std::move(r.result); },
                 [&](caf::error& e) { CAF_FAIL(sys.render(e)); });
  CAF_CHECK(last.st.code() == error_code::overloaded);
  // Held replies are promises that reference the shard: stop it explicitly,
  // as node::stop does, or the actor system waits for it for ever.
  caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a failed fsync fails the waiting writes and the shard) {
  auto spawned = spawn_shard(sys, shard_options{0, counted, sys.spawn(failing_log_writer)});
  CAF_REQUIRE(spawned.ok());
  auto shard = spawned.value();
  auto created = ask(shard, cmd::create_schema{test::jobs_schema(), 1});
  // Written to the log but not durable: its outcome is unknown (a restart
  // may find the write and apply it), so never unavailable.
  CAF_CHECK(created.st.code() == error_code::io_error);
  auto message = created.st.message();
  CAF_CHECK(message.find("disk on fire") != std::string::npos);
  CAF_CHECK(message.find("outcome unknown") != std::string::npos);
  auto after = ask(shard, test::get_job("a"));
  CAF_CHECK(after.st.code() == error_code::unavailable);
}

CAF_TEST(a data directory of a single node is refused as a cluster member) {
  auto shard = make_shard(true);
  create_jobs(shard);
  caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
  sched.run();
  shard_options member{0, counted, spawn_log_writer(sys, counted, make_real_environment(1), false)};
  member.node_id = 1;
  member.voters = {1, 2, 3};
  member.outbox = sys.spawn([](raft_outbox_actor::pointer) -> raft_outbox_actor::behavior_type {
    return {[](raft_out_atom, const raft_messages&) {}, [](snap_out_atom, const snapshot_wire&) {}};
  });
  member.env = make_real_environment(1);
  auto refused = spawn_shard(sys, member);
  CAF_REQUIRE(!refused.ok());
  CAF_CHECK(refused.error().code() == error_code::invalid_argument);
  auto message = refused.error().message();
  CAF_CHECK(message.find("voters {1} but the configuration makes it {1,2,3}") != std::string::npos);
}

CAF_TEST(a shard finishes a snapshot install that a restart interrupted before it opens) {
  memory_engine leader;
  state_machine source(leader, 0);
  CAF_REQUIRE(source.open().ok());
  CAF_REQUIRE(source.apply(1, cmd::create_schema{test::jobs_schema(), 1}).ok());
  CAF_REQUIRE(source.apply(2, test::insert_job("streamed")).ok());
  // Staged and marked, not yet copied: where a crash after the marker leaves it.
  write_batch batch;
  stage_clear_staging(0, batch);
  shard_reader reader(leader, leader.make_snapshot(), 0);
  while (!reader.done()) {
    auto items = reader.next();
    CAF_REQUIRE(items.ok());
    CAF_REQUIRE(stage_items(0, *items, batch).ok());
  }
  stage_marker(0, install_marker{2, 1}, batch);
  CAF_REQUIRE(memory->write(batch).ok());
  auto shard = make_shard(false);
  auto got = ask(shard, test::get_job("streamed"));
  CAF_CHECK(got.ok());
  auto marker = read_marker(*memory, 0);
  CAF_REQUIRE(marker.ok());
  CAF_CHECK(!marker->has_value());
}

CAF_TEST_FIXTURE_SCOPE_END()
