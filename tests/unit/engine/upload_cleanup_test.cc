// Deleting a mailbox deletes the uploads it is a party to, with their bytes:
// nothing of a deleted mailbox lingers until the sweep, and its key can no
// longer write into the store.
#include <gtest/gtest.h>

#include <string>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::kKiB;

class UploadCleanupTest : public test::UploadFixture {};

TEST_F(UploadCleanupTest, DeletingTheSenderDeletesItsUploads) {
  const StoreStats before = Stats();
  const std::string blob = test::Bytes(600 * kKiB, 71);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 500 * kKiB, 250 * kKiB));
  ASSERT_OK(db().DeleteMailbox(a_));
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
  EXPECT_CODE(db().WriteChunk(a_, req.id, 500 * kKiB, blob.substr(500 * kKiB)), kNotFound);
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks);
  // Nothing is left for the sweep either.
  ASSERT_OK_AND_ASSIGN(SweepResult swept,
                       db().Sweep(clock_.now() + options_.upload_ttl.count() + 1));
  EXPECT_EQ(swept, (SweepResult{0, 0}));
}

TEST_F(UploadCleanupTest, DeletingTheRecipientDeletesUploadsToIt) {
  const StoreStats before = Stats();
  const std::string blob = test::Bytes(300 * kKiB, 72);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 300 * kKiB, 100 * kKiB));
  // An upload between two other mailboxes is not touched.
  const MailboxKey d = NewMailbox();
  Connect(a_, d);
  UploadRequest other = Declare(blob);
  other.to = d;
  ASSERT_OK(db().BeginUpload(other));
  ASSERT_TRUE(WriteRange(other.id, blob, 0, 100 * kKiB, 100 * kKiB));

  ASSERT_OK(db().DeleteMailbox(b_));
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
  EXPECT_CODE(db().CommitUpload(a_, req.id), kNotFound);
  // The other upload's 100 KiB are staged (upload_tail), not yet a piece.
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks);
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, other.id));
  EXPECT_EQ(s.offset, 100 * kKiB);
  ASSERT_TRUE(WriteRange(other.id, blob, 100 * kKiB, blob.size(), 100 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, other.id));
}

TEST_F(UploadCleanupTest, BeginAgainFromAnotherSenderIsConflict) {
  const std::string blob = test::Bytes(10 * kKiB, 73);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  const MailboxKey d = NewMailbox();
  Connect(d, b_);
  UploadRequest from_d = req;
  from_d.from = d;
  EXPECT_CODE(db().BeginUpload(from_d), kConflict);
  // And d cannot write into a_'s upload by knowing its id.
  EXPECT_CODE(db().WriteChunk(d, req.id, 0, blob), kPermissionDenied);
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 0u);
}

}  // namespace
}  // namespace postbox
