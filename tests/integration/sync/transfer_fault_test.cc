// Issue 6, transfers under faults, against the real postbox-server binary
// where a process must die or be measured (server_process.h) and through a
// byte-flipping relay (tests/support/fault_proxy.h):
// - an upload interrupted by SIGKILLs of the server at random points resumes
//   after each restart and commits the identical blob;
// - a byte flipped in an upload in transit is caught by the commit's digest
//   check (422) and nothing is stored (downloads: transfer_test.cc);
// - 100 concurrent downloads of a 64 MiB blob keep the server's peak RSS
//   under 256 MiB.
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "tests/integration/sync/server_process.h"
#include "tests/integration/sync/sync_test_util.h"
#include "tests/support/fault_proxy.h"

namespace postbox::sync::testing {
namespace {

constexpr uint64_t kMiB = 1u << 20;

// Verifies what a download appends without keeping it: length and the whole
// digest are checked by the client; this also compares against the expected
// bytes chunk by chunk.
class CheckingSink final : public BlobSink {
 public:
  explicit CheckingSink(const std::string* expect) : expect_(expect) {}
  uint64_t size() const override { return size_; }
  Status Append(std::string_view bytes) override {
    if (size_ + bytes.size() > expect_->size() ||
        std::string_view(*expect_).substr(size_, bytes.size()) != bytes) {
      mismatch_ = true;
    }
    size_ += bytes.size();
    return Status::Ok();
  }
  Status ReadAt(uint64_t offset, std::span<char> out) override {
    if (offset + out.size() > size_) return Status::InvalidArgument("past the held bytes");
    std::memcpy(out.data(), expect_->data() + offset, out.size());
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    size_ = std::min(size_, size);
    return Status::Ok();
  }
  bool mismatch() const { return mismatch_; }

 private:
  const std::string* expect_;
  uint64_t size_ = 0;
  bool mismatch_ = false;
};

struct Pair {
  MailboxCredentials a, b;
};

// Two connected mailboxes in a fresh store at `data` (closed again).
Pair MakePair(const std::string& data) {
  auto db = DB::Open(data, {});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  Pair p{*(*db)->CreateMailbox(), *(*db)->CreateMailbox()};
  EXPECT_TRUE((*db)->Connect(p.a.mkey, p.b.mkey).ok());
  return p;
}

ClientOptions Opts(const MailboxCredentials& c, uint16_t port) {
  ClientOptions o;
  o.port = port;
  o.mkey = c.mkey;
  o.secret = c.secret;
  o.request_timeout = std::chrono::milliseconds(3000);
  o.backoff_initial = std::chrono::milliseconds(20);
  o.backoff_max = std::chrono::milliseconds(200);
  o.transfer_retries = 50;
  return o;
}

#define REQUIRE_SERVER_BINARY(bin)        \
  const std::string bin = ServerBinary(); \
  ASSERT_TRUE(std::filesystem::exists(bin)) << "postbox-server not found at '" << bin << "'"

TEST(TransferFaultTest, UploadSurvivesServerSigkillsAndCommitsTheIdenticalBlob) {
  REQUIRE_SERVER_BINARY(bin);
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  const Pair p = MakePair(data);
  auto server = std::make_unique<ServerProcess>(bin, data);
  const uint16_t port = server->port();
  ASSERT_NE(port, 0) << "postbox-server did not report its port";

  const std::string blob = RandomBytes(24 * kMiB + 777, 1);
  auto sender = Client::Create(Opts(p.a, port));
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->Connect().ok());

  // Kill the server when the committed offset first passes each point, then
  // restart it on the same port; the upload must carry on by itself.
  std::mt19937_64 gen(std::random_device{}());
  std::vector<uint64_t> kill_at;
  // In the first 80 %: a point near the end can be passed by the upload's
  // last commit before the killer (polling every millisecond) sees it.
  for (int i = 0; i < 3; ++i) kill_at.push_back(gen() % (blob.size() * 4 / 5));
  std::sort(kill_at.begin(), kill_at.end());
  std::atomic<uint64_t> committed{0};
  std::atomic<bool> done{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    for (uint64_t at : kill_at) {
      while (!done && committed < at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (done) return;
      server->Kill(SIGKILL);
      ++kills;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      server = std::make_unique<ServerProcess>(bin, data, port);
    }
  });
  auto source = MemorySource(blob);
  UploadSpec spec;
  spec.to = p.b.mkey;
  spec.id = MessageId::Random();
  spec.topic = "video";
  uint64_t last = 0;
  bool monotone = true;
  spec.progress = [&](uint64_t d, uint64_t total) {
    monotone = monotone && d >= last && total == blob.size();
    last = d;
    committed = d;
  };
  const Status s = (*sender)->Upload(source.get(), spec);
  done = true;
  killer.join();
  ASSERT_TRUE(s.ok()) << s.ToString() << " (kills at " << kill_at[0] << ", " << kill_at[1] << ", "
                      << kill_at[2] << ")";
  EXPECT_EQ(kills, 3) << "the upload finished before every kill point";
  EXPECT_TRUE(monotone);
  EXPECT_EQ(last, blob.size());
  ASSERT_NE(server->port(), 0);

