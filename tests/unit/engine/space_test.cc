// Space: the map is reserved at max_map_size and the file grows with the data;
// near the end (storage_reserve) ops that add data are refused with
// ResourceExhausted while deletes, aborts, sweeps and purges still run, so a
// full store can always be freed; an op that does not fit fails alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

class MapTest : public test::StoreTest {};

TEST_F(MapTest, ReservedAtMaxMapSizeWhileTheFileGrowsWithTheData) {
  const StoreStats empty = Stats();
  EXPECT_EQ(empty.map_size, options_.max_map_size);
  EXPECT_LT(empty.file_bytes, kMiB);
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  // ~10 MiB of entries and blobs into a map that starts at 1 MiB.
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(db().PutEntry(a, "k" + std::to_string(i), test::Bytes(32 * 1024, i)).status())
        << "put " << i;
  }
  std::vector<std::string> blobs;
  std::vector<MessageId> ids;
  for (int i = 0; i < 4; ++i) {
    blobs.push_back(test::Bytes(kMiB, 1000 + i));
  }
  for (int i = 0; i < 4; ++i) {
    ids.push_back(Post(Request(a, b, "t" + std::to_string(i), blobs[i])).id);
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(EntryInfo e, db().GetEntry(a, "k" + std::to_string(i)));
    EXPECT_TRUE(e.value == test::Bytes(32 * 1024, i)) << i;
  }
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b, ids[i]));
    EXPECT_TRUE(blob == blobs[i]) << i;
  }
  const StoreStats stats = Stats();
  EXPECT_EQ(stats.map_size, options_.max_map_size);  // never grown
  EXPECT_GT(stats.file_bytes, 8 * kMiB);
  EXPECT_LE(stats.used_bytes, stats.map_size);
  EXPECT_GT(stats.used_bytes, 8 * kMiB);
  EXPECT_EQ(stats.entries, 200u);
  EXPECT_EQ(stats.messages, 4u);
  // And the store reopens with everything in it.
  Reopen();
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(a, ids[3]));
  EXPECT_TRUE(blob == blobs[3]);
}

TEST_F(MapTest, BigBatchFits) {
  const MailboxKey a = NewMailbox();
  WriteBatch batch;
  for (int i = 0; i < 100; ++i) {
    batch.PutEntry(a, "k" + std::to_string(i), test::Bytes(30 * 1024, i), 0);
  }
  ASSERT_OK(db().Write(&batch));  // ~3 MiB in one transaction
  for (const OpResult& r : batch.results()) EXPECT_OK(r.status);
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> all, db().ListEntries(a, "", "", 1000));
  EXPECT_EQ(all.size(), 100u);
  EXPECT_EQ(Seq(a), 100u);
}

class StorageFullTest : public test::StoreTest {
 protected:
  StorageFullTest() { options_.max_map_size = 2 * kMiB; }
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    Connect(a_, b_);
  }
  MailboxKey a_, b_;
};

TEST_F(StorageFullTest, LargePostsEventuallyFailAndNothingIsLost) {
  std::vector<std::string> blobs;
  std::vector<MessageId> stored;
  blobs.reserve(40);
  PostRequest failed;
  bool hit_full = false;
  for (int i = 0; i < 40 && !hit_full; ++i) {
    blobs.push_back(test::Bytes(128 * 1024, i));
    const PostRequest req = Request(a_, b_, "t" + std::to_string(i), blobs.back());
    Result<MessageInfo> r = db().PostMessage(req);
    if (r.ok()) {
      stored.push_back(req.id);
    } else {
      ASSERT_CODE(r, kResourceExhausted);
      EXPECT_FALSE(r.status().message().empty());
      failed = req;
      hit_full = true;
    }
  }
  ASSERT_TRUE(hit_full) << "40 posts of 128 KiB fit in a 2 MiB map?";
  ASSERT_GE(stored.size(), 2u);

  // The failed post left nothing behind.
  EXPECT_CODE(db().GetMessage(a_, failed.id), kNotFound);
  const InfoPacket in = Feed(b_);
  EXPECT_EQ(in.incoming.size(), stored.size());
  EXPECT_TRUE(test::SeqsWellFormed(in));
  EXPECT_EQ(in.cursor, stored.size());
  // Everything acknowledged is intact.
  for (size_t i = 0; i < stored.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, stored[i]));
    EXPECT_TRUE(blob == blobs[i]) << i;
  }
  const StoreStats stats = Stats();
  EXPECT_LE(stats.map_size, options_.max_map_size);
  EXPECT_EQ(stats.messages, stored.size());

  // Small writes either fit or fail the same clean way.
  Result<EntryPutResult> small = db().PutEntry(a_, "small", "v");
  if (small.ok()) {
    EXPECT_OK(db().GetEntry(a_, "small"));
  } else {
    EXPECT_CODE(small, kResourceExhausted);
    EXPECT_CODE(db().GetEntry(a_, "small"), kNotFound);
  }

  // Reopening at the same limit works and keeps everything.
  Reopen();
  for (size_t i = 0; i < stored.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, stored[i]));
    EXPECT_TRUE(blob == blobs[i]) << i;
  }
  // With room to grow, the post that did not fit now does.
  options_.max_map_size = 16 * kMiB;
  Reopen();
  ASSERT_OK(db().PostMessage(failed));
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, failed.id));
  EXPECT_TRUE(blob == blobs.back());
  EXPECT_EQ(Feed(b_).incoming.size(), stored.size() + 1);
}

