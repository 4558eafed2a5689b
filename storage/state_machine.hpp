// The deterministic document state machine of one shard.
//
// Every replica of a shard applies the same commands (command/commands.hpp) in
// the same log order and must end in the same state with the same replies. So:
// time comes only from the command (time_ns), never from a clock; every scan
// and every batch follows the engine's key order or std::map order; nothing
// depends on pointer values, hashing or randomness.
//
// Atomicity: each write command produces exactly one write_batch holding the
// document, its index entries, the collection counter and the applied index.
// A write command that fails (validation, conflict, missing document) still
// consumes its log index: its batch holds only the applied index, so replay
// after a crash resumes exactly after the last applied entry. Reads never write.
//
// Recovery: open() loads the applied index and the schemas from the engine.
// If engine::write fails, apply returns that status and the in-memory state is
// unchanged; the caller must then treat the replica as failed and reopen it
// (the engine may or may not hold the batch).
//
// Thread safety: none; one owner (the shard replica actor) calls every method.
// REQUIRES: apply is the only writer of this shard's key ranges while the
// state machine is open (claim hints assume it); anything that rewrites them
// (a Raft snapshot install) must reopen the state machine afterwards.
//
// Invariants (after every apply):
//   - applied_index() equals the applied index stored in column::meta.
//   - schemas_ equals the "_schemas" documents stored in the engine.
//   - for every stored document and every index of its schema there is exactly
//     one index entry, and no other entries; the counter equals the number of
//     documents of the collection.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "command/commands.hpp"
#include "protocols/error.hpp"
#include "schema/schema.hpp"
#include "storage/claim_hints.hpp"
#include "storage/engine.hpp"

namespace velocity {

// "[\"waiting\", 3]": an index tuple for error messages.
std::string describe_tuple(const std::vector<value>& tuple);

class state_machine {
 public:
  // REQUIRES: shard_id != 0xffffffff (see command/keys.hpp). The engine outlives this.
  state_machine(engine& e, uint32_t shard_id);

  // Loads the applied index and schemas. Must succeed before apply.
  status open();

  // Applies one command. Writes require log_index > applied_index(); reads
  // ignore log_index.
  reply apply(uint64_t log_index, const command& c);

  // A conditional document write (compare_and_swap, or update / replace /
  // delete with an expected version) that would fail if applied now: its
  // failure reply (version_conflict, condition_failed, not_found...). nullopt
  // for any other command, for one that would succeed, and when the check
  // itself hits an engine error. Writes nothing. A leader answers such a
  // write as a linearizable read instead of logging an entry that can only
  // fail: the same reply, at a point inside the request's lifetime
  // (docs/consistency.md).
  std::optional<reply> certain_failure(const command& c);
  // Any document write (insert, update, replace, delete, CAS) that would
  // fail if applied now: its failure reply (unknown_collection, a schema
  // violation, already_exists, not_found...). nullopt for other commands,
  // for one that would succeed, and on an engine error. Writes nothing. A
  // leader refuses an eventual write this way before accepting it, since
  // nobody waits for its apply (docs/consistency.md).
  std::optional<reply> failure_now(const command& c);

  uint64_t applied_index() const { return applied_index_; }
  uint32_t shard_id() const { return shard_id_; }

  // The schema of a collection, or nullptr.
  const collection_schema* find_schema(std::string_view collection) const;

  // Options of every engine write (sync = true for "acknowledged = durable"
  // without group commit; the default leaves syncing to the caller).
  void set_write_options(write_options options) { write_options_ = options; }

 private:
  // What a write command stages; written only after the command succeeds
  // (except the applied index, which is always written).
  struct mutation {
    uint64_t log_index = 0;
    write_batch batch;
    std::optional<collection_schema> schema_put;  // cache update after the write
    std::optional<std::string> schema_erased;
  };

  // Reads (state_machine_read.cpp).
  reply do_get(const cmd::get& c);
  reply do_list(const cmd::list& c);
  reply do_count(const cmd::count& c);
  reply count_partition(const collection_schema& schema, const value& partition);

