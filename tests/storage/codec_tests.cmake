# The command codec (storage/command_codec.hpp): commands and replies to and from
# Cap'n Proto, round trips and malformed input.
velocity_test_binary(command_codec_tests command_codec_test.cpp)
target_link_libraries(command_codec_tests PRIVATE velocity_storage)
velocity_add_suites(command_codec_tests command_codec)
