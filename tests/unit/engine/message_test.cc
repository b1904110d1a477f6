// Messages: post, idempotent repost, conflicts, permissions, limits, reading blobs.
#include <gtest/gtest.h>

#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

// a and b are connected; c is connected to nobody.
class MessageTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    c_ = NewMailbox();
    Connect(a_, b_);
  }
  MailboxKey a_, b_, c_;
};

TEST_F(MessageTest, PostReturnsTheCommittedMessage) {
  const std::string bytes = test::Bytes(5000, 1);
  const PostRequest req = Request(a_, b_, "video", bytes, "video/mp4;dur=3");
  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().PostMessage(req));
  EXPECT_EQ(m.id, req.id);
  EXPECT_EQ(m.from, a_);
  EXPECT_EQ(m.to, b_);
  EXPECT_EQ(m.topic, "video");
  EXPECT_EQ(m.meta, "video/mp4;dur=3");
  EXPECT_EQ(m.length, bytes.size());
  EXPECT_EQ(m.digest, ComputeDigest128(bytes));
  EXPECT_EQ(m.status, MessageStatus::kUploaded);
  EXPECT_EQ(m.created_ms, clock_.now());
}

TEST_F(MessageTest, BothPartiesGetTheSameMessage) {
  const std::string bytes = "hello";
  const MessageInfo posted = Post(Request(a_, b_, "", bytes));
  ASSERT_OK_AND_ASSIGN(MessageInfo by_sender, db().GetMessage(a_, posted.id));
  ASSERT_OK_AND_ASSIGN(MessageInfo by_recipient, db().GetMessage(b_, posted.id));
  EXPECT_EQ(by_sender, by_recipient);
  EXPECT_EQ(by_sender.id, posted.id);
  EXPECT_EQ(by_sender.digest, posted.digest);
  EXPECT_EQ(by_sender.length, 5u);
  EXPECT_EQ(by_sender.created_ms, posted.created_ms);
}

TEST_F(MessageTest, ReadBlobWholeAndRanges) {
  // Big enough to span several chunks whatever the chunk size.
  const std::string bytes = test::Bytes(700 * 1024 + 123, 2);
  const MessageInfo m = Post(Request(a_, b_, "big", bytes));
  ASSERT_OK_AND_ASSIGN(std::string whole, db().ReadBlob(b_, m.id));
  EXPECT_EQ(whole.size(), bytes.size());
  EXPECT_TRUE(whole == bytes);
  ASSERT_OK_AND_ASSIGN(std::string by_sender, db().ReadBlob(a_, m.id));
  EXPECT_TRUE(by_sender == bytes);

  const uint64_t n = bytes.size();
  const std::pair<uint64_t, uint64_t> ranges[] = {
      {0, 1},      {0, 10},          {1, 10},    {4095, 2},  {65535, 70000}, {262143, 3},
      {262144, 1}, {300000, 400000}, {n - 5, 5}, {n - 1, 1}, {n - 5, 99},    {10, UINT64_MAX}};
  for (const auto& [offset, length] : ranges) {
    ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, m.id, offset, length));
    const std::string want = bytes.substr(offset, length);  // clipped like substr
    EXPECT_EQ(got.size(), want.size()) << "offset " << offset << " length " << length;
    EXPECT_TRUE(got == want) << "offset " << offset << " length " << length;
  }
  ASSERT_OK_AND_ASSIGN(std::string at_end, db().ReadBlob(b_, m.id, n, 10));
  EXPECT_TRUE(at_end.empty());
  ASSERT_OK_AND_ASSIGN(std::string zero, db().ReadBlob(b_, m.id, 5, 0));
  EXPECT_TRUE(zero.empty());
  EXPECT_CODE(db().ReadBlob(b_, m.id, n + 1, 1), kInvalidArgument);
  EXPECT_CODE(db().ReadBlob(b_, m.id, UINT64_MAX, 1), kInvalidArgument);
}

