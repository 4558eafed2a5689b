# Values, JSON, Cap'n Proto codec and key encoding.
velocity_test_binary(codec_tests value_test.cpp key_encoding_test.cpp
  document_codec_test.cpp json_test.cpp)
target_link_libraries(codec_tests PRIVATE velocity_schema)
velocity_add_suites(codec_tests value key_encoding document_codec json)
