# Raft messages <-> Cap'n Proto bytes for the node-to-node transport (message_codec.hpp).
target_sources(velocity_cluster PRIVATE ${CMAKE_CURRENT_LIST_DIR}/message_codec.cpp)
