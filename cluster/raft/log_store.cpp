// Implements log_store.hpp (in progress).
