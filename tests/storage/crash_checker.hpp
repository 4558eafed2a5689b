// The crash workload and its checker, shared by the SIGKILL test
// (rocksdb_crash_test), the memory engine's crash simulation tests and the
// tests of the checker itself.
//
// Workload: batch n (n = 1, 2, ...) puts keys_in_batch(n) keys, alternating
// between the documents and indexes columns, each value naming n, the key's
// position, the batch size and a checksum, plus meta "head" = n.
//
// The checker accepts a state only if: every present key is well formed with
// the right value; every present batch is complete (all or nothing); the
// present batches are exactly 1..m (no later batch without an earlier one);
// m >= the highest acknowledged batch; meta "head" names m.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/engine.hpp"

namespace velocity::crash {

// Between 2 and 8 keys, so batches differ in size.
size_t keys_in_batch(uint64_t batch);

// The whole batch n (see above).
write_batch make_batch(uint64_t batch);

// Like make_batch but with only the first `keys` keys of the batch and no head
// update: a torn batch, for testing the checker.
write_batch make_partial_batch(uint64_t batch, size_t keys);

// The highest batch in the state (meta "head"), 0 for an empty state.
status_or<uint64_t> read_head(engine& e);

// ok if the state satisfies every rule above for `acknowledged`; otherwise
// corruption with a message naming the first violated rule and batch.
status check_state(engine& e, uint64_t acknowledged);

}  // namespace velocity::crash