TEST_F(StorageFullTest, BlobBiggerThanMapChangesNothing) {
  ASSERT_OK(db().PutEntry(a_, "k", "v").status());
  const uint64_t a_seq = Seq(a_);
  const std::string huge = test::Bytes(3 * kMiB, 9);
  const PostRequest req = Request(a_, b_, "t", huge);
  EXPECT_CODE(db().PostMessage(req), kResourceExhausted);
  EXPECT_CODE(db().GetMessage(a_, req.id), kNotFound);
  EXPECT_EQ(Seq(a_), a_seq);
  EXPECT_EQ(Seq(b_), 0u);
  EXPECT_EQ(Stats().messages, 0u);
  EXPECT_EQ(Stats().blob_chunks, 0u);
  // The store is still fully usable.
  ASSERT_OK_AND_ASSIGN(EntryPutResult put, db().PutEntry(a_, "k", "w"));
  EXPECT_EQ(put.version, 2u);
  const std::string small = "small";
  EXPECT_OK(db().PostMessage(Request(a_, b_, "t", small)));
}

// An op that does not fit the map (MDB_MAP_FULL part-way) fails alone: the
// small ops of its batch commit.
TEST_F(StorageFullTest, OpTooLargeToFitFailsAloneWhileSmallOnesFit) {
  const std::string huge = test::Bytes(3 * kMiB, 10);
  WriteBatch batch;
  batch.PutEntry(a_, "k", "v", 0);
  const PostRequest post = Request(a_, b_, "t", huge);
  batch.PostMessage(post);
  batch.PutEntry(b_, "k", "v", 0);
  ASSERT_OK(db().Write(&batch));
  ASSERT_EQ(batch.results().size(), 3u);
  EXPECT_OK(batch.results()[0].status);
  EXPECT_CODE(batch.results()[1].status, kResourceExhausted);
  EXPECT_FALSE(batch.results()[1].message.has_value());
  EXPECT_OK(batch.results()[2].status);
  std::vector<MailboxKey> both = {a_, b_};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(batch.changed_mailboxes(), both);
  EXPECT_OK(db().GetEntry(a_, "k"));
  EXPECT_OK(db().GetEntry(b_, "k"));
  EXPECT_CODE(db().GetMessage(a_, post.id), kNotFound);
  EXPECT_EQ(Seq(a_), 1u);
  EXPECT_EQ(Seq(b_), 1u);
  EXPECT_EQ(Stats().blob_chunks, 0u);
}

class StatsTest : public test::StoreTest {};

TEST_F(StatsTest, CountsFollowTheData) {
  const StoreStats empty = Stats();
  EXPECT_EQ(empty.mailboxes, 0u);
  EXPECT_EQ(empty.messages, 0u);
  EXPECT_EQ(empty.entries, 0u);
  EXPECT_EQ(empty.blob_chunks, 0u);
  EXPECT_EQ(empty.feed_records, 0u);
  EXPECT_GT(empty.map_size, 0u);
  EXPECT_GT(empty.used_bytes, 0u);
  EXPECT_LE(empty.used_bytes, empty.map_size);
  EXPECT_GT(empty.file_bytes, 0u);

  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  ASSERT_OK(db().PutEntry(a, "k1", "v").status());
  ASSERT_OK(db().PutEntry(a, "k2", "v").status());
  ASSERT_OK(db().DeleteEntry(a, "k2").status());
  ASSERT_OK(db().DeleteEntry(b, "never").status());
  const std::string bytes = test::Bytes(100 * 1024, 1);
  Post(Request(a, b, "t", bytes));
  Post(Request(b, a, "t", bytes));

  const StoreStats s = Stats();
  EXPECT_EQ(s.mailboxes, 2u);
  EXPECT_EQ(s.messages, 2u);
  EXPECT_EQ(s.entries, 3u);  // live and tombstoned
  EXPECT_GE(s.blob_chunks, 2u);
  EXPECT_EQ(s.feed_records, Feed(a).size() + Feed(b).size());
  EXPECT_EQ(s.feed_records, 7u);  // a: k1, k2†, out, in; b: never†, in, out

  ASSERT_OK(db().DeleteMailbox(a));
  const StoreStats after = Stats();
  EXPECT_EQ(after.mailboxes, 1u);
  EXPECT_EQ(after.messages, 0u);
  EXPECT_EQ(after.blob_chunks, 0u);
  EXPECT_EQ(after.entries, 1u);  // b's tombstone
  EXPECT_EQ(after.feed_records, Feed(b).size());
}

}  // namespace
}  // namespace postbox
