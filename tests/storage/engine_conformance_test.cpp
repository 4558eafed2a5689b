// Conformance: the same test bodies run against the memory engine and the
// RocksDB engine (for_each_engine), so both honour engine.hpp identically.
//
// Thread safety: the atomicity test uses one writer and one reader thread; all
// other tests are single-threaded.
#define CAF_SUITE engine_conformance
#include "caf/test/unit_test.hpp"

#include <atomic>
#include <thread>

#include "storage/engine.hpp"
#include "tests/storage/engine_test_support.hpp"

using namespace velocity;
using namespace velocity::test;

namespace {

constexpr column docs = column::documents;

// Five keys a, b, c, d, e in the documents column with values A..E.
void fill_abcde(engine& e) {
  write_batch batch;
  for (char c = 'a'; c <= 'e'; ++c) {
    batch.put(docs, std::string(1, c), std::string(1, static_cast<char>(c - 'a' + 'A')));
  }
  CAF_REQUIRE(e.write(batch).ok());
}

scan_options bounds(std::string lower, std::optional<std::string> upper, bool reverse = false) {
  scan_options options;
  options.lower = std::move(lower);
  options.upper = std::move(upper);
  options.reverse = reverse;
  return options;
}

key_values kv(std::initializer_list<const char*> keys) {
  key_values result;
  for (const char* key : keys) {
    result.emplace_back(key, std::string(1, static_cast<char>(key[0] - 'a' + 'A')));
  }
  return result;
}

}  // namespace

CAF_TEST(get answers not_found for an absent key and the value after a put) {
  for_each_engine([](engine& e, const std::string&) {
    std::string out = "untouched";
    const auto missing = e.get(docs, "k", out);
    CAF_CHECK(missing.code() == error_code::not_found);
    CAF_CHECK(!missing.message().empty());
    put(e, docs, "k", "v1");
    CAF_CHECK_EQUAL(read(e, docs, "k"), "v1");
    put(e, docs, "k", "v2");
    CAF_CHECK_EQUAL(read(e, docs, "k"), "v2");
    put(e, docs, "empty", "");
    CAF_CHECK_EQUAL(read(e, docs, "empty"), "");
  });
}

CAF_TEST(binary keys with zero and 0xff bytes order bytewise) {
  for_each_engine([](engine& e, const std::string&) {
    const std::string zero{"a\0b", 3};
    const std::string high{"a\xff", 2};
    put(e, docs, high, "high");
    put(e, docs, zero, "zero");
    put(e, docs, "a", "plain");
    const key_values expected{{"a", "plain"}, {zero, "zero"}, {high, "high"}};
    CAF_CHECK(collect(e, docs, {}) == expected);
    CAF_CHECK_EQUAL(read(e, docs, zero), "zero");
  });
}

CAF_TEST(erase removes one key and leaves its neighbours) {
  for_each_engine([](engine& e, const std::string&) {
    fill_abcde(e);
    erase(e, docs, "c");
    erase(e, docs, "zz");  // erasing an absent key is fine
    CAF_CHECK_EQUAL(read(e, docs, "c"), "<absent>");
    CAF_CHECK(collect(e, docs, {}) == kv({"a", "b", "d", "e"}));
  });
}

CAF_TEST(erase_range removes exactly the half open range) {
  for_each_engine([](engine& e, const std::string&) {
    fill_abcde(e);
    write_batch batch;
    batch.erase_range(docs, "b", "d");
    CAF_REQUIRE(e.write(batch).ok());
    CAF_CHECK(collect(e, docs, {}) == kv({"a", "d", "e"}));
    write_batch nothing;
    nothing.erase_range(docs, "d", "d");  // empty range
    nothing.erase_range(docs, "e", "a");  // inverted range
    CAF_REQUIRE(e.write(nothing).ok());
    CAF_CHECK(collect(e, docs, {}) == kv({"a", "d", "e"}));
    write_batch rest;
    rest.erase_range(docs, "", "\xff\xff");
    CAF_REQUIRE(e.write(rest).ok());
    CAF_CHECK(collect(e, docs, {}).empty());
  });
}

CAF_TEST(operations inside one batch apply in order) {
  for_each_engine([](engine& e, const std::string&) {
    write_batch batch;
    batch.put(docs, "x", "1");
    batch.erase(docs, "x");
    batch.put(docs, "y", "1");
    batch.erase_range(docs, "y", "z");
    batch.put(docs, "y", "2");
    CAF_REQUIRE(e.write(batch).ok());
    CAF_CHECK_EQUAL(read(e, docs, "x"), "<absent>");
    CAF_CHECK_EQUAL(read(e, docs, "y"), "2");
  });
}

