// Txn's table operations with pending writes (pending.h): reads merge the
// pending changes the transaction's snapshot holds over LMDB's tables, and a
// deferred write transaction gathers its own changes in memory, read back
// before anything else.
#include <deque>
#include <map>
#include <unordered_map>

#include "store/codec.h"
#include "store/env.h"

namespace postbox::store {

struct Txn::Layer {
  PendingIndex* shared = nullptr;  // the Env's
  PendingRange range;              // the pending records of this snapshot
  // Built from the table when `shared` cannot serve `range` (it dropped
  // records this older snapshot still holds).
  std::unique_ptr<PendingIndex> own;
  bool deferred = false;
  // A deferred transaction's changes by table code + key; `existed`: whether
  // the key had a value before this transaction (for the counts).
  struct Change {
    std::optional<std::string> value;
    bool existed = false;
  };
  std::map<std::string, Change, std::less<>> buffer;
  // A deferred transaction's reads of its snapshot (the state before its own
  // writes), by table code + key: a key read again, or read and then written
  // (Defer asks whether it existed), is looked up once. Never changed once
  // read, so the views Get hands out stay valid; values above
  // kMostSnapshotBytes are not kept.
  std::unordered_map<std::string, std::optional<std::string>, FlatKeyHash, std::equal_to<>>
      snapshot;
  static constexpr size_t kMostSnapshotBytes = 4096;
  std::deque<std::string> values;  // the pending values Get handed out
  std::string scratch;             // a table code + key being looked up

  std::string_view Flat(TableCode code, std::string_view key) {
    return FlatKeyInto(&scratch, code, key);
  }
};

Txn::Txn(MDB_txn* txn, const Tables& t, const WriteSpace* space)
    : txn_(txn), t_(t), space_(space) {}

Txn::~Txn() = default;

void Txn::AttachPending(PendingIndex* index, PendingRange range, bool deferred) {
  layer_ = std::make_unique<Layer>();
  layer_->shared = index;
  layer_->range = range;
  layer_->deferred = deferred;
}

void Txn::DetachPending() { layer_.reset(); }

bool Txn::deferred() const { return layer_ != nullptr && layer_->deferred; }

Result<bool> Txn::CatchUpPending(PendingIndex& index, PendingRange range) const {
  return index.CatchUp(range, [this](uint64_t after, uint64_t hi, const auto& add) -> Status {
    std::string from;
    AppendBE64(from, after + 1);
    Status error;
    POSTBOX_RETURN_IF_ERROR(
        RawScan(t_.pending, "", from, [&](std::string_view k, std::string_view v) {
          const uint64_t pseq = k.size() == 8 ? ReadBE64(k) : 0;
          if (pseq == 0 || pseq > hi) return false;
          auto rec = PendingRecord::Decode(v);
          if (!rec) {
            error = rec.error();
            return false;
          }
          add(pseq, std::move(rec).value(), v.size());
          return true;
        }));
    return error;
  });
}

Status Txn::WithPending(const std::function<bool(const PendingIndex&)>& fn) const {
  Layer& l = *layer_;
  if (l.own == nullptr) {
    if (fn(*l.shared)) return Status();
    // Records another process appended: read them into the shared index.
    POSTBOX_ASSIGN_OR_RETURN(const bool caught, CatchUpPending(*l.shared, l.range));
    if (caught && fn(*l.shared)) return Status();
    // This snapshot is older than a fold the index has forgotten.
    auto own = std::make_unique<PendingIndex>();
    POSTBOX_RETURN_IF_ERROR(CatchUpPending(*own, l.range).status());
    l.own = std::move(own);
  }
  if (!fn(*l.own)) return Failed(Status::Internal("pending records of a snapshot went missing"));
  return Status();
}

Result<std::optional<std::string_view>> Txn::Get(MDB_dbi dbi, std::string_view key) const {
  const TableCode code = t_.CodeOf(dbi);
  if (layer_ == nullptr || code == Tables::kNoTable) return RawGet(dbi, key);
  Layer& l = *layer_;
  const auto view = [](const std::optional<std::string>& v) {
    return v ? std::optional<std::string_view>(*v) : std::nullopt;
  };
  if (l.deferred) {
    const std::string_view flat = l.Flat(code, key);
    if (const auto it = l.buffer.find(flat); it != l.buffer.end()) return view(it->second.value);
    if (const auto it = l.snapshot.find(flat); it != l.snapshot.end()) return view(it->second);
  }
  std::string value;
  PendingIndex::Found found = PendingIndex::Found::kNone;
  POSTBOX_RETURN_IF_ERROR(WithPending([&](const PendingIndex& index) {
    found = index.Find(l.range, code, key, &value);
    return found != PendingIndex::Found::kNotCovered;
  }));
  // A deferred transaction keeps what it reads of its snapshot (up to
  // kMostSnapshotBytes a value); the view stays valid for the transaction.
  const auto keep = [&](std::optional<std::string> v) {
    return view(l.snapshot.emplace(FlatKey(code, key), std::move(v)).first->second);
  };
  const auto keeps = [&](size_t size) { return l.deferred && size <= Layer::kMostSnapshotBytes; };
  switch (found) {
    case PendingIndex::Found::kValue:
      if (keeps(value.size())) return keep(std::move(value));
      l.values.push_back(std::move(value));
      return std::optional<std::string_view>(l.values.back());
    case PendingIndex::Found::kDeleted:
      return keeps(0) ? keep(std::nullopt) : std::nullopt;
    default: {
      POSTBOX_ASSIGN_OR_RETURN(auto got, RawGet(dbi, key));
      if (!keeps(got ? got->size() : 0)) return got;
      return keep(got ? std::optional<std::string>(*got) : std::nullopt);
    }
  }
}

Result<std::string*> Txn::Defer(MDB_dbi dbi, std::string_view key,
                                std::optional<std::string> value) {
  const TableCode code = t_.CodeOf(dbi);
  if (code == Tables::kNoTable) {
    return Failed(Status::Internal("a deferred write transaction wrote a table it cannot defer"));
  }
  auto it = layer_->buffer.find(layer_->Flat(code, key));
  if (it == layer_->buffer.end()) {
    POSTBOX_ASSIGN_OR_RETURN(auto before, Get(dbi, key));
    it = layer_->buffer.emplace(FlatKey(code, key), Layer::Change{std::nullopt, before.has_value()})
             .first;
  }
  it->second.value = std::move(value);
  return it->second.value ? &*it->second.value : nullptr;
}

Status Txn::Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  if (!deferred()) return RawPut(dbi, key, value);
  return Defer(dbi, key, std::string(value)).status();
}

