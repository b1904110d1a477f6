// Range reads of blobs: ViewBlob's zero-copy chunks cover exactly the range
// asked for, each with the XXH3-64 of its bytes (checked against libxxhash),
// stay valid as a snapshot while the view lives, and answer 403/404/410 like
// every read of a message.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::kKiB;

class BlobViewTest : public test::UploadFixture {
 protected:
  // Checks that `view` holds exactly blob[offset, offset + length) (clipped),
  // in contiguous non-empty chunks whose hashes are the XXH3-64 of their bytes.
  static ::testing::AssertionResult Covers(const BlobView& view, std::string_view blob,
                                           uint64_t offset, uint64_t length) {
    const uint64_t end = offset + std::min<uint64_t>(length, blob.size() - offset);
    uint64_t pos = offset;
    std::string joined;
    for (const BlobChunk& c : view.chunks()) {
      if (c.offset != pos) {
        return ::testing::AssertionFailure() << "chunk at " << c.offset << ", want " << pos;
      }
      if (c.bytes.empty()) return ::testing::AssertionFailure() << "empty chunk at " << pos;
      if (c.xxh3_64 != test::ReferenceXxh64(c.bytes)) {
        return ::testing::AssertionFailure() << "chunk at " << pos << " has a wrong XXH3-64";
      }
      joined.append(c.bytes);
      pos += c.bytes.size();
    }
    if (pos != end)
      return ::testing::AssertionFailure() << "chunks end at " << pos << ", want " << end;
    if (joined != blob.substr(offset, end - offset)) {
      return ::testing::AssertionFailure() << "bytes differ from the blob";
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(BlobViewTest, ChunksCoverTheRangeWithTheirHashes) {
  const std::string blob = test::Bytes(1024 * kKiB + 1000, 51);  // 4 full pieces and a tail
  const UploadRequest req = Declare(blob);
  const MessageInfo m = UploadWhole(req, blob, 200 * kKiB);
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {0, UINT64_MAX},
      {0, blob.size()},
      {100, 300 * kKiB},
      {256 * kKiB, 256 * kKiB},
      {256 * kKiB - 1, 2},
      {blob.size() - 5, 100},
      {blob.size(), 10},
      {777, 0},
      {512 * kKiB + 3, 600 * kKiB},
      {1, blob.size() - 2},
  };
  for (const auto& [offset, length] : ranges) {
    SCOPED_TRACE(std::to_string(offset) + "+" + std::to_string(length));
    for (const MailboxKey& who : {a_, b_}) {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlobView> view,
                           db().ViewBlob(who, req.id, offset, length));
      EXPECT_TRUE(Covers(*view, blob, offset, length));
      EXPECT_EQ(view->message(), m);
      // The copying variant holds the same chunks.
      const std::vector<OwnedBlobChunk> owned = view->CopyChunks();
      ASSERT_EQ(owned.size(), view->chunks().size());
      for (size_t i = 0; i < owned.size(); ++i) {
        EXPECT_EQ(owned[i].offset, view->chunks()[i].offset);
        EXPECT_TRUE(owned[i].bytes == view->chunks()[i].bytes);
        EXPECT_EQ(owned[i].xxh3_64, view->chunks()[i].xxh3_64);
      }
      // ReadBlob copies the same range.
      ASSERT_OK_AND_ASSIGN(std::string copy, db().ReadBlob(who, req.id, offset, length));
      EXPECT_TRUE(copy == blob.substr(offset, std::min<uint64_t>(length, blob.size() - offset)));
    }
  }
  // A whole-blob view is one chunk per stored piece, never more.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlobView> whole, db().ViewBlob(b_, req.id));
  EXPECT_EQ(whole->chunks().size(), 5u);
}

TEST_F(BlobViewTest, HashesFollowTheBytes) {
  // Two messages equal but for one byte: the chunk holding it hashes
  // differently, every other chunk the same.
  const std::string blob = test::Bytes(700 * kKiB, 52);
  std::string other = blob;
  other[300 * kKiB] ^= 0x20;
  const MessageInfo m1 = UploadWhole(Declare(blob, "one"), blob);
  const MessageInfo m2 = UploadWhole(Declare(other, "two"), other);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlobView> v1, db().ViewBlob(b_, m1.id));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlobView> v2, db().ViewBlob(b_, m2.id));
  ASSERT_EQ(v1->chunks().size(), v2->chunks().size());
  size_t differing = 0;
  for (size_t i = 0; i < v1->chunks().size(); ++i) {
    const BlobChunk& c1 = v1->chunks()[i];
    const BlobChunk& c2 = v2->chunks()[i];
    const bool holds_flip = c1.offset <= 300 * kKiB && 300 * kKiB < c1.offset + c1.bytes.size();
    EXPECT_EQ(c1.xxh3_64 != c2.xxh3_64, holds_flip) << "chunk " << i;
    differing += c1.xxh3_64 != c2.xxh3_64;
  }
  EXPECT_EQ(differing, 1u);
}

