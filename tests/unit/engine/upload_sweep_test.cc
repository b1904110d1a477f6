// Sweeping incomplete uploads: an upload begun more than upload_ttl before
// `now` is deleted with its bytes, in bounded batches; committed messages and
// younger uploads are untouched. The clock is injected, so nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using test::kKiB;

class UploadSweepTest : public test::UploadFixture {
 protected:
  uint64_t Ttl() const { return static_cast<uint64_t>(options_.upload_ttl.count()); }
};

TEST_F(UploadSweepTest, RemovesUploadsOlderThanTheTtlOnly) {
  const uint64_t t0 = clock_.now();
  const std::string old_blob = test::Bytes(600 * kKiB, 41);
  const UploadRequest old_req = Declare(old_blob);
  ASSERT_OK(db().BeginUpload(old_req));
  ASSERT_TRUE(WriteRange(old_req.id, old_blob, 0, 300 * kKiB + 7, 100 * kKiB));

  clock_.Advance(hours(1));
  const std::string young_blob = test::Bytes(200 * kKiB, 42);
  const UploadRequest young_req = Declare(young_blob);
  ASSERT_OK(db().BeginUpload(young_req));
  ASSERT_TRUE(WriteRange(young_req.id, young_blob, 0, 100 * kKiB, 100 * kKiB));
  const StoreStats before = Stats();

  // Exactly upload_ttl old is not yet "older than" the TTL.
  ASSERT_OK_AND_ASSIGN(SweepResult none, db().Sweep(t0 + Ttl()));
  EXPECT_EQ(none, (SweepResult{0, 0}));
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks);

  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(t0 + Ttl() + 1));
  EXPECT_EQ(swept, (SweepResult{1, 300 * kKiB + 7}));
  EXPECT_CODE(db().UploadOffset(a_, old_req.id), kNotFound);
  EXPECT_CODE(db().WriteChunk(a_, old_req.id, 300 * kKiB + 7, "x"), kNotFound);
  // Its whole piece is gone (the bytes of its partial one were staged, and
  // went with it: upload_tail_test.cc counts those); the young upload has
  // only staged bytes.
  EXPECT_EQ(Stats().blob_chunks, before.blob_chunks - 1);

  // Sweeping again finds nothing; the young one still completes.
  ASSERT_OK_AND_ASSIGN(SweepResult again, db().Sweep(t0 + Ttl() + 1));
  EXPECT_EQ(again, (SweepResult{0, 0}));
  ASSERT_TRUE(WriteRange(young_req.id, young_blob, 100 * kKiB, young_blob.size(), 100 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, young_req.id));
  // The swept id is free: beginning it again starts from zero.
  ASSERT_OK_AND_ASSIGN(UploadState fresh, db().BeginUpload(old_req));
  EXPECT_EQ(fresh.offset, 0u);
}

TEST_F(UploadSweepTest, TtlCountsFromBeginUploadOnTheInjectedClock) {
  const std::string blob = test::Bytes(64 * kKiB, 43);
  clock_.Advance(hours(5));
  const uint64_t begun_at = clock_.now();
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  // Writing later, or beginning again, does not restart the TTL.
  clock_.Advance(hours(20));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 32 * kKiB, 32 * kKiB));
  ASSERT_OK(db().BeginUpload(req));
  // The TTL is measured from the clock's time at BeginUpload, not the system's.
  ASSERT_OK_AND_ASSIGN(SweepResult early, db().Sweep(begun_at + Ttl() - 1));
  EXPECT_EQ(early.uploads, 0u);
  ASSERT_OK_AND_ASSIGN(SweepResult due, db().Sweep(begun_at + Ttl() + 1));
  EXPECT_EQ(due, (SweepResult{1, 32 * kKiB}));
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
}

TEST_F(UploadSweepTest, LeavesCommittedMessagesAlone) {
  const std::string blob = test::Bytes(300 * kKiB, 44);
  const UploadRequest req = Declare(blob);
  UploadWhole(req, blob);
  const uint64_t b_seq = Seq(b_);
  ASSERT_OK_AND_ASSIGN(SweepResult r, db().Sweep(clock_.now() + 10 * Ttl()));
  EXPECT_EQ(r, (SweepResult{0, 0}));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
  EXPECT_EQ(Seq(b_), b_seq);
}

TEST_F(UploadSweepTest, NowBeforeTheTtlSweepsNothing) {
  const std::string blob = test::Bytes(kKiB, 45);
  ASSERT_OK(db().BeginUpload(Declare(blob)));
  ASSERT_OK_AND_ASSIGN(SweepResult r, db().Sweep(0));
  EXPECT_EQ(r, (SweepResult{0, 0}));
  ASSERT_OK_AND_ASSIGN(SweepResult r2, db().Sweep(Ttl() - 1));
  EXPECT_EQ(r2, (SweepResult{0, 0}));
}

TEST_F(UploadSweepTest, SurvivesReopen) {
  const std::string blob = test::Bytes(100 * kKiB, 46);
  const UploadRequest req = Declare(blob);
  const uint64_t t0 = clock_.now();
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 50 * kKiB, 50 * kKiB));
  Reopen();
  ASSERT_OK_AND_ASSIGN(SweepResult r, db().Sweep(t0 + Ttl() + 1));
  EXPECT_EQ(r, (SweepResult{1, 50 * kKiB}));
  Reopen();
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
}

