// Space taken by blobs: superseded, swept, aborted and rejected blobs give
// their pages back for reuse, so a slot that keeps being refilled does not
// grow the store; and a full store (max_map_size less the storage reserve)
// refuses the chunk write with ResourceExhausted, leaves the upload resumable
// and everything else as it was.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::kKiB;
using test::kMiB;

constexpr uint64_t kBlob = 4 * kMiB;
// What a store needs besides the blob bytes: LMDB's branch and meta pages, the
// free list, the records and feeds of a few mailboxes; generous for this test.
constexpr uint64_t kOverhead = 1 * kMiB;

// A distinct 4 MiB payload per message without generating 4 MiB of random
// bytes each time: a shared random body stamped with the message's number.
std::string Payload(const std::string& body, uint64_t n) {
  std::string p = body;
  for (size_t at = 0; at + sizeof n <= p.size(); at += 64 * kKiB) std::memcpy(&p[at], &n, sizeof n);
  return p;
}

class BlobSpaceTest : public test::UploadFixture {
 protected:
  // slot_depth 1 and relaxed durability (set by TestOptions): space, not
  // syncing, is the point here.
  BlobSpaceTest() { options_.slot_depth = 1; }

  uint64_t FileBytes() const { return std::filesystem::file_size(path() + "/data.mdb"); }
};

TEST_F(BlobSpaceTest, TwoHundredSupersededPostsKeepTheFileSmall) {
  const std::string body = test::Bytes(kBlob, 61);
  MessageId last;
  uint64_t peak = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const std::string blob = Payload(body, i);
    const PostRequest req = Request(a_, b_, "avatar", blob);
    ASSERT_OK(db().PostMessage(req)) << i;
    last = req.id;
    peak = std::max(peak, FileBytes());
  }
  const uint64_t file = FileBytes();
  std::printf("[ observed ] 200 posts x 4 MiB into one slot: data.mdb %.2f MiB (peak %.2f MiB)\n",
              static_cast<double>(file) / kMiB, static_cast<double>(peak) / kMiB);
  RecordProperty("data_mdb_bytes", std::to_string(file));
  EXPECT_LT(file, 3 * (options_.slot_depth * kBlob + kOverhead));
  const StoreStats stats = Stats();
  EXPECT_EQ(stats.messages, 1u);
  EXPECT_EQ(stats.blob_chunks, kBlob / (256 * kKiB));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, last));
  EXPECT_TRUE(got == Payload(body, 199));
}

TEST_F(BlobSpaceTest, UploadsIntoOneSlotKeepTheFileSmall) {
  const std::string body = test::Bytes(kBlob, 62);
  MessageId last;
  for (uint64_t i = 0; i < 50; ++i) {
    const std::string blob = Payload(body, i);
    last = UploadWhole(Declare(blob, "avatar"), blob).id;
    ASSERT_FALSE(HasFailure()) << i;
  }
  const uint64_t file = FileBytes();
  std::printf("[ observed ] 50 uploads x 4 MiB into one slot: data.mdb %.2f MiB\n",
              static_cast<double>(file) / kMiB);
  EXPECT_LT(file, 3 * (kBlob + kOverhead));
  EXPECT_EQ(Stats().messages, 1u);
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(a_, last));
  EXPECT_TRUE(got == Payload(body, 49));
}

TEST_F(BlobSpaceTest, SweptAbortedAndRejectedUploadsGiveTheirPagesBack) {
  const std::string body = test::Bytes(kBlob, 63);
  for (uint64_t i = 0; i < 45; ++i) {
    const std::string blob = Payload(body, i);
    UploadRequest req = Declare(blob);
    if (i % 3 == 2) req.digest[0] ^= 1;  // rejected at commit
    ASSERT_OK(db().BeginUpload(req));
    ASSERT_TRUE(WriteRange(req.id, blob, 0, blob.size(), 256 * kKiB)) << i;
    switch (i % 3) {
      case 0: {
        clock_.Advance(options_.upload_ttl + std::chrono::milliseconds(1));
        ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(clock_.now()));
        EXPECT_EQ(swept, (SweepResult{1, kBlob})) << i;
        break;
      }
      case 1:
        ASSERT_OK(db().AbortUpload(a_, req.id));
        break;
      case 2:
        ASSERT_CODE(db().CommitUpload(a_, req.id), kDigestMismatch);
        break;
    }
  }
  const uint64_t file = FileBytes();
  std::printf("[ observed ] 45 discarded uploads x 4 MiB: data.mdb %.2f MiB\n",
              static_cast<double>(file) / kMiB);
  EXPECT_LT(file, 3 * (kBlob + kOverhead));
  EXPECT_EQ(Stats().blob_chunks, 0u);
  EXPECT_EQ(Stats().messages, 0u);
}

