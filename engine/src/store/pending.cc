#include "store/pending.h"

#include <algorithm>
#include <mutex>

#include "store/codec.h"

namespace postbox::store {
namespace {

// FlatKey in a buffer of the calling thread's.
std::string_view ScratchKey(TableCode table, std::string_view key) {
  thread_local std::string scratch;
  return FlatKeyInto(&scratch, table, key);
}

constexpr uint8_t kDeleted = 0, kPut = 1;

}  // namespace

// Layout (little-endian): u16 tables counted, each {u8 table, u64 change as
// two's complement}; u32 writes, each {u8 table, u8 0 = deleted | 1 = put,
// u16 key length, key, and for a put u32 value length, value}.
std::string PendingRecord::Encode() const {
  std::string out;
  RecordWriter w(&out);
  w.U16(static_cast<uint16_t>(counts.size()));
  for (const auto& [table, change] : counts) w.U8(table).U64(static_cast<uint64_t>(change));
  w.U32(static_cast<uint32_t>(writes.size()));
  for (const Write& x : writes) {
    w.U8(x.table).U8(x.value ? kPut : kDeleted).Bytes16(x.key);
    if (x.value) w.Bytes32(*x.value);
  }
  return out;
}

Result<PendingRecord> PendingRecord::Decode(std::string_view in) {
  RecordReader r(in);
  PendingRecord rec;
  const uint16_t counted = r.U16();
  for (uint16_t i = 0; i < counted && r.ok(); ++i) {
    const TableCode table = r.U8();
    rec.counts.emplace_back(table, static_cast<int64_t>(r.U64()));
  }
  const uint32_t n = r.U32();
  // Each write takes at least 4 bytes: a count past that is damage, not a
  // reason to reserve gigabytes.
  if (!r.ok() || n > in.size() / 4) return Status::Internal("corrupted pending record");
  rec.writes.reserve(n);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Write x;
    x.table = r.U8();
    const uint8_t kind = r.U8();
    x.key = std::string(r.Bytes16());
    if (kind == kPut) {
      x.value = std::string(r.Bytes32());
    } else if (kind != kDeleted) {
      return Status::Internal("corrupted pending record: change kind " + std::to_string(kind));
    }
    rec.writes.push_back(std::move(x));
  }
  if (!r.ok() || !r.done()) return Status::Internal("corrupted pending record");
  return rec;
}

void PendingIndex::Add(uint64_t pseq, PendingRecord&& rec, size_t bytes) {
  std::unique_lock lock(mu_);
  AddLocked(pseq, std::move(rec), bytes);
}

void PendingIndex::AddLocked(uint64_t pseq, PendingRecord&& rec, size_t bytes) {
  Generation& g = *gen_;
  for (auto& x : rec.writes) {
    const bool deleted = !x.value.has_value();
    g.VersionsOf(ScratchKey(x.table, x.key))
        .push_back(
            Version{pseq, deleted,
                    deleted ? std::pmr::string(&g.arena) : std::pmr::string(*x.value, &g.arena)});
  }
  records_[pseq] = Meta{bytes, std::move(rec.counts)};
  bytes_ += bytes;
  added_through_ = std::max(added_through_, pseq);
}

PendingIndex::Versions& PendingIndex::Generation::VersionsOf(std::string_view flat) {
  auto it = keys.find(flat);
  if (it == keys.end()) {
    it = keys.try_emplace(std::pmr::string(flat, &arena)).first;
    order.insert(&*it);
    ++per_table[static_cast<TableCode>(flat[0])];
  }
  return it->second;
}

void PendingIndex::EraseKey(KeyMap::iterator it) {
  --gen_->per_table[static_cast<TableCode>(it->first[0])];
  gen_->order.erase(&*it);
  gen_->keys.erase(it);
}

void PendingIndex::RemoveLast(uint64_t pseq) {
  std::unique_lock lock(mu_);
  const auto rec = records_.find(pseq);
  if (rec == records_.end()) return;
  bytes_ -= rec->second.bytes;
  records_.erase(rec);
  for (auto it = gen_->keys.begin(); it != gen_->keys.end();) {
    auto& v = it->second;
    if (!v.empty() && v.back().pseq == pseq) v.pop_back();
    if (v.empty()) {
      EraseKey(it++);
    } else {
      ++it;
    }
  }
  added_through_ = records_.empty() ? dropped_through_ : records_.rbegin()->first;
}

void PendingIndex::DropThrough(uint64_t pseq) {
  std::unique_lock lock(mu_);
  DropThroughLocked(pseq);
}

void PendingIndex::DropThroughLocked(uint64_t pseq) {
  if (pseq <= dropped_through_) return;
  auto old = std::exchange(gen_, std::make_unique<Generation>());
  if (pseq >= added_through_) {
    records_.clear();  // a fold of everything: the common case
    bytes_ = 0;
  } else {
    // Rare (another process folded part of what this one holds): the
    // versions after `pseq` move to the new generation, so the arena holds
    // no more than what is pending.
    Generation& g = *gen_;
    for (const Key* k : old->order) {
      const Versions& v = k->second;
      auto first =
          std::find_if(v.begin(), v.end(), [pseq](const Version& x) { return x.pseq > pseq; });
      if (first == v.end()) continue;
      Versions& kept = g.VersionsOf(k->first);
      for (; first != v.end(); ++first) {
        kept.push_back(
            Version{first->pseq, first->deleted, std::pmr::string(first->value, &g.arena)});
      }
    }
    const auto end = records_.upper_bound(pseq);
    for (auto it = records_.begin(); it != end; ++it) bytes_ -= it->second.bytes;
    records_.erase(records_.begin(), end);
  }
  dropped_through_ = pseq;
  added_through_ = std::max(added_through_, pseq);
}

