// Slots (from, to, topic) and supersession: the "last-writer cleanup".
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class SlotTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    Connect(a_, b_);
  }
  bool Live(const MailboxKey& actor, const MessageId& id) {
    return db().GetMessage(actor, id).ok();
  }
  MailboxKey a_, b_;
};

TEST_F(SlotTest, NewerPostSupersedesOlderInBothFeeds) {
  const std::string one = test::Bytes(3000, 1);
  const std::string two = test::Bytes(3000, 2);
  const MessageInfo first = Post(Request(a_, b_, "video", one));
  const uint64_t a_seq = Seq(a_);
  const uint64_t b_seq = Seq(b_);
  const MessageInfo second = Post(Request(a_, b_, "video", two));

  EXPECT_FALSE(Live(b_, first.id));
  EXPECT_TRUE(Live(b_, second.id));
  // Recipient: one incoming (the newer) and a tombstone for the older, both newer than before.
  const InfoPacket in = Feed(b_);
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_EQ(in.incoming[0].id, second.id);
  ASSERT_EQ(in.tombstones.size(), 1u);
  EXPECT_EQ(in.tombstones[0].kind, TombstoneKind::kMessage);
  EXPECT_EQ(in.tombstones[0].key, first.id.AsBytes());
  EXPECT_EQ(in.tombstones[0].version, 0u);
  EXPECT_GT(in.tombstones[0].seq, b_seq);
  EXPECT_GT(in.incoming[0].seq, b_seq);
  // Sender: the same from its side.
  const InfoPacket out = Feed(a_);
  ASSERT_EQ(out.outgoing.size(), 1u);
  EXPECT_EQ(out.outgoing[0].id, second.id);
  ASSERT_EQ(out.tombstones.size(), 1u);
  EXPECT_EQ(out.tombstones[0].key, first.id.AsBytes());
  EXPECT_GT(out.tombstones[0].seq, a_seq);
  EXPECT_TRUE(test::SeqsWellFormed(in));
  EXPECT_TRUE(test::SeqsWellFormed(out));
}

TEST_F(SlotTest, SupersededBlobAndStatusAreDeleted) {
  const std::string big = test::Bytes(600 * 1024, 3);
  const MessageInfo first = Post(Request(a_, b_, "t", big));
  ASSERT_OK(db().AdvanceStatus(b_, first.id, MessageStatus::kViewed).status());
  ASSERT_OK_AND_ASSIGN(StoreStats with_big, db().Stats());
  EXPECT_EQ(with_big.messages, 1u);

  const std::string small = "small";
  const MessageInfo second = Post(Request(a_, b_, "t", small));
  ASSERT_OK_AND_ASSIGN(StoreStats after, db().Stats());
  EXPECT_EQ(after.messages, 1u);
  EXPECT_LT(after.blob_chunks, with_big.blob_chunks);  // the big blob's chunks are gone
  EXPECT_CODE(db().AdvanceStatus(b_, first.id, MessageStatus::kViewed), kGone);
  ASSERT_OK_AND_ASSIGN(MessageInfo fresh, db().GetMessage(b_, second.id));
  EXPECT_EQ(fresh.status, MessageStatus::kUploaded);  // the old status did not carry over
}

TEST_F(SlotTest, DifferentTopicsAreDifferentSlots) {
  const std::string bytes = "x";
  const MessageInfo video = Post(Request(a_, b_, "video", bytes));
  const MessageInfo voice = Post(Request(a_, b_, "voice", bytes));
  const MessageInfo none = Post(Request(a_, b_, "", bytes));
  EXPECT_TRUE(Live(b_, video.id));
  EXPECT_TRUE(Live(b_, voice.id));
  EXPECT_TRUE(Live(b_, none.id));
  EXPECT_EQ(Feed(b_).incoming.size(), 3u);
  EXPECT_TRUE(Feed(b_).tombstones.empty());
}

TEST_F(SlotTest, DirectionAndRecipientAreDifferentSlots) {
  const MailboxKey c = NewMailbox();
  Connect(a_, c);
  const std::string bytes = "x";
  const MessageInfo ab = Post(Request(a_, b_, "t", bytes));
  const MessageInfo ba = Post(Request(b_, a_, "t", bytes));
  const MessageInfo ac = Post(Request(a_, c, "t", bytes));
  EXPECT_TRUE(Live(a_, ab.id));
  EXPECT_TRUE(Live(a_, ba.id));
  EXPECT_TRUE(Live(a_, ac.id));
  const InfoPacket of_a = Feed(a_);
  EXPECT_EQ(of_a.outgoing.size(), 2u);
  EXPECT_EQ(of_a.incoming.size(), 1u);
  EXPECT_TRUE(of_a.tombstones.empty());
}

