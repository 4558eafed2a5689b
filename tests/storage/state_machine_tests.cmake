# Document state machine: unit, model, claim, schema-change and replica
# determinism tests; the shard dump a Raft snapshot carries; the streamed
# snapshot's chunker and staged install (crash at every write).
velocity_test_binary(state_machine_tests
  ${CMAKE_CURRENT_LIST_DIR}/state_machine_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_machine_model_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/claim_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/claim_hints_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_machine_schema_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_machine_partition_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_machine_replica_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shard_dump_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/snapshot_stream_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine_test_support.cpp)
target_link_libraries(state_machine_tests PRIVATE velocity_storage)
velocity_add_suites(state_machine_tests state_machine state_machine_model claim claim_hints
  state_machine_schema state_machine_partition state_machine_replica shard_dump
  snapshot_stream)
