// The one translation unit per test binary that defines main() for CAF's unit
// test framework. Suites live in the other files of the binary.
#define CAF_TEST_NO_MAIN_HELPER_DEFINED
#include "caf/test/unit_test_impl.hpp"
