// PurgeTombstones with an injected clock: the horizon, the purge point, reset,
// and 410 turning into 404.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using std::chrono::minutes;

class PurgeTest : public test::StoreTest {
 protected:
  PurgeTest() { options_.tombstone_horizon = std::chrono::hours(1); }
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    Connect(a_, b_);
  }
  size_t PurgeAll() {
    size_t total = 0;
    for (int i = 0; i < 1000; ++i) {
      const size_t n = test::Must(db().PurgeTombstones(), "PurgeTombstones");
      if (n == 0) break;
      total += n;
    }
    return total;
  }
  uint64_t PurgedSeq(const MailboxKey& m) {
    return test::Must(db().GetMailbox(m), "GetMailbox").purged_seq;
  }
  const std::string bytes_ = "blob";
  MailboxKey a_, b_;
};

TEST_F(PurgeTest, NothingYoungerThanHorizonIsPurged) {
  const MessageInfo old = Post(Request(a_, b_, "t", bytes_));
  Post(Request(a_, b_, "t", bytes_));
  ASSERT_OK(db().DeleteEntry(a_, "k").status());
  clock_.Advance(minutes(59));
  ASSERT_OK_AND_ASSIGN(size_t n, db().PurgeTombstones());
  EXPECT_EQ(n, 0u);
  EXPECT_CODE(db().GetMessage(b_, old.id), kGone);
  EXPECT_EQ(Feed(a_).tombstones.size(), 2u);
  EXPECT_EQ(PurgedSeq(a_), 0u);
  EXPECT_FALSE(Feed(a_).reset);
}

TEST_F(PurgeTest, PastHorizonGoneBecomesNotFoundAndOldSinceResets) {
  const MessageInfo old = Post(Request(a_, b_, "t", bytes_));    // a:1 b:1
  const MessageInfo newer = Post(Request(a_, b_, "t", bytes_));  // a:2,3 b:2,3
  const uint64_t b_seq = Seq(b_);
  uint64_t tomb_seq = 0;
  for (const Tombstone& t : Feed(b_).tombstones) tomb_seq = t.seq;
  ASSERT_GT(tomb_seq, 0u);

  clock_.Advance(minutes(61));
  EXPECT_GT(PurgeAll(), 0u);

  // The "gone" record went with the tombstones: the id is simply unknown now.
  EXPECT_CODE(db().GetMessage(b_, old.id), kNotFound);
  EXPECT_CODE(db().GetMessage(a_, old.id), kNotFound);
  EXPECT_CODE(db().AdvanceStatus(b_, old.id, MessageStatus::kViewed), kNotFound);
  EXPECT_OK(db().GetMessage(b_, newer.id));

  EXPECT_EQ(PurgedSeq(b_), tomb_seq);
  EXPECT_EQ(Seq(b_), b_seq);  // purging is not a change the client must see
  // A client that never saw the tombstone gets a full snapshot.
  const InfoPacket snapshot = Feed(b_, 0);
  EXPECT_TRUE(snapshot.reset);
  EXPECT_TRUE(snapshot.tombstones.empty());
  ASSERT_EQ(snapshot.incoming.size(), 1u);
  EXPECT_EQ(snapshot.incoming[0].id, newer.id);
  EXPECT_EQ(snapshot.cursor, b_seq);
  const InfoPacket just_below = Feed(b_, tomb_seq - 1);
  EXPECT_TRUE(just_below.reset);
  // A client that had seen it does not.
  const InfoPacket seen = Feed(b_, tomb_seq);
  EXPECT_FALSE(seen.reset);
}

TEST_F(PurgeTest, OnlyOldTombstonesArePurged) {
  ASSERT_OK(db().DeleteEntry(a_, "old").status());  // a:1
  clock_.Advance(minutes(40));
  ASSERT_OK(db().DeleteEntry(a_, "young").status());  // a:2
  clock_.Advance(minutes(30));                        // old: 70 min, young: 30 min
  EXPECT_EQ(PurgeAll(), 1u);
  const InfoPacket p = Feed(a_, 1);
  EXPECT_FALSE(p.reset);
  ASSERT_EQ(p.tombstones.size(), 1u);
  EXPECT_EQ(p.tombstones[0].key, "young");
  EXPECT_EQ(PurgedSeq(a_), 1u);
  clock_.Advance(minutes(31));
  EXPECT_EQ(PurgeAll(), 1u);
  EXPECT_EQ(PurgedSeq(a_), 2u);
  EXPECT_TRUE(Feed(a_, 0).tombstones.empty());
  EXPECT_EQ(PurgeAll(), 0u);
}

