// AdvanceStatus: the status max-register, who may move it, and what it moves.
#include <gtest/gtest.h>

#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

// a sends m_ to b; c is a bystander.
class MessageStatusTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    c_ = NewMailbox();
    Connect(a_, b_);
    m_ = Post(Request(a_, b_, "t", bytes_)).id;
  }
  MessageStatus CurrentStatus(const MailboxKey& actor) {
    return test::Must(db().GetMessage(actor, m_), "GetMessage").status;
  }
  const std::string bytes_ = "a short video";
  MailboxKey a_, b_, c_;
  MessageId m_;
};

TEST_F(MessageStatusTest, RecipientAdvancesStepByStep) {
  ASSERT_OK_AND_ASSIGN(MessageStatus d, db().AdvanceStatus(b_, m_, MessageStatus::kDownloaded));
  EXPECT_EQ(d, MessageStatus::kDownloaded);
  EXPECT_EQ(CurrentStatus(a_), MessageStatus::kDownloaded);  // the sender sees it
  EXPECT_EQ(CurrentStatus(b_), MessageStatus::kDownloaded);
  ASSERT_OK_AND_ASSIGN(MessageStatus v, db().AdvanceStatus(b_, m_, MessageStatus::kViewed));
  EXPECT_EQ(v, MessageStatus::kViewed);
  EXPECT_EQ(CurrentStatus(a_), MessageStatus::kViewed);
}

TEST_F(MessageStatusTest, MayJumpStraightToViewed) {
  ASSERT_OK_AND_ASSIGN(MessageStatus v, db().AdvanceStatus(b_, m_, MessageStatus::kViewed));
  EXPECT_EQ(v, MessageStatus::kViewed);
}

TEST_F(MessageStatusTest, LoweringSucceedsAndReturnsCurrent) {
  ASSERT_OK(db().AdvanceStatus(b_, m_, MessageStatus::kViewed).status());
  const uint64_t a_seq = Seq(a_);
  const uint64_t b_seq = Seq(b_);
  ASSERT_OK_AND_ASSIGN(MessageStatus d, db().AdvanceStatus(b_, m_, MessageStatus::kDownloaded));
  EXPECT_EQ(d, MessageStatus::kViewed);
  ASSERT_OK_AND_ASSIGN(MessageStatus u, db().AdvanceStatus(b_, m_, MessageStatus::kUploaded));
  EXPECT_EQ(u, MessageStatus::kViewed);
  ASSERT_OK_AND_ASSIGN(MessageStatus same, db().AdvanceStatus(b_, m_, MessageStatus::kViewed));
  EXPECT_EQ(same, MessageStatus::kViewed);
  EXPECT_EQ(CurrentStatus(a_), MessageStatus::kViewed);
  // Nothing changed, so neither feed moved.
  EXPECT_EQ(Seq(a_), a_seq);
  EXPECT_EQ(Seq(b_), b_seq);
}

TEST_F(MessageStatusTest, UploadedOnFreshMessageChangesNothing) {
  const uint64_t b_seq = Seq(b_);
  ASSERT_OK_AND_ASSIGN(MessageStatus u, db().AdvanceStatus(b_, m_, MessageStatus::kUploaded));
  EXPECT_EQ(u, MessageStatus::kUploaded);
  EXPECT_EQ(Seq(b_), b_seq);
}

TEST_F(MessageStatusTest, SenderCannotAdvance) {
  EXPECT_CODE(db().AdvanceStatus(a_, m_, MessageStatus::kViewed), kPermissionDenied);
  EXPECT_CODE(db().AdvanceStatus(a_, m_, MessageStatus::kUploaded), kPermissionDenied);
  EXPECT_EQ(CurrentStatus(b_), MessageStatus::kUploaded);
}

TEST_F(MessageStatusTest, NonPartyCannotAdvance) {
  EXPECT_CODE(db().AdvanceStatus(c_, m_, MessageStatus::kViewed), kPermissionDenied);
  // An unknown actor is an unknown mailbox first (docs/engine.md error order).
  EXPECT_CODE(db().AdvanceStatus(MailboxKey::Random(), m_, MessageStatus::kViewed), kNotFound);
  EXPECT_EQ(CurrentStatus(b_), MessageStatus::kUploaded);
}

