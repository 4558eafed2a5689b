#!/usr/bin/env bash
# The README's test command: installs what is missing, configures, builds and
# runs every test suite through CTest.
#   scripts/test.sh             normal build in build/ (warnings are errors)
#   scripts/test.sh --sanitize  AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DVELOCITY_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-asan
  # Sanitizer instrumentation makes GCC report false positives
  # (maybe-uninitialized), so warnings are not errors in this build.
  cmake_args=(-DVELOCITY_WERROR=OFF -DVELOCITY_SANITIZE=ON -DVELOCITY_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi

scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}"
cmake --build "$build_dir" -j "$jobs"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "$build_dir" = build-asan ]; then
  # Every suite runs with LeakSanitizer, including those that run CAF brokers
  # (actors/broker_exit.hpp explains the two CAF 0.17.6 broker leaks we work
  # around). The child processes that tests start inherit ASAN_OPTIONS.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900
else
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900
fi
