// Reopen: everything survives a clean close; durability modes; opening errors.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class ReopenTest : public test::StoreTest {};

TEST_F(ReopenTest, DataSurvivesCloseAndReopen) {
  ASSERT_OK_AND_ASSIGN(MailboxCredentials ca, db().CreateMailbox());
  ASSERT_OK_AND_ASSIGN(MailboxCredentials cb, db().CreateMailbox());
  const MailboxKey a = ca.mkey;
  const MailboxKey b = cb.mkey;
  Connect(a, b);
  ASSERT_OK(db().RegisterPush(b, Platform::kWeb, "https://push.example/b"));
  ASSERT_OK(db().PutEntry(a, "k", "v", 7).status());
  ASSERT_OK(db().PutEntry(a, "j", "w").status());
  ASSERT_OK(db().DeleteEntry(a, "j", 5).status());
  const std::string old_bytes = test::Bytes(1000, 1);
  const std::string bytes = test::Bytes(300 * 1024 + 7, 2);
  const MessageInfo old = Post(Request(a, b, "video", old_bytes));
  const MessageInfo m = Post(Request(a, b, "video", bytes, "video/mp4"));
  ASSERT_OK(db().AdvanceStatus(b, m.id, MessageStatus::kDownloaded).status());
  const InfoPacket feed_a = Feed(a);
  const InfoPacket feed_b = Feed(b);
  const uint64_t seq_a = Seq(a);
  const StoreStats stats = Stats();

  Reopen();

  EXPECT_OK(db().Authenticate(a, ca.secret));
  EXPECT_OK(db().Authenticate(b, cb.secret));
  EXPECT_CODE(db().Authenticate(a, cb.secret), kUnauthenticated);
  ASSERT_OK_AND_ASSIGN(bool connected, db().IsConnected(b, a));
  EXPECT_TRUE(connected);
  ASSERT_OK_AND_ASSIGN(PushRegistration push, db().GetPush(b));
  EXPECT_EQ(push, (PushRegistration{Platform::kWeb, "https://push.example/b"}));
  ASSERT_OK_AND_ASSIGN(EntryInfo k, db().GetEntry(a, "k"));
  EXPECT_EQ(k.value, "v");
  EXPECT_EQ(k.version, 7u);
  EXPECT_CODE(db().GetEntry(a, "j"), kNotFound);
  ASSERT_OK_AND_ASSIGN(EntryPutResult stale, db().PutEntry(a, "j", "w", 5));
  EXPECT_FALSE(stale.applied);  // the tombstone's version survived too

  ASSERT_OK_AND_ASSIGN(MessageInfo got, db().GetMessage(b, m.id));
  EXPECT_EQ(got.status, MessageStatus::kDownloaded);
  EXPECT_EQ(got.meta, "video/mp4");
  EXPECT_EQ(got.digest, ComputeDigest128(bytes));
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b, m.id));
  EXPECT_TRUE(blob == bytes);
  ASSERT_OK_AND_ASSIGN(std::string part, db().ReadBlob(a, m.id, 262140, 10));
  EXPECT_EQ(part, bytes.substr(262140, 10));
  EXPECT_CODE(db().GetMessage(b, old.id), kGone);

  const StoreStats reopened = Stats();
  EXPECT_EQ(reopened.mailboxes, stats.mailboxes);
  EXPECT_EQ(reopened.messages, stats.messages);
  EXPECT_EQ(reopened.entries, stats.entries);
  EXPECT_EQ(reopened.feed_records, stats.feed_records);
  EXPECT_EQ(reopened.blob_chunks, stats.blob_chunks);

  // The feed reads the same, and continues strictly above where it was.
  EXPECT_EQ(Feed(a, 0), feed_a) << "feed of a changed across reopen";
  EXPECT_EQ(Feed(b, 0), feed_b) << "feed of b changed across reopen";
  ASSERT_OK(db().PutEntry(a, "after", "reopen").status());
  const InfoPacket later = Feed(a, seq_a);
  ASSERT_EQ(later.entries.size(), 1u);
  EXPECT_GT(later.entries[0].seq, seq_a);
  EXPECT_TRUE(test::SeqsWellFormed(Feed(a)));
  EXPECT_TRUE(test::SeqsWellFormed(Feed(b)));

  // Slots survive too: a newer post still supersedes the message from before.
  const std::string newer = "newer";
  Post(Request(a, b, "video", newer));
  EXPECT_CODE(db().GetMessage(b, m.id), kGone);
}

TEST_F(ReopenTest, FeedOfRecipientIsIdenticalAfterReopen) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  const std::string bytes = "x";
  for (int i = 0; i < 5; ++i) Post(Request(a, b, "t" + std::to_string(i % 3), bytes));
  ASSERT_OK(db().PutEntry(b, "k", "v").status());
  const InfoPacket before = Feed(b);
  const uint64_t seq = Seq(b);
  Reopen();
  EXPECT_EQ(Feed(b), before);
  // Seqs continue strictly increasing across several reopens.
  uint64_t last = seq;
  for (int round = 0; round < 3; ++round) {
    Post(Request(a, b, "t0", bytes));
    const uint64_t now = Seq(b);
    EXPECT_GT(now, last);
    last = now;
    Reopen();
    EXPECT_EQ(Seq(b), last);
  }
}

