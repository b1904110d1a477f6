// A full store can always be freed: once the pages in use reach max_map_size
// less storage_reserve, ops that add data are refused with ResourceExhausted
// ("storage full") while deletes, aborts, sweeps and purges still run in the
// reserve; once enough is freed, ops that add data run again.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "postbox/write_batch.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::kKiB;
using test::kMiB;

class FullStoreTest : public test::UploadFixture {
 protected:
  FullStoreTest() { options_.max_map_size = 4 * kMiB; }

  // Puts entries into `m` until even the smallest is refused (32 KiB ones,
  // then 1 KiB, then 16 B, so the map is full to the brim where nothing keeps
  // a reserve); returns how many fit, and the first refusal in `refused`.
  int FillWithEntries(const MailboxKey& m, Status* refused) {
    int n = 0;
    for (size_t size : {32 * kKiB, kKiB, uint64_t{16}}) {
      for (int tries = 0; tries < 5000; ++tries, ++n) {
        Result<EntryPutResult> r =
            db().PutEntry(m, "fill" + std::to_string(n), test::Bytes(size, n));
        if (!r.ok()) {
          if (refused->ok()) *refused = r.status();
          break;
        }
      }
    }
    return n;
  }
};

TEST_F(FullStoreTest, DeletesAbortsSweepsAndPurgesRunOnAFullStore) {
  using std::chrono::hours;
  // An upload that will be past its TTL, one to abort, and a message to delete
  // with its sender's mailbox.
  const std::string stale_blob = test::Bytes(300 * kKiB, 1);
  const UploadRequest stale = Declare(stale_blob, "stale");
  ASSERT_OK(db().BeginUpload(stale));
  ASSERT_TRUE(WriteRange(stale.id, stale_blob, 0, 200 * kKiB, 100 * kKiB));
  const std::string aborted_blob = test::Bytes(300 * kKiB, 2);
  const UploadRequest aborted = Declare(aborted_blob, "aborted");
  ASSERT_OK(db().BeginUpload(aborted));
  ASSERT_TRUE(WriteRange(aborted.id, aborted_blob, 0, 200 * kKiB, 100 * kKiB));
  const MailboxKey doomed = NewMailbox();
  Connect(doomed, b_);
  const std::string posted = test::Bytes(200 * kKiB, 3);
  Post(Request(doomed, b_, "t", posted));

  Status refused;
  const int fitted = FillWithEntries(a_, &refused);
  ASSERT_CODE(refused, kResourceExhausted) << "5000 entries of 32 KiB fit in a 4 MiB map?";
  EXPECT_NE(refused.message().find("storage full"), std::string::npos) << refused.ToString();
  EXPECT_NE(refused.message().find("storage_reserve"), std::string::npos) << refused.ToString();
  ASSERT_GT(fitted, 10);
  // Every op that adds data is refused now, the smallest too.
  EXPECT_CODE(db().PutEntry(c_, "tiny", "v"), kResourceExhausted);
  EXPECT_CODE(db().CreateMailbox(), kResourceExhausted);
  EXPECT_CODE(db().PostMessage(Request(a_, b_, "small", "x")), kResourceExhausted);
  EXPECT_CODE(db().RegisterPush(a_, Platform::kIos, "token"), kResourceExhausted);
  EXPECT_CODE(db().BeginUpload(Declare("abc", "new")), kResourceExhausted);

  // The ops that free space run in the reserve.
  clock_.Advance(options_.upload_ttl + hours(1));
  ASSERT_OK_AND_ASSIGN(EntryPutResult deleted, db().DeleteEntry(a_, "fill0"));
  EXPECT_TRUE(deleted.applied);
  EXPECT_OK(db().AbortUpload(a_, aborted.id));
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(clock_.now()));
  EXPECT_EQ(swept.uploads, 1u);
  EXPECT_EQ(swept.bytes, 200 * kKiB);
  EXPECT_OK(db().DeleteMailbox(doomed));
  EXPECT_OK(db().RegisterPush(a_, Platform::kNone, ""));
  clock_.Advance(options_.tombstone_horizon + hours(1));
  ASSERT_OK_AND_ASSIGN(size_t purged, db().PurgeTombstones());
  EXPECT_GE(purged, 2u);  // fill0's tombstone, and the deleted message's in b_'s feed

  // Deleting the filler in batches (deletes only) frees enough for puts again.
  WriteBatch batch;
  for (int i = 1; i < fitted; ++i) batch.DeleteEntry(a_, "fill" + std::to_string(i), 0);
  ASSERT_OK(db().Write(&batch));
  for (const OpResult& r : batch.results()) ASSERT_OK(r.status);
  clock_.Advance(options_.tombstone_horizon + hours(1));
  ASSERT_OK(db().PurgeTombstones(100000).status());
  ASSERT_OK(db().PutEntry(c_, "tiny", "v").status());
  ASSERT_OK(db().PutEntry(a_, "again", test::Bytes(32 * kKiB, 9)).status());
  ASSERT_OK(db().CreateMailbox().status());
  // And the store fills up to about the same point again.
  Status again;
  const int refilled = FillWithEntries(a_, &again);
  EXPECT_CODE(again, kResourceExhausted);
  EXPECT_GE(refilled, fitted / 2);
}

// In one batch on a full store, the ops that add data are refused up front
// and the rest commit.
TEST_F(FullStoreTest, BatchOnAFullStoreRunsItsFreeingOps) {
  ASSERT_OK(db().PutEntry(c_, "keep", "v").status());
  Status refused;
  ASSERT_GT(FillWithEntries(a_, &refused), 10);
  ASSERT_CODE(refused, kResourceExhausted);
  WriteBatch batch;
  const size_t put = batch.PutEntry(c_, "new", "v", 0);
  const size_t del = batch.DeleteEntry(a_, "fill3", 0);
  const size_t create = batch.CreateMailbox();
  const size_t del_c = batch.DeleteEntry(c_, "keep", 0);
  ASSERT_OK(db().Write(&batch));
  EXPECT_CODE(batch.results()[put].status, kResourceExhausted);
  EXPECT_CODE(batch.results()[create].status, kResourceExhausted);
  EXPECT_OK(batch.results()[del].status);
  EXPECT_OK(batch.results()[del_c].status);
  EXPECT_CODE(db().GetEntry(a_, "fill3"), kNotFound);
  EXPECT_CODE(db().GetEntry(c_, "keep"), kNotFound);
  EXPECT_CODE(db().GetEntry(c_, "new"), kNotFound);
}

TEST(StorageReserveTest, MustBeBelowMaxMapSize) {
  test::TempDir dir;
  Options o;
  o.max_map_size = 4 * kMiB;
  o.storage_reserve = 4 * kMiB;
  EXPECT_CODE(DB::Open(dir.Sub("db"), o), kInvalidArgument);
  o.max_map_size = kMiB / 2;
  o.storage_reserve.reset();
  EXPECT_CODE(DB::Open(dir.Sub("db"), o), kInvalidArgument);
}

}  // namespace
}  // namespace postbox
