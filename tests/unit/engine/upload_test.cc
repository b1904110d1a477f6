// Resumable uploads (SPEC §4): sequential chunks from the committed offset,
// idempotent resends, refused overlaps, limits, who may do what, commit with
// digest verification, and what committed and superseded ids answer.
#include <gtest/gtest.h>

#include <string>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::kKiB;
using test::kMiB;

class UploadTest : public test::UploadFixture {};

TEST_F(UploadTest, ChunksThenCommitMakeTheMessage) {
  // 600 KiB in 100 KiB chunks: chunks straddle the 256 KiB storage pieces.
  const std::string blob = test::Bytes(600 * kKiB, 1);
  const UploadRequest req = Declare(blob, "photos", "jpeg");
  const uint64_t b_seq = Seq(b_);
  const uint64_t a_seq = Seq(a_);

  ASSERT_OK_AND_ASSIGN(UploadState begun, db().BeginUpload(req));
  EXPECT_EQ(begun, (UploadState{req.id, blob.size(), 0, false}));
  for (uint64_t off = 0; off < blob.size(); off += 100 * kKiB) {
    const uint64_t n = std::min<uint64_t>(100 * kKiB, blob.size() - off);
    ASSERT_OK_AND_ASSIGN(UploadState s, db().WriteChunk(a_, req.id, off, blob.substr(off, n)));
    EXPECT_EQ(s, (UploadState{req.id, blob.size(), off + n, false}));
    ASSERT_OK_AND_ASSIGN(UploadState asked, db().UploadOffset(a_, req.id));
    EXPECT_EQ(asked, s);
  }
  // Nothing is visible before the commit: no message, no feed change.
  EXPECT_CODE(db().GetMessage(b_, req.id), kNotFound);
  EXPECT_CODE(db().ReadBlob(b_, req.id), kNotFound);
  EXPECT_EQ(Seq(b_), b_seq);
  EXPECT_EQ(Seq(a_), a_seq);

  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().CommitUpload(a_, req.id));
  EXPECT_EQ(m.id, req.id);
  EXPECT_EQ(m.from, a_);
  EXPECT_EQ(m.to, b_);
  EXPECT_EQ(m.topic, "photos");
  EXPECT_EQ(m.meta, "jpeg");
  EXPECT_EQ(m.length, blob.size());
  EXPECT_EQ(m.digest, req.digest);
  EXPECT_EQ(m.status, MessageStatus::kUploaded);
  EXPECT_EQ(m.created_ms, clock_.now());

  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
  ASSERT_OK_AND_ASSIGN(MessageInfo seen, db().GetMessage(b_, req.id));
  EXPECT_EQ(seen, m);
  // Both feeds changed exactly as a one-shot post changes them.
  const InfoPacket in = Feed(b_, b_seq);
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_EQ(in.incoming[0].id, req.id);
  const InfoPacket out = Feed(a_, a_seq);
  ASSERT_EQ(out.outgoing.size(), 1u);
  EXPECT_EQ(out.outgoing[0].id, req.id);
  ASSERT_OK_AND_ASSIGN(UploadState done, db().UploadOffset(a_, req.id));
  EXPECT_EQ(done, (UploadState{req.id, blob.size(), blob.size(), true}));
}

TEST_F(UploadTest, EmptyBlobCommitsWithoutChunks) {
  const UploadRequest req = Declare("");
  ASSERT_OK_AND_ASSIGN(UploadState s, db().BeginUpload(req));
  EXPECT_EQ(s.offset, 0u);
  EXPECT_EQ(s.length, 0u);
  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().CommitUpload(a_, req.id));
  EXPECT_EQ(m.length, 0u);
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got.empty());
}

