// The feed: Changes(mkey, since, limit) and the info packet of SPEC §3.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class FeedTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    Connect(a_, b_);
  }
  void Put(const MailboxKey& m, const std::string& key, const std::string& value) {
    test::Must(db().PutEntry(m, key, value).status(), "PutEntry");
  }
  MailboxKey a_, b_;
};

TEST_F(FeedTest, EmptyFeed) {
  const InfoPacket p = Feed(a_);
  EXPECT_EQ(p.cursor, 0u);
  EXPECT_FALSE(p.reset);
  EXPECT_FALSE(p.more);
  EXPECT_EQ(p.size(), 0u);
  EXPECT_CODE(db().Changes(MailboxKey::Random(), 0, 0), kNotFound);
}

TEST_F(FeedTest, EachKindLandsInItsList) {
  Put(b_, "k", "v");
  const std::string bytes = "x";
  const MessageInfo m = Post(Request(a_, b_, "t", bytes));
  const MessageInfo superseded = Post(Request(b_, a_, "u", bytes));
  Post(Request(b_, a_, "u", bytes));
  ASSERT_OK(db().DeleteEntry(b_, "gone", 3).status());

  const InfoPacket p = Feed(b_);
  ASSERT_EQ(p.incoming.size(), 1u);
  EXPECT_EQ(p.incoming[0].id, m.id);
  EXPECT_EQ(p.incoming[0].from, a_);
  EXPECT_EQ(p.incoming[0].length, 1u);
  EXPECT_EQ(p.incoming[0].digest, ComputeDigest128(bytes));
  ASSERT_EQ(p.outgoing.size(), 1u);
  EXPECT_EQ(p.outgoing[0].to, a_);
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0].key, "k");
  EXPECT_EQ(p.entries[0].value, "v");
  EXPECT_EQ(p.entries[0].version, 1u);
  ASSERT_EQ(p.tombstones.size(), 2u);
  EXPECT_EQ(p.tombstones[0].kind, TombstoneKind::kMessage);
  EXPECT_EQ(p.tombstones[0].key, superseded.id.AsBytes());
  EXPECT_EQ(p.tombstones[1].kind, TombstoneKind::kEntry);
  EXPECT_EQ(p.tombstones[1].key, "gone");
  EXPECT_EQ(p.tombstones[1].version, 3u);
  EXPECT_FALSE(p.reset);
  EXPECT_FALSE(p.more);
  EXPECT_TRUE(test::SeqsWellFormed(p));
}

TEST_F(FeedTest, SeqsFollowCommitOrderAndCursorIsFeedSeq) {
  const std::string bytes = "x";
  Put(a_, "e1", "v");                                                        // a:1
  const MessageInfo m = Post(Request(a_, b_, "t", bytes));                   // a:2 b:1
  Put(a_, "e2", "v");                                                        // a:3
  ASSERT_OK(db().AdvanceStatus(b_, m.id, MessageStatus::kViewed).status());  // a:4 b:2

  const InfoPacket p = Feed(a_);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0].key, "e1");
  EXPECT_EQ(p.entries[0].seq, 1u);
  EXPECT_EQ(p.entries[1].key, "e2");
  EXPECT_EQ(p.entries[1].seq, 3u);
  ASSERT_EQ(p.outgoing.size(), 1u);
  EXPECT_EQ(p.outgoing[0].seq, 4u);
  EXPECT_EQ(p.outgoing[0].status, MessageStatus::kViewed);
  EXPECT_EQ(p.cursor, 4u);
  EXPECT_EQ(Seq(a_), 4u);
  const InfoPacket q = Feed(b_);
  ASSERT_EQ(q.incoming.size(), 1u);
  EXPECT_EQ(q.incoming[0].seq, 2u);
  EXPECT_EQ(q.cursor, 2u);
}

TEST_F(FeedTest, SinceReturnsOnlyLaterItems) {
  for (int i = 1; i <= 5; ++i) Put(a_, "k" + std::to_string(i), "v");
  const InfoPacket p = Feed(a_, 3);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0].key, "k4");
  EXPECT_EQ(p.entries[1].key, "k5");
  EXPECT_EQ(p.cursor, 5u);
  EXPECT_FALSE(p.reset);
  const InfoPacket up_to_date = Feed(a_, 5);
  EXPECT_EQ(up_to_date.size(), 0u);
  EXPECT_EQ(up_to_date.cursor, 5u);
  EXPECT_FALSE(up_to_date.more);
  EXPECT_FALSE(up_to_date.reset);
}

TEST_F(FeedTest, LatestChangePerItemOnly) {
  Put(a_, "k", "v1");  // 1
  Put(a_, "j", "v");   // 2
  Put(a_, "k", "v2");  // 3
  const InfoPacket p = Feed(a_);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0].key, "j");
  EXPECT_EQ(p.entries[0].seq, 2u);
  EXPECT_EQ(p.entries[1].key, "k");
  EXPECT_EQ(p.entries[1].value, "v2");
  EXPECT_EQ(p.entries[1].version, 2u);
  EXPECT_EQ(p.entries[1].seq, 3u);
  // Reading from before the first change does not resurrect the old record.
  const InfoPacket from1 = Feed(a_, 1);
  EXPECT_EQ(from1.entries.size(), 2u);
}

