// Reads served by a shard's replicas without its leader (docs/consistency.md):
// where an eventual read goes, and how a quorum read's answers combine.
//
//   eventual: this node's replica first, then the others in turn; a replica
//             that cannot serve (unavailable, overloaded, timeout: a read
//             changes nothing, so asking another is safe) passes it on, and
//             so does a node known to be dead (membership), without waiting.
//   quorum:   every replica is asked at its commit index; once a majority
//             answered, the answer of the replica that applied the most
//             wins (replicas hold prefixes of one log, so the most applied
//             state contains every other). When a majority can no longer
//             answer, the read fails with unavailable.
//
// Pure: no CAF, clocks or randomness. Thread safety: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "command/commands.hpp"
#include "protocols/error.hpp"

namespace velocity {

// The order in which an eventual read tries `replicas` (node ids): `me`
// first when it holds one, then the live ones, then those `dead` names
// (tried last rather than never: membership can be wrong).
std::vector<uint64_t> eventual_read_order(const std::vector<uint64_t>& replicas, uint64_t me,
                                          const std::vector<uint64_t>& dead = {});

// An eventual read's answer that sends it to the next replica.
bool eventual_read_retries(error_code code);

class quorum_read {
 public:
  // `replicas`: how many are asked. REQUIRES: replicas > 0.
  quorum_read(uint32_t shard, size_t replicas);

  // One replica's answer: its reply and the applied index it served at.
  // A reply with an error status counts as no answer (its code is kept for
  // the message).
  void on_answer(uint64_t node, reply r, uint64_t applied);
  bool finished() const;
  // REQUIRES: finished(). The winning reply, or unavailable naming who
  // answered and why the others did not.
  reply result();

  size_t majority() const { return replicas_ / 2 + 1; }

 private:
  uint32_t shard_;
  size_t replicas_;
  size_t answered_ = 0;
  size_t failed_ = 0;
  std::optional<reply> best_;
  uint64_t best_applied_ = 0;
  std::string failures_;  // "node 2: timeout: ...; node 3: ..."
};

}  // namespace velocity
