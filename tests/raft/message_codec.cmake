# The Raft message codec (cluster/raft/message_codec.hpp): round trips and
# untrusted input.
velocity_test_binary(raft_message_codec_tests ${CMAKE_CURRENT_LIST_DIR}/message_codec_test.cpp)
target_link_libraries(raft_message_codec_tests PRIVATE velocity_cluster)
velocity_add_suites(raft_message_codec_tests raft_message_codec)
