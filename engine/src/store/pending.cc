#include "store/pending.h"

#include <algorithm>
#include <mutex>

#include "store/codec.h"

namespace postbox::store {

std::string PendingRise::Encode() const {
  std::string out;
  RecordWriter(&out)
      .Fixed(id.AsBytes())
      .Fixed(from.AsBytes())
      .Fixed(to.AsBytes())
      .U8(static_cast<uint8_t>(status))
      .U64(seq_from)
      .U64(seq_to)
      .U64(post_seq);
  return out;
}

Result<PendingRise> PendingRise::Decode(std::string_view in) {
  RecordReader r(in);
  PendingRise p;
  const std::string_view id = r.Fixed(16), from = r.Fixed(16), to = r.Fixed(16);
  const uint8_t status = r.U8();
  p.seq_from = r.U64();
  p.seq_to = r.U64();
  p.post_seq = r.U64();
  if (!r.ok() || !r.done() || status < 1 || status > 3) {
    return Status::Internal("corrupted pending rise record");
  }
  p.id = MessageId::FromBytes(id).value_or({});
  p.from = MailboxKey::FromBytes(from).value_or({});
  p.to = MailboxKey::FromBytes(to).value_or({});
  p.status = static_cast<MessageStatus>(status);
  return p;
}

uint64_t PendingRise::SeqIn(const MailboxKey& m) const {
  if (m == to) return m == from ? std::max(seq_from, seq_to) : seq_to;
  return m == from ? seq_from : 0;
}

void PendingIndex::Add(uint64_t pseq, PendingRise rise) {
  std::unique_lock lock(mu_);
  by_message_[rise.id].push_back(pseq);
  by_mailbox_[rise.from].push_back(pseq);
  if (rise.to != rise.from) by_mailbox_[rise.to].push_back(pseq);
  records_.emplace(pseq, std::move(rise));
  added_through_ = pseq;
}

void PendingIndex::DropThrough(uint64_t pseq) {
  std::unique_lock lock(mu_);
  const auto drop = [pseq](auto& index) {
    for (auto it = index.begin(); it != index.end();) {
      auto& v = it->second;
      v.erase(v.begin(), std::upper_bound(v.begin(), v.end(), pseq));
      it = v.empty() ? index.erase(it) : std::next(it);
    }
  };
  drop(by_message_);
  drop(by_mailbox_);
  records_.erase(records_.begin(), records_.upper_bound(pseq));
  dropped_through_ = std::max(dropped_through_, pseq);
}

bool PendingIndex::Covers(PendingRange r) const {
  std::shared_lock lock(mu_);
  return r.empty() || (r.lo > dropped_through_ && r.hi <= added_through_);
}

std::optional<PendingRise> PendingIndex::LatestLocked(const MessageId& id, PendingRange r) const {
  const auto it = by_message_.find(id);
  if (it == by_message_.end()) return std::nullopt;
  const auto& v = it->second;
  auto last = std::upper_bound(v.begin(), v.end(), r.hi);  // first past the range
  if (last == v.begin() || *std::prev(last) < r.lo) return std::nullopt;
  return records_.at(*std::prev(last));
}

std::optional<PendingRise> PendingIndex::Latest(const MessageId& id, PendingRange r) const {
  std::shared_lock lock(mu_);
  return LatestLocked(id, r);
}

uint64_t PendingIndex::MailboxSeq(const MailboxKey& m, PendingRange r) const {
  std::shared_lock lock(mu_);
  const auto it = by_mailbox_.find(m);
  if (it == by_mailbox_.end()) return 0;
  // A mailbox's positions rise with the pending sequence: the last rise in
  // the range gave it the highest.
  const auto& v = it->second;
  auto last = std::upper_bound(v.begin(), v.end(), r.hi);
  if (last == v.begin() || *std::prev(last) < r.lo) return 0;
  return records_.at(*std::prev(last)).SeqIn(m);
}

std::vector<PendingIndex::Item> PendingIndex::ItemsAfter(const MailboxKey& m, uint64_t since,
                                                         PendingRange r) const {
  std::shared_lock lock(mu_);
  std::vector<Item> out;
  const auto it = by_mailbox_.find(m);
  if (it == by_mailbox_.end()) return out;
  const auto& v = it->second;
  for (auto p = std::lower_bound(v.begin(), v.end(), r.lo); p != v.end() && *p <= r.hi; ++p) {
    const PendingRise& rise = records_.at(*p);
    // Only where the message's last rise in the range put it: the position
    // of an earlier rise of the same message was never a feed record.
    const PendingRise latest = *LatestLocked(rise.id, r);
    if (latest.seq_from != rise.seq_from) continue;
    if (m == rise.from && rise.seq_from > since) {
      out.push_back(Item{rise.seq_from, rise.id, true, rise.status});
    }
    if (m == rise.to && rise.seq_to > since) {
      out.push_back(Item{rise.seq_to, rise.id, false, rise.status});
    }
  }
  std::sort(out.begin(), out.end(), [](const Item& a, const Item& b) { return a.seq < b.seq; });
  return out;
}

size_t PendingIndex::size() const {
  std::shared_lock lock(mu_);
  return records_.size();
}

}  // namespace postbox::store
