# Unit tests for the rules of the Raft paper and thesis, against cluster/raft/raft.hpp.
# One suite per rule family (tests/raft/rules_<suite>.cpp); rules_harness drives
# N cores through the ready contract with a controllable network.
set(velocity_rule_suites
  rules_election rules_prevote_checkquorum rules_replication rules_commit rules_persistence
  rules_snapshot rules_membership rules_transfer rules_read_index rules_api)
set(velocity_rule_sources ${CMAKE_CURRENT_LIST_DIR}/rules_harness.cpp)
foreach(suite ${velocity_rule_suites})
  list(APPEND velocity_rule_sources ${CMAKE_CURRENT_LIST_DIR}/${suite}.cpp)
endforeach()
velocity_test_binary(raft_rule_tests ${velocity_rule_sources})
target_link_libraries(raft_rule_tests PRIVATE velocity_cluster)
velocity_add_suites(raft_rule_tests ${velocity_rule_suites})
