// WriteBatch and DB::Write: many ops in one transaction, each with its own result.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <algorithm>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "postbox/write_batch.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class WriteBatchTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
  }
  static std::vector<MailboxKey> Sorted(std::vector<MailboxKey> v) {
    std::sort(v.begin(), v.end());
    return v;
  }
  MailboxKey a_, b_;
};

TEST_F(WriteBatchTest, EmptyBatchIsOk) {
  WriteBatch batch;
  EXPECT_TRUE(batch.empty());
  ASSERT_OK(db().Write(&batch));
  EXPECT_TRUE(batch.results().empty());
  EXPECT_TRUE(batch.changed_mailboxes().empty());
}

TEST_F(WriteBatchTest, CreateMailboxesReturnsCredentials) {
  WriteBatch batch;
  const size_t i = batch.CreateMailbox();
  const size_t j = batch.CreateMailbox();
  EXPECT_EQ(i, 0u);
  EXPECT_EQ(j, 1u);
  EXPECT_EQ(batch.size(), 2u);
  ASSERT_OK(db().Write(&batch));
  ASSERT_EQ(batch.results().size(), 2u);
  for (const OpResult& r : batch.results()) {
    ASSERT_OK(r.status);
    ASSERT_TRUE(r.credentials.has_value());
    EXPECT_OK(db().Authenticate(r.credentials->mkey, r.credentials->secret));
  }
  EXPECT_NE(batch.results()[0].credentials->mkey, batch.results()[1].credentials->mkey);
  ASSERT_OK_AND_ASSIGN(uint64_t count, db().CountMailboxes());
  EXPECT_EQ(count, 4u);
}

TEST_F(WriteBatchTest, SeveralOpsInOneWriteSeeEachOther) {
  const std::string bytes = test::Bytes(2000, 1);
  PostRequest post = Request(a_, b_, "t", bytes);
  WriteBatch batch;
  const size_t connect = batch.Connect(a_, b_);
  const size_t posted = batch.PostMessage(post);  // needs the connection made just before
  const size_t status = batch.AdvanceStatus(b_, post.id, MessageStatus::kViewed);
  const size_t put1 = batch.PutEntry(a_, "k", "v1", 0);
  const size_t put2 = batch.PutEntry(a_, "k", "v2", 0);  // sees put1: version 2
  const size_t push = batch.RegisterPush(b_, Platform::kAndroid, "fcm");
  ASSERT_OK(db().Write(&batch));
  const auto& r = batch.results();
  ASSERT_EQ(r.size(), 6u);
  for (const OpResult& op : r) EXPECT_OK(op.status);
  ASSERT_TRUE(r[posted].message.has_value());
  EXPECT_EQ(r[posted].message->id, post.id);
  EXPECT_EQ(r[posted].message->digest, ComputeDigest128(bytes));
  EXPECT_EQ(r[status].message_status, MessageStatus::kViewed);
  EXPECT_EQ(r[put1].entry, (EntryPutResult{true, 1}));
  EXPECT_EQ(r[put2].entry, (EntryPutResult{true, 2}));
  EXPECT_OK(r[connect].status);
  EXPECT_OK(r[push].status);

  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().GetMessage(a_, post.id));
  EXPECT_EQ(m.status, MessageStatus::kViewed);
  ASSERT_OK_AND_ASSIGN(std::string blob, db().ReadBlob(b_, post.id));
  EXPECT_TRUE(blob == bytes);
  ASSERT_OK_AND_ASSIGN(EntryInfo e, db().GetEntry(a_, "k"));
  EXPECT_EQ(e.value, "v2");
  ASSERT_OK_AND_ASSIGN(PushRegistration reg, db().GetPush(b_));
  EXPECT_EQ(reg.token, "fcm");
  EXPECT_EQ(batch.changed_mailboxes(), Sorted({a_, b_}));
}