TEST_F(UploadTest, ChunkPastCommittedOffsetIsConflictNamingTheOffset) {
  const std::string blob = test::Bytes(300 * kKiB, 2);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 10 * kKiB, 10 * kKiB));
  Result<UploadState> gap = db().WriteChunk(a_, req.id, 20 * kKiB, blob.substr(20 * kKiB, kKiB));
  ASSERT_CODE(gap, kConflict);
  EXPECT_NE(gap.status().message().find(std::to_string(10 * kKiB)), std::string::npos)
      << "the message should name the committed offset: " << gap.status().ToString();
  // One byte past is a gap too.
  EXPECT_CODE(db().WriteChunk(a_, req.id, 10 * kKiB + 1, blob.substr(10 * kKiB + 1, 1)), kConflict);
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 10 * kKiB);
  // Resuming where it says works.
  ASSERT_TRUE(WriteRange(req.id, blob, s.offset, blob.size(), 64 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, ResentAndOverlappingEqualChunksAreIdempotent) {
  const std::string blob = test::Bytes(700 * kKiB, 3);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 300 * kKiB, 100 * kKiB));
  // The same last chunk again (a lost acknowledgement): nothing moves.
  ASSERT_OK_AND_ASSIGN(UploadState again, db().WriteChunk(a_, req.id, 200 * kKiB,
                                                          blob.substr(200 * kKiB, 100 * kKiB)));
  EXPECT_EQ(again.offset, 300 * kKiB);
  // An old chunk entirely inside the stored bytes, across a piece boundary.
  ASSERT_OK_AND_ASSIGN(UploadState old,
                       db().WriteChunk(a_, req.id, 250 * kKiB, blob.substr(250 * kKiB, 20 * kKiB)));
  EXPECT_EQ(old.offset, 300 * kKiB);
  // A chunk that starts inside the stored bytes and runs past them extends them.
  ASSERT_OK_AND_ASSIGN(UploadState ext, db().WriteChunk(a_, req.id, 280 * kKiB,
                                                        blob.substr(280 * kKiB, 200 * kKiB)));
  EXPECT_EQ(ext.offset, 480 * kKiB);
  // An empty chunk anywhere up to the offset changes nothing.
  ASSERT_OK_AND_ASSIGN(UploadState empty, db().WriteChunk(a_, req.id, 100, ""));
  EXPECT_EQ(empty.offset, 480 * kKiB);
  ASSERT_TRUE(WriteRange(req.id, blob, 480 * kKiB, blob.size(), 256 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

TEST_F(UploadTest, OverlapWithDifferentBytesIsConflictAndChangesNothing) {
  const std::string blob = test::Bytes(600 * kKiB, 4);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 300 * kKiB, 100 * kKiB));
  const StoreStats before = Stats();

  // Differs in one stored byte (in the second storage piece), entirely inside.
  std::string bad = blob.substr(260 * kKiB, 30 * kKiB);
  bad[5] ^= 0x01;
  EXPECT_CODE(db().WriteChunk(a_, req.id, 260 * kKiB, bad), kConflict);
  // Differs in a stored byte but also carries new bytes: the new part is not kept.
  std::string straddle = blob.substr(100 * kKiB, 250 * kKiB);  // [100 KiB, 350 KiB)
  straddle[0] ^= 0x40;
  EXPECT_CODE(db().WriteChunk(a_, req.id, 100 * kKiB, straddle), kConflict);
  // Differs only in the very last stored byte.
  std::string last = blob.substr(300 * kKiB - 10, 20);
  last[9] ^= 0x7f;
  EXPECT_CODE(db().WriteChunk(a_, req.id, 300 * kKiB - 10, last), kConflict);

  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 300 * kKiB);
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks);
  // The good bytes are still there: the rest completes and the digest matches.
  ASSERT_TRUE(WriteRange(req.id, blob, 300 * kKiB, blob.size(), 100 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

TEST_F(UploadTest, ChunkPastDeclaredLengthIsTooLarge) {
  const std::string blob = test::Bytes(100 * kKiB, 5);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 90 * kKiB, 30 * kKiB));
  // Runs one byte past the end.
  EXPECT_CODE(db().WriteChunk(a_, req.id, 90 * kKiB, test::Bytes(10 * kKiB + 1, 6)), kTooLarge);
  // Starts past the end (TooLarge, not a gap Conflict).
  EXPECT_CODE(db().WriteChunk(a_, req.id, 100 * kKiB + 1, "x"), kTooLarge);
  EXPECT_CODE(db().WriteChunk(a_, req.id, UINT64_MAX, "x"), kTooLarge);
  EXPECT_CODE(db().WriteChunk(a_, req.id, UINT64_MAX - 1, "xyz"), kTooLarge);
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 90 * kKiB);
  // Exactly to the end is fine, and an empty chunk at the end too.
  ASSERT_TRUE(WriteRange(req.id, blob, 90 * kKiB, blob.size(), 10 * kKiB));
  ASSERT_OK_AND_ASSIGN(UploadState at_end, db().WriteChunk(a_, req.id, blob.size(), ""));
  EXPECT_EQ(at_end.offset, blob.size());
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