TEST_F(PurgeTest, LiveItemsAreNeverPurged) {
  Post(Request(a_, b_, "t", bytes_));
  ASSERT_OK(db().PutEntry(a_, "k", "v").status());
  clock_.Advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(PurgeAll(), 0u);
  const InfoPacket p = Feed(a_);
  EXPECT_FALSE(p.reset);
  EXPECT_EQ(p.outgoing.size(), 1u);
  EXPECT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(PurgedSeq(a_), 0u);
}

TEST_F(PurgeTest, PurgedEntryDeleteIsForgotten) {
  ASSERT_OK(db().PutEntry(a_, "k", "v", 5).status());
  ASSERT_OK(db().DeleteEntry(a_, "k", 6).status());
  clock_.Advance(minutes(61));
  EXPECT_EQ(PurgeAll(), 1u);
  // The documented price of a finite horizon: an old put can bring the key back.
  ASSERT_OK_AND_ASSIGN(EntryPutResult replay, db().PutEntry(a_, "k", "v", 5));
  EXPECT_TRUE(replay.applied);
  ASSERT_OK_AND_ASSIGN(EntryInfo back, db().GetEntry(a_, "k"));
  EXPECT_EQ(back.version, 5u);
  EXPECT_EQ(Stats().entries, 1u);
}

// A mailbox deleted and made again under its key (a relay's EnsureMailbox)
// counts seqs from 0: the old tombstone's index key must not purge the new
// tombstone at the same seq before the new one's horizon.
TEST_F(PurgeTest, AMailboxMadeAgainKeepsItsNewTombstonesForTheirHorizon) {
  const MailboxKey m = NewMailbox();
  ASSERT_OK(db().DeleteEntry(m, "old").status());  // a tombstone at seq 1
  ASSERT_OK(db().DeleteMailbox(m));
  WriteBatch batch;
  batch.EnsureMailbox(m, "");
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[0].status);
  clock_.Advance(minutes(30));
  ASSERT_OK(db().DeleteEntry(m, "new").status());  // the new feed's seq 1
  ASSERT_EQ(Feed(m).tombstones.size(), 1u);
  clock_.Advance(minutes(31));  // past the old tombstone's horizon, not the new one's
  PurgeAll();
  EXPECT_EQ(Feed(m).tombstones.size(), 1u);
  clock_.Advance(minutes(30));
  EXPECT_EQ(PurgeAll(), 1u);
  EXPECT_TRUE(Feed(m).tombstones.empty());
}

TEST_F(PurgeTest, BatchesAreBounded) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(db().DeleteEntry(a_, "k" + std::to_string(i)).status());
  clock_.Advance(minutes(61));
  size_t total = 0;
  int calls = 0;
  for (; calls < 20; ++calls) {
    ASSERT_OK_AND_ASSIGN(size_t n, db().PurgeTombstones(2));
    EXPECT_LE(n, 2u);
    if (n == 0) break;
    total += n;
  }
  EXPECT_EQ(total, 5u);
  EXPECT_GE(calls, 3);
  EXPECT_EQ(Feed(a_, 0).size(), 0u);
  EXPECT_EQ(PurgedSeq(a_), 5u);
  EXPECT_EQ(Stats().entries, 0u);
}

TEST_F(PurgeTest, FeedKeepsGrowingAfterPurge) {
  ASSERT_OK(db().DeleteEntry(a_, "k").status());
  clock_.Advance(minutes(61));
  PurgeAll();
  ASSERT_OK(db().PutEntry(a_, "j", "v").status());
  const InfoPacket p = Feed(a_, PurgedSeq(a_));
  EXPECT_FALSE(p.reset);
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0].seq, 2u);
}

