# Schemas, validation and filters.
velocity_test_binary(schema_tests schema_test.cpp filter_test.cpp)
target_link_libraries(schema_tests PRIVATE velocity_schema)
# Lets the tests read example files (configs/schemas/*.json) from the source tree.
target_compile_definitions(schema_tests PRIVATE VELOCITY_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
velocity_add_suites(schema_tests schema filter)
