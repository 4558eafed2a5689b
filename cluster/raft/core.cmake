# The Raft core (raft.hpp, types.hpp).
target_sources(velocity_cluster PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/types.cpp
  ${CMAKE_CURRENT_LIST_DIR}/raft.cpp)