CAF_TEST(columns are independent key spaces) {
  for_each_engine([](engine& e, const std::string&) {
    put(e, column::meta, "k", "meta");
    put(e, column::indexes, "k", "index");
    CAF_CHECK_EQUAL(read(e, column::meta, "k"), "meta");
    CAF_CHECK_EQUAL(read(e, column::indexes, "k"), "index");
    CAF_CHECK_EQUAL(read(e, docs, "k"), "<absent>");
    CAF_CHECK(collect(e, column::raft_log, {}).empty());
    write_batch wipe;
    wipe.erase_range(column::meta, "", "z");
    CAF_REQUIRE(e.write(wipe).ok());
    CAF_CHECK_EQUAL(read(e, column::indexes, "k"), "index");
  });
}

CAF_TEST(multi_get answers every key in order with not_found for absent keys) {
  for_each_engine([](engine& e, const std::string&) {
    fill_abcde(e);
    const std::vector<std::string> keys{"e", "zz", "a", "a", ""};
    auto results = e.multi_get(docs, keys);
    CAF_REQUIRE_EQUAL(results.size(), keys.size());
    CAF_CHECK(results[0].ok() && *results[0] == "E");
    CAF_CHECK(!results[1].ok() && results[1].error().code() == error_code::not_found);
    CAF_CHECK(results[2].ok() && *results[2] == "A");
    CAF_CHECK(results[3].ok() && *results[3] == "A");
    CAF_CHECK(!results[4].ok());
    CAF_CHECK(e.multi_get(docs, {}).empty());
  });
}

CAF_TEST(forward and reverse scans honour lower and upper bounds) {
  for_each_engine([](engine& e, const std::string&) {
    fill_abcde(e);
    put(e, column::meta, "c", "other column");
    CAF_CHECK(collect(e, docs, bounds("", std::nullopt)) == kv({"a", "b", "c", "d", "e"}));
    CAF_CHECK(collect(e, docs, bounds("", std::nullopt, true)) == kv({"e", "d", "c", "b", "a"}));
    CAF_CHECK(collect(e, docs, bounds("b", "d")) == kv({"b", "c"}));
    CAF_CHECK(collect(e, docs, bounds("b", "d", true)) == kv({"c", "b"}));
    CAF_CHECK(collect(e, docs, bounds("bb", "dd")) == kv({"c", "d"}));
    CAF_CHECK(collect(e, docs, bounds("bb", "dd", true)) == kv({"d", "c"}));
    CAF_CHECK(collect(e, docs, bounds("c", std::nullopt, true)) == kv({"e", "d", "c"}));
    CAF_CHECK(collect(e, docs, bounds("", "c", true)) == kv({"b", "a"}));
    CAF_CHECK(collect(e, docs, bounds("0", "zz", true)) == kv({"e", "d", "c", "b", "a"}));
  });
}

CAF_TEST(empty and inverted ranges visit nothing in either direction) {
  for_each_engine([](engine& e, const std::string&) {
    CAF_CHECK(collect(e, docs, {}).empty());  // empty column
    fill_abcde(e);
    for (bool reverse : {false, true}) {
      CAF_CHECK(collect(e, docs, bounds("c", "c", reverse)).empty());
      CAF_CHECK(collect(e, docs, bounds("d", "b", reverse)).empty());
      CAF_CHECK(collect(e, docs, bounds("ca", "cz", reverse)).empty());
      CAF_CHECK(collect(e, docs, bounds("f", std::nullopt, reverse)).empty());
      CAF_CHECK(collect(e, docs, bounds("", "a", reverse)).empty());
    }
  });
}