  // Document writes (state_machine.cpp).
  reply do_insert(const cmd::insert& c, mutation& m);
  reply do_update(const cmd::update& c, mutation& m);
  reply do_replace(const cmd::replace& c, mutation& m);
  reply do_erase(const cmd::erase& c, mutation& m);
  reply do_compare_and_swap(const cmd::compare_and_swap& c, mutation& m);

  // Claim and schemas (state_machine_claim.cpp, state_machine_schema.cpp).
  reply do_claim(const cmd::claim& c, mutation& m);
  reply do_create_schema(const cmd::create_schema& c, mutation& m);
  reply do_alter_schema(const cmd::alter_schema& c, mutation& m);
  reply do_drop_schema(const cmd::drop_schema& c, mutation& m);

  reply dispatch_write(const command& c, mutation& m);

  // The schema of a user collection: invalid_argument for reserved names,
  // unknown_collection if it has no schema.
  status_or<const collection_schema*> user_collection(std::string_view name) const;

  // What update / replace / delete / CAS write to: the collection's schema and
  // the stored document, after the expected-version check.
  struct write_target {
    const collection_schema* schema = nullptr;
    document before;
  };
  // Fills `out`, or returns the reply that ends the command (unknown
  // collection, a missing or contradicting partition value, not_found,
  // version_conflict, engine error). `partition` as in command/commands.hpp.
  std::optional<reply> load_target(std::string_view collection, std::string_view id,
                                   const std::optional<value>& partition,
                                   std::optional<uint64_t> expected_version, std::string_view op,
                                   write_target& out);

  // Loads a document by its name (keys::document_name); nullopt if absent.
  status_or<std::optional<document>> load_document(std::string_view collection,
                                                   std::string_view name);

  // The name of the document a get, update, delete or CAS addresses:
  // invalid_argument if the collection is partitioned by a field and no
  // partition value came, or it is partitioned by id and the value is not the id.
  static status_or<std::string> addressed_name(const collection_schema& schema, std::string_view id,
                                               const std::optional<value>& partition,
                                               std::string_view op);

  // Which documents a list, count or claim with a partition value sees: the
  // part of a document name (keys::document_name) that must equal `part`,
  // where part comes from partition_part. nullopt: no partition value, all.
  static std::optional<std::string> partition_part(const collection_schema& schema,
                                                   const std::optional<value>& partition);
  static bool in_partition(const collection_schema& schema, const std::optional<std::string>& part,
                           std::string_view name);

  // Shared tail of update / replace / CAS / claim: bumps version and times,
  // validates, and stages the document and its index changes.
  reply write_changed(const collection_schema& schema, const document& before,
                      value_map new_fields, int64_t time_ns, mutation& m);

  // Validates (schema, size, unique indexes) and stages `after` with its index
  // entries, removing `before`'s entries that changed. before may be null.
  status stage_document(const collection_schema& schema, const document* before,
                        const document& after, mutation& m);
  status stage_erase(const collection_schema& schema, const document& before, mutation& m);
  status stage_count_delta(std::string_view collection, int64_t delta, mutation& m);

  // Stages entries of newly added (or redefined) indexes for every stored
  // document; unique_violation if a unique one would hold a duplicate.
  status backfill_indexes(const collection_schema& schema,
                          const std::vector<const index_spec*>& added, mutation& m);

  // unique_violation if another document holds this tuple in a unique index.
  status check_unique(const collection_schema& schema, const index_spec& index,
                      const std::vector<value>& tuple, std::string_view name);

  // [lower, upper) of an index range; invalid_argument on an unknown index or
  // a prefix longer than the index.
  struct key_bounds {
    std::string lower;
    std::string upper;
  };
  status_or<key_bounds> index_bounds(const collection_schema& schema, const index_range& range) const;

  engine& engine_;
  uint32_t shard_id_;
  uint64_t applied_index_ = 0;
  bool opened_ = false;
  write_options write_options_;
  std::map<std::string, collection_schema, std::less<>> schemas_;
  claim_hints claim_hints_;  // a speedup only; see storage/claim_hints.hpp
};

}  // namespace velocity
