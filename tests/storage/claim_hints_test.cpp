#define CAF_SUITE claim_hints
#include "caf/test/unit_test.hpp"

#include "storage/claim_hints.hpp"

using namespace velocity;

CAF_TEST(without a hint a scan starts at the range lower bound) {
  claim_hints hints;
  CAF_CHECK_EQUAL(std::string{hints.start("b")}, "b");
}

CAF_TEST(a remembered first key becomes the start) {
  claim_hints hints;
  hints.remember("b", "bm");
  CAF_CHECK_EQUAL(std::string{hints.start("b")}, "bm");
  CAF_CHECK_EQUAL(std::string{hints.start("c")}, "c");
}

CAF_TEST(a put below the hint and above the lower bound lowers the hint) {
  claim_hints hints;
  hints.remember("b", "bm");
  hints.note_put("bz");  // above the hint: no change
  CAF_CHECK_EQUAL(std::string{hints.start("b")}, "bm");
  hints.note_put("a");  // below the lower bound: no change
  CAF_CHECK_EQUAL(std::string{hints.start("b")}, "bm");
  hints.note_put("bc");
  CAF_CHECK_EQUAL(std::string{hints.start("b")}, "bc");
  hints.note_put("b");
  CAF_CHECK_EQUAL(std::string{hints.start("b")}, "b");
}

CAF_TEST(hints are bounded and dropped when full) {
  claim_hints hints;
  for (size_t i = 0; i < claim_hints::entries_max; ++i) hints.remember("k" + std::to_string(i), "z");
  CAF_CHECK_EQUAL(hints.size(), claim_hints::entries_max);
  hints.remember("another", "z");
  CAF_CHECK_EQUAL(hints.size(), 1u);
}