TEST_F(UploadSweepTest, SweepsEverythingDueWhateverTheBatch) {
  const uint64_t t0 = clock_.now();
  std::vector<UploadRequest> due;
  for (int i = 0; i < 23; ++i) {
    const std::string blob = test::Bytes(10 * kKiB, 100 + i);
    due.push_back(Declare(blob));
    ASSERT_OK(db().BeginUpload(due.back()));
    ASSERT_TRUE(WriteRange(due.back().id, blob, 0, static_cast<uint64_t>(i) * 100, kKiB));
    clock_.Advance(milliseconds(1));
  }
  clock_.Advance(hours(1));
  const std::string keep_blob = test::Bytes(kKiB, 99);
  const UploadRequest keep = Declare(keep_blob);
  ASSERT_OK(db().BeginUpload(keep));
  uint64_t want_bytes = 0;
  for (int i = 0; i < 23; ++i) want_bytes += static_cast<uint64_t>(i) * 100;

  // The oldest first, in batches of 5: a cutoff in the middle of the run
  // removes exactly those begun before it.
  ASSERT_OK_AND_ASSIGN(SweepResult part, db().Sweep(t0 + Ttl() + 10, 5));
  EXPECT_EQ(part.uploads, 10u);
  for (int i = 0; i < 23; ++i) {
    EXPECT_TRUE(
        test::HasCode(db().UploadOffset(a_, due[i].id), i < 10 ? Code::kNotFound : Code::kOk))
        << i;
  }
  ASSERT_OK_AND_ASSIGN(SweepResult rest, db().Sweep(t0 + Ttl() + 30, 1));
  EXPECT_EQ(part.uploads + rest.uploads, 23u);
  EXPECT_EQ(part.bytes + rest.bytes, want_bytes);
  // Batch 0 is treated as 1, not as "nothing".
  ASSERT_OK_AND_ASSIGN(SweepResult last, db().Sweep(clock_.now() + Ttl() + 1, 0));
  EXPECT_EQ(last, (SweepResult{1, 0}));
  EXPECT_CODE(db().UploadOffset(a_, keep.id), kNotFound);
}

// A sweep of many uploads commits batch by batch: a reader running beside it
// sees intermediate states, and each one it sees is a whole number of batches
// (never a torn batch, never one giant transaction).
TEST_F(UploadSweepTest, CommitsInBoundedBatches) {
  options_.durability = Durability::kDurable;  // each batch's commit takes real time
  Reopen();
  constexpr int kUploads = 60;
  constexpr size_t kBatch = 4;
  const uint64_t t0 = clock_.now();
  {
    WriteBatch batch;
    std::vector<std::string> blobs;
    blobs.reserve(kUploads);
    for (int i = 0; i < kUploads; ++i) {
      blobs.push_back(test::Bytes(kKiB, 200 + i));
      const UploadRequest req = Declare(blobs.back());
      batch.BeginUpload(req);
      batch.WriteChunk(a_, req.id, 0, blobs.back());
    }
    ASSERT_OK(db().Write(&batch));
    for (const OpResult& r : batch.results()) ASSERT_OK(r.status);
  }
  const uint64_t base = Stats().blob_chunks - kUploads;  // one piece per upload

  std::atomic<bool> done{false};
  std::set<uint64_t> seen;
  std::thread reader([&] {
    while (!done.load()) {
      auto s = db().Stats();
      if (s.ok()) seen.insert(s->blob_chunks - base);
    }
  });
  Result<SweepResult> r = db().Sweep(t0 + Ttl() + 1, kBatch);
  done = true;
  reader.join();
  ASSERT_OK(r);
  EXPECT_EQ(r->uploads, static_cast<uint64_t>(kUploads));
  EXPECT_EQ(r->bytes, kUploads * kKiB);
  EXPECT_EQ(Stats().blob_chunks, base);

  size_t intermediate = 0;
  for (uint64_t left : seen) {
    EXPECT_EQ(left % kBatch, 0u) << left << " uploads left: not a whole number of batches";
    if (left != 0 && left != kUploads) ++intermediate;
  }
  EXPECT_GE(intermediate, 1u) << "the reader never saw a state between batches";
}

// WriteBatch::Sweep: the bounded op a host runs inside its group commits. It
// sweeps as of the batch's clock, says whether more remain, and commits with
// the batch's other ops.
TEST_F(UploadSweepTest, SweepOpInABatchIsBoundedAndSaysWhetherMoreRemain) {
  std::vector<MessageId> old;
  for (int i = 0; i < 3; ++i) {
    const std::string blob = test::Bytes(100 * kKiB, 50 + i);
    const UploadRequest req = Declare(blob, "old" + std::to_string(i));
    ASSERT_OK(db().BeginUpload(req));
    ASSERT_TRUE(WriteRange(req.id, blob, 0, 10 * kKiB, 10 * kKiB));
    old.push_back(req.id);
  }
  clock_.Advance(options_.upload_ttl + milliseconds(1));
  const UploadRequest young = Declare("young bytes", "young");
  ASSERT_OK(db().BeginUpload(young));

  WriteBatch batch;
  const size_t probe = batch.Sweep(0);  // removes nothing, but says whether any is due
  const size_t put = batch.PutEntry(a_, "k", "v", 0);
  const size_t first = batch.Sweep(2);
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[probe].status);
  EXPECT_EQ(batch.results()[probe].sweep, (SweepResult{0, 0, true}));
  EXPECT_OK(batch.results()[put].status);
  ASSERT_OK(batch.results()[first].status);
  EXPECT_EQ(batch.results()[first].sweep, (SweepResult{2, 20 * kKiB, true}));

  batch.Clear();
  const size_t second = batch.Sweep(2);
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[second].status);
  EXPECT_EQ(batch.results()[second].sweep, (SweepResult{1, 10 * kKiB, false}));
  for (const MessageId& id : old) EXPECT_CODE(db().UploadOffset(a_, id), kNotFound);
  EXPECT_OK(db().UploadOffset(a_, young.id));
  EXPECT_OK(db().GetEntry(a_, "k"));
}

}  // namespace
}  // namespace postbox
