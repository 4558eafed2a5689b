// Fan-out of list, count and claim across shards, and the
// merge of their replies into one reply.
//
// List: every shard that may still hold entries is asked for `limit` entries
// after its own position; the merge takes the first `limit` documents of the
// union in the list's order (id order, or index order: the index tuple, then
// the id, exactly the engine key order every shard scans in) and answers a
// composite cursor that resumes EACH shard exactly after the last document
// taken from that shard. Since each shard's page holds its next `limit`
// entries, the global next `limit` are among them: pages neither repeat nor
// skip documents, and a page holds exactly `limit` documents unless the list
// is exhausted (then the cursor is empty). Like a single shard's list, each
// page is read fresh: documents written between pages appear if they sort
// after the position of their shard.
//
// Composite cursor: lowercase hex of
//   'M' | version 1 | shard count (u32 BE) | per shard: state byte
//   (0 start, 1 resume, 2 done) [+ u32 BE length + that shard's cursor] |
//   u32 BE check (low bits of stable_hash of everything before it)
// Decoding validates every byte, the shard count and the check, so garbage,
// truncation and a cursor from a deployment with another shard count are
// refused with invalid_argument. Per-shard cursors are the state machine's
// own (storage/state_machine_read.cpp: hex of a tag and the engine key
// without its shard prefix); shard_cursor_after rebuilds them from a document,
// and the shard still validates that a cursor belongs to its list.
//
// Count: the sum of every shard's count. Claim: shards are tried in ascending
// order until one claims; atomicity is per shard, so the claim is exclusive
// (one document to one claimant) but not "the first match in global index
// order" when several shards hold matches. Schema changes fan out too; their
// merge is router/schema_broadcast.hpp.
//
// Thread safety: pure values and functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command/commands.hpp"
#include "protocols/error.hpp"
#include "schema/schema.hpp"

namespace velocity {

// A shard cursor is hex of a tag and a key of at most a few KiB (index key,
// names and id); anything longer is not ours.
inline constexpr size_t shard_cursor_chars_max = 2 * 16384;

enum class shard_list_state : uint8_t { start = 0, resume = 1, done = 2 };

struct shard_list_position {
  shard_list_state state = shard_list_state::start;
  std::string cursor;  // resume only: the shard's cursor to continue from
  friend bool operator==(const shard_list_position&, const shard_list_position&) = default;
};

struct composite_cursor {
  std::vector<shard_list_position> shards;  // one per shard, by shard id
  friend bool operator==(const composite_cursor&, const composite_cursor&) = default;
};

composite_cursor initial_composite_cursor(uint32_t shard_count);
// Empty when every shard is done (the list is exhausted).
std::string encode_composite_cursor(const composite_cursor& cursor);
// Empty text means the start. invalid_argument names what is wrong.
status_or<composite_cursor> decode_composite_cursor(std::string_view text, uint32_t shard_count);

struct shard_list_request {
  uint32_t shard = 0;
  cmd::list list;  // the client's list with this shard's cursor
};

struct list_fan_out {
  composite_cursor cursor;                  // where each shard stands
  std::vector<shard_list_request> requests;  // one per shard not done, by shard
  uint32_t limit = 0;                       // effective limit (0 became the default)
};

// Validates limit and cursor; the requests to send. REQUIRES: 0 < shard_count.
status_or<list_fan_out> begin_list_fan_out(const cmd::list& c, uint32_t shard_count);

// The shard cursor that resumes a list right after (descending: before) doc,
// exactly as that shard would have written it. invalid_argument if the list's
// index is not in the schema.
status_or<std::string> shard_cursor_after(const cmd::list& c, const collection_schema& schema,
                                          const document& doc);

// pages[i] answers fan_out.requests[i]. The first failed page (by shard) is
// the answer; otherwise the merged page and the composite next_cursor.
reply merge_list_pages(const cmd::list& c, const collection_schema& schema,
                       const list_fan_out& fan_out, const std::vector<reply>& pages);

// Sum of counts; the first failure (by shard) wins.
reply sum_counts(const std::vector<reply>& replies);

// Claim across shards, one shard at a time in ascending order. Usage:
//   claim_fan_out f{shard_count};
//   while (!f.finished()) f.on_reply(send(f.next_shard(), claim));
//   answer f.result();
class claim_fan_out {
 public:
  explicit claim_fan_out(uint32_t shard_count);

  bool finished() const { return finished_; }
  // REQUIRES: !finished().
  uint32_t next_shard() const;
  // The reply of next_shard(). A claim or a failure ends the fan-out (a
  // failure is not skipped: the caller may retry the whole claim); "nothing
  // eligible" moves on to the next shard.
  void on_reply(reply r);
  // REQUIRES: finished().
  const reply& result() const;

 private:
  uint32_t shard_count_ = 0;
  uint32_t next_shard_ = 0;
  bool finished_ = false;
  reply result_;
};

}  // namespace velocity
