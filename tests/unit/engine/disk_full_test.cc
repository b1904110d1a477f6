// A full disk and failing syncs, injected at the system-call boundary
// (fault_injection.h): a nearly full disk refuses ops that add data while
// deletes still run; a write that fails on a full disk is reported as
// "disk full" (LMDB turns the short write into EIO); a failed sync is never
// dropped: it is counted, and writes fail until a sync succeeds.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "postbox/db.h"
#include "tests/unit/engine/fault_injection.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

constexpr uint64_t kKiB = 1024;

class DiskFaultTest : public test::StoreTest {
 protected:
  DiskFaultTest() {
    options_.max_map_size = uint64_t{64} << 20;
    options_.storage_reserve = 256 * kKiB;
    // Writes in place: a fold of deferred writes frees the pending table's
    // pages, and these tests need a store without free pages of its own.
    options_.pending_bytes = 0;
  }
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
  }
  void TearDown() override { test::faults::Target(""); }
  MailboxKey a_;
};

TEST_F(DiskFaultTest, NearlyFullDiskRefusesGrowthUntilTheStoreHasFreePagesOfItsOwn) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(db().PutEntry(a_, "k" + std::to_string(i), test::Bytes(32 * kKiB, i)).status());
  }
  test::faults::Target(path());
  test::faults::SetDiskFree(100 * kKiB);  // below the 256 KiB reserve
  Result<EntryPutResult> refused = db().PutEntry(a_, "more", "v");
  ASSERT_CODE(refused, kResourceExhausted);
  EXPECT_NE(refused.status().message().find("disk full"), std::string::npos)
      << refused.status().ToString();
  EXPECT_CODE(db().CreateMailbox(), kResourceExhausted);
  // Deletes run in the reserve; once the store holds enough free pages of its
  // own (they are reused before the file grows), ops that add data run again
  // although the disk is as full as before.
  WriteBatch batch;
  for (int i = 0; i < 40; ++i) batch.DeleteEntry(a_, "k" + std::to_string(i), 0);
  ASSERT_OK(db().Write(&batch));
  for (const OpResult& r : batch.results()) ASSERT_OK(r.status);
  ASSERT_OK(db().PutEntry(a_, "more", "v").status());
  EXPECT_GT(test::faults::Injected(), 0);
}

TEST_F(DiskFaultTest, WriteFailingOnAFullDiskIsReportedAsDiskFull) {
  ASSERT_OK(db().PutEntry(a_, "before", "v").status());
  test::faults::Target(path());
  test::faults::FailDataWrites(true, /*disk_fills=*/true);
  WriteBatch batch;
  batch.PutEntry(a_, "lost", test::Bytes(64 * kKiB, 1), 0);
  batch.DeleteEntry(a_, "before", 0);
  const Status s = db().Write(&batch);
  ASSERT_CODE(s, kResourceExhausted);
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.ToString();
  for (const OpResult& r : batch.results()) EXPECT_CODE(r.status, kResourceExhausted);
  ASSERT_GT(test::faults::Injected(), 0);
  // Nothing of the batch was written, and once the disk has room again the
  // store takes writes as before.
  test::faults::Target("");
  EXPECT_CODE(db().GetEntry(a_, "lost"), kNotFound);
  EXPECT_OK(db().GetEntry(a_, "before"));
  ASSERT_OK(db().PutEntry(a_, "after", "v").status());
  Reopen();
  EXPECT_OK(db().GetEntry(a_, "after"));
  EXPECT_CODE(db().GetEntry(a_, "lost"), kNotFound);
}

TEST_F(DiskFaultTest, WriteFailingWithRoomOnTheDiskIsAnIoError) {
  test::faults::Target(path());
  test::faults::FailDataWrites(true, /*disk_fills=*/false);
  Result<EntryPutResult> r = db().PutEntry(a_, "k", test::Bytes(64 * kKiB, 1));
  ASSERT_CODE(r, kUnavailable);
  EXPECT_EQ(r.status().message().find("disk full"), std::string::npos) << r.status().ToString();
  test::faults::Target("");
  ASSERT_OK(db().PutEntry(a_, "k", "v").status());
}

TEST_F(DiskFaultTest, FailedSyncIsCountedAndRefusesWritesUntilASyncSucceeds) {
  ASSERT_OK(db().Sync());
  test::faults::Target(path());
  test::faults::FailSyncs(EIO);
  const Status failed = db().Sync();
  ASSERT_CODE(failed, kUnavailable);
  EXPECT_NE(failed.message().find("mdb_env_sync"), std::string::npos) << failed.ToString();
  EXPECT_EQ(Stats().sync_failures, 1u);
  // The next write tries to sync again first, fails, and is refused naming why.
  Result<EntryPutResult> refused = db().PutEntry(a_, "k", "v");
  ASSERT_CODE(refused, kUnavailable);
  EXPECT_NE(refused.status().message().find("sync"), std::string::npos)
      << refused.status().ToString();
  EXPECT_GE(Stats().sync_failures, 2u);
  test::faults::Target("");
  // The cause is gone: the write's own retry succeeds, and writes go on.
  ASSERT_OK(db().PutEntry(a_, "k", "v").status());
  EXPECT_OK(db().Sync());
}

class RelaxedSyncTest : public DiskFaultTest {
 protected:
  RelaxedSyncTest() { options_.relaxed_sync_interval = std::chrono::milliseconds(20); }
};

TEST_F(RelaxedSyncTest, PeriodicSyncFailureIsNotDropped) {
  ASSERT_EQ(options_.durability, Durability::kRelaxed);
  test::faults::Target(path());
  test::faults::FailSyncs(EIO);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Stats().sync_failures == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(Stats().sync_failures, 0u) << "the periodic sync never ran";
  EXPECT_CODE(db().PutEntry(a_, "k", "v"), kUnavailable);
  test::faults::Target("");
  ASSERT_OK(db().PutEntry(a_, "k", "v").status());
}

// Relaxed mode is MDB_NOMETASYNC: each write syncs its data pages (so a
// system crash cannot leave a meta page pointing at pages never written), and
// only the meta page waits for the next sync. MDB_NOSYNC synced nothing.
TEST(RelaxedModeTest, EachWriteSyncsItsDataPages) {
  test::TempDir dir;
  Options o;
  o.durability = Durability::kRelaxed;
  o.relaxed_sync_interval = std::chrono::hours(1);  // no periodic sync during the test
  auto db = DB::Open(dir.Sub("db"), o);
  ASSERT_OK(db);
  const MailboxKey m = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
  test::faults::Target(dir.Sub("db"));
  for (int i = 0; i < 3; ++i) ASSERT_OK((*db)->PutEntry(m, "k", "v").status());
  EXPECT_GE(test::faults::Syncs(), 3);
  test::faults::Target("");
}

}  // namespace
}  // namespace postbox
