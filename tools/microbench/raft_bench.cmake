# raft_bench: the Raft core driven directly (3 replicas in one thread): entries
# committed per second with batches of 1, 16 and 256 proposals, with in-memory
# persistence and with the log store on the memory engine; the leader's own
# cost per proposal. Short default runs.
add_executable(raft_bench raft_bench.cpp)
target_include_directories(raft_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(raft_bench PRIVATE benchmark::benchmark velocity_cluster velocity_warnings)
