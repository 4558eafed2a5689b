// The router's redirect and retry policy (router/redirect.hpp).
#define CAF_SUITE redirect
#include "caf/test/unit_test.hpp"

#include "router/redirect.hpp"

using namespace velocity;

namespace {

replica_answer answer(error_code code, uint64_t leader = 0, bool never_sent = false,
                      bool never_applied = false) {
  return replica_answer{code, leader, never_sent, never_applied};
}

}  // namespace

CAF_TEST(not leader naming another node forwards there) {
  auto step = next_redirect(answer(error_code::not_leader, 3), 1, 0, 0, true);
  CAF_CHECK(step.type == redirect_step::kind::forward);
  CAF_CHECK_EQUAL(step.target, 3u);
}

CAF_TEST(not leader without a known leader waits then asks locally) {
  auto step = next_redirect(answer(error_code::not_leader), 1, 0, 2, true);
  CAF_CHECK(step.type == redirect_step::kind::retry_local);
  CAF_CHECK_EQUAL(step.delay_ms, 100);
  // The node that refused named itself (it just lost leadership): wait too.
  auto self_named = next_redirect(answer(error_code::not_leader, 3), 1, 3, 0, true);
  CAF_CHECK(self_named.type == redirect_step::kind::retry_local);
}

CAF_TEST(a forward that never left is retried and anything of unknown outcome is not) {
  auto unsent = next_redirect(answer(error_code::unavailable, 0, true), 1, 3, 0, true);
  CAF_CHECK(unsent.type == redirect_step::kind::retry_local);
  for (auto code : {error_code::timeout, error_code::unavailable, error_code::io_error,
                    error_code::ok, error_code::not_found})
    CAF_CHECK(next_redirect(answer(code), 1, 3, 0, true).type == redirect_step::kind::answer);
}

CAF_TEST(an unavailable the replica marks never applied is retried at the leader it names) {
  // A proposal another leader's entry overwrote: the new leader is known.
  auto named = next_redirect(answer(error_code::unavailable, 2, false, true), 1, 3, 0, true);
  CAF_CHECK(named.type == redirect_step::kind::forward);
  CAF_CHECK_EQUAL(named.target, 2u);
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::unavailable, 2, false, true), 1, 3), 2u);
  // No leader known yet (a transfer or an election runs): wait, ask locally.
  auto unknown = next_redirect(answer(error_code::unavailable, 0, false, true), 1, 0, 1, true);
  CAF_CHECK(unknown.type == redirect_step::kind::retry_local);
  CAF_CHECK_EQUAL(unknown.delay_ms, 50);
  // The flag only counts with unavailable: a timeout is still the answer.
  CAF_CHECK(next_redirect(answer(error_code::timeout, 2, false, true), 1, 3, 0, true).type ==
            redirect_step::kind::answer);
}

CAF_TEST(a single node and the redirect bound end redirects) {
  CAF_CHECK(next_redirect(answer(error_code::not_leader, 3), 1, 0, 0, false).type ==
            redirect_step::kind::answer);
  CAF_CHECK(next_redirect(answer(error_code::not_leader, 3), 1, 0, router_redirects_max, true)
                .type == redirect_step::kind::answer);
}

CAF_TEST(the retry delay doubles from 25 to 400 ms) {
  CAF_CHECK_EQUAL(retry_delay_ms(0), 25);
  CAF_CHECK_EQUAL(retry_delay_ms(1), 50);
  CAF_CHECK_EQUAL(retry_delay_ms(4), 400);
  CAF_CHECK_EQUAL(retry_delay_ms(30), 400);
}

CAF_TEST(the leader cache keeps who answered and forgets failures) {
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::ok), 1, 3), 3u);
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::not_found), 1, 1), 0u);
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::not_leader, 2), 1, 3), 2u);
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::not_leader, 1), 1, 3), 0u);
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::timeout), 1, 3), 0u);
  CAF_CHECK_EQUAL(cached_leader_after(answer(error_code::unavailable, 0, true), 1, 3), 0u);
}
