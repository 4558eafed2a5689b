# Unit tests for the rules of the Raft paper and thesis, against cluster/raft/raft.hpp.
# One suite per rule family (tests/raft/rules_<suite>.cpp); rules_harness drives
# N cores through the ready contract with a controllable network.
velocity_test_binary(raft_rule_tests
  ${CMAKE_CURRENT_LIST_DIR}/rules_harness.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rules_election.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rules_replication.cpp
  ${CMAKE_CURRENT_LIST_DIR}/rules_commit.cpp)
target_link_libraries(raft_rule_tests PRIVATE velocity_cluster)
velocity_add_suites(raft_rule_tests
  rules_election rules_replication rules_commit)
