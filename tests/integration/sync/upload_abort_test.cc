// An upload the server refuses for good after accepting its UploadBegin is
// aborted by the client library, so the server frees its bytes at once and
// not at upload_ttl (issue 10); an upload that fails on the client's side
// (its source) is kept for a resume. The real server and client on loopback.
#include <atomic>
#include <thread>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A source that fails every read from its n-th on with NotFound, as a file
// deleted under the upload would: the same code as a server's 404, which
// must not be taken for one.
class FailingSource : public BlobSource {
 public:
  FailingSource(std::string bytes, int fail_from)
      : inner_(MemorySource(std::move(bytes))), fail_from_(fail_from) {}
  uint64_t size() const override { return inner_->size(); }
  Status ReadAt(uint64_t offset, std::span<char> out) override {
    if (++reads_ >= fail_from_) return Status::NotFound("the file was removed");
    return inner_->ReadAt(offset, out);
  }

 private:
  std::unique_ptr<BlobSource> inner_;
  int fail_from_;
  int reads_ = 0;
};

class UploadAbortTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
    ASSERT_TRUE(db_->Connect(a_.mkey, b_.mkey).ok());
    ca_ = Connected(OptionsFor(a_));
    ASSERT_TRUE(ca_);
  }

  UploadSpec Spec(const MessageId& id) {
    UploadSpec s;
    s.to = b_.mkey;
    s.id = id;
    s.topic = "video";
    s.digest = ComputeDigest128(bytes_);
    return s;
  }

  // Waits until the server's view of upload `id` satisfies `done`; false
  // after kWait.
  bool WaitForServer(const MessageId& id,
                     const std::function<bool(const Result<UploadState>&)>& done) {
    const auto deadline = Clock::now() + kWait;
    while (Clock::now() < deadline) {
      if (done(db_->UploadOffset(a_.mkey, id))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // 1 MiB and a bit, so the upload holds whole pieces and staged bytes.
  const std::string bytes_ = RandomBytes(4 * 256 * 1024 + 5000, 11);
  MailboxCredentials a_, b_;
  std::unique_ptr<Client> ca_;
};

TEST_F(UploadAbortTest, ACommitRefusedForGoodFreesTheServersBytes) {
  auto before = db_->Stats();
  ASSERT_TRUE(before.ok());
  const MessageId id = MessageId::Random();
  auto src = MemorySource(bytes_);
  UploadSpec spec = Spec(id);
  // Once the server holds some bytes, the parties are disconnected: every
  // chunk is still stored, and the commit's recheck of the posting policy
  // refuses it with 403, which no retry can fix.
  std::atomic<bool> cut{false};
  spec.progress = [&](uint64_t done, uint64_t) {
    if (done > 0 && !cut.exchange(true)) {
      EXPECT_TRUE(db_->Disconnect(a_.mkey, b_.mkey).ok());
    }
  };
  const Status s = ca_->Upload(src.get(), spec);
  ASSERT_TRUE(s.Is(Code::kPermissionDenied)) << s.ToString();
  // The client's UploadAbort removes the upload; nothing else would before
  // upload_ttl (a day).
  EXPECT_TRUE(WaitForServer(id, [](const Result<UploadState>& r) {
    return !r.ok() && r.status().Is(Code::kNotFound);
  })) << "the upload is still on the server";
  auto after = db_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->blob_chunks, before->blob_chunks);
}

TEST_F(UploadAbortTest, ASourceFailureKeepsTheUploadForAResume) {
  const MessageId id = MessageId::Random();
  // Reads 1 and 2 succeed (two chunks), the third fails.
  FailingSource failing(bytes_, 3);
  const Status s = ca_->Upload(&failing, Spec(id));
  ASSERT_TRUE(s.Is(Code::kNotFound)) << s.ToString();
  // Both chunks sent reach the server and stay there.
  EXPECT_TRUE(WaitForServer(id, [](const Result<UploadState>& r) {
    return r.ok() && r->offset == 2 * 256 * 1024;
  })) << "the server does not hold the two chunks";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto kept = db_->UploadOffset(a_.mkey, id);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->offset, 2 * 256 * 1024u);
  // A new Upload of the same id resumes from there and completes.
  uint64_t first_report = UINT64_MAX;
  auto src = MemorySource(bytes_);
  UploadSpec again = Spec(id);
  again.progress = [&](uint64_t done, uint64_t) { first_report = std::min(first_report, done); };
  const Status ok = ca_->Upload(src.get(), again);
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(first_report, 2 * 256 * 1024u);
  auto info = db_->GetMessage(b_.mkey, id);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->digest, ComputeDigest128(bytes_));
}

}  // namespace
}  // namespace postbox::sync::testing