class PurgeReopenTest : public test::StoreTest {
 protected:
  PurgeReopenTest() { options_.tombstone_horizon = std::chrono::minutes(1); }
};

TEST_F(PurgeReopenTest, PurgePointSurvivesReopen) {
  const MailboxKey a = NewMailbox();
  ASSERT_OK(db().DeleteEntry(a, "k").status());
  ASSERT_OK(db().PutEntry(a, "j", "v").status());
  clock_.Advance(std::chrono::minutes(2));
  ASSERT_OK_AND_ASSIGN(size_t purged, db().PurgeTombstones());
  EXPECT_EQ(purged, 1u);
  Reopen();
  ASSERT_OK_AND_ASSIGN(MailboxInfo info, db().GetMailbox(a));
  EXPECT_EQ(info.purged_seq, 1u);
  EXPECT_TRUE(Feed(a, 0).reset);
  EXPECT_FALSE(Feed(a, 1).reset);
}

class DurableTest : public test::StoreTest {
 protected:
  DurableTest() { options_.durability = Durability::kDurable; }
};

TEST_F(DurableTest, WritesAreReadableAndSurviveReopen) {
  const MailboxKey a = NewMailbox();
  for (int i = 0; i < 20; ++i) ASSERT_OK(db().PutEntry(a, "k" + std::to_string(i), "v").status());
  ASSERT_OK_AND_ASSIGN(EntryInfo e, db().GetEntry(a, "k19"));
  EXPECT_EQ(e.value, "v");
  Reopen();
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> all, db().ListEntries(a, "k", "", 100));
  EXPECT_EQ(all.size(), 20u);
}

class RelaxedTest : public test::StoreTest {
 protected:
  RelaxedTest() {
    options_.durability = Durability::kRelaxed;
    options_.relaxed_sync_interval = std::chrono::milliseconds(5);
  }
};

TEST_F(RelaxedTest, WritesReadableWhileSyncingAndKeptAfterCleanClose) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  const std::string bytes = test::Bytes(10000, 3);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  int n = 0;
  // Write for a while so the background sync runs between (and during) commits.
  while (std::chrono::steady_clock::now() < deadline || n < 50) {
    ASSERT_OK_AND_ASSIGN(EntryPutResult r, db().PutEntry(a, "k" + std::to_string(n), "v"));
    EXPECT_EQ(r.version, 1u);
    ASSERT_OK(db().GetEntry(a, "k" + std::to_string(n)));
    ++n;
  }
  const MessageInfo m = Post(Request(a, b, "t", bytes));
  Reopen();
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> all, db().ListEntries(a, "", "", 100000));
  EXPECT_EQ(all.size(), static_cast<size_t>(n));
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b, m.id));
  EXPECT_TRUE(blob == bytes);
}

TEST_F(RelaxedTest, CloseDoesNotWaitForTheSyncInterval) {
  options_.relaxed_sync_interval = std::chrono::seconds(30);
  Reopen();
  ASSERT_OK(db().PutEntry(NewMailbox(), "k", "v").status());
  const auto start = std::chrono::steady_clock::now();
  Close();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5)) << "closing a relaxed store blocked on its sync thread";
  Open();
}

class OpenTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
};

TEST_F(OpenTest, CreatesMissingFolder) {
  Options o;
  o.durability = Durability::kRelaxed;
  auto db = DB::Open(dir_.Sub("a/b/c"), o);
  ASSERT_OK(db);
  EXPECT_OK((*db)->CreateMailbox());
}

TEST_F(OpenTest, FileInsteadOfFolderIsUnavailable) {
  const std::string file = dir_.Sub("file");
  std::ofstream(file) << "not a folder";
  EXPECT_CODE(DB::Open(file, Options{}), kUnavailable);
  EXPECT_CODE(DB::Open(file + "/sub", Options{}), kUnavailable);
}

TEST_F(OpenTest, ZeroSlotDepthIsInvalidArgument) {
  Options o;
  o.slot_depth = 0;
  EXPECT_CODE(DB::Open(dir_.Sub("db"), o), kInvalidArgument);
}

TEST_F(OpenTest, ReadOnlyReadsButDoesNotWrite) {
  MailboxKey a;
  {
    Options o;
    o.durability = Durability::kRelaxed;
    auto db = DB::Open(dir_.Sub("db"), o);
    ASSERT_OK(db);
    a = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    ASSERT_OK((*db)->PutEntry(a, "k", "v").status());
  }
  Options ro;
  ro.read_only = true;
  auto db = DB::Open(dir_.Sub("db"), ro);
  ASSERT_OK(db);
  ASSERT_OK_AND_ASSIGN(EntryInfo e, (*db)->GetEntry(a, "k"));
  EXPECT_EQ(e.value, "v");
  ASSERT_OK_AND_ASSIGN(InfoPacket p, (*db)->Changes(a, 0, 0));
  EXPECT_EQ(p.entries.size(), 1u);
  EXPECT_FALSE((*db)->PutEntry(a, "k", "w").ok());
  EXPECT_FALSE((*db)->CreateMailbox().ok());
  ASSERT_OK_AND_ASSIGN(EntryInfo still, (*db)->GetEntry(a, "k"));
  EXPECT_EQ(still.value, "v");
  // Read-only never creates a store.
  EXPECT_FALSE(DB::Open(dir_.Sub("missing"), ro).ok());
}

}  // namespace
}  // namespace postbox