CAF_TEST(a snapshot keeps seeing the state of its moment) {
  for_each_engine([](engine& e, const std::string&) {
    fill_abcde(e);
    auto view = e.make_snapshot();
    put(e, docs, "a", "changed");
    put(e, docs, "f", "F");
    erase(e, docs, "b");
    write_batch range;
    range.erase_range(docs, "c", "e");
    CAF_REQUIRE(e.write(range).ok());
    CAF_CHECK_EQUAL(read(e, docs, "a", view.get()), "A");
    CAF_CHECK_EQUAL(read(e, docs, "f", view.get()), "<absent>");
    CAF_CHECK_EQUAL(read(e, docs, "a"), "changed");
    scan_options at_view;
    at_view.view = view.get();
    CAF_CHECK(collect(e, docs, at_view) == kv({"a", "b", "c", "d", "e"}));
    at_view.reverse = true;
    at_view.lower = "b";
    CAF_CHECK(collect(e, docs, at_view) == kv({"e", "d", "c", "b"}));
    auto results = e.multi_get(docs, {"b", "f"}, view.get());
    CAF_CHECK(results[0].ok() && *results[0] == "B");
    CAF_CHECK(!results[1].ok());
    const key_values now{{"a", "changed"}, {"e", "E"}, {"f", "F"}};
    CAF_CHECK(collect(e, docs, {}) == now);
    view.reset();  // releasing the snapshot leaves the live state alone
    CAF_CHECK(collect(e, docs, {}) == now);
  });
}

CAF_TEST(an open iterator is stable while the engine keeps being written) {
  for_each_engine([](engine& e, const std::string&) {
    fill_abcde(e);
    for (bool reverse : {false, true}) {
      auto it = e.scan(docs, bounds("", std::nullopt, reverse));
      key_values seen;
      int step = 0;
      for (; it->valid(); it->next()) {
        seen.emplace_back(it->key(), it->value());
        write_batch batch;  // disturb the range under the cursor on every step
        batch.put(docs, "b", "rewritten" + std::to_string(step));
        batch.put(docs, "bb" + std::to_string(step), "new");
        batch.erase(docs, "d");
        batch.erase_range(docs, "e", "f");
        CAF_REQUIRE(e.write(batch).ok());
        ++step;
      }
      CAF_CHECK(it->error().ok());
      auto expected = reverse ? kv({"e", "d", "c", "b", "a"}) : kv({"a", "b", "c", "d", "e"});
      CAF_CHECK(seen == expected);
      it.reset();
      fill_abcde(e);
      write_batch cleanup;
      cleanup.erase_range(docs, "ba", "bz");
      CAF_REQUIRE(e.write(cleanup).ok());
    }
  });
}

CAF_TEST(sync and sync writes succeed and keep the data readable) {
  for_each_engine([](engine& e, const std::string&) {
    write_batch batch;
    batch.put(docs, "s", "1");
    CAF_CHECK(e.write(batch, write_options{true}).ok());
    put(e, docs, "t", "2");
    CAF_CHECK(e.sync().ok());
    CAF_CHECK(e.write(write_batch{}, write_options{true}).ok());  // empty barrier
    CAF_CHECK_EQUAL(read(e, docs, "s"), "1");
    CAF_CHECK_EQUAL(read(e, docs, "t"), "2");
  });
}

// A writer stores the same counter under two keys in two columns, in one
// batch; a reader must never see the two differ, at a snapshot or via
// multi_get of a same-column pair.
CAF_TEST(the effects of a batch become visible together to concurrent readers) {
  for_each_engine([](engine& e, const std::string&) {
    constexpr int rounds = 2000;
    constexpr int reads_min = 200;
    std::atomic<bool> done{false};
    std::atomic<int> torn{0};
    std::atomic<int> reads{0};
    put(e, docs, "x", "0");
    put(e, docs, "y", "0");
    put(e, column::indexes, "x", "0");
    std::thread reader{[&] {
      while (!done.load()) {
        auto view = e.make_snapshot();
        const auto left = read(e, docs, "x", view.get());
        const auto right = read(e, column::indexes, "x", view.get());
        if (left != right) torn.fetch_add(1);
        auto pair = e.multi_get(docs, {"x", "y"});
        if (!pair[0].ok() || !pair[1].ok() || *pair[0] != *pair[1]) torn.fetch_add(1);
        reads.fetch_add(1);
      }
    }};
    // Keep writing until the reader has really interleaved with the writes.
    int round = 0;
    while (round < rounds || reads.load() < reads_min) {
      ++round;
      write_batch batch;
      const auto counter = std::to_string(round);
      batch.put(docs, "x", counter);
      batch.put(column::indexes, "x", counter);
      batch.put(docs, "y", counter);
      if (e.write(batch).ok() == false) torn.fetch_add(1000);
    }
    done.store(true);
    reader.join();
    CAF_CHECK_EQUAL(torn.load(), 0);
    CAF_CHECK_GREATER_OR_EQUAL(reads.load(), reads_min);
    CAF_CHECK_EQUAL(read(e, column::indexes, "x"), std::to_string(round));
  });
}
