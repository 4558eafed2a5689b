// Tests of the crash checker itself: it must accept every state a correct
// engine can leave behind and reject torn batches, lost acknowledged batches,
// gaps and wrong values. Without these, a passing crash test proves nothing.
#define CAF_SUITE crash_checker
#include "caf/test/unit_test.hpp"

#include "storage/memory_engine.hpp"
#include "tests/storage/crash_checker.hpp"

using namespace velocity;

namespace {

void write_batches(engine& e, uint64_t first, uint64_t last) {
  for (uint64_t batch = first; batch <= last; ++batch) {
    CAF_REQUIRE(e.write(crash::make_batch(batch)).ok());
  }
}

bool rejected(engine& e, uint64_t acknowledged, error_code expected = error_code::corruption) {
  const auto checked = crash::check_state(e, acknowledged);
  if (!checked.ok()) CAF_MESSAGE("rejected as expected: " << checked.to_string());
  return !checked.ok() && checked.code() == expected;
}

}  // namespace

CAF_TEST(the checker accepts an empty state with nothing acknowledged) {
  memory_engine e;
  CAF_CHECK(crash::check_state(e, 0).ok());
  CAF_CHECK(rejected(e, 1));
}

CAF_TEST(the checker accepts complete batches beyond the acknowledged one) {
  memory_engine e;
  write_batches(e, 1, 9);
  CAF_CHECK(crash::check_state(e, 0).ok());
  CAF_CHECK(crash::check_state(e, 5).ok());
  CAF_CHECK(crash::check_state(e, 9).ok());
  auto head = crash::read_head(e);
  CAF_REQUIRE(head.ok());
  CAF_CHECK_EQUAL(*head, 9u);
}

CAF_TEST(the checker rejects a torn batch with half its keys written) {
  memory_engine e;
  write_batches(e, 1, 4);
  const auto half = crash::keys_in_batch(5) / 2;
  CAF_REQUIRE(half > 0);
  CAF_REQUIRE(e.write(crash::make_partial_batch(5, half)).ok());
  CAF_CHECK(rejected(e, 4));
  CAF_CHECK(rejected(e, 0));
}

CAF_TEST(the checker rejects a state missing an acknowledged batch) {
  memory_engine e;
  write_batches(e, 1, 6);
  CAF_CHECK(crash::check_state(e, 6).ok());
  CAF_CHECK(rejected(e, 7));
  CAF_CHECK(rejected(e, 100));
}

CAF_TEST(the checker rejects a later batch present while an earlier one is missing) {
  memory_engine e;
  write_batches(e, 1, 3);
  write_batches(e, 5, 5);  // batch 4 never written
  CAF_CHECK(rejected(e, 3));
}

CAF_TEST(the checker rejects a wrong value and a head that disagrees) {
  memory_engine wrong_value;
  write_batches(wrong_value, 1, 3);
  auto batch = crash::make_batch(2);
  write_batch tampered;
  tampered.put(batch.ops()[0].col, batch.ops()[0].key, "garbage");
  CAF_REQUIRE(wrong_value.write(tampered).ok());
  CAF_CHECK(rejected(wrong_value, 3));

  memory_engine wrong_head;
  write_batches(wrong_head, 1, 3);
  write_batch head;
  head.put(column::meta, "head", "2");
  CAF_REQUIRE(wrong_head.write(head).ok());
  CAF_CHECK(rejected(wrong_head, 2));
}