TEST_F(MessageTest, SameIdSameContentIsIdempotent) {
  const std::string bytes = test::Bytes(2000, 3);
  const PostRequest req = Request(a_, b_, "t", bytes);
  const MessageInfo first = Post(req);
  const uint64_t seq_a = Seq(a_);
  const uint64_t seq_b = Seq(b_);
  clock_.Advance(std::chrono::seconds(5));

  // A retry whose acknowledgement was lost: same id, same content, other buffer.
  const std::string copy = bytes;
  PostRequest retry = req;
  retry.bytes = copy;
  ASSERT_OK_AND_ASSIGN(MessageInfo again, db().PostMessage(retry));
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.created_ms, first.created_ms);  // the stored message, unchanged
  EXPECT_EQ(again.digest, first.digest);
  EXPECT_EQ(Seq(a_), seq_a);
  EXPECT_EQ(Seq(b_), seq_b);
  EXPECT_EQ(Feed(b_).incoming.size(), 1u);

  // Still idempotent after the status moved.
  ASSERT_OK(db().AdvanceStatus(b_, req.id, MessageStatus::kViewed).status());
  ASSERT_OK_AND_ASSIGN(MessageInfo third, db().PostMessage(req));
  EXPECT_EQ(third.status, MessageStatus::kViewed);
}

TEST_F(MessageTest, SameIdOtherContentIsConflict) {
  const std::string bytes = test::Bytes(100, 4);
  const PostRequest req = Request(a_, b_, "t", bytes);
  Post(req);
  const std::string other_bytes = test::Bytes(100, 5);
  const std::string longer = bytes + "x";

  PostRequest r = req;
  r.bytes = other_bytes;
  EXPECT_CODE(db().PostMessage(r), kConflict);
  r = req;
  r.bytes = longer;
  EXPECT_CODE(db().PostMessage(r), kConflict);
  r = req;
  r.meta = "other meta";
  EXPECT_CODE(db().PostMessage(r), kConflict);
  r = req;
  r.topic = "u";
  EXPECT_CODE(db().PostMessage(r), kConflict);
  r = req;
  r.from = b_;
  r.to = a_;
  EXPECT_CODE(db().PostMessage(r), kConflict);

  // Nothing changed: the original is intact and alone in its slot.
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(blob == bytes);
  ASSERT_OK_AND_ASSIGN(MessageInfo kept, db().GetMessage(b_, req.id));
  EXPECT_EQ(kept.meta, "meta");
  EXPECT_EQ(Feed(b_).incoming.size(), 1u);
  EXPECT_TRUE(Feed(a_).incoming.empty());
}

TEST_F(MessageTest, NotConnectedIsPermissionDenied) {
  const std::string bytes = "x";
  const PostRequest req = Request(a_, c_, "", bytes);
  EXPECT_CODE(db().PostMessage(req), kPermissionDenied);
  EXPECT_CODE(db().PostMessage(Request(c_, a_, "", bytes)), kPermissionDenied);
  EXPECT_CODE(db().GetMessage(a_, req.id), kNotFound);  // nothing was stored
  EXPECT_EQ(Seq(a_), 0u);
  EXPECT_EQ(Seq(c_), 0u);
}

TEST_F(MessageTest, PostingToSelfIsInvalidArgument) {
  const std::string bytes = "x";
  const PostRequest req = Request(a_, a_, "", bytes);
  EXPECT_CODE(db().PostMessage(req), kInvalidArgument);
  EXPECT_CODE(db().GetMessage(a_, req.id), kNotFound);
  EXPECT_EQ(Seq(a_), 0u);
  // Form comes before existence, and sizes before form.
  const MailboxKey ghost = MailboxKey::Random();
  EXPECT_CODE(db().PostMessage(Request(ghost, ghost, "", bytes)), kInvalidArgument);
  const std::string long_topic(options_.max_topic_size + 1, 't');
  EXPECT_CODE(db().PostMessage(Request(a_, a_, long_topic, bytes)), kTooLarge);
}

// An unknown sender is 404; an unknown recipient is "not connected" (403),
// the same answer as a real mailbox the sender is not connected to, so that
// posting cannot probe which mailboxes exist (SPEC §2).
TEST_F(MessageTest, UnknownSenderIsNotFoundUnknownRecipientIsNotConnected) {
  const std::string bytes = "x";
  const MailboxKey ghost = MailboxKey::Random();
  EXPECT_CODE(db().PostMessage(Request(a_, ghost, "", bytes)), kPermissionDenied);
  EXPECT_CODE(db().PostMessage(Request(ghost, a_, "", bytes)), kNotFound);
}

