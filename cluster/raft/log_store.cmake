# The durable log store (log_store.hpp).
target_sources(velocity_cluster PRIVATE ${CMAKE_CURRENT_LIST_DIR}/log_store.cpp)