TEST_F(WriteBatchTest, FailingOpDoesNotAffectOthers) {
  const std::string bytes = "x";
  WriteBatch batch;
  batch.PutEntry(a_, "before", "v", 0);
  batch.PutEntry(a_, "big", std::string(options_.max_value_size + 1, 'v'), 0);
  batch.PutEntry(a_, "", "v", 0);
  batch.PostMessage(Request(a_, b_, "t", bytes));  // not connected
  batch.AdvanceStatus(b_, MessageId::Random(), MessageStatus::kViewed);
  batch.Connect(a_, a_);
  batch.DeleteMailbox(MailboxKey::Random());
  batch.PutEntry(a_, "after", "v", 0);
  ASSERT_OK(db().Write(&batch));  // the transaction as a whole succeeded
  const auto& r = batch.results();
  ASSERT_EQ(r.size(), 8u);
  EXPECT_OK(r[0].status);
  EXPECT_CODE(r[1].status, kTooLarge);
  EXPECT_CODE(r[2].status, kInvalidArgument);
  EXPECT_CODE(r[3].status, kPermissionDenied);
  EXPECT_CODE(r[4].status, kNotFound);
  EXPECT_CODE(r[5].status, kInvalidArgument);
  EXPECT_CODE(r[6].status, kNotFound);
  EXPECT_OK(r[7].status);
  EXPECT_OK(db().GetEntry(a_, "before"));
  EXPECT_OK(db().GetEntry(a_, "after"));
  EXPECT_CODE(db().GetEntry(a_, "big"), kNotFound);
  // The failed ops took no seq: two puts, two seqs.
  EXPECT_EQ(Seq(a_), 2u);
  EXPECT_EQ(Seq(b_), 0u);
  EXPECT_EQ(batch.changed_mailboxes(), std::vector<MailboxKey>{a_});
}

TEST_F(WriteBatchTest, LaterOpsSeeEarlierFailuresAndSupersessions) {
  Connect(a_, b_);
  const std::string bytes = "x";
  const PostRequest first = Request(a_, b_, "t", bytes);
  const PostRequest second = Request(a_, b_, "t", bytes);
  WriteBatch batch;
  batch.PostMessage(first);
  batch.PostMessage(second);  // supersedes `first` inside the batch
  batch.AdvanceStatus(b_, first.id, MessageStatus::kViewed);
  batch.PostMessage(first);  // re-posting a superseded id
  batch.AdvanceStatus(b_, second.id, MessageStatus::kDownloaded);
  ASSERT_OK(db().Write(&batch));
  const auto& r = batch.results();
  EXPECT_OK(r[0].status);
  EXPECT_OK(r[1].status);
  EXPECT_CODE(r[2].status, kGone);
  EXPECT_CODE(r[3].status, kGone);
  EXPECT_OK(r[4].status);
  EXPECT_EQ(r[4].message_status, MessageStatus::kDownloaded);
  const InfoPacket in = Feed(b_);
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_EQ(in.incoming[0].id, second.id);
  EXPECT_EQ(in.incoming[0].status, MessageStatus::kDownloaded);
  ASSERT_EQ(in.tombstones.size(), 1u);
  EXPECT_TRUE(test::SeqsWellFormed(in));
}

TEST_F(WriteBatchTest, DeleteMailboxInBatchIsSeenByLaterOps) {
  WriteBatch batch;
  batch.PutEntry(a_, "k", "v", 0);
  batch.DeleteMailbox(a_);
  batch.PutEntry(a_, "k", "v", 0);
  batch.Connect(a_, b_);
  ASSERT_OK(db().Write(&batch));
  const auto& r = batch.results();
  EXPECT_OK(r[0].status);
  EXPECT_OK(r[1].status);
  EXPECT_CODE(r[2].status, kNotFound);
  EXPECT_CODE(r[3].status, kNotFound);
  EXPECT_CODE(db().GetMailbox(a_), kNotFound);
}