TEST_F(FeedTest, TombstoneReplacesEarlierChange) {
  Put(a_, "k", "v");                                                    // 1
  Put(a_, "j", "v");                                                    // 2
  ASSERT_OK_AND_ASSIGN(EntryPutResult del, db().DeleteEntry(a_, "k"));  // 3
  const InfoPacket p = Feed(a_);
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0].key, "j");
  ASSERT_EQ(p.tombstones.size(), 1u);
  EXPECT_EQ(p.tombstones[0].kind, TombstoneKind::kEntry);
  EXPECT_EQ(p.tombstones[0].key, "k");
  EXPECT_EQ(p.tombstones[0].version, del.version);
  EXPECT_EQ(p.tombstones[0].seq, 3u);
  // And a put after the delete replaces the tombstone.
  Put(a_, "k", "again");  // 4
  const InfoPacket q = Feed(a_);
  EXPECT_TRUE(q.tombstones.empty());
  ASSERT_EQ(q.entries.size(), 2u);
  EXPECT_EQ(q.entries[1].key, "k");
  EXPECT_EQ(q.entries[1].seq, 4u);
}

TEST_F(FeedTest, MessageTombstoneReplacesTheMessageItem) {
  const std::string bytes = "x";
  const MessageInfo old = Post(Request(a_, b_, "t", bytes));
  ASSERT_OK(db().AdvanceStatus(b_, old.id, MessageStatus::kViewed).status());
  Post(Request(a_, b_, "t", bytes));
  const InfoPacket p = Feed(b_);
  ASSERT_EQ(p.incoming.size(), 1u);
  EXPECT_NE(p.incoming[0].id, old.id);
  ASSERT_EQ(p.tombstones.size(), 1u);
  EXPECT_EQ(p.tombstones[0].key, old.id.AsBytes());
  EXPECT_EQ(Stats().feed_records, Feed(a_).size() + Feed(b_).size());
}

TEST_F(FeedTest, LimitPagesWithMoreAndCursor) {
  for (int i = 1; i <= 5; ++i) Put(a_, "k" + std::to_string(i), "v");
  const InfoPacket p1 = Feed(a_, 0, 2);
  ASSERT_EQ(p1.size(), 2u);
  EXPECT_TRUE(p1.more);
  EXPECT_EQ(p1.cursor, p1.entries.back().seq);
  EXPECT_EQ(p1.entries[0].key, "k1");
  const InfoPacket p2 = Feed(a_, p1.cursor, 2);
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_TRUE(p2.more);
  EXPECT_EQ(p2.entries[0].key, "k3");
  const InfoPacket p3 = Feed(a_, p2.cursor, 2);
  ASSERT_EQ(p3.size(), 1u);
  EXPECT_FALSE(p3.more);
  EXPECT_EQ(p3.entries[0].key, "k5");
  EXPECT_EQ(p3.cursor, 5u);
  // Exactly `limit` items left: nothing was left out.
  const InfoPacket exact = Feed(a_, 3, 2);
  EXPECT_EQ(exact.size(), 2u);
  EXPECT_FALSE(exact.more);
  EXPECT_EQ(exact.cursor, 5u);
}

TEST_F(FeedTest, LimitCountsItemsOfAllKinds) {
  const std::string bytes = "x";
  Put(b_, "e", "v");                              // b:1
  Post(Request(a_, b_, "t", bytes));              // b:2 incoming
  Post(Request(b_, a_, "t", bytes));              // b:3 outgoing
  ASSERT_OK(db().DeleteEntry(b_, "d").status());  // b:4 tombstone
  std::vector<uint64_t> seen;
  uint64_t cursor = 0;
  for (int round = 0; round < 10; ++round) {
    const InfoPacket p = Feed(b_, cursor, 1);
    ASSERT_LE(p.size(), 1u);
    for (uint64_t s : test::AllSeqs(p)) seen.push_back(s);
    cursor = p.cursor;
    if (!p.more) break;
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(cursor, 4u);
}

TEST_F(FeedTest, SinceBeyondSeqIsResetWithFullSnapshot) {
  Put(a_, "k1", "v");
  Put(a_, "k2", "v");
  const InfoPacket p = Feed(a_, 100);
  EXPECT_TRUE(p.reset);
  EXPECT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.cursor, 2u);
  EXPECT_FALSE(p.more);
  // A reset snapshot is also paged.
  const InfoPacket limited = Feed(a_, 100, 1);
  EXPECT_TRUE(limited.reset);
  EXPECT_EQ(limited.size(), 1u);
  EXPECT_TRUE(limited.more);
  EXPECT_EQ(limited.cursor, 1u);
}

TEST_F(FeedTest, FeedsAreIndependent) {
  Put(a_, "k", "v");
  EXPECT_EQ(Feed(b_).size(), 0u);
  EXPECT_EQ(Seq(b_), 0u);
  EXPECT_EQ(Seq(a_), 1u);
}

TEST_F(FeedTest, LosingWritesDoNotMoveTheFeed) {
  ASSERT_OK(db().PutEntry(a_, "k", "v", 5).status());
  ASSERT_OK(db().PutEntry(a_, "k", "old", 4).status());
  ASSERT_OK(db().DeleteEntry(a_, "k", 2).status());
  EXPECT_CODE(db().PutEntry(a_, "", "v"), kInvalidArgument);
  EXPECT_EQ(Seq(a_), 1u);
  EXPECT_EQ(Feed(a_).entries.size(), 1u);
}

}  // namespace
}  // namespace postbox
