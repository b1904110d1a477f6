// Expiring entries (WriteBatch::PutExpiringEntry): the sweep deletes an entry
// once its time has passed, with a tombstone in the feed like any delete,
// unless the entry was written again meanwhile. Web Push notifications are
// stored so (postbox/push.h). The clock is injected, so nothing sleeps.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "postbox/db.h"
#include "postbox/write_batch.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class EntryExpiryTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    m_ = NewMailbox();
  }
  // Puts `key` expiring `ttl` from now; returns the op's result.
  OpResult PutExpiring(const std::string& key, const std::string& value, milliseconds ttl,
                       uint64_t version = 0) {
    WriteBatch b;
    b.PutExpiringEntry(m_, key, value, version, clock_.now() + static_cast<uint64_t>(ttl.count()));
    test::Must(db().Write(&b), "Write");
    return b.results().front();
  }
  MailboxKey m_;
};

TEST_F(EntryExpiryTest, SweepDeletesTheEntryOnceItsTimeHasPassed) {
  const OpResult put = PutExpiring("n", "hello", seconds(60));
  ASSERT_OK(put.status);
  ASSERT_OK(db().PutEntry(m_, "keep", "v"));
  const uint64_t t0 = clock_.now();

  // Not before its time (exactly at it is not "past" either).
  ASSERT_OK_AND_ASSIGN(SweepResult early, db().Sweep(t0 + 60'000));
  EXPECT_EQ(early.entries, 0u);
  ASSERT_OK(db().GetEntry(m_, "n"));

  const uint64_t seq = Seq(m_);
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(t0 + 60'001));
  EXPECT_EQ(swept.entries, 1u);
  EXPECT_FALSE(swept.more);
  EXPECT_CODE(db().GetEntry(m_, "n"), kNotFound);
  ASSERT_OK(db().GetEntry(m_, "keep"));
  // A tombstone in the feed, so clients that mirror the entry drop it.
  EXPECT_EQ(Seq(m_), seq + 1);
  ASSERT_OK_AND_ASSIGN(InfoPacket changes, db().Changes(m_, seq, 100));
  ASSERT_EQ(changes.tombstones.size(), 1u);

  // Nothing is left to sweep.
  ASSERT_OK_AND_ASSIGN(SweepResult again, db().Sweep(t0 + 120'000));
  EXPECT_EQ(again.entries, 0u);
}

TEST_F(EntryExpiryTest, AnEntryWrittenAgainIsNotExpiredByItsOldTime) {
  ASSERT_OK(PutExpiring("n", "first", seconds(10)).status);
  const uint64_t t0 = clock_.now();
  // Replaced (a newer notification with the same topic) with a later expiry.
  ASSERT_OK(PutExpiring("n", "second", seconds(100)).status);
  ASSERT_OK_AND_ASSIGN(SweepResult at_first, db().Sweep(t0 + 10'001));
  EXPECT_EQ(at_first.entries, 0u);
  ASSERT_OK_AND_ASSIGN(EntryInfo still, db().GetEntry(m_, "n"));
  EXPECT_EQ(still.value, "second");
  ASSERT_OK_AND_ASSIGN(SweepResult at_second, db().Sweep(t0 + 100'001));
  EXPECT_EQ(at_second.entries, 1u);
  EXPECT_CODE(db().GetEntry(m_, "n"), kNotFound);
}

TEST_F(EntryExpiryTest, APlainPutAfterwardsKeepsTheEntry) {
  ASSERT_OK(PutExpiring("n", "expiring", seconds(10)).status);
  const uint64_t t0 = clock_.now();
  ASSERT_OK(db().PutEntry(m_, "n", "for good"));
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(t0 + 20'000));
  EXPECT_EQ(swept.entries, 0u);
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, "n"));
  EXPECT_EQ(got.value, "for good");
}

TEST_F(EntryExpiryTest, ADeletedOrLosingPutLeavesNothingToExpire) {
  // Consumed before it expired: the sweep has nothing to delete.
  ASSERT_OK(PutExpiring("consumed", "x", seconds(10)).status);
  ASSERT_OK(db().DeleteEntry(m_, "consumed"));
  // A put that loses the version merge changes nothing and indexes nothing.
  ASSERT_OK(db().PutEntry(m_, "high", "v", 50));
  const OpResult lost = PutExpiring("high", "older", seconds(10), 7);
  ASSERT_OK(lost.status);
  EXPECT_FALSE(lost.entry.applied);
  const uint64_t seq = Seq(m_);
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(clock_.now() + 20'000));
  EXPECT_EQ(swept.entries, 0u);
  EXPECT_EQ(Seq(m_), seq);
  ASSERT_OK_AND_ASSIGN(EntryInfo high, db().GetEntry(m_, "high"));
  EXPECT_EQ(high.version, 50u);
}

TEST_F(EntryExpiryTest, ExpiriesOfADeletedMailboxAreDroppedQuietly) {
  ASSERT_OK(PutExpiring("n", "x", seconds(10)).status);
  ASSERT_OK(db().DeleteMailbox(m_));
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(clock_.now() + 20'000));
  EXPECT_EQ(swept.entries, 0u);
  EXPECT_FALSE(swept.more);
}

TEST_F(EntryExpiryTest, ManyExpiriesGoInBoundedBatchesOldestFirst) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(PutExpiring("n" + std::to_string(i), "x", seconds(10 + i)).status);
  }
  const uint64_t t0 = clock_.now();
  // Through one bounded op: 16 go, the rest are reported left.
  WriteBatch b;
  b.Sweep(16);
  clock_.Advance(seconds(100));
  ASSERT_OK(db().Write(&b));
  EXPECT_EQ(b.results().front().sweep.entries, 16u);
  EXPECT_TRUE(b.results().front().sweep.more);
  EXPECT_CODE(db().GetEntry(m_, "n0"), kNotFound);
  EXPECT_CODE(db().GetEntry(m_, "n15"), kNotFound);
  ASSERT_OK(db().GetEntry(m_, "n16"));
  // DB::Sweep loops until none is left.
  ASSERT_OK_AND_ASSIGN(SweepResult rest, db().Sweep(t0 + 100'000, 16));
  EXPECT_EQ(rest.entries, 24u);
  EXPECT_FALSE(rest.more);
}

TEST_F(EntryExpiryTest, ExpiriesSurviveReopening) {
  ASSERT_OK(PutExpiring("n", "x", seconds(10)).status);
  Reopen();
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(clock_.now() + 10'001));
  EXPECT_EQ(swept.entries, 1u);
  EXPECT_CODE(db().GetEntry(m_, "n"), kNotFound);
}

}  // namespace
}  // namespace postbox
