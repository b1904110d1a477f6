// Deferred writes (docs/durability.md "Durable writes at depth 1"; issue 17).
//
// A write transaction that only raises statuses, writes entries and records
// kicks (DB::Impl::Apply decides) does not touch the tables: its changes are
// gathered in memory and committed as one record appended to the `pending`
// table, keyed by an ascending pending sequence. Such a commit writes a few
// pages instead of the dozens of scattered leaves the changes would dirty,
// and is as durable as any LMDB commit. The next write that is not deferred
// (or a deferred one once the pending records reach their bound) first folds
// them: applies each key's latest change to the tables, in key order, and
// empties the pending table, in its own transaction.
//
// Every read merges: a key's latest pending change, if any, wins over the
// table. PendingIndex holds the pending records in memory, each key with its
// versions by pending sequence, so a read answers for exactly the records its
// own snapshot holds (the range of pending sequences in its `pending` table):
// a read that began before a fold, or that sees records another process
// appended, still reads its snapshot, from the index when the index covers
// that range, else from records it reads from the table itself.
//
// Internal. Thread-safety: PendingIndex is safe to share (writers add and
// drop under its lock, readers query under it shared). PendingRecord and
// PendingRange are plain values.
#ifndef POSTBOX_STORE_PENDING_H_
#define POSTBOX_STORE_PENDING_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <memory_resource>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "postbox/result.h"

namespace postbox::store {

// A table's number in pending records: its index in kTableList (env.h).
using TableCode = uint8_t;

// One deferred transaction's changes: per key (table code, then the key) its
// new value or its deletion, in key order; and per table how many keys the
// transaction added (less those it deleted), so counts stay exact.
struct PendingRecord {
  struct Write {
    TableCode table = 0;
    std::string key;
    std::optional<std::string> value;  // nullopt: deleted
    bool operator==(const Write&) const = default;
  };
  std::vector<Write> writes;
  std::vector<std::pair<TableCode, int64_t>> counts;  // tables whose count changed
  bool operator==(const PendingRecord&) const = default;

  std::string Encode() const;
  // Internal for a record that is not one Encode wrote.
  static Result<PendingRecord> Decode(std::string_view in);
};

// How the index and a deferred transaction key a change: the table's code,
// then the key, so one ordered map holds every table's in table order.
inline std::string FlatKey(TableCode table, std::string_view key) {
  std::string flat;
  flat.reserve(1 + key.size());
  flat.push_back(static_cast<char>(table));
  flat.append(key);
  return flat;
}
// FlatKey into `*buf` (reused: no allocation per lookup).
inline std::string_view FlatKeyInto(std::string* buf, TableCode table, std::string_view key) {
  buf->assign(1, static_cast<char>(table));
  buf->append(key);
  return *buf;
}

// Hashes flat keys for the maps that look them up by string_view.
struct FlatKeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// A range of pending sequences, [lo, hi]; empty when lo > hi.
struct PendingRange {
  uint64_t lo = 1, hi = 0;
  bool empty() const { return lo > hi; }
};

class PendingIndex {
 public:
  // A key's change seen through a range: none, its value, or its deletion.
  enum class Found { kNotCovered, kNone, kValue, kDeleted };
  struct Entry {
    std::string key;  // without the table code
    std::optional<std::string> value;
  };

  // Records `pseq`'s record (ascending from call to call); `bytes`: its
  // encoded size, counted toward bytes().
  void Add(uint64_t pseq, PendingRecord&& rec, size_t bytes);
  // Undoes the last Add (its transaction did not commit).
  void RemoveLast(uint64_t pseq);
  // Forgets the records up to `pseq` (a fold applied them).
  void DropThrough(uint64_t pseq);

