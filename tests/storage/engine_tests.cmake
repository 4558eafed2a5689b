# Engines: conformance (both engines), randomized model tests, memory engine
# crash simulation, RocksDB persistence, the crash checker, and the SIGKILL
# crash test (its own executable: it forks and kills children).
add_library(velocity_crash_checker STATIC crash_checker.cpp)
target_include_directories(velocity_crash_checker PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(velocity_crash_checker PUBLIC velocity_storage PRIVATE velocity_warnings)

velocity_test_binary(engine_tests
  engine_test_support.cpp
  engine_conformance_test.cpp
  engine_model_test.cpp
  engine_rocksdb_test.cpp
  engine_crash_checker_test.cpp
  memory_engine_test.cpp)
target_link_libraries(engine_tests PRIVATE velocity_storage velocity_crash_checker)
velocity_add_suites(engine_tests engine_conformance engine_model memory_engine rocksdb_engine
  crash_checker)

add_executable(rocksdb_crash_test rocksdb_crash_test.cpp)
target_link_libraries(rocksdb_crash_test PRIVATE velocity_crash_checker velocity_storage
  velocity_warnings)
add_test(NAME rocksdb_crash_test COMMAND rocksdb_crash_test --rounds 40)
set_tests_properties(rocksdb_crash_test PROPERTIES TIMEOUT 120
  FAIL_REGULAR_EXPRESSION "[1-9][0-9]* failed")
