# Unit tests for the rules of the Raft paper and thesis, against cluster/raft/raft.hpp.
