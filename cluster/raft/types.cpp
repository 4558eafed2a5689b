// Implements types.hpp (in progress).
