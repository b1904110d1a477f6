// The relay (docs/relay.md) between an upstream server and its downstream
// clients, all on 127.0.0.1: posts both ways with their blobs, statuses and
// entries flowing back, work while upstream is down, an upstream refusal
// reaching the client, and a relay of a relay.
#include "postbox/sync/relay.h"

#include <gtest/gtest.h>

#include <thread>

#include "integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

// A store served on 127.0.0.1 (a port of its own, kept across restarts).
struct Node {
  explicit Node(const std::filesystem::path& dir, Options options = {}) {
    auto d = DB::Open(dir.string(), options);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    db = std::move(*d);
    Start(0);
  }
  void Start(uint16_t at) {
    ServerOptions so;
    so.host = "127.0.0.1";
    so.port = at;
    so.window = 4;
    auto s = Server::Start(db.get(), so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
    port = server->port();
  }
  void Stop() {
    if (server) server->Stop();
    server.reset();
  }
  ~Node() {
    Stop();
    db.reset();
  }
  std::unique_ptr<DB> db;
  std::unique_ptr<Server> server;
  uint16_t port = 0;
};

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    up_ = std::make_unique<Node>(dir_.path() / "upstream");
    a_ = *up_->db->CreateMailbox();
    b_ = *up_->db->CreateMailbox();
    ASSERT_TRUE(up_->db->Connect(a_.mkey, b_.mkey).ok());
    relay_node_ = std::make_unique<Node>(dir_.path() / "relay");
    relay_ = StartRelay(relay_node_.get(), up_->port, "relay-state");
  }
  void TearDown() override {
    relay2_.reset();
    relay2_node_.reset();
    relay_.reset();
    relay_node_.reset();
    up_.reset();
  }
  std::unique_ptr<Relay> StartRelay(Node* node, uint16_t upstream, const std::string& folder) {
    RelayOptions o;
    o.upstream_port = upstream;
    o.mailboxes = {a_};
    o.folder = (dir_.path() / folder).string();
    o.request_timeout = 2000ms;
    o.retry_max = 200ms;
    o.scan_interval = 20ms;
    o.on_error = [this](const Status& s) {
      std::lock_guard<std::mutex> lock(errors_mu_);
      errors_.push_back(s);
    };
    auto r = Relay::Start(node->db.get(), node->server.get(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  std::unique_ptr<Client> ClientAt(uint16_t port, const MailboxCredentials& c,
                                   PushLog* log = nullptr) {
    ClientOptions o;
    o.port = port;
    o.mkey = c.mkey;
    o.secret = c.secret;
    o.request_timeout = 3000ms;
    if (log != nullptr) o.on_push = log->Callback();
    auto client = Client::Create(o);
    EXPECT_TRUE(client.ok());
    auto hello = (*client)->Connect();
    EXPECT_TRUE(hello.ok()) << hello.status().ToString();
    return std::move(*client);
  }
  void Synced(Relay* r) {
    Status s = r->Sync(15s);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  MessageId Upload(Client* c, const MailboxKey& to, const std::string& bytes, std::string topic) {
    auto src = MemorySource(bytes);
    UploadSpec spec;
    spec.to = to;
    spec.id = MessageId::Random();
    spec.topic = std::move(topic);
    Status s = c->Upload(src.get(), spec);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return spec.id;
  }

  std::vector<Status> Errors() {
    std::lock_guard<std::mutex> lock(errors_mu_);
    return errors_;
  }

  TempDir dir_;
  std::mutex errors_mu_;
  std::vector<Status> errors_;
  std::unique_ptr<Node> up_, relay_node_, relay2_node_;
  std::unique_ptr<Relay> relay_, relay2_;
  MailboxCredentials a_, b_;
};

TEST_F(RelayTest, APostAtTheRelayReachesUpstreamAndItsStatusComesBackAsAPush) {
  Synced(relay_.get());  // the connection a-b is made at the relay too
  PushLog log;
  auto a = ClientAt(relay_node_->port, a_, &log);  // a's app talks to the relay
  auto b = ClientAt(up_->port, b_);                // b's app talks to upstream
  const std::string bytes = RandomBytes(300 * 1024, 5);
  const MessageId id = Upload(a.get(), b_.mkey, bytes, "video");
  Synced(relay_.get());
  auto got = up_->db->ReadBlob(b_.mkey, id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, bytes);

  ASSERT_TRUE(b->UpdateStatus(id, MessageStatus::kViewed).ok());
  Synced(relay_.get());
  EXPECT_EQ(relay_node_->db->GetMessage(a_.mkey, id)->status, MessageStatus::kViewed);
  ASSERT_TRUE(log.WaitFor([&](const auto& p) {
    return LastOutgoingStatus(p, id) == MessageStatus::kViewed;
  })) << "a's app got VIEWED pushed by the relay";
  EXPECT_GE(relay_->stats().posted_upstream, 1u);
  EXPECT_GE(relay_->stats().statuses_down, 1u);
}

TEST_F(RelayTest, AnUpstreamMessageIsServedByTheRelayWithItsBlob) {
  auto b = ClientAt(up_->port, b_);
  const std::string bytes = RandomBytes(700 * 1024, 9);
  const MessageId id = Upload(b.get(), a_.mkey, bytes, "clip");
  Synced(relay_.get());
  auto a = ClientAt(relay_node_->port, a_);
  std::string downloaded;
  auto sink = MemorySink(&downloaded);
  auto r = a->Download(id, sink.get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(downloaded, bytes);
  // a views it at the relay: b learns it upstream.
  ASSERT_TRUE(a->UpdateStatus(id, MessageStatus::kViewed).ok());
  Synced(relay_.get());
  EXPECT_EQ(up_->db->GetMessage(b_.mkey, id)->status, MessageStatus::kViewed);
  EXPECT_GE(relay_->stats().imported, 1u);
  EXPECT_GE(relay_->stats().statuses_up, 1u);
}

TEST_F(RelayTest, EntriesFlowBothWaysByTheirVersions) {
  auto a_up = ClientAt(up_->port, a_);  // a's other device, on upstream
  auto a = ClientAt(relay_node_->port, a_);
  ASSERT_TRUE(a->PutEntry("here", "at the relay").ok());
  ASSERT_TRUE(a_up->PutEntry("there", "upstream").ok());
  ASSERT_TRUE(a_up->PutEntry("both", "newer", 7).ok());
  ASSERT_TRUE(a->PutEntry("both", "older", 3).ok());
  Synced(relay_.get());
  for (auto* db : {up_->db.get(), relay_node_->db.get()}) {
    EXPECT_EQ(db->GetEntry(a_.mkey, "here")->value, "at the relay");
    EXPECT_EQ(db->GetEntry(a_.mkey, "there")->value, "upstream");
    EXPECT_EQ(db->GetEntry(a_.mkey, "both")->value, "newer");
    EXPECT_EQ(db->GetEntry(a_.mkey, "both")->version, 7u);
  }
  ASSERT_TRUE(a->DeleteEntry("there").ok());
  Synced(relay_.get());
  EXPECT_EQ(up_->db->GetEntry(a_.mkey, "there").status().code(), Code::kNotFound);
}

// Web Push notifications are entries only app servers write: one sent to
// upstream's endpoint comes down like any entry; one sent to the relay's own
// endpoint (stored at the relay) stays there, since upstream refuses client
// puts under postbox/push/; consuming either deletes it on both sides.
TEST_F(RelayTest, PushNotificationsComeDownAndTheRelaysOwnStayThere) {
  auto a = ClientAt(relay_node_->port, a_);
  const std::string from_up = "postbox/push/AAAAAAAAAAAAAAAAAAAAAA/t.up";
  const std::string at_relay = "postbox/push/BBBBBBBBBBBBBBBBBBBBBB/t.relay";
  ASSERT_TRUE(up_->db->PutEntry(a_.mkey, from_up, "n1").ok());
  ASSERT_TRUE(relay_node_->db->PutEntry(a_.mkey, at_relay, "n2").ok());
  Synced(relay_.get());
  EXPECT_EQ(relay_node_->db->GetEntry(a_.mkey, from_up)->value, "n1");
  EXPECT_EQ(up_->db->GetEntry(a_.mkey, at_relay).status().code(), Code::kNotFound);
  Synced(relay_.get());  // settled: nothing is sent again and again
  EXPECT_TRUE(Errors().empty());
  ASSERT_TRUE(a->DeleteEntry(from_up).ok());
  ASSERT_TRUE(a->DeleteEntry(at_relay).ok());
  Synced(relay_.get());
  EXPECT_EQ(up_->db->GetEntry(a_.mkey, from_up).status().code(), Code::kNotFound);
  EXPECT_EQ(relay_node_->db->GetEntry(a_.mkey, at_relay).status().code(), Code::kNotFound);
}

TEST_F(RelayTest, ClientsKeepWorkingWhileUpstreamIsDownAndItAllConvergesAfter) {
  Synced(relay_.get());
  const uint16_t port = up_->port;
  up_->Stop();
  auto a = ClientAt(relay_node_->port, a_);
  const MessageId id = Upload(a.get(), b_.mkey, "sent while upstream was down", "video");
  ASSERT_TRUE(a->PutEntry("offline", "yes").ok());
  EXPECT_EQ(relay_->Sync(300ms).code(), Code::kUnavailable);
  up_->Start(port);
  Synced(relay_.get());
  EXPECT_EQ(*up_->db->ReadBlob(b_.mkey, id), "sent while upstream was down");
  EXPECT_EQ(up_->db->GetEntry(a_.mkey, "offline")->value, "yes");
}

TEST_F(RelayTest, APostUpstreamRefusesIsRetractedAtTheRelayAndTheClientLearnsWhy) {
  auto c = *up_->db->CreateMailbox();  // not connected with a upstream
  Synced(relay_.get());
  // The relay's operator connected them there (or upstream disconnected them
  // since): the relay accepts the post, upstream will not.
  WriteBatch ensure;
  ensure.EnsureMailbox(c.mkey, "");
  ASSERT_TRUE(relay_node_->db->Write(&ensure).ok());
  ASSERT_TRUE(relay_node_->db->Connect(a_.mkey, c.mkey).ok());
  auto a = ClientAt(relay_node_->port, a_);
  const MessageId id = Upload(a.get(), c.mkey, "not welcome", "video");
  Synced(relay_.get());
  EXPECT_EQ(relay_node_->db->GetMessage(a_.mkey, id).status().code(), Code::kGone);
  auto why = a->GetEntry("postbox/relay/refused/" + id.ToHex());
  ASSERT_TRUE(why.ok()) << why.status().ToString();
  EXPECT_EQ(why->value.substr(0, 4), "403 ");
  EXPECT_EQ(relay_->stats().refused, 1u);
  EXPECT_EQ(up_->db->GetMessage(c.mkey, id).status().code(), Code::kNotFound);
}

TEST_F(RelayTest, ARelayOfARelayCarriesPostsAndStatusesBothWays) {
  relay2_node_ = std::make_unique<Node>(dir_.path() / "relay2");
  relay2_ = StartRelay(relay2_node_.get(), relay_node_->port, "relay2-state");
  Synced(relay_.get());
  Synced(relay2_.get());
  auto a = ClientAt(relay2_node_->port, a_);
  auto b = ClientAt(up_->port, b_);
  const MessageId id = Upload(a.get(), b_.mkey, "two hops", "video");
  for (int i = 0; i < 3; ++i) {  // each hop settles in turn
    Synced(relay2_.get());
    Synced(relay_.get());
  }
  ASSERT_EQ(*up_->db->ReadBlob(b_.mkey, id), "two hops");
  ASSERT_TRUE(b->UpdateStatus(id, MessageStatus::kViewed).ok());
  for (int i = 0; i < 3; ++i) {
    Synced(relay_.get());
    Synced(relay2_.get());
  }
  EXPECT_EQ(relay2_node_->db->GetMessage(a_.mkey, id)->status, MessageStatus::kViewed);
}

TEST_F(RelayTest, ARefusalAtTheTopOfAChainReachesTheClientOfTheLastRelay) {
  relay2_node_ = std::make_unique<Node>(dir_.path() / "relay2");
  relay2_ = StartRelay(relay2_node_.get(), relay_node_->port, "relay2-state");
  auto c = *up_->db->CreateMailbox();  // not connected with a upstream
  Synced(relay_.get());
  Synced(relay2_.get());
  for (Node* n : {relay_node_.get(), relay2_node_.get()}) {  // both operators connected them
    WriteBatch ensure;
    ensure.EnsureMailbox(c.mkey, "");
    ASSERT_TRUE(n->db->Write(&ensure).ok());
    ASSERT_TRUE(n->db->Connect(a_.mkey, c.mkey).ok());
  }
  auto a = ClientAt(relay2_node_->port, a_);
  const MessageId id = Upload(a.get(), c.mkey, "not welcome at the top", "video");
  for (int i = 0; i < 3; ++i) {
    Synced(relay2_.get());
    Synced(relay_.get());
  }
  EXPECT_EQ(relay_node_->db->GetMessage(a_.mkey, id).status().code(), Code::kGone);
  EXPECT_EQ(relay2_node_->db->GetMessage(a_.mkey, id).status().code(), Code::kGone)
      << "the last relay removed the post the top refused";
  auto why = a->GetEntry("postbox/relay/refused/" + id.ToHex());
  ASSERT_TRUE(why.ok()) << why.status().ToString();
  EXPECT_EQ(why->value.substr(0, 4), "403 ");
  EXPECT_EQ(relay_->stats().refused, 1u);
  EXPECT_GE(relay2_->stats().retracted, 1u);
}

TEST_F(RelayTest, AnEntryWriteUpstreamRefusesIsReportedOnceAndNotSentAgain) {
  // Upstream takes smaller entry values than the relay does.
  relay_.reset();
  relay_node_.reset();
  up_.reset();
  Options small;
  small.max_value_size = 1024;
  up_ = std::make_unique<Node>(dir_.path() / "upstream-small", small);
  a_ = *up_->db->CreateMailbox();
  relay_node_ = std::make_unique<Node>(dir_.path() / "relay-big");
  relay_ = StartRelay(relay_node_.get(), up_->port, "relay-big-state");
  auto a = ClientAt(relay_node_->port, a_);
  ASSERT_TRUE(a->PutEntry("big", std::string(2048, 'x')).ok()) << "the relay takes it";
  ASSERT_TRUE(a->PutEntry("small", "fits").ok());
  Synced(relay_.get());
  Synced(relay_.get());  // a second round sends nothing again
  EXPECT_EQ(relay_->stats().entries_up, 2u) << "the refused write is not sent again";
  EXPECT_EQ(relay_->stats().pending_upstream, 0u);
  EXPECT_EQ(up_->db->GetEntry(a_.mkey, "small")->value, "fits");
  EXPECT_EQ(up_->db->GetEntry(a_.mkey, "big").status().code(), Code::kNotFound);
  EXPECT_EQ(relay_node_->db->GetEntry(a_.mkey, "big")->value.size(), 2048u)
      << "the relay's store keeps what its client wrote";
  const auto errors = Errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), Code::kTooLarge) << errors[0].ToString();
  EXPECT_NE(errors[0].ToString().find("entry 'big'"), std::string::npos) << errors[0].ToString();
}

}  // namespace
}  // namespace postbox::sync::testing
