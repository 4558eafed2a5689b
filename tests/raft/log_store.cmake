# The durable log store: round trips, truncation, snapshots, corruption
# (log_store_test.cpp), and random readies with crashes against a reference
# model (log_store_model_test.cpp).
velocity_test_binary(raft_log_store_tests log_store_test.cpp log_store_model_test.cpp)
target_link_libraries(raft_log_store_tests PRIVATE velocity_cluster velocity_storage)
velocity_add_suites(raft_log_store_tests raft_log_store raft_log_store_model)