TEST_F(MessageTest, OverLimitFieldsAreTooLargeBeforeAnythingElse) {
  const std::string bytes = "x";
  const std::string max_topic(options_.max_topic_size, 't');
  const std::string max_meta(options_.max_meta_size, 'm');
  EXPECT_OK(db().PostMessage(Request(a_, b_, max_topic, bytes, max_meta)));

  PostRequest topic = Request(a_, b_, max_topic + "t", bytes);
  EXPECT_CODE(db().PostMessage(topic), kTooLarge);
  PostRequest meta = Request(a_, b_, "", bytes, max_meta + "m");
  EXPECT_CODE(db().PostMessage(meta), kTooLarge);
  EXPECT_CODE(db().GetMessage(a_, topic.id), kNotFound);
  EXPECT_CODE(db().GetMessage(a_, meta.id), kNotFound);
  // Sizes are checked before the parties exist or are connected.
  EXPECT_CODE(db().PostMessage(Request(a_, MailboxKey::Random(), max_topic + "t", bytes)),
              kTooLarge);
  EXPECT_CODE(db().PostMessage(Request(a_, c_, "", bytes, max_meta + "m")), kTooLarge);
}

TEST_F(MessageTest, NonPartyIsPermissionDenied) {
  const std::string bytes = "secret video";
  const MessageInfo m = Post(Request(a_, b_, "", bytes));
  EXPECT_CODE(db().GetMessage(c_, m.id), kPermissionDenied);
  EXPECT_CODE(db().ReadBlob(c_, m.id), kPermissionDenied);
  // An unknown actor is an unknown mailbox before it is a non-party.
  const MailboxKey ghost = MailboxKey::Random();
  EXPECT_CODE(db().GetMessage(ghost, m.id), kNotFound);
  EXPECT_CODE(db().ReadBlob(ghost, m.id), kNotFound);
}

TEST_F(MessageTest, UnknownIdIsNotFound) {
  const MessageId ghost = MessageId::Random();
  EXPECT_CODE(db().GetMessage(a_, ghost), kNotFound);
  EXPECT_CODE(db().ReadBlob(a_, ghost), kNotFound);
  EXPECT_CODE(db().ReadBlob(a_, ghost, 1000, 1), kNotFound);
}

TEST_F(MessageTest, SupersededIsGoneRightAfterNewerPost) {
  const std::string old_bytes = test::Bytes(4000, 6);
  const std::string new_bytes = test::Bytes(4000, 7);
  const PostRequest old_req = Request(a_, b_, "video", old_bytes);
  Post(old_req);
  const MessageInfo newer = Post(Request(a_, b_, "video", new_bytes));

  EXPECT_CODE(db().GetMessage(b_, old_req.id), kGone);
  EXPECT_CODE(db().GetMessage(a_, old_req.id), kGone);
  EXPECT_CODE(db().ReadBlob(b_, old_req.id), kGone);
  EXPECT_CODE(db().ReadBlob(b_, old_req.id, 10, 10), kGone);
  // A non-party learns nothing, not even that it existed.
  EXPECT_CODE(db().GetMessage(c_, old_req.id), kPermissionDenied);
  EXPECT_CODE(db().ReadBlob(c_, old_req.id), kPermissionDenied);
  // Re-posting the superseded id, even with its own content, is Gone.
  EXPECT_CODE(db().PostMessage(old_req), kGone);

  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, newer.id));
  EXPECT_TRUE(blob == new_bytes);
}

TEST_F(MessageTest, EmptyBlobIsAMessage) {
  const std::string empty;
  const MessageInfo m = Post(Request(a_, b_, "text", empty, "text/plain;hi"));
  EXPECT_EQ(m.length, 0u);
  EXPECT_EQ(m.digest, ComputeDigest128(""));
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, m.id));
  EXPECT_TRUE(blob.empty());
  ASSERT_OK_AND_ASSIGN(std::string at_end, db().ReadBlob(b_, m.id, 0, 10));
  EXPECT_TRUE(at_end.empty());
  EXPECT_CODE(db().ReadBlob(b_, m.id, 1, 1), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(MessageInfo got, db().GetMessage(b_, m.id));
  EXPECT_EQ(got.meta, "text/plain;hi");
}

