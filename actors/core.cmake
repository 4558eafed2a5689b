# velocity_actors: the environment seam, the log writer (group commit), the
# shard actors, the router actor, the metrics registry they write to and
# node_actors (the one place that spawns and wires a node's actors). Thin
# CAF shells over storage/, cluster/ and router/.
add_library(velocity_actors STATIC
  ${CMAKE_CURRENT_LIST_DIR}/environment.cpp
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shard.cpp
  ${CMAKE_CURRENT_LIST_DIR}/snapshot_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/router_actor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/peer_mux.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gossiper.cpp
  ${CMAKE_CURRENT_LIST_DIR}/node_actors.cpp
)
target_include_directories(velocity_actors PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(velocity_actors
  PUBLIC velocity_storage velocity_cluster velocity_router velocity_protocols CAF::core
  PRIVATE velocity_warnings spdlog::spdlog)