TEST_F(SlotTest, ManyPostsKeepOnlyTheLatest) {
  std::vector<MessageId> ids;
  std::vector<std::string> blobs;
  blobs.reserve(10);
  for (int i = 0; i < 10; ++i) {
    blobs.push_back(test::Bytes(100 + i, 10 + i));
    ids.push_back(Post(Request(a_, b_, "t", blobs.back())).id);
  }
  for (int i = 0; i < 9; ++i) EXPECT_CODE(db().GetMessage(b_, ids[i]), kGone) << i;
  EXPECT_TRUE(Live(b_, ids[9]));
  const InfoPacket in = Feed(b_);
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_EQ(in.tombstones.size(), 9u);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, db().Stats());
  EXPECT_EQ(stats.messages, 1u);
}

TEST_F(SlotTest, TopicsThatShareAPrefixAreDifferentSlots) {
  const std::string bytes = "x";
  std::vector<MessageId> ids;
  for (const std::string& topic :
       {std::string(), std::string("a"), std::string("ab"), std::string("a\0", 2),
        std::string("a\x01", 2), std::string(64, 'a')}) {
    ids.push_back(Post(Request(a_, b_, topic, bytes)).id);
  }
  for (const MessageId& id : ids) EXPECT_TRUE(Live(b_, id)) << id.ToHex();
  EXPECT_EQ(Feed(b_).incoming.size(), ids.size());
}

class DeepSlotTest : public SlotTest {
 protected:
  DeepSlotTest() { options_.slot_depth = 2; }
};

TEST_F(DeepSlotTest, SlotDepthTwoKeepsTwo) {
  const std::string bytes = "x";
  const MessageInfo m1 = Post(Request(a_, b_, "t", bytes));
  const MessageInfo m2 = Post(Request(a_, b_, "t", bytes));
  EXPECT_TRUE(Live(b_, m1.id));
  EXPECT_TRUE(Live(b_, m2.id));
  EXPECT_TRUE(Feed(b_).tombstones.empty());

  const MessageInfo m3 = Post(Request(a_, b_, "t", bytes));
  EXPECT_CODE(db().GetMessage(b_, m1.id), kGone);  // the oldest goes
  EXPECT_TRUE(Live(b_, m2.id));
  EXPECT_TRUE(Live(b_, m3.id));
  const MessageInfo m4 = Post(Request(a_, b_, "t", bytes));
  EXPECT_CODE(db().GetMessage(b_, m2.id), kGone);
  EXPECT_TRUE(Live(b_, m3.id));
  EXPECT_TRUE(Live(b_, m4.id));

  const InfoPacket in = Feed(b_);
  std::vector<MessageId> live;
  for (const MessageInfo& m : in.incoming) live.push_back(m.id);
  EXPECT_EQ(live, (std::vector<MessageId>{m3.id, m4.id}));  // seq order is commit order
  ASSERT_EQ(in.tombstones.size(), 2u);
  EXPECT_EQ(in.tombstones[0].key, m1.id.AsBytes());
  EXPECT_EQ(in.tombstones[1].key, m2.id.AsBytes());
}

TEST_F(DeepSlotTest, IdempotentRepostDoesNotCountTwice) {
  const std::string bytes = "x";
  const PostRequest r1 = Request(a_, b_, "t", bytes);
  Post(r1);
  Post(r1);  // a retry, not a second message
  const MessageInfo m2 = Post(Request(a_, b_, "t", bytes));
  EXPECT_TRUE(Live(b_, r1.id));
  EXPECT_TRUE(Live(b_, m2.id));
}

TEST_F(DeepSlotTest, ShallowerDepthSetLaterTrimsTheSlotAtTheNextPost) {
  const std::string bytes = "x";
  const MessageInfo m1 = Post(Request(a_, b_, "t", bytes));
  const MessageInfo m2 = Post(Request(a_, b_, "t", bytes));
  // The store remembers its depth: a shallower one is a settings change.
  Close();
  options_.slot_depth = 1;
  ASSERT_OK(DB::ChangeSettings(path(), options_, SettingSet{Setting::kSlotDepth}));
  Open();
  EXPECT_TRUE(Live(b_, m1.id));  // the change alone changes nothing stored
  EXPECT_TRUE(Live(b_, m2.id));
  const MessageInfo m3 = Post(Request(a_, b_, "t", bytes));
  // A slot holds at most slot_depth live messages: both older ones go.
  EXPECT_CODE(db().GetMessage(b_, m1.id), kGone);
  EXPECT_CODE(db().GetMessage(b_, m2.id), kGone);
  EXPECT_TRUE(Live(b_, m3.id));
  EXPECT_EQ(Feed(b_).incoming.size(), 1u);
  EXPECT_EQ(Feed(b_).tombstones.size(), 2u);
}

}  // namespace
}  // namespace postbox