bool PendingIndex::CoversLocked(PendingRange r) const {
  return r.empty() || (r.lo > dropped_through_ && r.hi <= added_through_);
}

bool PendingIndex::Covers(PendingRange r) const {
  std::shared_lock lock(mu_);
  return CoversLocked(r);
}

Result<bool> PendingIndex::CatchUp(
    PendingRange r,
    const std::function<Status(
        uint64_t, uint64_t, const std::function<void(uint64_t, PendingRecord, size_t)>&)>& read) {
  if (Covers(r)) return true;
  std::unique_lock lock(mu_);
  if (CoversLocked(r)) return true;
  if (r.lo <= dropped_through_) return false;
  // Here r.hi > added_through_: another process appended (or this one is a
  // reader in a process that does not write). Each sequence names one record
  // forever, so what the index holds of r is what the snapshot holds.
  POSTBOX_RETURN_IF_ERROR(read(std::max(added_through_, r.lo - 1), r.hi,
                               [&](uint64_t pseq, PendingRecord rec, size_t bytes) {
                                 AddLocked(pseq, std::move(rec), bytes);
                               }));
  added_through_ = std::max(added_through_, r.hi);
  if (r.lo > 1) DropThroughLocked(r.lo - 1);
  return true;
}

const PendingIndex::Version* PendingIndex::Latest(const Versions& versions, PendingRange r) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->pseq > r.hi) continue;
    return it->pseq >= r.lo ? &*it : nullptr;
  }
  return nullptr;
}

PendingIndex::Found PendingIndex::Find(PendingRange r, TableCode table, std::string_view key,
                                       std::string* value) const {
  if (r.empty()) return Found::kNone;
  const std::string_view flat = ScratchKey(table, key);
  std::shared_lock lock(mu_);
  if (!CoversLocked(r)) return Found::kNotCovered;
  if (gen_->per_table[table] == 0) return Found::kNone;
  const auto it = gen_->keys.find(flat);
  if (it == gen_->keys.end()) return Found::kNone;
  const Version* v = Latest(it->second, r);
  if (v == nullptr) return Found::kNone;
  if (v->deleted) return Found::kDeleted;
  value->assign(v->value);
  return Found::kValue;
}

bool PendingIndex::Collect(PendingRange r, TableCode table, std::string_view prefix,
                           std::string_view from, std::vector<Entry>* out) const {
  if (r.empty()) return true;
  const std::string flat_prefix = FlatKey(table, prefix);
  const std::string start = FlatKey(table, std::max(from, prefix));
  std::shared_lock lock(mu_);
  if (!CoversLocked(r)) return false;
  const Generation& g = *gen_;
  if (g.per_table[table] == 0) return true;
  for (auto it = g.order.lower_bound(std::string_view(start)); it != g.order.end(); ++it) {
    const std::string_view flat = (*it)->first;
    if (!flat.starts_with(flat_prefix)) break;
    if (const Version* v = Latest((*it)->second, r)) {
      out->push_back(Entry{std::string(flat.substr(1)),
                           v->deleted ? std::nullopt : std::optional<std::string>(v->value)});
    }
  }
  return true;
}

std::optional<int64_t> PendingIndex::CountChange(PendingRange r, TableCode table) const {
  if (r.empty()) return 0;
  std::shared_lock lock(mu_);
  if (!CoversLocked(r)) return std::nullopt;
  int64_t change = 0;
  for (auto it = records_.lower_bound(r.lo); it != records_.end() && it->first <= r.hi; ++it) {
    for (const auto& [t, c] : it->second.counts) {
      if (t == table) change += c;
    }
  }
  return change;
}

bool PendingIndex::ForEachLatest(
    PendingRange r,
    const std::function<void(TableCode, std::string_view, std::optional<std::string_view>)>& fn)
    const {
  if (r.empty()) return true;
  std::shared_lock lock(mu_);
  if (!CoversLocked(r)) return false;
  for (const Key* k : gen_->order) {
    if (const Version* v = Latest(k->second, r)) {
      const std::string_view flat = k->first;
      fn(static_cast<TableCode>(flat[0]), flat.substr(1),
         v->deleted ? std::nullopt : std::optional<std::string_view>(v->value));
    }
  }
  return true;
}

uint64_t PendingIndex::bytes() const {
  std::shared_lock lock(mu_);
  return bytes_;
}

uint64_t PendingIndex::last() const {
  std::shared_lock lock(mu_);
  return std::max(added_through_, dropped_through_);
}

uint64_t PendingIndex::dropped_through() const {
  std::shared_lock lock(mu_);
  return dropped_through_;
}

}  // namespace postbox::store
