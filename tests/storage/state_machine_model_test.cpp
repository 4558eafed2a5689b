// Randomized model test: long seeded command sequences applied to the state
// machine (on the memory engine and on RocksDB) and to the reference model of
// tests/storage/reference_model.hpp; every reply must agree. A small id and
// name space makes conflicts, duplicates and unique violations common. The
// state machine is reopened now and then (and the RocksDB engine reopened) to
// prove that recovery continues exactly where it stopped. Schema commands are
// part of the mix: alters that add, remove, redefine (same name, other fields)
// or make unique an index, a refused partition key change, and drop + create.
// Reads and claims then run over whatever indexes the current schema has.
#define CAF_SUITE state_machine_model
#include "caf/test/unit_test.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <unistd.h>

#include "storage/memory_engine.hpp"
#include "storage/rocksdb_engine.hpp"
#include "storage/state_machine.hpp"
#include "tests/storage/reference_model.hpp"

using namespace velocity;

namespace {

constexpr int commands_per_run = 3000;
constexpr uint64_t seeds[] = {1, 2, 3, 20261126};

std::string describe(const reply& r) {
  std::ostringstream out;
  out << to_string(r.st.code()) << " '" << r.st.message() << "' doc=" << (r.doc ? r.doc->id + " v" + std::to_string(r.doc->version) : "-")
      << " docs=" << r.docs.size() << " cursor=" << (r.next_cursor.empty() ? "end" : "more")
      << " count=" << r.count << " current=" << r.current_version << " claimed=" << r.claimed;
  return out.str();
}

bool same(const reply& a, const reply& b) {
  return a.st.code() == b.st.code() && a.doc == b.doc && a.docs == b.docs && a.schema == b.schema &&
         a.next_cursor.empty() == b.next_cursor.empty() && a.count == b.count &&
         a.current_version == b.current_version && a.claimed == b.claimed;
}

// Draws random commands against the model's current state.
class generator {
 public:
  explicit generator(uint64_t seed) : rng_(seed) {}

  int pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool chance(int percent) { return pick(100) < percent; }

  std::string id() { return "j" + std::to_string(pick(12)); }

  value_map fields() {
    value_map out;
    if (chance(80)) out["priority"] = chance(3) ? value{"high"} : value{pick(5)};
    if (chance(70)) out["cpu"] = pick(8) + 1;
    if (chance(40)) out["name"] = "n" + std::to_string(pick(6));
    if (chance(30)) out["state"] = states_[pick(3)];
    if (chance(20)) out["targets"] = value_list{value{"w" + std::to_string(pick(3))}};
    return out;
  }

  value_map patch() {
    value_map out = fields();
    if (chance(20)) out["cpu"] = nullptr;
    if (chance(15)) out["name"] = nullptr;
    return out;
  }

  std::optional<uint64_t> expected(const test::reference_model& model, const std::string& doc_id) {
    auto found = model.documents().find(doc_id);
    if (found == model.documents().end() || chance(30)) return chance(50) ? std::nullopt : std::optional<uint64_t>{1};
    return found->second.version + (chance(25) ? 1 : 0);
  }

  filter condition() {
    filter f;
    if (chance(50)) f.conditions.push_back({"cpu", filter_op::le, value{pick(8) + 1}});
    if (chance(30)) f.conditions.push_back({"state", filter_op::eq, value{states_[pick(3)]}});
    if (chance(15)) f.conditions.push_back({"targets", filter_op::contains_or_empty, value{"w1"}});
    return f;
  }

  index_range range() {
    int kind = pick(4);
    if (kind == 0) return index_range{"by_state", std::vector<value>{"waiting"}, std::vector<value>{"waiting"}};
    if (kind == 1) return index_range{"by_state", std::vector<value>{"running", pick(5)}, std::nullopt};
    if (kind == 2) return index_range{"by_name", std::nullopt, std::vector<value>{"n" + std::to_string(pick(6))}};
    return index_range{"by_state", std::nullopt, std::nullopt};
  }

  value_map claim_patch() {
    if (chance(10)) return value_map{{"cpu", 1}};  // may leave it eligible: refused
    return value_map{{"state", "running"}, {"priority", pick(5)}};
  }

