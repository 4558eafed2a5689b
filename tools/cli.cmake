# velocity: the command-line client (CLI11 for arguments, the client library
# for everything else).
find_package(CLI11 CONFIG REQUIRED)
include(GNUInstallDirs)
add_executable(velocity
  ${CMAKE_CURRENT_LIST_DIR}/velocity_cli.cpp
  ${CMAKE_CURRENT_LIST_DIR}/velocity_cli_commands.cpp
)
target_include_directories(velocity PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(velocity PRIVATE velocity_client CLI11::CLI11 velocity_warnings)
install(TARGETS velocity RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT client)
