# The Raft core (raft.hpp, types.hpp) and its internal pieces.
target_sources(velocity_cluster PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/types.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_log.cpp
  ${CMAKE_CURRENT_LIST_DIR}/progress.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_election.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_replication.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_read.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_snapshot.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft_membership.cpp)