  // A variant of the jobs schema; most are valid alterations of the others.
  // Only alterations try the partition key change: the model names documents
  // by id alone, so it never creates a collection partitioned by a field
  // (state_machine_partition_test covers those).
  collection_schema schema_variant(bool for_create) {
    collection_schema s = test::jobs_schema();
    switch (pick(for_create ? 7 : 8)) {
      case 0: break;
      case 1: s.indexes.push_back(index_spec{"by_cpu", {"cpu"}, false}); break;
      case 2: s.indexes[0].fields = {"state", "cpu"}; break;  // redefined under the same name
      case 3: s.indexes.pop_back(); break;                    // by_name removed
      case 4: s.indexes[1].unique = false; break;
      case 5: s.indexes.push_back(index_spec{"by_cpu", {"cpu", "priority"}, true}); break;
      case 6: s.indexes[0].unique = true; break;  // refused while (state, priority) repeats
      default:
        // The partition key may never change (invalid_argument).
        for (auto& f : s.fields) f.required = f.required || f.path == "name";
        s.partition_key = "name";
    }
    if (chance(30)) std::reverse(s.fields.begin(), s.fields.end());  // declaration order must not matter
    return s;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  const char* states_[3] = {"waiting", "running", "done"};
};

// One run: engine factory, seed; returns the number of compared replies.
class model_run {
 public:
  model_run(uint64_t seed, bool use_rocksdb) : gen_(seed), seed_(seed), use_rocksdb_(use_rocksdb) {
    if (use_rocksdb_) {
      dir_ = "/tmp/velocity-sm-model-" + std::to_string(getpid()) + "-" + std::to_string(seed);
      std::filesystem::remove_all(dir_);
    }
    open_engine();
    command create = cmd::create_schema{test::jobs_schema(), 1};
    CAF_REQUIRE(sm_->apply(next_index_, create).ok());
    (void)model_.apply(next_index_, create);
    ++next_index_;
  }

  ~model_run() {
    sm_.reset();
    engine_.reset();
    if (use_rocksdb_) std::filesystem::remove_all(dir_);
  }

  void open_engine() {
    if (use_rocksdb_) {
      auto opened = rocksdb_engine::open(rocksdb_options{dir_, 8 << 20, true});
      CAF_REQUIRE(opened.ok());
      engine_ = std::move(opened.value());
    } else {
      engine_ = std::make_unique<memory_engine>(memory_engine_options{false});
    }
    reopen_state_machine();
  }

  void reopen_state_machine() {
    sm_ = std::make_unique<state_machine>(*engine_, 3);
    CAF_REQUIRE(sm_->open().ok());
    CAF_REQUIRE_EQUAL(sm_->applied_index(), model_.applied_index());
  }

  int run(int steps) {
    int compared = 0;
    for (step_ = 0; step_ < steps; ++step_) {
      if (gen_.chance(1)) reopen_state_machine();
      if (use_rocksdb_ && gen_.pick(1000) < 3) {
        sm_.reset();
        CAF_REQUIRE(engine_->sync().ok());
        engine_.reset();
        open_engine();
      }
      bool stale = gen_.chance(2);
      command c = next_command();
      uint64_t index = is_read(c) ? 0 : (stale ? next_index_ - 1 : next_index_++);
      // The model and the state machine name the same position with different
      // cursor strings: each resumes with its own.
      command model_c = c;
      if (auto* l = std::get_if<cmd::list>(&model_c); l != nullptr && !l->cursor.empty()) l->cursor = model_cursor_;
      reply expected = model_.apply(index, model_c);
      reply actual = sm_->apply(index, c);
      if (!same(expected, actual)) {
        CAF_FAIL("seed " << seed_ << (use_rocksdb_ ? " rocksdb" : " memory") << " step " << step_
                         << " command #" << c.index() << ": model " << describe(expected)
                         << " vs state machine " << describe(actual));
      }
      ++outcomes_[std::string{to_string(actual.st.code())} + (actual.claimed ? "+claimed" : "") +
                  (actual.next_cursor.empty() ? "" : "+more")];
      if (c.index() >= command{cmd::create_schema{}}.index()) {
        const char* kinds[] = {"create ", "alter ", "drop "};
        ++schema_outcomes_[kinds[c.index() - command{cmd::create_schema{}}.index()] +
                           std::string{to_string(actual.st.code())}];
      }
      if (std::holds_alternative<cmd::list>(c)) {
        sm_cursor_ = actual.next_cursor;
        model_cursor_ = expected.next_cursor;
      }
      ++compared;
    }
    check_final_state();
    std::string summary;
    for (const auto& [outcome, times] : outcomes_) summary += outcome + "=" + std::to_string(times) + " ";
    for (const auto& [outcome, times] : schema_outcomes_) summary += "[" + outcome + "]=" + std::to_string(times) + " ";
    CAF_MESSAGE("seed " << seed_ << (use_rocksdb_ ? " rocksdb: " : " memory: ") << summary);
    // Every interesting outcome must have happened, or the run proves little.
    for (const char* needed : {"ok", "ok+claimed", "ok+more", "already_exists", "not_found", "version_conflict",
                               "condition_failed", "schema_violation", "unique_violation", "invalid_argument",
                               "unknown_collection"}) {
      CAF_CHECK_GREATER(outcomes_[needed], 0);
    }
    CAF_CHECK_GREATER(schema_outcomes_["alter ok"], 5);
    CAF_CHECK_GREATER(schema_outcomes_["alter unique_violation"], 0);
    CAF_CHECK_GREATER(schema_outcomes_["alter invalid_argument"], 0);
    CAF_CHECK_GREATER(schema_outcomes_["drop ok"], 0);
    CAF_CHECK_GREATER(schema_outcomes_["create ok"], 0);
    return compared;
  }