class SmallChunkUploadTest : public test::UploadFixture {
 protected:
  SmallChunkUploadTest() { options_.max_chunk_size = 4 * kKiB; }
};

TEST_F(SmallChunkUploadTest, ChunkOverMaxChunkSizeIsTooLarge) {
  const std::string blob = test::Bytes(20 * kKiB, 7);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  Result<UploadState> big = db().WriteChunk(a_, req.id, 0, blob.substr(0, 4 * kKiB + 1));
  ASSERT_CODE(big, kTooLarge);
  EXPECT_NE(big.status().message().find(std::to_string(4 * kKiB)), std::string::npos)
      << big.status().ToString();
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 0u);
  // Exactly max_chunk_size is accepted.
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 4 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, OnlyTheSenderMayWriteCommitAbortOrAsk) {
  const std::string blob = test::Bytes(64 * kKiB, 8);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 32 * kKiB, 32 * kKiB));
  for (const MailboxKey& who : {b_, c_}) {
    EXPECT_CODE(db().WriteChunk(who, req.id, 32 * kKiB, blob.substr(32 * kKiB)), kPermissionDenied);
    EXPECT_CODE(db().WriteChunk(who, req.id, 0, blob.substr(0, kKiB)), kPermissionDenied);
    EXPECT_CODE(db().UploadOffset(who, req.id), kPermissionDenied);
    EXPECT_CODE(db().CommitUpload(who, req.id), kPermissionDenied);
    EXPECT_CODE(db().AbortUpload(who, req.id), kPermissionDenied);
    // Nor read it as if it were a message.
    EXPECT_CODE(db().ReadBlob(who, req.id), kNotFound);
  }
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 32 * kKiB);
  ASSERT_TRUE(WriteRange(req.id, blob, 32 * kKiB, blob.size(), 32 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  // After the commit an outsider still may not ask or write.
  EXPECT_CODE(db().UploadOffset(c_, req.id), kPermissionDenied);
  EXPECT_CODE(db().WriteChunk(c_, req.id, 0, "x"), kPermissionDenied);
}

TEST_F(UploadTest, BeginAgainWithSameDeclarationContinues) {
  const std::string blob = test::Bytes(500 * kKiB, 9);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 300 * kKiB, 150 * kKiB));
  clock_.Advance(std::chrono::minutes(5));
  ASSERT_OK_AND_ASSIGN(UploadState again, db().BeginUpload(req));
  EXPECT_EQ(again, (UploadState{req.id, blob.size(), 300 * kKiB, false}));
  ASSERT_TRUE(WriteRange(req.id, blob, 300 * kKiB, blob.size(), 150 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, BeginAgainWithAnotherDeclarationIsConflict) {
  const std::string blob = test::Bytes(100 * kKiB, 10);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 50 * kKiB, 50 * kKiB));

  UploadRequest other_length = req;
  other_length.length += 1;
  UploadRequest other_digest = req;
  other_digest.digest[15] ^= 1;
  UploadRequest other_topic = req;
  other_topic.topic = "other";
  UploadRequest other_meta = req;
  other_meta.meta = "other";
  const MailboxKey d = NewMailbox();
  Connect(a_, d);
  UploadRequest other_to = req;
  other_to.to = d;
  for (const UploadRequest& r : {other_length, other_digest, other_topic, other_meta, other_to}) {
    EXPECT_CODE(db().BeginUpload(r), kConflict);
  }
  // The original upload is untouched.
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s, (UploadState{req.id, blob.size(), 50 * kKiB, false}));
  // And a one-shot post cannot take its id either.
  PostRequest post = Request(a_, b_, "media", blob, "m");
  post.id = req.id;
  EXPECT_CODE(db().PostMessage(post), kConflict);
  ASSERT_TRUE(WriteRange(req.id, blob, 50 * kKiB, blob.size(), 50 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, CommittedIdAnswersRetriesAndRefusesWrites) {
  const std::string blob = test::Bytes(300 * kKiB, 11);
  const UploadRequest req = Declare(blob);
  const MessageInfo first = UploadWhole(req, blob, 128 * kKiB);
  const uint64_t b_seq = Seq(b_);

  // A client whose commit acknowledgement was lost begins again: nothing to send.
  ASSERT_OK_AND_ASSIGN(UploadState begun, db().BeginUpload(req));
  EXPECT_EQ(begun, (UploadState{req.id, blob.size(), blob.size(), true}));
  ASSERT_OK_AND_ASSIGN(UploadState asked, db().UploadOffset(a_, req.id));
  EXPECT_EQ(asked, begun);
  // Or commits again: the same message comes back, nothing changes.
  ASSERT_OK_AND_ASSIGN(MessageInfo again, db().CommitUpload(a_, req.id));
  EXPECT_EQ(again, first);
  EXPECT_EQ(Seq(b_), b_seq);
  // Writing to it is a conflict, even the identical first chunk; so is aborting.
  EXPECT_CODE(db().WriteChunk(a_, req.id, 0, blob.substr(0, kKiB)), kConflict);
  EXPECT_CODE(db().AbortUpload(a_, req.id), kConflict);
  // Another declaration for the committed id is a conflict.
  UploadRequest changed = req;
  changed.meta = "changed";
  EXPECT_CODE(db().BeginUpload(changed), kConflict);
  // A one-shot post of the same content is an idempotent retry too.
  PostRequest post = Request(a_, b_, req.topic, blob, req.meta);
  post.id = req.id;
  ASSERT_OK_AND_ASSIGN(MessageInfo posted, db().PostMessage(post));
  EXPECT_EQ(posted, first);
  EXPECT_EQ(Seq(b_), b_seq);
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

TEST_F(UploadTest, DigestMismatchDiscardsTheUpload) {
  const std::string blob = test::Bytes(400 * kKiB, 12);
  UploadRequest req = Declare(blob);
  req.digest = test::ReferenceDigest(test::Bytes(400 * kKiB, 13));
  const StoreStats before = Stats();
  const uint64_t b_seq = Seq(b_);
  const uint64_t a_seq = Seq(a_);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 100 * kKiB));

  EXPECT_CODE(db().CommitUpload(a_, req.id), kDigestMismatch);
  // Nothing is kept: no upload, no message, no bytes, no feed change.
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
  EXPECT_CODE(db().WriteChunk(a_, req.id, 0, blob.substr(0, kKiB)), kNotFound);
  EXPECT_CODE(db().CommitUpload(a_, req.id), kNotFound);
  EXPECT_CODE(db().AbortUpload(a_, req.id), kNotFound);
  EXPECT_CODE(db().GetMessage(b_, req.id), kNotFound);
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks);
  EXPECT_EQ(Stats().messages, before.messages);
  EXPECT_EQ(Seq(b_), b_seq);
  EXPECT_EQ(Seq(a_), a_seq);
  // The id is free again: an honest declaration starts from zero and commits.
  req.digest = test::ReferenceDigest(blob);
  ASSERT_OK_AND_ASSIGN(UploadState fresh, db().BeginUpload(req));
  EXPECT_EQ(fresh.offset, 0u);
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 256 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, IncompleteCommitIsConflictAndKeepsTheUpload) {
  const std::string blob = test::Bytes(100 * kKiB, 14);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  EXPECT_CODE(db().CommitUpload(a_, req.id), kConflict);
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size() - 1, 64 * kKiB));
  Result<MessageInfo> early = db().CommitUpload(a_, req.id);
  ASSERT_CODE(early, kConflict);
  EXPECT_NE(early.status().message().find(std::to_string(blob.size() - 1)), std::string::npos)
      << early.status().ToString();
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, blob.size() - 1);
  ASSERT_TRUE(WriteRange(req.id, blob, blob.size() - 1, blob.size(), 1));
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, AbortDiscardsBytesAndFreesTheId) {
  const std::string blob = test::Bytes(700 * kKiB, 15);
  const UploadRequest req = Declare(blob);
  const StoreStats before = Stats();
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 600 * kKiB, 200 * kKiB));
  // Two whole pieces; the last 88 KiB are staged until their piece completes.
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks + 2);
  ASSERT_OK(db().AbortUpload(a_, req.id));
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks);
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
  EXPECT_CODE(db().AbortUpload(a_, req.id), kNotFound);
  EXPECT_CODE(db().WriteChunk(a_, req.id, 600 * kKiB, blob.substr(600 * kKiB)), kNotFound);
  // Beginning again starts over from zero (the old bytes are gone).
  ASSERT_OK_AND_ASSIGN(UploadState s, db().BeginUpload(req));
  EXPECT_EQ(s.offset, 0u);
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 256 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

