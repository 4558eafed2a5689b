// The crash workload and checker (see crash_checker.hpp).
#include "tests/storage/crash_checker.hpp"

#include <charconv>
#include <cstdio>
#include <map>
#include <string_view>

namespace velocity::crash {

namespace {

constexpr std::string_view key_prefix = "batch/";
constexpr std::string_view head_key = "head";
// Values carry filler so a run of batches fills memtables and forces flushes.
constexpr size_t filler_bytes = 96;

column column_of(size_t position) {
  return position % 2 == 0 ? column::documents : column::indexes;
}

std::string key_of(uint64_t batch, size_t position) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "batch/%012llu/%03zu",
                static_cast<unsigned long long>(batch), position);
  return buffer;
}

// FNV-1a of the value's fields: a torn or mixed-up value fails the check.
uint64_t checksum(uint64_t batch, size_t position, size_t count) {
  uint64_t hash = 14695981039346656037ull;
  for (uint64_t part : {batch, uint64_t{position}, uint64_t{count}}) {
    for (int shift = 0; shift < 64; shift += 8) {
      hash ^= (part >> shift) & 0xff;
      hash *= 1099511628211ull;
    }
  }
  return hash;
}

std::string value_of(uint64_t batch, size_t position) {
  const auto count = keys_in_batch(batch);
  return "batch=" + std::to_string(batch) + " key=" + std::to_string(position) + " of=" +
         std::to_string(count) + " sum=" + std::to_string(checksum(batch, position, count)) +
         " " + std::string(filler_bytes, static_cast<char>('a' + batch % 26));
}

bool parse_key(std::string_view key, uint64_t& batch, size_t& position) {
  if (key.substr(0, key_prefix.size()) != key_prefix) return false;
  key.remove_prefix(key_prefix.size());
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  const auto batch_part = key.substr(0, slash);
  const auto position_part = key.substr(slash + 1);
  auto parsed = std::from_chars(batch_part.data(), batch_part.data() + batch_part.size(), batch);
  if (parsed.ec != std::errc{} || parsed.ptr != batch_part.data() + batch_part.size()) return false;
  parsed = std::from_chars(position_part.data(), position_part.data() + position_part.size(),
                           position);
  return parsed.ec == std::errc{} && parsed.ptr == position_part.data() + position_part.size();
}

status violation(const std::string& what) { return status{error_code::corruption, what}; }

// Counts the keys of each batch in one column, checking every value.
status count_keys(engine& e, column col, std::map<uint64_t, size_t>& counts) {
  auto it = e.scan(col, scan_options{});
  for (; it->valid(); it->next()) {
    uint64_t batch = 0;
    size_t position = 0;
    if (!parse_key(it->key(), batch, position) || batch == 0) {
      return violation("unexpected key '" + std::string{it->key()} + "'");
    }
    if (column_of(position) != col || position >= keys_in_batch(batch) ||
        it->value() != value_of(batch, position)) {
      return violation("batch " + std::to_string(batch) + " key " + std::to_string(position) +
                       " has a wrong value or column");
    }
    ++counts[batch];
  }
  return it->error();
}

}  // namespace

size_t keys_in_batch(uint64_t batch) { return 2 + batch % 7; }

write_batch make_batch(uint64_t batch) {
  auto result = make_partial_batch(batch, keys_in_batch(batch));
  result.put(column::meta, head_key, std::to_string(batch));
  return result;
}

write_batch make_partial_batch(uint64_t batch, size_t keys) {
  write_batch result;
  for (size_t position = 0; position < keys; ++position) {
    result.put(column_of(position), key_of(batch, position), value_of(batch, position));
  }
  return result;
}

status_or<uint64_t> read_head(engine& e) {
  std::string text;
  const auto found = e.get(column::meta, head_key, text);
  if (found.code() == error_code::not_found) return uint64_t{0};
  if (!found.ok()) return found;
  uint64_t head = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), head);
  if (parsed.ec != std::errc{} || parsed.ptr != text.data() + text.size()) {
    return status{error_code::corruption, "meta head is not a number: '" + text + "'"};
  }
  return head;
}

status check_state(engine& e, uint64_t acknowledged) {
  std::map<uint64_t, size_t> counts;
  for (auto col : {column::documents, column::indexes}) {
    if (auto counted = count_keys(e, col, counts); !counted.ok()) return counted;
  }
  uint64_t expected_batch = 1;
  for (const auto& [batch, count] : counts) {
    if (batch != expected_batch) {
      return violation("batch " + std::to_string(expected_batch) + " is missing while batch " +
                       std::to_string(batch) + " is present");
    }
    if (count != keys_in_batch(batch)) {
      return violation("batch " + std::to_string(batch) + " is torn: " + std::to_string(count) +
                       " of " + std::to_string(keys_in_batch(batch)) + " keys present");
    }
    ++expected_batch;
  }
  const uint64_t highest = expected_batch - 1;
  if (highest < acknowledged) {
    return violation("acknowledged batch " + std::to_string(acknowledged) +
                     " is missing (highest present batch is " + std::to_string(highest) + ")");
  }
  auto head = read_head(e);
  if (!head.ok()) return head.error();
  if (*head != highest) {
    return violation("meta head is " + std::to_string(*head) + " but the highest batch is " +
                     std::to_string(highest));
  }
  return {};
}

}  // namespace velocity::crash
