# state_machine_bench: insert, get, update, CAS and claim through the document
# state machine over 100k ~300-byte documents, on the memory engine and on
# RocksDB with and without a sync per apply. Short default runs.
add_executable(state_machine_bench state_machine_bench.cpp)
target_include_directories(state_machine_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(state_machine_bench PRIVATE benchmark::benchmark velocity_storage velocity_warnings)
