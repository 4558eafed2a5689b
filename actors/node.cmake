# velocity_node: node assembly (engine, log writer, shards, router, transport,
# ops HTTP endpoint) and the embedded node.
# cpp-httplib: Debian's libcpp-httplib-dev ships a compiled library whose
# pkg-config file carries the feature macros the library was built with (they
# change class layouts), so it is used through pkg-config, not header-only.
# GLOBAL: the ops HTTP test (tests/actors) uses the client side too.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CPP_HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)

add_library(velocity_node STATIC
  ${CMAKE_CURRENT_LIST_DIR}/node.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ops_http.cpp
  ${CMAKE_CURRENT_LIST_DIR}/embedded_node.cpp
)
target_include_directories(velocity_node PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(velocity_node
  PUBLIC velocity_actors velocity_net CAF::io CAF::core
  PRIVATE velocity_warnings spdlog::spdlog PkgConfig::CPP_HTTPLIB)