 private:
  command next_command() {
    int kind = gen_.pick(100);
    int64_t now = 1000 + step_;
    std::string doc_id = gen_.id();
    if ((!model_.exists() && gen_.chance(20)) || gen_.chance(3)) {
      // Open paginations may name positions of an index that no longer has
      // that shape: start over after any schema command.
      sm_cursor_.clear();
      model_cursor_.clear();
      if (!model_.exists()) return cmd::create_schema{gen_.schema_variant(true), now};
      int which = gen_.pick(10);
      if (which == 0) return cmd::drop_schema{"jobs", now};
      if (which == 1) return cmd::create_schema{gen_.schema_variant(true), now};  // already_exists
      return cmd::alter_schema{gen_.schema_variant(false), now};
    }
    if (kind < 20) return cmd::insert{"jobs", doc_id, gen_.fields(), now};
    if (kind < 28) return cmd::get{"jobs", doc_id};
    if (kind < 40) return cmd::update{"jobs", doc_id, gen_.patch(), gen_.expected(model_, doc_id), now};
    if (kind < 46) return cmd::replace{"jobs", doc_id, gen_.fields(), gen_.expected(model_, doc_id), now};
    if (kind < 52) return cmd::erase{"jobs", doc_id, gen_.expected(model_, doc_id), now};
    if (kind < 62) {
      return cmd::compare_and_swap{"jobs", doc_id, gen_.expected(model_, doc_id), gen_.condition(),
                                   gen_.patch(), gen_.chance(60), now};
    }
    if (kind < 76) return next_list();
    if (kind < 82) return cmd::count{"jobs", gen_.chance(30) ? std::nullopt : std::optional<index_range>{gen_.range()}};
    return cmd::claim{"jobs", gen_.range(), gen_.condition(), gen_.claim_patch(), now};
  }

  // Continues the open pagination most of the time, so pages interleave with writes.
  command next_list() {
    if (!sm_cursor_.empty() && gen_.chance(70)) {
      cmd::list c = last_list_;
      c.cursor = sm_cursor_;
      return c;
    }
    cmd::list c{"jobs", std::nullopt, std::nullopt, static_cast<uint32_t>(gen_.pick(4) + 1), "", gen_.chance(40)};
    int shape = gen_.pick(3);
    if (shape == 1) c.id_prefix = "j1";
    if (shape == 2) c.range = gen_.range();
    last_list_ = c;
    return c;
  }

  void check_final_state() {
    cmd::list all{"jobs", std::nullopt, std::nullopt, limits::list_limit_max, "", false};
    reply expected = model_.apply(0, all);
    reply actual = sm_->apply(0, all);
    CAF_CHECK(same(expected, actual));
    CAF_CHECK_EQUAL(sm_->applied_index(), model_.applied_index());
  }

  generator gen_;
  uint64_t seed_;
  bool use_rocksdb_;
  std::string dir_;
  std::unique_ptr<engine> engine_;
  std::unique_ptr<state_machine> sm_;
  test::reference_model model_{test::jobs_schema()};
  uint64_t next_index_ = 1;
  int step_ = 0;
  cmd::list last_list_;
  std::string sm_cursor_;
  std::string model_cursor_;
  std::map<std::string, int> outcomes_;
  std::map<std::string, int> schema_outcomes_;
};

}  // namespace

CAF_TEST(the state machine on the memory engine answers like the reference model) {
  for (uint64_t seed : seeds) {
    model_run run{seed, false};
    CAF_CHECK_EQUAL(run.run(commands_per_run), commands_per_run);
  }
}

CAF_TEST(the state machine on rocksdb answers like the reference model) {
  for (uint64_t seed : seeds) {
    model_run run{seed, true};
    CAF_CHECK_EQUAL(run.run(commands_per_run), commands_per_run);
  }
}