TEST_F(UploadTest, UnknownIdIsNotFound) {
  const MessageId ghost = MessageId::Random();
  EXPECT_CODE(db().WriteChunk(a_, ghost, 0, "x"), kNotFound);
  EXPECT_CODE(db().UploadOffset(a_, ghost), kNotFound);
  EXPECT_CODE(db().CommitUpload(a_, ghost), kNotFound);
  EXPECT_CODE(db().AbortUpload(a_, ghost), kNotFound);
  EXPECT_CODE(db().ViewBlob(a_, ghost), kNotFound);
}

TEST_F(UploadTest, SupersededIdIsGoneForEveryUploadCall) {
  const std::string blob = test::Bytes(50 * kKiB, 16);
  const UploadRequest req = Declare(blob, "slot");
  UploadWhole(req, blob);
  // A newer message in the same slot (slot_depth 1) supersedes it.
  const std::string newer = test::Bytes(10 * kKiB, 17);
  Post(Request(a_, b_, "slot", newer));
  EXPECT_CODE(db().BeginUpload(req), kGone);
  EXPECT_CODE(db().WriteChunk(a_, req.id, 0, blob.substr(0, kKiB)), kGone);
  EXPECT_CODE(db().UploadOffset(a_, req.id), kGone);
  EXPECT_CODE(db().CommitUpload(a_, req.id), kGone);
  EXPECT_CODE(db().AbortUpload(a_, req.id), kGone);
  EXPECT_CODE(db().ReadBlob(b_, req.id), kGone);
  EXPECT_CODE(db().ReadBlob(a_, req.id, 10, 10), kGone);
  EXPECT_CODE(db().ViewBlob(b_, req.id), kGone);
  EXPECT_CODE(db().ViewBlob(b_, req.id, 1000, 1), kGone);
  // An outsider learns nothing about it.
  EXPECT_CODE(db().ViewBlob(c_, req.id), kPermissionDenied);
}

