// Reads served by replicas without the leader (router/replica_reads.hpp):
// the eventual read's order and the quorum read's merge.
#define CAF_SUITE replica_reads
#include "caf/test/unit_test.hpp"

#include "router/replica_reads.hpp"

using namespace velocity;

namespace {

reply found(uint64_t version) {
  reply r;
  r.doc.emplace();
  r.doc->id.push_back('k');  // (assigning a literal here trips GCC 12's -Wrestrict under ASan)
  r.doc->version = version;
  return r;
}

reply failed(error_code code) {
  reply r;
  r.st = status{code, "cannot serve"};
  return r;
}

}  // namespace

CAF_TEST(an eventual read asks this node first then the live replicas then the dead) {
  CAF_CHECK_EQUAL(eventual_read_order({1, 2, 3}, 2), (std::vector<uint64_t>{2, 1, 3}));
  CAF_CHECK_EQUAL(eventual_read_order({1, 2, 3}, 1, {2}), (std::vector<uint64_t>{1, 3, 2}));
  // A node without a replica of the shard goes straight to the others.
  CAF_CHECK_EQUAL(eventual_read_order({1, 3}, 2), (std::vector<uint64_t>{1, 3}));
}

CAF_TEST(an eventual read moves on only when a replica could not serve it) {
  CAF_CHECK(eventual_read_retries(error_code::unavailable));
  CAF_CHECK(eventual_read_retries(error_code::timeout));
  CAF_CHECK(eventual_read_retries(error_code::overloaded));
  CAF_CHECK(!eventual_read_retries(error_code::ok));
  CAF_CHECK(!eventual_read_retries(error_code::not_found));
  CAF_CHECK(!eventual_read_retries(error_code::unknown_collection));
}

CAF_TEST(a quorum read answers with the most applied of a majority) {
  quorum_read q(0, 3);
  CAF_CHECK_EQUAL(q.majority(), 2u);
  q.on_answer(1, found(4), 10);
  CAF_CHECK(!q.finished());
  q.on_answer(2, found(7), 12);
  CAF_REQUIRE(q.finished());
  reply r = q.result();
  CAF_REQUIRE(r.ok() && r.doc.has_value());
  CAF_CHECK_EQUAL(r.doc->version, 7u);
}

CAF_TEST(a quorum read keeps the most applied answer whatever the order) {
  quorum_read q(0, 3);
  q.on_answer(3, found(7), 12);
  q.on_answer(1, found(4), 10);
  CAF_REQUIRE(q.finished());
  reply r = q.result();
  CAF_REQUIRE(r.doc.has_value());
  CAF_CHECK_EQUAL(r.doc->version, 7u);
}

CAF_TEST(not found is an answer and a failure is not) {
  quorum_read q(2, 3);
  q.on_answer(1, failed(error_code::not_found), 9);
  q.on_answer(2, failed(error_code::timeout), 0);
  CAF_CHECK(!q.finished());
  q.on_answer(3, found(1), 8);
  CAF_REQUIRE(q.finished());
  // Node 1 applied more and found nothing: that is the answer.
  CAF_CHECK_EQUAL(q.result().st.code(), error_code::not_found);
}

CAF_TEST(a quorum read fails with unavailable once a majority cannot answer) {
  quorum_read q(4, 3);
  q.on_answer(1, found(1), 5);
  q.on_answer(2, failed(error_code::unavailable), 0);
  CAF_CHECK(!q.finished());
  q.on_answer(3, failed(error_code::timeout), 0);
  CAF_REQUIRE(q.finished());
  reply r = q.result();
  CAF_CHECK_EQUAL(r.st.code(), error_code::unavailable);
  CAF_CHECK_EQUAL(r.st.message(),
                  "quorum read of shard 4: 1 of 3 replicas answered, 2 needed (node 2: "
                  "unavailable: cannot serve; node 3: timeout: cannot serve)");
}

CAF_TEST(a single replica is its own quorum) {
  quorum_read q(0, 1);
  q.on_answer(1, found(3), 3);
  CAF_REQUIRE(q.finished());
  CAF_CHECK(q.result().ok());
}