Result<char*> Txn::Reserve(MDB_dbi dbi, std::string_view key, size_t size) {
  if (deferred()) {
    POSTBOX_ASSIGN_OR_RETURN(std::string * value, Defer(dbi, key, std::string(size, '\0')));
    return value->data();
  }
  MDB_val k = Val(key), v{size, nullptr};
  int rc = mdb_put(txn_, dbi, &k, &v, MDB_RESERVE);
  if (rc != 0) return WriteError(rc, "mdb_put(MDB_RESERVE)");
  return static_cast<char*>(v.mv_data);
}

Status Txn::Del(MDB_dbi dbi, std::string_view key) {
  if (!deferred()) return RawDel(dbi, key);
  return Defer(dbi, key, std::nullopt).status();
}

Status Txn::Scan(MDB_dbi dbi, std::string_view prefix, std::string_view from,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const {
  const TableCode code = t_.CodeOf(dbi);
  if (layer_ == nullptr || code == Tables::kNoTable) return RawScan(dbi, prefix, from, fn);
  Layer& l = *layer_;
  // The pending changes in range, then this transaction's own over them.
  std::vector<PendingIndex::Entry> over;
  POSTBOX_RETURN_IF_ERROR(WithPending([&](const PendingIndex& index) {
    over.clear();
    return index.Collect(l.range, code, prefix, from, &over);
  }));
  if (l.deferred && !l.buffer.empty()) {
    std::vector<PendingIndex::Entry> own;
    const std::string flat_prefix = FlatKey(code, prefix);
    for (auto it = l.buffer.lower_bound(FlatKey(code, std::max(from, prefix)));
         it != l.buffer.end() && std::string_view(it->first).starts_with(flat_prefix); ++it) {
      own.push_back(PendingIndex::Entry{it->first.substr(1), it->second.value});
    }
    if (!own.empty()) {
      std::vector<PendingIndex::Entry> merged;
      merged.reserve(over.size() + own.size());
      size_t i = 0, j = 0;
      while (i < over.size() || j < own.size()) {
        if (j == own.size() || (i < over.size() && over[i].key < own[j].key)) {
          merged.push_back(std::move(over[i++]));
        } else {
          if (i < over.size() && over[i].key == own[j].key) ++i;  // this transaction's wins
          merged.push_back(std::move(own[j++]));
        }
      }
      over = std::move(merged);
    }
  }
  if (over.empty()) return RawScan(dbi, prefix, from, fn);
  // Merge: a pending change replaces (or deletes) the table's key.
  size_t i = 0;
  bool stopped = false;
  const auto emit_before = [&](std::optional<std::string_view> bound) {
    for (; i < over.size() && (!bound || over[i].key < *bound); ++i) {
      if (over[i].value && !fn(over[i].key, *over[i].value)) {
        stopped = true;
        ++i;
        return false;
      }
    }
    return true;
  };
  POSTBOX_RETURN_IF_ERROR(RawScan(dbi, prefix, from, [&](std::string_view k, std::string_view v) {
    if (!emit_before(k)) return false;
    if (i < over.size() && over[i].key == k) {
      const auto& change = over[i++];
      if (!change.value) return true;  // deleted
      if (!fn(k, *change.value)) {
        stopped = true;
        return false;
      }
      return true;
    }
    if (!fn(k, v)) {
      stopped = true;
      return false;
    }
    return true;
  }));
  if (!stopped) emit_before(std::nullopt);
  return Status();
}

Result<uint64_t> Txn::Count(MDB_dbi dbi) const {
  POSTBOX_ASSIGN_OR_RETURN(uint64_t count, RawCount(dbi));
  const TableCode code = t_.CodeOf(dbi);
  if (layer_ == nullptr || code == Tables::kNoTable) return count;
  int64_t change = 0;
  POSTBOX_RETURN_IF_ERROR(WithPending([&](const PendingIndex& index) {
    auto c = index.CountChange(layer_->range, code);
    if (c) change = *c;
    return c.has_value();
  }));
  for (const auto& [flat, c] : layer_->buffer) {
    if (static_cast<TableCode>(flat[0]) == code) {
      change += int64_t{c.value.has_value()} - int64_t{c.existed};
    }
  }
  return static_cast<uint64_t>(static_cast<int64_t>(count) + change);
}

PendingRecord Txn::TakeDeferred() {
  PendingRecord rec;
  if (layer_ == nullptr) return rec;
  std::map<TableCode, int64_t> counts;
  for (auto& [flat, c] : layer_->buffer) {
    const auto code = static_cast<TableCode>(flat[0]);
    const int64_t change = int64_t{c.value.has_value()} - int64_t{c.existed};
    if (change != 0) counts[code] += change;
    rec.writes.push_back(PendingRecord::Write{code, flat.substr(1), std::move(c.value)});
  }
  for (const auto& [code, change] : counts) {
    if (change != 0) rec.counts.emplace_back(code, change);
  }
  layer_->buffer.clear();
  return rec;
}

Status Txn::Nested(const std::function<Status(Txn&)>& fn) {
  if (deferred()) {
    // Nothing reached LMDB: undoing is restoring the gathered changes.
    auto saved = layer_->buffer;
    Status s = fn(*this);
    if (s.ok()) s = error();
    if (!s.ok()) layer_->buffer = std::move(saved);
    return s;
  }
  MDB_txn* child = nullptr;
  int rc = mdb_txn_begin(mdb_txn_env(txn_), txn_, 0, &child);
  if (rc != 0) return WriteError(rc, "mdb_txn_begin(nested)");
  Txn nested(child, t_, space_);
  Status s = fn(nested);
  // A failed LMDB call leaves the transaction unusable even if `fn` went on.
  if (s.ok()) s = nested.error();
  if (!s.ok()) {
    mdb_txn_abort(child);
    return s;
  }
  rc = mdb_txn_commit(child);  // frees the child also when it fails
  if (rc != 0) return WriteError(rc, "mdb_txn_commit(nested)");
  return Status();
}

}  // namespace postbox::store