TEST_F(PurgeTest, TombstoneReplacedByLaterChangeIsNotPurged) {
  ASSERT_OK(db().DeleteEntry(a_, "k").status());       // a:1 at t0
  ASSERT_OK(db().PutEntry(a_, "k", "back").status());  // a:2 replaces the tombstone
  ASSERT_OK(db().DeleteEntry(a_, "j").status());       // a:3 at t0
  clock_.Advance(minutes(40));
  ASSERT_OK(db().DeleteEntry(a_, "j").status());  // a:4 at t0+40: a young tombstone
  clock_.Advance(minutes(30));                    // the t0 index keys are past the horizon
  EXPECT_EQ(PurgeAll(), 0u);
  ASSERT_OK_AND_ASSIGN(EntryInfo k, db().GetEntry(a_, "k"));
  EXPECT_EQ(k.value, "back");
  const InfoPacket p = Feed(a_);
  EXPECT_FALSE(p.reset);
  ASSERT_EQ(p.tombstones.size(), 1u);
  EXPECT_EQ(p.tombstones[0].key, "j");
  EXPECT_EQ(p.tombstones[0].seq, 4u);
  EXPECT_EQ(PurgedSeq(a_), 0u);
  // The young tombstone still wins against an old put.
  ASSERT_OK_AND_ASSIGN(EntryPutResult replay, db().PutEntry(a_, "j", "v", 1));
  EXPECT_FALSE(replay.applied);
}

// Index keys whose tombstone moved on (or whose mailbox was deleted) must not
// use up a batch: a caller that purges until a call returns 0 must end with
// every tombstone past the horizon removed.
TEST_F(PurgeTest, StaleIndexKeysDoNotEndThePurgeEarly) {
  for (const char* k : {"x", "y", "z"}) {
    ASSERT_OK(db().DeleteEntry(a_, k).status());
    ASSERT_OK(db().PutEntry(a_, k, "back").status());  // leaves a stale index key
  }
  ASSERT_OK(db().DeleteEntry(a_, "gone").status());  // the one real tombstone
  clock_.Advance(minutes(61));
  size_t total = 0;
  for (int calls = 0; calls < 20; ++calls) {
    ASSERT_OK_AND_ASSIGN(size_t n, db().PurgeTombstones(2));
    if (n == 0) break;
    total += n;
  }
  EXPECT_GE(total, 1u);
  EXPECT_TRUE(Feed(a_, PurgedSeq(a_)).tombstones.empty())
      << "a tombstone past the horizon survived a purge loop that ended on 0";
}

TEST_F(PurgeTest, DeletedMailboxesDoNotBreakThePurge) {
  const MailboxKey doomed = NewMailbox();
  Connect(doomed, b_);
  ASSERT_OK(db().DeleteEntry(doomed, "k").status());
  const MessageInfo m = Post(Request(doomed, b_, "t", bytes_));
  ASSERT_OK(db().DeleteMailbox(doomed));
  EXPECT_CODE(db().GetMessage(b_, m.id), kGone);
  clock_.Advance(minutes(61));
  ASSERT_OK(db().PurgeTombstones().status());
  PurgeAll();
  // The peer's tombstone and the id's "gone" record went the usual way.
  EXPECT_CODE(db().GetMessage(b_, m.id), kNotFound);
  EXPECT_TRUE(Feed(b_, 0).tombstones.empty());
  EXPECT_TRUE(Feed(b_, 0).reset);
}

// WriteBatch::PurgeTombstones: the bounded op a host runs inside its group
// commits; it says how many it removed and whether more may remain.
TEST_F(PurgeTest, PurgeOpInABatchIsBoundedAndSaysWhetherMoreRemain) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(db().DeleteEntry(a_, "k" + std::to_string(i)).status());
  clock_.Advance(minutes(61));
  ASSERT_OK(db().DeleteEntry(a_, "young").status());  // within the horizon: stays
  WriteBatch batch;
  const size_t first = batch.PurgeTombstones(3);
  const size_t put = batch.PutEntry(b_, "k", "v", 0);
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[first].status);
  EXPECT_EQ(batch.results()[first].purge, (PurgeResult{3, true}));
  EXPECT_OK(batch.results()[put].status);

  batch.Clear();
  const size_t second = batch.PurgeTombstones(3);
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[second].status);
  EXPECT_EQ(batch.results()[second].purge, (PurgeResult{2, false}));
  EXPECT_EQ(Feed(a_).tombstones.size(), 1u);
  EXPECT_GT(PurgedSeq(a_), 0u);
  ASSERT_OK_AND_ASSIGN(size_t none, db().PurgeTombstones());
  EXPECT_EQ(none, 0u);
}

}  // namespace
}  // namespace postbox
