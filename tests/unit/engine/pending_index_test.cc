// PendingIndex (engine/src/store/pending.h) against a plain model: every
// record ever added, and reads computed from scratch over the records of the
// read's range, as the pending table would hold them in that snapshot. And
// PendingRise's record codec.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "store/pending.h"

namespace postbox::store {
namespace {

MailboxKey Mailbox(uint8_t n) {
  MailboxKey m;
  m.bytes[0] = n;
  return m;
}

MessageId Message(uint8_t n) {
  MessageId id;
  id.bytes[15] = n;
  return id;
}

struct Model {
  std::vector<std::pair<uint64_t, PendingRise>> added;  // ascending pseq
  uint64_t dropped = 0;

  std::vector<const PendingRise*> In(PendingRange r) const {
    std::vector<const PendingRise*> out;
    for (const auto& [pseq, rise] : added) {
      if (pseq >= r.lo && pseq <= r.hi) out.push_back(&rise);
    }
    return out;
  }
  std::optional<PendingRise> Latest(const MessageId& id, PendingRange r) const {
    std::optional<PendingRise> out;
    for (const PendingRise* rise : In(r)) {
      if (rise->id == id) out = *rise;
    }
    return out;
  }
  uint64_t MailboxSeq(const MailboxKey& m, PendingRange r) const {
    uint64_t seq = 0;
    for (const PendingRise* rise : In(r)) seq = std::max(seq, rise->SeqIn(m));
    return seq;
  }
  std::vector<PendingIndex::Item> ItemsAfter(const MailboxKey& m, uint64_t since,
                                             PendingRange r) const {
    std::map<MessageId, PendingRise> last;
    for (const PendingRise* rise : In(r)) last[rise->id] = *rise;
    std::vector<PendingIndex::Item> out;
    for (const auto& [id, rise] : last) {
      if (m == rise.from && rise.seq_from > since) {
        out.push_back({rise.seq_from, id, true, rise.status});
      }
      if (m == rise.to && rise.seq_to > since) out.push_back({rise.seq_to, id, false, rise.status});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
    return out;
  }
};

// Four mailboxes; message n goes from mailbox n % 4 to mailbox (n + 1) % 4,
// except message 7, which a mailbox sent itself.
RC_GTEST_PROP(PendingIndexProperty, AgreesWithTheModel, ()) {
  PendingIndex index;
  Model model;
  std::array<uint64_t, 4> mailbox_seq{100, 200, 300, 400};
  std::array<uint8_t, 8> status{};
  uint64_t next = 1 + *rc::gen::inRange<uint64_t>(0, 5);
  const int steps = *rc::gen::inRange(10, 240);
  for (int step = 0; step < steps; ++step) {
    const int what = *rc::gen::inRange(0, 10);
    if (what < 5) {  // a rise
      const auto n = *rc::gen::inRange<uint8_t>(0, 8);
      const uint8_t from = n % 4, to = n == 7 ? from : static_cast<uint8_t>((n + 1) % 4);
      PendingRise r;
      r.id = Message(n);
      r.from = Mailbox(from);
      r.to = Mailbox(to);
      status[n] = static_cast<uint8_t>(std::min(3, status[n] + 1));
      r.status = static_cast<MessageStatus>(std::max<uint8_t>(status[n], 1));
      r.seq_from = ++mailbox_seq[from];
      r.seq_to = ++mailbox_seq[to];
      r.post_seq = n;
      index.Add(next, r);
      model.added.emplace_back(next, r);
      next += 1 + *rc::gen::inRange<uint64_t>(0, 2);  // the table's keys may have gaps
    } else if (what < 6 && next > 1) {                // a fold of everything up to some record
      const uint64_t through = *rc::gen::inRange<uint64_t>(model.dropped, next);
      index.DropThrough(through);
      model.dropped = std::max(model.dropped, through);
    } else {  // a read, in the range its snapshot would hold
      const uint64_t lo = *rc::gen::inRange<uint64_t>(1, next + 2);
      const uint64_t hi = *rc::gen::inRange<uint64_t>(0, next + 2);
      const PendingRange range{lo, hi};
      const uint64_t last_added = model.added.empty() ? 0 : model.added.back().first;
      const bool covers = range.empty() || (lo > model.dropped && hi <= last_added);
      RC_ASSERT(index.Covers(range) == covers);
      if (!covers) continue;
      const auto mn = *rc::gen::inRange<uint8_t>(0, 4);
      const auto m = Mailbox(mn);
      const auto id = Message(*rc::gen::inRange<uint8_t>(0, 8));
      // Around the mailbox's own positions (they start at 100 × (its number + 1)).
      const uint64_t since = 100u * (mn + 1u) + *rc::gen::inRange<uint64_t>(0, 40) - 10;
      RC_ASSERT(index.Latest(id, range) == model.Latest(id, range));
      RC_ASSERT(index.MailboxSeq(m, range) == model.MailboxSeq(m, range));
      RC_ASSERT(index.ItemsAfter(m, since, range) == model.ItemsAfter(m, since, range));
    }
  }
  size_t live = 0;
  for (const auto& [pseq, rise] : model.added) live += pseq > model.dropped;
  RC_ASSERT(index.size() == live);
}

TEST(PendingRiseTest, EncodeDecodeRoundTrips) {
  PendingRise r{Message(1), Mailbox(2), Mailbox(3), MessageStatus::kViewed, 41, 42, 7};
  auto back = PendingRise::Decode(r.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, r);
}

TEST(PendingRiseTest, DamagedRecordsAreInternal) {
  const std::string good =
      PendingRise{Message(1), Mailbox(2), Mailbox(3), MessageStatus::kViewed, 1, 2, 3}.Encode();
  EXPECT_TRUE(PendingRise::Decode(good.substr(0, good.size() - 1)).status().Is(Code::kInternal));
  EXPECT_TRUE(PendingRise::Decode(good + "x").status().Is(Code::kInternal));
  std::string bad_status = good;
  bad_status[48] = 9;  // after the three 16-byte keys
  EXPECT_TRUE(PendingRise::Decode(bad_status).status().Is(Code::kInternal));
}

}  // namespace
}  // namespace postbox::store