TEST_F(MessageStatusTest, UnknownIdIsNotFoundAndChangesNothing) {
  const uint64_t b_seq = Seq(b_);
  EXPECT_CODE(db().AdvanceStatus(b_, MessageId::Random(), MessageStatus::kViewed), kNotFound);
  EXPECT_EQ(Seq(b_), b_seq);
  EXPECT_EQ(CurrentStatus(b_), MessageStatus::kUploaded);
}

TEST_F(MessageStatusTest, SupersededIsGoneAndChangesNothing) {
  const std::string other = "newer";
  const MessageInfo newer = Post(Request(a_, b_, "t", other));
  const uint64_t a_seq = Seq(a_);
  const uint64_t b_seq = Seq(b_);
  EXPECT_CODE(db().AdvanceStatus(b_, m_, MessageStatus::kViewed), kGone);
  // For AdvanceStatus the only party is the recipient (docs/engine.md), so the
  // sender gets the same 403 as for a live message, like a bystander.
  EXPECT_CODE(db().AdvanceStatus(a_, m_, MessageStatus::kViewed), kPermissionDenied);
  EXPECT_CODE(db().AdvanceStatus(c_, m_, MessageStatus::kViewed), kPermissionDenied);
  // GetMessage and ReadBlob do tell the sender it is gone.
  EXPECT_CODE(db().GetMessage(a_, m_), kGone);
  EXPECT_EQ(Seq(a_), a_seq);
  EXPECT_EQ(Seq(b_), b_seq);
  ASSERT_OK_AND_ASSIGN(MessageInfo n, db().GetMessage(b_, newer.id));
  EXPECT_EQ(n.status, MessageStatus::kUploaded);
}

TEST_F(MessageStatusTest, StatusOutsideRangeIsInvalidArgumentFirst) {
  EXPECT_CODE(db().AdvanceStatus(b_, m_, static_cast<MessageStatus>(0)), kInvalidArgument);
  EXPECT_CODE(db().AdvanceStatus(b_, m_, static_cast<MessageStatus>(4)), kInvalidArgument);
  EXPECT_CODE(db().AdvanceStatus(b_, m_, static_cast<MessageStatus>(255)), kInvalidArgument);
  // Form before existence and permission.
  EXPECT_CODE(db().AdvanceStatus(b_, MessageId::Random(), static_cast<MessageStatus>(0)),
              kInvalidArgument);
  EXPECT_CODE(db().AdvanceStatus(c_, m_, static_cast<MessageStatus>(9)), kInvalidArgument);
  EXPECT_EQ(CurrentStatus(b_), MessageStatus::kUploaded);
}

TEST_F(MessageStatusTest, RisingStatusMovesBothFeeds) {
  const uint64_t a_seq = Seq(a_);
  const uint64_t b_seq = Seq(b_);
  ASSERT_OK(db().AdvanceStatus(b_, m_, MessageStatus::kDownloaded).status());
  EXPECT_EQ(Seq(a_), a_seq + 1);
  EXPECT_EQ(Seq(b_), b_seq + 1);

  const InfoPacket out = Feed(a_, a_seq);
  ASSERT_EQ(out.outgoing.size(), 1u);
  EXPECT_EQ(out.outgoing[0].id, m_);
  EXPECT_EQ(out.outgoing[0].status, MessageStatus::kDownloaded);
  EXPECT_EQ(out.outgoing[0].seq, a_seq + 1);
  // The recipient's other devices see it too.
  const InfoPacket in = Feed(b_, b_seq);
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_EQ(in.incoming[0].status, MessageStatus::kDownloaded);
  EXPECT_EQ(in.incoming[0].seq, b_seq + 1);
  // The item moved: a full read lists it once, at its new seq.
  const InfoPacket full = Feed(b_);
  ASSERT_EQ(full.incoming.size(), 1u);
  EXPECT_EQ(full.incoming[0].seq, b_seq + 1);
}

}  // namespace
}  // namespace postbox
