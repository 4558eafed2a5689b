# engine_bench: put (single and batched), get (hit) and a 100-key scan on the
# memory engine and on RocksDB with and without sync. Short default runs.
add_executable(engine_bench engine_bench.cpp)
target_include_directories(engine_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(engine_bench PRIVATE benchmark::benchmark velocity_storage velocity_warnings)