  // Whether the index holds every record of `r`: none dropped, none missing.
  bool Covers(PendingRange r) const;
  // Brings the index up to a snapshot whose pending table holds `r`, reading
  // the records it lacks through `read(after, hi)` (the snapshot's records
  // with sequences in (after, hi], ascending) and forgetting those before
  // r.lo (folded in that snapshot, so in every later one). False when the
  // snapshot is older than a drop (it needs records the index forgot).
  Result<bool> CatchUp(
      PendingRange r,
      const std::function<Status(uint64_t after, uint64_t hi,
                                 const std::function<void(uint64_t, PendingRecord, size_t)>& add)>&
          read);

  // The latest change of `key` in `table` by a record of `r`; its value in
  // *value when kValue. kNotCovered when !Covers(r).
  Found Find(PendingRange r, TableCode table, std::string_view key, std::string* value) const;
  // The latest change of each key of `table` that starts with `prefix` and is
  // >= `from`, by the records of `r`, ascending by key. False when !Covers(r).
  bool Collect(PendingRange r, TableCode table, std::string_view prefix, std::string_view from,
               std::vector<Entry>* out) const;
  // How many keys the records of `r` added to `table` (negative: removed);
  // nullopt when !Covers(r).
  std::optional<int64_t> CountChange(PendingRange r, TableCode table) const;
  // Calls `fn` with each key's latest change by the records of `r`, in key
  // order (table code first); `value` nullopt: deleted. False when !Covers(r).
  bool ForEachLatest(PendingRange r,
                     const std::function<void(TableCode, std::string_view key,
                                              std::optional<std::string_view> value)>& fn) const;

  // The encoded bytes of the records held.
  uint64_t bytes() const;
  // The highest sequence added or dropped (a new record takes a higher one).
  uint64_t last() const;
  uint64_t dropped_through() const;

 private:
  struct Version {
    uint64_t pseq;
    bool deleted;
    std::pmr::string value;  // when !deleted
  };
  using Versions = std::pmr::vector<Version>;  // ascending by pending sequence
  struct Meta {
    size_t bytes = 0;
    std::vector<std::pair<TableCode, int64_t>> counts;
  };
  using KeyMap = std::pmr::unordered_map<std::pmr::string, Versions, FlatKeyHash, std::equal_to<>>;
  using Key = KeyMap::value_type;
  // Orders the map's entries (which stay put) by key; also finds by key.
  struct ByKey {
    using is_transparent = void;
    static std::string_view Of(const Key* k) { return k->first; }
    static std::string_view Of(std::string_view s) { return s; }
    bool operator()(const auto& a, const auto& b) const { return Of(a) < Of(b); }
  };
  // What the records held since the last fold of everything occupy: every
  // key, value and node comes from one arena, freed at once when a fold
  // drops them all (a fold of ~1 MiB of records would otherwise free tens of
  // thousands of blocks one by one, on the writer's thread).
  struct Generation {
    std::pmr::monotonic_buffer_resource arena;
    // By table code + key: hashed for the reads of one key (most reads, and
    // most of them of tables with no pending change at all: per_table), and
    // in key order for scans and folds.
    KeyMap keys{&arena};
    std::pmr::set<const Key*, ByKey> order{&arena};
    std::array<uint32_t, 256> per_table{};  // keys held, by table code

    // The versions of `flat`, a new empty list if the key is not held yet.
    Versions& VersionsOf(std::string_view flat);
  };

  void AddLocked(uint64_t pseq, PendingRecord&& rec, size_t bytes);
  void DropThroughLocked(uint64_t pseq);
  bool CoversLocked(PendingRange r) const;
  static const Version* Latest(const Versions& versions, PendingRange r);
  // Forgets key `it` (its versions are gone).
  void EraseKey(KeyMap::iterator it);

  mutable std::shared_mutex mu_;
  std::unique_ptr<Generation> gen_ = std::make_unique<Generation>();
  std::map<uint64_t, Meta> records_;  // by pending sequence
  uint64_t added_through_ = 0;
  uint64_t dropped_through_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_PENDING_H_
