# The deterministic cluster simulator: library velocity_sim (pure: no CAF, no
# clocks, no threads), the velocity-sim tool and the seed suites (sim_tests).
add_library(velocity_sim STATIC
  ${CMAKE_CURRENT_LIST_DIR}/sim_options.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_kv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_network.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_node.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_workload.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_checkers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_cluster.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_effects.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_clients.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_nemesis.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_run.cpp)
target_include_directories(velocity_sim PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(velocity_sim PUBLIC velocity_cluster velocity_linearizability
  PRIVATE velocity_warnings)

# velocity-sim: replay one seed or sweep many (tools/velocity_sim.cpp).
find_package(CLI11 CONFIG REQUIRED)
add_executable(velocity-sim ${PROJECT_SOURCE_DIR}/tools/velocity_sim.cpp)
target_link_libraries(velocity-sim PRIVATE velocity_sim CLI11::CLI11 velocity_warnings)

velocity_test_binary(sim_tests
  ${CMAKE_CURRENT_LIST_DIR}/sim_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_bug_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_regression_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_checker_test.cpp)
target_link_libraries(sim_tests PRIVATE velocity_sim)
velocity_add_suites(sim_tests sim_seeds sim_replay sim_bugs sim_regression sim_checkers)