// ---- Storage full while uploading ----

class BlobStorageFullTest : public test::UploadFixture {
 protected:
  BlobStorageFullTest() { options_.max_map_size = 4 * kMiB; }
};

TEST_F(BlobStorageFullTest, ChunkFailsWithResourceExhaustedAndStaysResumable) {
  // Other state that must come through unharmed.
  ASSERT_OK(db().PutEntry(a_, "profile", "v1").status());
  const std::string small = test::Bytes(20 * kKiB, 64);
  const MessageInfo posted = Post(Request(a_, b_, "note", small));
  const std::string other_blob = test::Bytes(200 * kKiB, 65);
  const UploadRequest other = Declare(other_blob, "other");
  ASSERT_OK(db().BeginUpload(other));
  ASSERT_TRUE(WriteRange(other.id, other_blob, 0, 100 * kKiB, 100 * kKiB));
  const uint64_t a_seq = Seq(a_);
  const uint64_t b_seq = Seq(b_);

  const std::string blob = test::Bytes(8 * kMiB, 66);  // twice max_map_size
  const UploadRequest req = Declare(blob, "video");
  ASSERT_OK(db().BeginUpload(req));
  constexpr uint64_t kChunk = 256 * kKiB;
  uint64_t off = 0;
  Status full;
  while (off < blob.size()) {
    Result<UploadState> r =
        db().WriteChunk(a_, req.id, off, std::string_view(blob).substr(off, kChunk));
    if (!r.ok()) {
      full = r.status();
      break;
    }
    ASSERT_EQ(r->offset, off + kChunk);
    off = r->offset;
  }
  ASSERT_CODE(full, kResourceExhausted);
  EXPECT_EQ(HttpCode(full.code()), 503);
  ASSERT_GT(off, 0u) << "not even one chunk fit";
  std::printf("[ observed ] storage full after %llu KiB of an 8 MiB upload (max_map_size 4 MiB)\n",
              static_cast<unsigned long long>(off / kKiB));

  EXPECT_NE(full.message().find("storage full"), std::string::npos) << full.ToString();
  // The upload stays at its last committed offset; retrying fails the same way,
  // and so does a resend of stored bytes (a chunk write is refused up front).
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, off);
  EXPECT_CODE(db().WriteChunk(a_, req.id, off, std::string_view(blob).substr(off, kChunk)),
              kResourceExhausted);
  EXPECT_CODE(db().WriteChunk(a_, req.id, off - kChunk,
                              std::string_view(blob).substr(off - kChunk, kChunk)),
              kResourceExhausted);
  // In a batch, ops that add data are refused alone; the batch itself commits.
  WriteBatch batch;
  batch.PutEntry(a_, "batched", "x", 0);
  batch.WriteChunk(a_, req.id, off, std::string_view(blob).substr(off, kChunk));
  EXPECT_OK(db().Write(&batch));
  for (const OpResult& r : batch.results()) EXPECT_CODE(r.status, kResourceExhausted);
  EXPECT_CODE(db().GetEntry(a_, "batched"), kNotFound);

  // Nothing else was affected.
  auto check_others = [&] {
    ASSERT_OK_AND_ASSIGN(EntryInfo e, db().GetEntry(a_, "profile"));
    EXPECT_EQ(e.value, "v1");
    ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, posted.id));
    EXPECT_TRUE(got == small);
    ASSERT_OK_AND_ASSIGN(UploadState o, db().UploadOffset(a_, other.id));
    EXPECT_EQ(o.offset, 100 * kKiB);
    EXPECT_EQ(Seq(a_), a_seq);
    EXPECT_EQ(Seq(b_), b_seq);
    EXPECT_CODE(db().GetMessage(b_, req.id), kNotFound);
  };
  check_others();
  EXPECT_LE(Stats().map_size, options_.max_map_size);

  // Reopened at the same limit, nothing changed.
  Reopen();
  ASSERT_OK_AND_ASSIGN(UploadState after_reopen, db().UploadOffset(a_, req.id));
  EXPECT_EQ(after_reopen.offset, off);
  check_others();

  // With room to grow it resumes from there and commits the identical blob.
  options_.max_map_size = 64 * kMiB;
  Reopen();
  ASSERT_OK_AND_ASSIGN(UploadState resumed, db().BeginUpload(req));
  EXPECT_EQ(resumed.offset, off);
  ASSERT_TRUE(WriteRange(req.id, blob, resumed.offset, blob.size(), kChunk));
  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().CommitUpload(a_, req.id));
  EXPECT_EQ(m.digest, test::ReferenceDigest(blob));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
  // And the other upload completes too.
  ASSERT_TRUE(WriteRange(other.id, other_blob, 100 * kKiB, other_blob.size(), 100 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, other.id));
}

}  // namespace
}  // namespace postbox
