# The linearizability checker (linearizability.hpp) and its tests.
# velocity_linearizability is pure C++ (no CAF); the simulator links it.
add_library(velocity_linearizability STATIC ${CMAKE_CURRENT_LIST_DIR}/linearizability.cpp)
target_include_directories(velocity_linearizability PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(velocity_linearizability PRIVATE velocity_warnings)

velocity_test_binary(linearizability_tests ${CMAKE_CURRENT_LIST_DIR}/linearizability_test.cpp)
target_link_libraries(linearizability_tests PRIVATE velocity_linearizability)
velocity_add_suites(linearizability_tests linearizability)
