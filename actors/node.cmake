# velocity_node: node assembly (engine, log writer, shards, router, transport)
# and the embedded node.
add_library(velocity_node STATIC
  ${CMAKE_CURRENT_LIST_DIR}/node.cpp
  ${CMAKE_CURRENT_LIST_DIR}/embedded_node.cpp
)
target_include_directories(velocity_node PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(velocity_node
  PUBLIC velocity_actors velocity_net CAF::io CAF::core
  PRIVATE velocity_warnings spdlog::spdlog)
