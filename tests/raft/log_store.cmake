# The durable log store: round trips, truncation, snapshots, corruption.
velocity_test_binary(raft_log_store_tests log_store_test.cpp)
target_link_libraries(raft_log_store_tests PRIVATE velocity_cluster velocity_storage)
velocity_add_suites(raft_log_store_tests raft_log_store)
