# velocity-bench: the closed-loop load generator over the client library.
# velocity_bench_lib holds everything but main, so tests/bench can run
# workloads in-process.
add_library(velocity_bench_lib STATIC
  ${CMAKE_CURRENT_LIST_DIR}/velocity_bench_stats.cpp
  ${CMAKE_CURRENT_LIST_DIR}/velocity_bench_loop.cpp
  ${CMAKE_CURRENT_LIST_DIR}/velocity_bench_workloads.cpp
)
target_include_directories(velocity_bench_lib PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(velocity_bench_lib PUBLIC velocity_client PRIVATE velocity_warnings)

find_package(CLI11 CONFIG REQUIRED)
add_executable(velocity-bench ${CMAKE_CURRENT_LIST_DIR}/velocity_bench.cpp)
target_link_libraries(velocity-bench PRIVATE velocity_bench_lib CLI11::CLI11 velocity_warnings)