TEST_F(WriteBatchTest, EntryOpsMergeInOrder) {
  WriteBatch batch;
  batch.PutEntry(a_, "k", "v", 5);
  batch.PutEntry(a_, "k", "old", 4);
  batch.DeleteEntry(a_, "k", 5);
  batch.PutEntry(a_, "k", "zzz", 5);
  batch.DeleteEntry(a_, "j", 0);
  ASSERT_OK(db().Write(&batch));
  const auto& r = batch.results();
  EXPECT_EQ(r[0].entry, (EntryPutResult{true, 5}));
  EXPECT_EQ(r[1].entry, (EntryPutResult{false, 5}));
  EXPECT_EQ(r[2].entry, (EntryPutResult{true, 5}));
  EXPECT_EQ(r[3].entry, (EntryPutResult{false, 5}));
  EXPECT_EQ(r[4].entry, (EntryPutResult{true, 1}));
  for (const OpResult& op : r) EXPECT_OK(op.status);
  EXPECT_CODE(db().GetEntry(a_, "k"), kNotFound);
  const InfoPacket p = Feed(a_);
  EXPECT_TRUE(p.entries.empty());
  EXPECT_EQ(p.tombstones.size(), 2u);
  EXPECT_EQ(Seq(a_), 3u);  // three applied changes
}

TEST_F(WriteBatchTest, ChangedMailboxesAreSortedUniqueAndOnlyThoseThatMoved) {
  const MailboxKey c = NewMailbox();
  const MailboxKey d = NewMailbox();
  ASSERT_OK(db().PutEntry(d, "k", "v", 9).status());
  WriteBatch batch;
  batch.PutEntry(c, "k", "v", 0);
  batch.PutEntry(a_, "k", "v", 0);
  batch.PutEntry(c, "j", "v", 0);
  batch.Connect(a_, b_);                        // not a feed change
  batch.RegisterPush(b_, Platform::kIos, "t");  // not a feed change
  batch.PutEntry(d, "k", "loses", 1);           // loses the merge
  batch.PutEntry(b_, "", "v", 0);               // fails
  ASSERT_OK(db().Write(&batch));
  EXPECT_EQ(batch.changed_mailboxes(), Sorted({a_, c}));

  WriteBatch status_batch;
  const std::string bytes = "x";
  const PostRequest post = Request(a_, b_, "", bytes);
  Post(post);
  status_batch.AdvanceStatus(b_, post.id, MessageStatus::kViewed);
  ASSERT_OK(db().Write(&status_batch));
  EXPECT_EQ(status_batch.changed_mailboxes(), Sorted({a_, b_}));  // both parties' feeds moved
}

TEST_F(WriteBatchTest, DeletedMailboxIsNotChangedButItsPeersAre) {
  const MailboxKey c = NewMailbox();
  Connect(a_, b_);
  Connect(a_, c);
  const std::string bytes = "x";
  Post(Request(a_, b_, "", bytes));
  Post(Request(c, a_, "", bytes));
  WriteBatch batch;
  batch.PutEntry(a_, "k", "v", 0);
  batch.DeleteMailbox(a_);
  ASSERT_OK(db().Write(&batch));
  EXPECT_OK(batch.results()[1].status);
  // b and c got tombstones; a no longer exists, so nobody needs telling.
  EXPECT_EQ(batch.changed_mailboxes(), Sorted({b_, c}));
}

TEST_F(WriteBatchTest, SamePostTwiceInOneBatchIsOneMessage) {
  Connect(a_, b_);
  const std::string bytes = "x";
  const PostRequest post = Request(a_, b_, "t", bytes);
  WriteBatch batch;
  batch.PostMessage(post);
  batch.PostMessage(post);  // a retry that landed in the same group commit
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[0].status);
  ASSERT_OK(batch.results()[1].status);
  EXPECT_EQ(batch.results()[0].message, batch.results()[1].message);
  const InfoPacket in = Feed(b_);
  ASSERT_EQ(in.incoming.size(), 1u);
  EXPECT_TRUE(in.tombstones.empty());
  EXPECT_EQ(Seq(b_), 1u);
}

