// Read commands of the document state machine: get, list (by id or index, with
// opaque resumable cursors) and count. Reads never write and never touch the
// applied index.
//
// Cursors: hex of a tag ('d' = id order, 'i' = index order) followed by the
// last returned engine key without its shard prefix. The key names the
// collection (and index), so a cursor from another list is recognized and
// refused; the next page resumes strictly after (or, descending, before) that
// key. Each page is its own scan: no snapshot is held between pages, so a page
// reflects the state when it is read (like etcd range pagination).
//
// Thread safety and invariants: see storage/state_machine.hpp.
#include <algorithm>

#include "protocols/limits.hpp"
#include "schema/document_codec.hpp"
#include "storage/keys.hpp"
#include "storage/state_machine.hpp"

namespace velocity {

namespace {

reply read_failure(status st) {
  reply r;
  r.st = std::move(st);
  return r;
}

// The part of every key of one list (collection, or collection and index)
// after the shard id, with the tag saying which kind of list it is.
std::string cursor_header(char tag, std::string_view prefix, size_t shard_bytes) {
  std::string out(1, tag);
  out.append(prefix.substr(shard_bytes));
  return out;
}

std::string make_cursor(char tag, std::string_view key, size_t shard_bytes) {
  return keys::to_hex(cursor_header(tag, key, shard_bytes));
}

// Narrows options to the entries strictly after (descending: before) the
// cursor's key; invalid_argument if the cursor is not from this list.
status resume_after(const cmd::list& c, char tag, std::string_view list_prefix,
                    std::string_view shard_prefix, scan_options& options) {
  auto raw = keys::from_hex(c.cursor);
  std::string header = cursor_header(tag, list_prefix, shard_prefix.size());
  if (!raw || raw->size() <= header.size() || raw->compare(0, header.size(), header) != 0) {
    return {error_code::invalid_argument,
            "cursor '" + c.cursor + "' does not belong to this list of " + c.collection};
  }
  std::string last_key = std::string{shard_prefix} + raw->substr(1);
  if (c.descending) {
    options.upper = std::min(*options.upper, last_key);
  } else {
    options.lower = std::max(options.lower, last_key + '\0');
  }
  return {};
}

// A list given a partition value skips the other partitions' entries on its
// shard; past this many in one page it answers the page so far (possibly
// empty) with a cursor after the last entry it skipped, so one page stays
// short and paging always moves on.
constexpr size_t list_skipped_entries_max = 10000;

}  // namespace

reply state_machine::count_partition(const collection_schema& schema, const value& partition) {
  // The collection counter covers every partition of the shard: walk the
  // document keys (keys only) and count the names of this partition.
  reply r;
  const auto part = partition_part(schema, partition);
  std::string prefix = keys::collection_prefix(shard_id_, schema.collection);
  if (schema.partition_key.empty()) {  // partitioned by id: one document at most
    std::string bytes;
    status got = engine_.get(column::documents, prefix + *part, bytes);
    if (!got.ok() && got.code() != error_code::not_found) return read_failure(got);
    r.count = got.ok() ? 1 : 0;
    return r;
  }
  scan_options options{.lower = prefix, .upper = keys::range_end(prefix), .keys_only = true};
  auto it = engine_.scan(column::documents, options);
  for (; it->valid(); it->next()) {
    r.count += in_partition(schema, part, it->key().substr(prefix.size())) ? 1 : 0;
  }
  if (status scanned = it->error(); !scanned.ok()) return read_failure(scanned);
  return r;
}

reply state_machine::do_get(const cmd::get& c) {
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return read_failure(schema.error());
  auto name = addressed_name(**schema, c.id, c.partition, "get");
  if (!name.ok()) return read_failure(name.error());
  auto stored = load_document(c.collection, *name);
  if (!stored.ok()) return read_failure(stored.error());
  if (!stored->has_value()) {
    return read_failure({error_code::not_found, "document " + c.collection + "/" + c.id + " does not exist"});
  }
  reply r;
  r.doc = std::move(**stored);
  return r;
}

reply state_machine::do_list(const cmd::list& c) {
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return read_failure(schema.error());
  if (c.limit > limits::list_limit_max) {
    return read_failure({error_code::invalid_argument,
                         "list limit " + std::to_string(c.limit) + " is larger than the maximum of " +
                             std::to_string(limits::list_limit_max) + "; page with the cursor instead"});
  }
  if (c.id_prefix && c.range) {
    return read_failure({error_code::invalid_argument, "list takes an id prefix or an index range, not both"});
  }
  if (c.id_prefix && c.id_prefix->find('\0') != std::string::npos) {
    return read_failure(
        {error_code::invalid_argument, "list id prefix contains a NUL byte; ids never do"});
  }
  const uint32_t limit = c.limit == 0 ? limits::list_limit_default : c.limit;
  const bool by_index = c.range.has_value();
  const char tag = by_index ? 'i' : 'd';
  const column col = by_index ? column::indexes : column::documents;
  const size_t shard_bytes = keys::shard_prefix(shard_id_).size();
  std::string list_prefix;  // every key of this list starts with it
  scan_options options;
  if (by_index) {
    auto bounds = index_bounds(**schema, *c.range);
    if (!bounds.ok()) return read_failure(bounds.error());
    list_prefix = keys::index_prefix(shard_id_, c.collection, c.range->index);
    options.lower = bounds->lower;
    options.upper = bounds->upper;
  } else {
    list_prefix = keys::collection_prefix(shard_id_, c.collection);
    options.lower = list_prefix + c.id_prefix.value_or("");
    options.upper = keys::range_end(options.lower);
  }
  if (!c.cursor.empty()) {
    if (status resumed = resume_after(c, tag, list_prefix, keys::shard_prefix(shard_id_), options);
        !resumed.ok()) {
      return read_failure(resumed);
    }
  }
  const auto part = partition_part(**schema, c.partition);
  if (part && !by_index && (*schema)->partition_key.empty()) {
    // Partitioned by id: the partition value is the one id to list.
    options.lower = std::max(options.lower, list_prefix + *part);
    options.upper = std::min(*options.upper, list_prefix + *part + '\0');
  }
  options.reverse = c.descending;
  reply r;
  if (options.lower >= *options.upper) return r;  // an empty range (e.g. from > to)
  std::string last_key;
  size_t skipped = 0;
  auto it = engine_.scan(col, options);
  for (; it->valid(); it->next()) {
    if (r.docs.size() == limit) {
      r.next_cursor = make_cursor(tag, last_key, shard_bytes);
      break;
    }
    std::string_view name = by_index ? it->value() : it->key().substr(list_prefix.size());
    if (!in_partition(**schema, part, name)) {
      if (++skipped == list_skipped_entries_max) {
        r.next_cursor = make_cursor(tag, it->key(), shard_bytes);
        break;
      }
      continue;
    }
    if (by_index) {
      auto stored = load_document(c.collection, it->value());
      if (!stored.ok()) return read_failure(stored.error());
      if (!stored->has_value()) {
        return read_failure({error_code::corruption, "index '" + c.range->index + "' of " + c.collection +
                                                         " names missing document '" +
                                                         std::string{it->value()} + "'"});
      }
      r.docs.push_back(std::move(**stored));
    } else {
      auto doc = decode_document(it->value());
      if (!doc.ok()) return read_failure({error_code::corruption, "list of " + c.collection + ": " + doc.error().message()});
      r.docs.push_back(std::move(doc.value()));
    }
    last_key.assign(it->key());
  }
  if (status scanned = it->error(); !scanned.ok()) return read_failure(scanned);
  return r;
}

reply state_machine::do_count(const cmd::count& c) {
  auto schema = user_collection(c.collection);
  if (!schema.ok()) return read_failure(schema.error());
  reply r;
  if (!c.range && c.partition) return count_partition(**schema, *c.partition);
  if (!c.range) {
    std::string bytes;
    status got = engine_.get(column::meta, keys::count_key(shard_id_, c.collection), bytes);
    if (got.code() == error_code::not_found) return r;
    if (!got.ok()) return read_failure(got);
    auto decoded = keys::decode_u64(bytes);
    if (!decoded) return read_failure({error_code::corruption, "counter of " + c.collection + " is not 8 bytes"});
    r.count = *decoded;
    return r;
  }
  auto bounds = index_bounds(**schema, *c.range);
  if (!bounds.ok()) return read_failure(bounds.error());
  if (bounds->lower >= bounds->upper) return r;
  // Index entries hold the document name as their value: read it only when a
  // partition value narrows the count.
  const auto part = partition_part(**schema, c.partition);
  scan_options options{.lower = bounds->lower, .upper = bounds->upper, .keys_only = !part};
  auto it = engine_.scan(column::indexes, options);
  for (; it->valid(); it->next()) r.count += in_partition(**schema, part, it->value()) ? 1 : 0;
  if (status scanned = it->error(); !scanned.ok()) return read_failure(scanned);
  return r;
}

}  // namespace velocity