TEST_F(UploadTest, CommitSupersedesTheSlotButAnOpenUploadDoesNot) {
  const std::string old_blob = test::Bytes(20 * kKiB, 18);
  const MessageInfo old_msg = Post(Request(a_, b_, "slot", old_blob));
  const std::string blob = test::Bytes(300 * kKiB, 19);
  const UploadRequest req = Declare(blob, "slot");
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 256 * kKiB));
  // Until the commit, the old message is live.
  ASSERT_OK_AND_ASSIGN(std::string still, db().ReadBlob(b_, old_msg.id));
  EXPECT_TRUE(still == old_blob);
  const uint64_t b_seq = Seq(b_);
  ASSERT_OK(db().CommitUpload(a_, req.id));
  EXPECT_CODE(db().ReadBlob(b_, old_msg.id), kGone);
  const InfoPacket in = Feed(b_, b_seq);
  ASSERT_EQ(in.tombstones.size(), 1u);
  EXPECT_EQ(in.tombstones[0].key, std::string(old_msg.id.AsBytes()));
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_EQ(in.incoming[0].id, req.id);
}

TEST_F(UploadTest, BeginChecksAsPosting) {
  const std::string blob = test::Bytes(kKiB, 20);
  UploadRequest not_connected = Declare(blob);
  not_connected.to = c_;
  EXPECT_CODE(db().BeginUpload(not_connected), kPermissionDenied);
  UploadRequest unknown_to = Declare(blob);
  unknown_to.to = MailboxKey::Random();
  EXPECT_CODE(db().BeginUpload(unknown_to), kPermissionDenied);  // as not connected: no probing
  UploadRequest to_self = Declare(blob);
  to_self.to = a_;
  EXPECT_CODE(db().BeginUpload(to_self), kInvalidArgument);
  UploadRequest too_long = Declare(blob);
  too_long.length = options_.max_blob_size + 1;
  EXPECT_CODE(db().BeginUpload(too_long), kTooLarge);
  UploadRequest long_topic = Declare(blob, std::string(options_.max_topic_size + 1, 't'));
  EXPECT_CODE(db().BeginUpload(long_topic), kTooLarge);
  UploadRequest long_meta = Declare(blob, "t", std::string(options_.max_meta_size + 1, 'm'));
  EXPECT_CODE(db().BeginUpload(long_meta), kTooLarge);
  // None of them left an upload behind.
  for (const UploadRequest* r : {&not_connected, &unknown_to, &to_self, &too_long, &long_topic}) {
    EXPECT_CODE(db().UploadOffset(a_, r->id), kNotFound);
  }
  // Exactly max_blob_size may be declared.
  UploadRequest at_limit = Declare(blob);
  at_limit.length = options_.max_blob_size;
  EXPECT_OK(db().BeginUpload(at_limit));
}