TEST_F(BlobViewTest, ViewIsASnapshotWhileItLives) {
  const std::string blob = test::Bytes(600 * kKiB, 53);
  const PostRequest first = Request(a_, b_, "slot", blob);
  Post(first);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlobView> view, db().ViewBlob(b_, first.id, 10, 500 * kKiB));
  // Superseding the message deletes its pieces in a later transaction; the
  // view still sees the bytes it was made from.
  const std::string newer = test::Bytes(600 * kKiB, 54);
  Post(Request(a_, b_, "slot", newer));
  EXPECT_CODE(db().ViewBlob(b_, first.id), kGone);
  EXPECT_TRUE(Covers(*view, blob, 10, 500 * kKiB));
  // It may be released on another thread.
  std::thread([v = std::move(view)]() mutable { v.reset(); }).join();
  EXPECT_CODE(db().ReadBlob(b_, first.id), kGone);
}

TEST_F(BlobViewTest, ErrorsAsForMessages) {
  const std::string blob = test::Bytes(300 * kKiB, 55);
  const UploadRequest req = Declare(blob, "slot");
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 256 * kKiB));
  // An upload not yet committed is not a message.
  EXPECT_CODE(db().ViewBlob(a_, req.id), kNotFound);
  EXPECT_CODE(db().ViewBlob(b_, req.id), kNotFound);
  ASSERT_OK(db().CommitUpload(a_, req.id));
  EXPECT_CODE(db().ViewBlob(c_, req.id), kPermissionDenied);
  EXPECT_CODE(db().ReadBlob(c_, req.id), kPermissionDenied);
  EXPECT_CODE(db().ViewBlob(b_, MessageId::Random()), kNotFound);
  EXPECT_CODE(db().ReadBlob(b_, MessageId::Random()), kNotFound);
  EXPECT_CODE(db().ViewBlob(b_, req.id, blob.size() + 1, 1), kInvalidArgument);
  EXPECT_CODE(db().ViewBlob(b_, req.id, UINT64_MAX, UINT64_MAX), kInvalidArgument);
  // Superseded: 410 at once, for any range, to both parties.
  Post(Request(a_, b_, "slot", "newer"));
  for (const MailboxKey& who : {a_, b_}) {
    EXPECT_CODE(db().ViewBlob(who, req.id), kGone);
    EXPECT_CODE(db().ViewBlob(who, req.id, 5, 5), kGone);
    EXPECT_CODE(db().ReadBlob(who, req.id, 5, 5), kGone);
  }
  EXPECT_CODE(db().ViewBlob(c_, req.id), kPermissionDenied);
}

TEST_F(BlobViewTest, EmptyBlobHasNoChunks) {
  const MessageInfo m = UploadWhole(Declare(""), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BlobView> view, db().ViewBlob(b_, m.id));
  EXPECT_TRUE(view->chunks().empty());
  EXPECT_EQ(view->message().length, 0u);
  EXPECT_CODE(db().ViewBlob(b_, m.id, 1, 1), kInvalidArgument);
}

}  // namespace
}  // namespace postbox
