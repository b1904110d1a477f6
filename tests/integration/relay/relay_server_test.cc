// postbox-server --upstream (docs/relay.md "Running a relay"): the real binary
// relays a mailbox for an in-process upstream server on 127.0.0.1, keeps what
// a client gave it across a SIGKILL, picks up from its outbox on restart (this
// time configured from a TOML file), and stops cleanly on SIGTERM.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "integration/sync/server_process.h"
#include "integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

// Polls `done` until it holds or `limit` passes.
template <class F>
bool Eventually(F done, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

// Whether `c`'s feed, read from the start, shows message `id` (incoming or
// outgoing), and with which status.
std::optional<MessageStatus> FeedStatus(Client* c, const MessageId& id) {
  std::optional<MessageStatus> status;
  uint64_t since = 0;
  for (;;) {
    auto p = c->Poll(since);
    if (!p.ok()) return std::nullopt;
    for (const auto& m : p->incoming) {
      if (m.id == id) status = m.status;
    }
    if (auto s = LastOutgoingStatus({*p}, id)) status = s;
    since = p->cursor;
    if (!p->more) return status;
  }
}

class RelayServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = DB::Open((dir_.path() / "upstream").string(), Options{});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    up_db_ = std::move(*d);
    ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    auto s = Server::Start(up_db_.get(), so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    up_ = std::move(*s);
    a_ = *up_db_->CreateMailbox();
    b_ = *up_db_->CreateMailbox();
    ASSERT_TRUE(up_db_->Connect(a_.mkey, b_.mkey).ok());
  }
  void TearDown() override {
    relay_.reset();  // SIGKILLs a relay still running
    if (up_) up_->Stop();
  }
  void StartRelay(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--upstream", "127.0.0.1:" + std::to_string(up_->port()),
                               "--upstream-retry-max", "200ms", "--relay-scan-interval", "20ms"});
    relay_ = std::make_unique<ServerProcess>(ServerBinary(), (dir_.path() / "relay").string(),
                                             relay_port_, flags);
    ASSERT_NE(relay_->port(), 0) << "postbox-server --upstream did not start";
    relay_port_ = relay_->port();  // the same port after a restart
  }
  std::unique_ptr<Client> ClientAt(uint16_t port, const MailboxCredentials& c) {
    ClientOptions o;
    o.port = port;
    o.mkey = c.mkey;
    o.secret = c.secret;
    o.request_timeout = 3000ms;
    auto client = Client::Create(o);
    EXPECT_TRUE(client.ok());
    auto hello = (*client)->Connect();
    EXPECT_TRUE(hello.ok()) << hello.status().ToString();
    return std::move(*client);
  }
  std::string RelayFlag() const { return a_.mkey.ToHex() + ":" + a_.secret; }

  TempDir dir_;
  std::unique_ptr<DB> up_db_;
  std::unique_ptr<Server> up_;
  std::unique_ptr<ServerProcess> relay_;
  uint16_t relay_port_ = 0;
  MailboxCredentials a_, b_;
};

TEST_F(RelayServerTest, TheServerBinaryRelaysSurvivesAKillAndStopsCleanly) {
  StartRelay({"--relay", RelayFlag()});
  auto a = ClientAt(relay_port_, a_);
  // The relay accepts a's post to b once it learned upstream's connection.
  const std::string bytes = RandomBytes(200 * 1024, 3);
  MessageId id = MessageId::Random();
  ASSERT_TRUE(Eventually([&] {
    auto src = MemorySource(bytes);
    UploadSpec spec;
    spec.to = b_.mkey;
    spec.id = id;
    spec.topic = "video";
    return a->Upload(src.get(), spec).ok();
  })) << "the relay never accepted a post between connected mailboxes";
  ASSERT_TRUE(Eventually([&] { return up_db_->ReadBlob(b_.mkey, id).ok(); }))
      << "the post did not reach upstream";
  EXPECT_EQ(*up_db_->ReadBlob(b_.mkey, id), bytes);

  // b views it upstream; a reads VIEWED from the relay.
  ASSERT_TRUE(ClientAt(up_->port(), b_)->UpdateStatus(id, MessageStatus::kViewed).ok());
  EXPECT_TRUE(Eventually([&] { return FeedStatus(a.get(), id) == MessageStatus::kViewed; }))
      << "the status did not come down";

  // Accepted by the relay, then the relay is killed before it could forward
  // (upstream is stopped): the write waits in its durable outbox.
  const uint16_t up_port = up_->port();
  up_->Stop();
  ASSERT_TRUE(a->PutEntry("written", "while upstream was down").ok());
  a.reset();
  std::this_thread::sleep_for(200ms);  // the relay's replica takes it into its outbox
  EXPECT_TRUE(WIFSIGNALED(relay_->Kill(SIGKILL)));
  relay_.reset();
  ServerOptions so;
  so.host = "127.0.0.1";
  so.port = up_port;
  up_ = std::move(*Server::Start(up_db_.get(), so));

  // Restarted from a config file this time (the secrets stay out of the
  // process list).
  const auto config = dir_.path() / "relay.toml";
  std::ofstream(config) << "relay = [\"" << RelayFlag() << "\"]\n";
  StartRelay({"--config", config.string()});
  EXPECT_TRUE(Eventually([&] {
    auto e = up_db_->GetEntry(a_.mkey, "written");
    return e.ok() && e->value == "while upstream was down";
  })) << "the entry the relay acknowledged did not reach upstream after its restart";
  EXPECT_EQ(relay_->Kill(SIGTERM), 0) << "SIGTERM stops the relay and exits 0";
  relay_.reset();
}

TEST_F(RelayServerTest, AnUpstreamMessageIsServedByTheRelayProcess) {
  StartRelay({"--relay", RelayFlag()});
  auto b = ClientAt(up_->port(), b_);
  const std::string bytes = RandomBytes(300 * 1024, 4);
  auto src = MemorySource(bytes);
  UploadSpec spec;
  spec.to = a_.mkey;
  spec.id = MessageId::Random();
  spec.topic = "clip";
  ASSERT_TRUE(b->Upload(src.get(), spec).ok());
  auto a = ClientAt(relay_port_, a_);
  ASSERT_TRUE(Eventually([&] { return FeedStatus(a.get(), spec.id).has_value(); }))
      << "the relay did not import b's message";
  std::string downloaded;
  auto sink = MemorySink(&downloaded);
  ASSERT_TRUE(a->Download(spec.id, sink.get()).ok());
  EXPECT_EQ(downloaded, bytes);
}

}  // namespace
}  // namespace postbox::sync::testing