TEST_F(UploadTest, CommitRechecksTheConnection) {
  const std::string blob = test::Bytes(10 * kKiB, 21);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 10 * kKiB));
  ASSERT_OK(db().Disconnect(a_, b_));
  EXPECT_CODE(db().CommitUpload(a_, req.id), kPermissionDenied);
  EXPECT_CODE(db().GetMessage(b_, req.id), kNotFound);
  // The upload waits for the connection to come back.
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, blob.size());
  Connect(a_, b_);
  ASSERT_OK(db().CommitUpload(a_, req.id));
}

TEST_F(UploadTest, UploadOpsInOneBatchSeeEachOther) {
  const std::string blob = test::Bytes(300 * kKiB, 22);
  const UploadRequest req = Declare(blob);
  WriteBatch batch;
  const size_t begin = batch.BeginUpload(req);
  const size_t w1 = batch.WriteChunk(a_, req.id, 0, std::string_view(blob).substr(0, 200 * kKiB));
  const size_t gap =
      batch.WriteChunk(a_, req.id, 250 * kKiB, std::string_view(blob).substr(250 * kKiB));
  const size_t w2 =
      batch.WriteChunk(a_, req.id, 200 * kKiB, std::string_view(blob).substr(200 * kKiB));
  const size_t commit = batch.CommitUpload(a_, req.id);
  ASSERT_OK(db().Write(&batch));
  const auto& r = batch.results();
  EXPECT_OK(r[begin].status);
  EXPECT_EQ(r[w1].upload.offset, 200 * kKiB);
  EXPECT_CODE(r[gap].status, kConflict);
  EXPECT_EQ(r[w2].upload.offset, blob.size());
  ASSERT_OK(r[commit].status);
  ASSERT_TRUE(r[commit].message.has_value());
  EXPECT_EQ(r[commit].message->id, req.id);
  EXPECT_EQ(batch.changed_mailboxes().size(), 2u);
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

}  // namespace
}  // namespace postbox
