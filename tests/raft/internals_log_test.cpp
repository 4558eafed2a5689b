// Unit tests of raft_log (cluster/raft/raft_log.hpp): terms, slices, the
// durability bookkeeping of the ready contract, compaction and membership
// tracking by conf_change entries.
#define CAF_SUITE raft_log
#include "caf/test/unit_test.hpp"

#include "cluster/raft/raft_log.hpp"

using namespace velocity::raft;

namespace {

entry make_entry(index_t index, term_t term, std::string data = "x") {
  entry e;
  e.index = index;
  e.term = term;
  e.data = std::move(data);
  return e;
}

entry conf_entry(index_t index, term_t term, conf_change::kind kind, node_id node) {
  entry e = make_entry(index, term, encode_conf_change({kind, node}));
  e.kind = entry_kind::conf_change;
  return e;
}

raft_log log_with_terms(const std::vector<term_t>& terms) {
  snapshot snap;
  snap.meta.conf.voters = {1, 2, 3};
  std::vector<entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) entries.push_back(make_entry(i + 1, terms[i]));
  return raft_log{snap, entries};
}

}  // namespace

CAF_TEST(recovered entries are stable and terms are known from the snapshot index on) {
  auto log = log_with_terms({1, 1, 2});
  CAF_CHECK_EQUAL(log.last_index(), 3u);
  CAF_CHECK_EQUAL(log.last_term(), 2u);
  CAF_CHECK_EQUAL(log.stable_index(), 3u);
  CAF_CHECK(log.term_at(0) == term_t{0});
  CAF_CHECK(log.term_at(3) == term_t{2});
  CAF_CHECK(!log.term_at(4).has_value());
  CAF_CHECK(log.take_unstable().empty());
}

CAF_TEST(up to date compares the last term before the length) {
  auto log = log_with_terms({1, 2, 2});
  CAF_CHECK(log.is_up_to_date(3, 2));
  CAF_CHECK(log.is_up_to_date(1, 3));
  CAF_CHECK(!log.is_up_to_date(2, 2));
  CAF_CHECK(!log.is_up_to_date(9, 1));
}

CAF_TEST(appended entries are handed out once and become stable on advance) {
  auto log = log_with_terms({1});
  log.append(make_entry(2, 1));
  log.append(make_entry(3, 1));
  auto out = log.take_unstable();
  CAF_REQUIRE_EQUAL(out.size(), 2u);
  CAF_CHECK_EQUAL(out.front().index, 2u);
  CAF_CHECK_EQUAL(log.stable_index(), 1u);
  CAF_CHECK(log.take_unstable().empty());
  log.advance_stable();
  CAF_CHECK_EQUAL(log.stable_index(), 3u);
}

CAF_TEST(a truncation after a ready was taken keeps the stable index below it) {
  auto log = log_with_terms({1, 1});
  log.append(make_entry(3, 1));
  log.append(make_entry(4, 1));
  CAF_CHECK_EQUAL(log.take_unstable().size(), 2u);
  log.truncate_from(3);
  log.append(make_entry(3, 2));
  log.advance_stable();
  CAF_CHECK_EQUAL(log.stable_index(), 2u);
  auto out = log.take_unstable();
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out.front().term, 2u);
  log.advance_stable();
  CAF_CHECK_EQUAL(log.stable_index(), 3u);
}

CAF_TEST(truncating stable entries lowers the stable index and re-emits from there) {
  auto log = log_with_terms({1, 1, 1});
  log.truncate_from(2);
  CAF_CHECK_EQUAL(log.stable_index(), 1u);
  log.append(make_entry(2, 3));
  auto out = log.take_unstable();
  CAF_REQUIRE_EQUAL(out.size(), 1u);
  CAF_CHECK_EQUAL(out.front().index, 2u);
}

CAF_TEST(slices respect the byte limit but hold at least one entry) {
  auto log = log_with_terms({});
  log.append(make_entry(1, 1, std::string(100, 'a')));
  log.append(make_entry(2, 1, std::string(100, 'b')));
  log.append(make_entry(3, 1, std::string(100, 'c')));
  CAF_CHECK_EQUAL(log.slice(1, 3, 1).size(), 1u);
  CAF_CHECK_EQUAL(log.slice(1, 3, 2 * entry_bytes(*log.find(1))).size(), 2u);
  CAF_CHECK_EQUAL(log.slice(2, 9, 1 << 20).size(), 2u);
  CAF_CHECK(log.slice(4, 9, 1 << 20).empty());
}

CAF_TEST(compaction keeps the term and membership at the snapshot index) {
  auto log = log_with_terms({1, 1});
  log.append(conf_entry(3, 1, conf_change::kind::add_learner, 4));
  log.append(make_entry(4, 2));
  log.compact(3, "state");
  CAF_CHECK_EQUAL(log.first_index(), 4u);
  CAF_CHECK(log.term_at(3) == term_t{1});
  CAF_CHECK(!log.term_at(2).has_value());
  CAF_CHECK(log.snap().meta.conf.is_learner(4));
  CAF_CHECK_EQUAL(log.snap().data, "state");
  CAF_CHECK(log.conf().is_learner(4));
}

CAF_TEST(a conf change takes effect on append and is undone by truncation) {
  auto log = log_with_terms({1});
  log.append(conf_entry(2, 1, conf_change::kind::add_learner, 4));
  CAF_CHECK(log.conf().is_learner(4));
  CAF_CHECK_EQUAL(log.conf_index(), 2u);
  log.append(conf_entry(3, 1, conf_change::kind::promote_learner, 4));
  CAF_CHECK(log.conf().is_voter(4));
  CAF_CHECK(log.conf_at(2).is_learner(4));
  log.truncate_from(3);
  CAF_CHECK(log.conf().is_learner(4));
  log.truncate_from(2);
  CAF_CHECK(!log.conf().contains(4));
  CAF_CHECK_EQUAL(log.conf_index(), 0u);
}

CAF_TEST(an undecodable conf change entry leaves the membership unchanged) {
  auto log = log_with_terms({1});
  entry bad = make_entry(2, 1, "garbage");
  bad.kind = entry_kind::conf_change;
  log.append(bad);
  CAF_CHECK(log.conf().voters == std::vector<node_id>({1, 2, 3}));
}

CAF_TEST(installing a snapshot replaces the whole log) {
  auto log = log_with_terms({1, 1, 1});
  snapshot snap;
  snap.meta.index = 10;
  snap.meta.term = 4;
  snap.meta.conf.voters = {1, 2};
  log.install(snap);
  CAF_CHECK_EQUAL(log.last_index(), 10u);
  CAF_CHECK_EQUAL(log.last_term(), 4u);
  CAF_CHECK_EQUAL(log.stable_index(), 10u);
  CAF_CHECK(log.conf().voters == std::vector<node_id>({1, 2}));
  CAF_CHECK(log.take_unstable().empty());
}
