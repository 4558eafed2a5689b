# Unit tests of the core's internal pieces (log, progress, types) and smoke
# tests of the whole core in a small in-test cluster, written with the core.
velocity_test_binary(raft_internals_tests
  ${CMAKE_CURRENT_LIST_DIR}/internals_log_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/internals_progress_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/internals_types_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/internals_core_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/internals_regression_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/internals_garbage_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/internals_review_test.cpp)
target_link_libraries(raft_internals_tests PRIVATE velocity_cluster)
velocity_add_suites(raft_internals_tests raft_log raft_progress raft_types raft_core_smoke
  raft_core_regression raft_core_garbage raft_review)
