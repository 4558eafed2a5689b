// Always-on assertions for programmer errors (never for input validation: bytes
// from the network or disk are validated and answered with a status).
//
// VELOCITY_CHECK(cond) aborts with file, line and the condition text.
// VELOCITY_CHECK_EQ/LT/LE(a, b) also print both operands.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace velocity::detail {

[[noreturn]] inline void check_failed(const char* file, int line, const char* what,
                                      const std::string& operands) {
  std::fprintf(stderr, "%s:%d: check failed: %s%s\n", file, line, what, operands.c_str());
  std::fflush(stderr);
  std::abort();
}

template <class A, class B>
std::string format_operands(const A& a, const B& b) {
  std::ostringstream out;
  out << " (" << a << " vs " << b << ")";
  return out.str();
}

}  // namespace velocity::detail

#define VELOCITY_CHECK(cond)                                                 \
  do {                                                                       \
    if (!(cond)) ::velocity::detail::check_failed(__FILE__, __LINE__, #cond, \
                                                  std::string{});            \
  } while (false)

#define VELOCITY_CHECK_OP(a, op, b)                                              \
  do {                                                                           \
    const auto& velocity_check_a = (a);                                          \
    const auto& velocity_check_b = (b);                                          \
    if (!(velocity_check_a op velocity_check_b))                                 \
      ::velocity::detail::check_failed(                                          \
          __FILE__, __LINE__, #a " " #op " " #b,                                 \
          ::velocity::detail::format_operands(velocity_check_a, velocity_check_b)); \
  } while (false)

#define VELOCITY_CHECK_EQ(a, b) VELOCITY_CHECK_OP(a, ==, b)
#define VELOCITY_CHECK_LT(a, b) VELOCITY_CHECK_OP(a, <, b)
#define VELOCITY_CHECK_LE(a, b) VELOCITY_CHECK_OP(a, <=, b)
