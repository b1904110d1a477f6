// The writer's group commit under uploads: concurrent chunks share
// transactions, but never more than max_batch_bytes of them in one (a
// transaction LMDB cannot hold would fail every op in it).
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

constexpr size_t kChunk = 256 * 1024;

// Uploads `chunks` chunks from a to b with 8 in flight; returns the commits
// the server made meanwhile.
uint64_t CommitsForUpload(Server* server, const ClientOptions& o, const MailboxKey& to,
                          size_t chunks) {
  ClientOptions wide = o;
  wide.upload_window = 8;
  auto c = Client::Create(wide);
  EXPECT_TRUE(c.ok());
  EXPECT_TRUE((*c)->Connect().ok());
  const std::string blob = RandomBytes(chunks * kChunk, chunks);
  auto source = MemorySource(blob);
  UploadSpec spec;
  spec.to = to;
  spec.id = MessageId::Random();
  const uint64_t before = server->stats().commits;
  const Status s = (*c)->Upload(source.get(), spec);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return server->stats().commits - before;
}

class GroupCommitTest : public SyncTest {};

TEST_F(GroupCommitTest, ATransactionHoldsAtMostMaxBatchBytesOfChunks) {
  ServerOptions so;
  so.max_batch_bytes = kChunk + kChunk / 2;  // room for one chunk, not two
  StartServer(so);
  auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  constexpr size_t kChunks = 24;
  const uint64_t commits = CommitsForUpload(server_.get(), OptionsFor(a), b.mkey, kChunks);
  // Begin, every chunk on its own, Commit. (Without the cap, 8 chunks in
  // flight share transactions: about 10 commits for these 24 chunks.)
  EXPECT_GE(commits, kChunks + 2);
}

}  // namespace
}  // namespace postbox::sync::testing
