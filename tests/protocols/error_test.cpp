#define CAF_SUITE error
#include "caf/test/unit_test.hpp"

#include "protocols/error.hpp"

using namespace velocity;

CAF_TEST(every error code has a distinct name that parses back) {
  for (uint16_t i = 0; i < error_code_count; ++i) {
    auto code = static_cast<error_code>(i);
    error_code parsed = error_code::internal;
    CAF_CHECK(from_string(to_string(code), parsed));
    CAF_CHECK_EQUAL(static_cast<uint16_t>(parsed), i);
  }
  error_code unused;
  CAF_CHECK(!from_string("no_such_code", unused));
}

CAF_TEST(status renders its code and message) {
  status ok;
  CAF_CHECK(ok.ok());
  CAF_CHECK_EQUAL(ok.to_string(), "ok");
  status bad{error_code::version_conflict, "expected 3, stored 4"};
  CAF_CHECK(!bad.ok());
  CAF_CHECK_EQUAL(bad.to_string(), "version_conflict: expected 3, stored 4");
}

CAF_TEST(status_or holds either a value or an error) {
  status_or<int> good{7};
  CAF_REQUIRE(good.ok());
  CAF_CHECK_EQUAL(*good, 7);
  status_or<int> bad{error_code::not_found, "no document x"};
  CAF_REQUIRE(!bad.ok());
  CAF_CHECK(bad.error().code() == error_code::not_found);
  auto copy = bad.to_status();
  CAF_CHECK_EQUAL(copy.message(), "no document x");
}