TEST_F(WriteBatchTest, ClearAllowsReuse) {
  WriteBatch batch;
  batch.PutEntry(a_, "k", "v", 0);
  ASSERT_OK(db().Write(&batch));
  ASSERT_EQ(batch.results().size(), 1u);
  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(batch.results().empty());
  const size_t idx = batch.PutEntry(b_, "k", "v", 0);
  EXPECT_EQ(idx, 0u);
  ASSERT_OK(db().Write(&batch));
  ASSERT_EQ(batch.results().size(), 1u);
  EXPECT_EQ(batch.results()[0].entry, (EntryPutResult{true, 1}));
  EXPECT_EQ(batch.changed_mailboxes(), std::vector<MailboxKey>{b_});
  // Moving a batch keeps its ops.
  WriteBatch moved = std::move(batch);
  EXPECT_EQ(moved.size(), 1u);
}

TEST_F(WriteBatchTest, ManyOpsGetConsecutiveSeqs) {
  WriteBatch batch;
  for (int i = 0; i < 200; ++i) batch.PutEntry(a_, "k" + std::to_string(i), "v", 0);
  ASSERT_OK(db().Write(&batch));
  for (const OpResult& r : batch.results()) EXPECT_OK(r.status);
  const InfoPacket p = Feed(a_);
  ASSERT_EQ(p.entries.size(), 200u);
  for (size_t i = 0; i < p.entries.size(); ++i) {
    EXPECT_EQ(p.entries[i].seq, i + 1);
    EXPECT_EQ(p.entries[i].key, "k" + std::to_string(i));
  }
  EXPECT_EQ(p.cursor, 200u);
}

TEST_F(WriteBatchTest, DisconnectInBatch) {
  Connect(a_, b_);
  const std::string bytes = "x";
  WriteBatch batch;
  batch.Disconnect(a_, b_);
  batch.PostMessage(Request(a_, b_, "", bytes));
  ASSERT_OK(db().Write(&batch));
  EXPECT_OK(batch.results()[0].status);
  EXPECT_CODE(batch.results()[1].status, kPermissionDenied);
}

// Overwrites the stored record of entry `key` of `m` with `garbage`, with raw
// LMDB on the closed store (fault injection: a corrupted record on disk).
void CorruptEntry(const std::string& path, const MailboxKey& m, const std::string& key,
                  const std::string& garbage) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 32), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, uint64_t{64} << 30), 0);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_dbi_open(txn, "entries", 0, &dbi), 0);
  std::string k(m.AsBytes());
  k += key;
  MDB_val kv{k.size(), k.data()}, vv{garbage.size(), const_cast<char*>(garbage.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &kv, &vv, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

// An op that meets a corrupted record fails with Internal alone; the other
// ops of its batch (group commit: other sessions' ops) commit.
TEST_F(WriteBatchTest, OpOnACorruptedRecordFailsAlone) {
  ASSERT_OK(db().PutEntry(a_, "bad", "v").status());
  Close();
  ASSERT_NO_FATAL_FAILURE(CorruptEntry(path(), a_, "bad", "xx"));
  Open();
  const uint64_t a_seq = Seq(a_);
  WriteBatch batch;
  batch.PutEntry(a_, "k1", "v1", 0);
  batch.PutEntry(a_, "bad", "new", 0);
  batch.PutEntry(b_, "k2", "v2", 0);
  batch.DeleteEntry(a_, "bad", 0);
  ASSERT_OK(db().Write(&batch));
  ASSERT_EQ(batch.results().size(), 4u);
  EXPECT_OK(batch.results()[0].status);
  EXPECT_CODE(batch.results()[1].status, kInternal);
  EXPECT_OK(batch.results()[2].status);
  EXPECT_CODE(batch.results()[3].status, kInternal);
  EXPECT_EQ(batch.changed_mailboxes(), Sorted({a_, b_}));
  ASSERT_OK_AND_ASSIGN(EntryInfo k1, db().GetEntry(a_, "k1"));
  EXPECT_EQ(k1.value, "v1");
  ASSERT_OK_AND_ASSIGN(EntryInfo k2, db().GetEntry(b_, "k2"));
  EXPECT_EQ(k2.value, "v2");
  EXPECT_EQ(Seq(a_), a_seq + 1);
  EXPECT_EQ(Seq(b_), 1u);
}

}  // namespace
}  // namespace postbox
