// Implements raft.hpp (in progress).