TEST_F(MessageTest, BlobOfExactPieceMultiplesReadsBack) {
  for (const size_t n : {size_t{256} * 1024, size_t{512} * 1024, size_t{256} * 1024 + 1}) {
    const std::string bytes = test::Bytes(n, static_cast<uint32_t>(n));
    const MessageInfo m = Post(Request(a_, b_, "n" + std::to_string(n), bytes));
    ASSERT_OK_AND_ASSIGN(std::string whole, db().ReadBlob(b_, m.id));
    EXPECT_TRUE(whole == bytes) << n;
    ASSERT_OK_AND_ASSIGN(std::string tail, db().ReadBlob(b_, m.id, n - 3, 100));
    EXPECT_EQ(tail, bytes.substr(n - 3)) << n;
    ASSERT_OK_AND_ASSIGN(std::string end, db().ReadBlob(b_, m.id, n, 100));
    EXPECT_TRUE(end.empty()) << n;
  }
}

TEST_F(MessageTest, SupersededIdWithOtherContentIsGone) {
  const std::string bytes = "one";
  const PostRequest old = Request(a_, b_, "t", bytes);
  Post(old);
  Post(Request(a_, b_, "t", bytes));
  const std::string other = "other";
  PostRequest changed = old;
  changed.bytes = other;
  changed.topic = "elsewhere";
  EXPECT_CODE(db().PostMessage(changed), kGone);
  EXPECT_CODE(db().GetMessage(a_, old.id), kGone);
}

TEST_F(MessageTest, RetryAfterDisconnectIsPermissionDenied) {
  // The connection check comes before the id check, even for an exact retry.
  const std::string bytes = "x";
  const PostRequest req = Request(a_, b_, "", bytes);
  Post(req);
  ASSERT_OK(db().Disconnect(a_, b_));
  EXPECT_CODE(db().PostMessage(req), kPermissionDenied);
  // Disconnecting does not take back what was delivered.
  EXPECT_OK(db().GetMessage(b_, req.id));
}

class OpenPolicyTest : public test::StoreTest {
 protected:
  OpenPolicyTest() { options_.posting_policy = PostingPolicy::kOpen; }
};

TEST_F(OpenPolicyTest, KnowingTheKeyIsEnough) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  const std::string bytes = "no connection needed";
  const MessageInfo m = Post(Request(a, b, "", bytes));
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b, m.id));
  EXPECT_EQ(blob, bytes);
  ASSERT_EQ(Feed(b).incoming.size(), 1u);
  EXPECT_EQ(Feed(b).incoming[0].id, m.id);
  // Self-posting stays malformed, and unknown recipients are still unknown.
  EXPECT_CODE(db().PostMessage(Request(a, a, "", bytes)), kInvalidArgument);
  EXPECT_CODE(db().PostMessage(Request(a, MailboxKey::Random(), "", bytes)), kNotFound);
  // And reading still needs to be a party.
  const MailboxKey c = NewMailbox();
  EXPECT_CODE(db().GetMessage(c, m.id), kPermissionDenied);
}

class SmallBlobLimitTest : public test::StoreTest {
 protected:
  SmallBlobLimitTest() { options_.max_blob_size = 1000; }
};

TEST_F(SmallBlobLimitTest, BlobOverLimitIsTooLarge) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  const std::string at_limit(1000, 'x');
  const std::string over(1001, 'x');
  EXPECT_OK(db().PostMessage(Request(a, b, "one", at_limit)));
  const PostRequest big = Request(a, b, "two", over);
  EXPECT_CODE(db().PostMessage(big), kTooLarge);
  EXPECT_CODE(db().GetMessage(a, big.id), kNotFound);
  EXPECT_EQ(Feed(b).incoming.size(), 1u);
}

}  // namespace
}  // namespace postbox
