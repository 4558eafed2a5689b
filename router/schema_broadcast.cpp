// Merge of the shards' replies to one schema change; see
// router/schema_broadcast.hpp for what is compared and the repair rules.
#include "router/schema_broadcast.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace velocity {

namespace {

// Where one shard stands after the change.
enum class shard_state : uint8_t {
  applied,  // applied it now (alter: possibly to the schema it held already)
  held,     // was already where the change leads: nothing to do
  refused,  // does not hold it (or, for timeouts and I/O errors, may not)
};

struct shard_outcome {
  shard_state state = shard_state::applied;
  status why;  // refused: the shard's failure, explained
};

reply failure(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

std::string collection_of_change(const command& change) {
  if (auto* create = std::get_if<cmd::create_schema>(&change)) return create->schema.collection;
  if (auto* alter = std::get_if<cmd::alter_schema>(&change)) return alter->schema.collection;
  return std::get<cmd::drop_schema>(change).collection;
}

// A create that met already_exists: done if the shard holds exactly that schema.
shard_outcome classify_existing(const cmd::create_schema& create, const status& st, size_t shard,
                                const held_schemas& held) {
  if (!held.st.ok()) {
    return {shard_state::refused,
            {st.code(),
             st.message() + " (which schema it holds is unknown: " + held.st.message() + ")"}};
  }
  VELOCITY_CHECK_LT(shard, held.by_shard.size());
  const auto& holds = held.by_shard[shard];
  if (holds && *holds == canonical_schema(create.schema)) return {shard_state::held, {}};
  if (!holds) {
    return {shard_state::refused,
            {st.code(),
             st.message() + " (yet it held none when asked right after: a concurrent drop?)"}};
  }
  return {shard_state::refused,
          {st.code(),
           "collection '" + create.schema.collection + "' exists there with another schema"}};
}

shard_outcome classify(const command& change, const reply& r, size_t shard,
                       const held_schemas& held) {
  if (r.ok()) return {shard_state::applied, {}};
  const error_code code = r.st.code();
  if (std::holds_alternative<cmd::drop_schema>(change) && code == error_code::unknown_collection) {
    return {shard_state::held, {}};
  }
  auto* create = std::get_if<cmd::create_schema>(&change);
  if (create != nullptr && code == error_code::already_exists) {
    return classify_existing(*create, r.st, shard, held);
  }
  return {shard_state::refused, r.st};
}

// "shard 3", "shards 0-2, 5 and 6" (ascending ids; runs of three or more
// shortened, so 256 shards stay short).
std::string describe_shards(const std::vector<size_t>& shards) {
  VELOCITY_CHECK(!shards.empty());
  std::vector<std::string> runs;
  for (size_t i = 0; i < shards.size();) {
    size_t end = i;
    while (end + 1 < shards.size() && shards[end + 1] == shards[end] + 1) ++end;
    if (end < i + 2) end = i;  // one or two: listed one by one
    std::string run = std::to_string(shards[i]);
    if (end > i) run += "-" + std::to_string(shards[end]);
    runs.push_back(std::move(run));
    i = end + 1;
  }
  std::string out = shards.size() == 1 ? "shard " : "shards ";
  for (size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) out += i + 1 == runs.size() ? " and " : ", ";
    out += runs[i];
  }
  return out;
}

// A failure whose outcome on that shard is not known.
bool outcome_unknown(error_code code) {
  return code == error_code::timeout || code == error_code::unavailable ||
         code == error_code::io_error;
}

// What to do before applying the change again, by the first refusal.
std::string_view repair_hint(error_code code) {
  switch (code) {
    case error_code::unique_violation:
    case error_code::too_large:
      return "change the documents named above";
    case error_code::io_error:
    case error_code::corruption:
    case error_code::unavailable:
      return "get the failed shard working again (a shard whose engine failed refuses writes "
             "until the node restarts)";
    case error_code::timeout:
    case error_code::overloaded:
      return "wait until the shard keeps up";
    default:
      return "fix the cause";
  }
}

// Some shards hold the change, others refused it: who, why, and the repair.
status incomplete(const command& change, const std::vector<size_t>& holding,
                  const std::vector<size_t>& refused, const std::vector<shard_outcome>& outcomes) {
  std::string text = "schema change of '" + collection_of_change(change) + "' is incomplete: " +
                     describe_shards(holding) + (holding.size() == 1 ? " holds" : " hold") +
                     " it, " + describe_shards(refused) + " did not";
  for (size_t i = 0; i < refused.size() && i < schema_refusals_described_max; ++i) {
    const status& why = outcomes[refused[i]].why;
    text += "; shard " + std::to_string(refused[i]) + ": " + std::string{to_string(why.code())} +
            ": " + why.message();
    if (outcome_unknown(why.code())) text += " (it may hold the change)";
  }
  if (refused.size() > schema_refusals_described_max) {
    text += "; and " + std::to_string(refused.size() - schema_refusals_described_max) + " more";
  }
  const error_code code = outcomes[refused.front()].why.code();
  text += ". Until every shard holds it, each shard checks writes to its documents against the "
          "schema it holds and get_schema shows shard 0's. To repair, " +
          std::string{repair_hint(code)} +
          ", then apply the same change again: shards that hold it accept it again";
  return {code, std::move(text)};
}

}  // namespace

bool is_schema_change(const command& c) {
  return std::holds_alternative<cmd::create_schema>(c) ||
         std::holds_alternative<cmd::alter_schema>(c) ||
         std::holds_alternative<cmd::drop_schema>(c);
}

bool needs_held_schemas(const command& change, const std::vector<reply>& replies) {
  VELOCITY_CHECK(is_schema_change(change));
  if (!std::holds_alternative<cmd::create_schema>(change)) return false;
  for (const reply& r : replies) {
    if (r.st.code() == error_code::already_exists) return true;
  }
  return false;
}

reply merge_schema_change(const command& change, const std::vector<reply>& replies,
                          const held_schemas& held) {
  VELOCITY_CHECK(!replies.empty());
  VELOCITY_CHECK(is_schema_change(change));
  std::vector<shard_outcome> outcomes;
  std::vector<size_t> applied;
  std::vector<size_t> holding;  // applied now or held already
  std::vector<size_t> refused;
  for (size_t shard = 0; shard < replies.size(); ++shard) {
    outcomes.push_back(classify(change, replies[shard], shard, held));
    if (outcomes.back().state == shard_state::applied) applied.push_back(shard);
    (outcomes.back().state == shard_state::refused ? refused : holding).push_back(shard);
  }
  for (size_t shard : applied) {
    if (replies[shard].schema != replies[applied.front()].schema) {
      return failure({error_code::internal, "shard " + std::to_string(shard) +
                                                " applied another schema than shard " +
                                                std::to_string(applied.front())});
    }
  }
  if (refused.empty() && applied.empty()) return failure(replies.front().st);
  if (refused.empty()) {
    reply out;
    out.schema = replies[applied.front()].schema;
    return out;
  }
  if (holding.empty()) return failure(replies[refused.front()].st);
  return failure(incomplete(change, holding, refused, outcomes));
}

}  // namespace velocity
