// Uses the installed client library: connecting to a port nobody listens on
// must fail with io_error. Exit 0 when it does, 1 otherwise.
#include <iostream>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "velocity/client.hpp"

int main() {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system system{cfg};
  velocity::client_options options;
  options.endpoints = {"127.0.0.1:1"};
  auto c = velocity::client::connect(system, options);
  if (c.ok() || c.error().code() != velocity::error_code::io_error) {
    std::cerr << "expected io_error\n";
    return 1;
  }
  std::cout << "consumer: " << c.error().to_string() << '\n';
  return 0;
}