  // The recipient gets exactly the blob from the (last) restarted server.
  auto recipient = Client::Create(Opts(p.b, port));
  ASSERT_TRUE(recipient.ok());
  ASSERT_TRUE((*recipient)->Connect().ok());
  std::string got;
  auto sink = MemorySink(&got);
  auto r = (*recipient)->Download(spec.id, sink.get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(got.size(), blob.size());
  EXPECT_TRUE(got == blob);
  EXPECT_EQ(r->digest, ComputeDigest128(blob));
}

class TransferProxyTest : public SyncTest {};

TEST_F(TransferProxyTest, AByteFlippedInAnUploadIsCaughtByTheDigest) {
  auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  auto proxy = postbox::testing::FaultProxy::Start(
      server_->port(), postbox::testing::FaultPolicy::Flip(wire::MessageType::kUploadChunk, 1));
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  ClientOptions o = OptionsFor(a);
  o.port = (*proxy)->port();
  auto sender = Connected(o);
  ASSERT_TRUE(sender);
  const std::string blob = RandomBytes(kMiB, 2);
  auto source = MemorySource(blob);
  UploadSpec spec;
  spec.to = b.mkey;
  spec.id = MessageId::Random();
  Status s = sender->Upload(source.get(), spec);
  EXPECT_EQ((*proxy)->flipped(), 1u);
  EXPECT_TRUE(s.Is(Code::kDigestMismatch)) << s.ToString();
  EXPECT_TRUE(db_->GetMessage(b.mkey, spec.id).status().Is(Code::kNotFound))
      << "a corrupted upload must not become a message";
  // The relay flips only once: the retried upload commits the true bytes.
  s = sender->Upload(source.get(), spec);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto stored = db_->ReadBlob(b.mkey, spec.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(*stored == blob);
}

TEST(TransferMemoryTest, HundredConcurrentDownloadsOf64MiBKeepServerRssUnder256MiB) {
#if defined(__SANITIZE_ADDRESS__)
  // The server in this build tree carries ASan's shadow memory and quarantine
  // (measured: ~325 MiB for the same run): its RSS says nothing about ours.
  GTEST_SKIP() << "RSS bound is meaningless under AddressSanitizer";
#endif
  REQUIRE_SERVER_BINARY(bin);
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  const Pair p = MakePair(data);
  const std::string blob = RandomBytes(64 * kMiB, 4);
  const MessageId id = MessageId::Random();
  {
    auto db = DB::Open(data, {});
    ASSERT_TRUE(db.ok());
    PostRequest r{
        .from = p.a.mkey, .to = p.b.mkey, .id = id, .topic = "video", .meta = "", .bytes = blob};
    ASSERT_TRUE((*db)->PostMessage(r).ok());
  }
  ServerProcess server(bin, data);
  ASSERT_NE(server.port(), 0);
  constexpr int kDownloads = 100;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kDownloads; ++i) {
    ClientOptions o = Opts(p.b, server.port());
    o.request_timeout = std::chrono::seconds(60);
    auto c = Client::Create(o);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Connect().ok());
    clients.push_back(std::move(*c));
  }
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kDownloads; ++i) {
    threads.emplace_back([&, i] {
      CheckingSink sink(&blob);
      auto r = clients[i]->Download(id, &sink);
      (r.ok() && !sink.mismatch() && sink.size() == blob.size() ? ok : bad)++;
    });
  }
  for (auto& t : threads) t.join();
  const long hwm_kib = server.StatusKiB("VmHWM");
  EXPECT_EQ(ok, kDownloads);
  EXPECT_EQ(bad, 0);
  ASSERT_GT(hwm_kib, 0);
  std::printf("server peak RSS after %d concurrent 64 MiB downloads: %.1f MiB\n", kDownloads,
              static_cast<double>(hwm_kib) / 1024.0);
  EXPECT_LT(hwm_kib, 256 * 1024);
}

}  // namespace
}  // namespace postbox::sync::testing
