// The event log of a real server (in process, on 127.0.0.1) with real
// clients: the lines a session's start and end, an upload, a superseding
// post, a download, a status change and a kick write, each with the values
// that happened, and every line as docs/operations.md documents it.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "postbox/sync/events.h"
#include "postbox/sync/kick.h"
#include "tests/integration/ops/event_schema.h"
#include "tests/integration/sync/sync_test_util.h"
#include "tests/support/tls_certs.h"

namespace postbox::sync::testing {
namespace {

using nlohmann::json;

class EventLogTest : public SyncTest {
 protected:
  void SetUp() override {
    auto log = OpenEventLog({.path = (logs_.path() / "events.jsonl").string()});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    auto kicks = MakeLogKickDriver({.path = (logs_.path() / "kicks.jsonl").string()});
    ASSERT_TRUE(kicks.ok()) << kicks.status().ToString();
    ServerOptions so;
    so.event_log = log_;
    so.kick_driver = std::move(*kicks);
    so.kick_delay = std::chrono::milliseconds(0);
    so.hello_timeout = std::chrono::milliseconds(500);
    StartServer(so);
  }

  // Every line written so far.
  std::vector<std::string> RawLines() {
    log_->Flush();
    std::vector<std::string> out;
    std::ifstream in(logs_.path() / "events.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  // The lines of `event` matching `pred`, parsed, waiting up to kWait for at
  // least one.
  std::vector<json> Await(const std::string& event,
                          const std::function<bool(const json&)>& pred = {}) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    for (;;) {
      std::vector<json> found;
      for (const std::string& line : RawLines()) {
        const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && j["event"] == event && (!pred || pred(j))) found.push_back(j);
      }
      if (!found.empty() || std::chrono::steady_clock::now() > deadline) return found;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Every line conforms to docs/operations.md.
  void ExpectAllDocumented() {
    const auto schema = ops_testing::LoadEventSchema(POSTBOX_SOURCE_DIR);
    ASSERT_FALSE(schema.fields.empty()) << "docs/operations.md has no Event log schema";
    const auto lines = RawLines();
    ASSERT_FALSE(lines.empty());
    for (const std::string& line : lines) {
      const auto problems = ops_testing::CheckLine(schema, line);
      EXPECT_TRUE(problems.empty()) << line << "\n" << ::testing::PrintToString(problems);
    }
  }

  ClientOptions App(const MailboxCredentials& c, Platform platform, std::string version) {
    ClientOptions o = OptionsFor(c);
    o.platform = platform;
    o.app_version = std::move(version);
    o.schema_version = 3;
    return o;
  }

  TempDir logs_;
  std::shared_ptr<EventLog> log_;
};

TEST_F(EventLogTest, SessionsMessagesTransfersAndStatus) {
  const auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  auto sender = Connected(App(a, Platform::kIos, "2.4.1"));
  auto recipient = Connected(App(b, Platform::kAndroid, "1.0"));
  ASSERT_TRUE(sender && recipient);

  // An upload, then a post into the same slot that supersedes it.
  const std::string blob = RandomBytes(300 * 1024, 1);
  const MessageId uploaded = MessageId::Random();
  auto source = MemorySource(blob);
  UploadSpec spec;
  spec.to = b.mkey;
  spec.id = uploaded;
  ASSERT_TRUE(sender->Upload(source.get(), spec).ok());
  const MessageId posted = Post(a, b, "", "the newer one");

  // The recipient fetches the new one, says so twice (the second changes
  // nothing), and asks for the superseded one.
  std::string got;
  auto sink = MemorySink(&got);
  ASSERT_TRUE(recipient->Download(posted, sink.get()).ok());
  ASSERT_TRUE(recipient->UpdateStatus(posted, MessageStatus::kDownloaded).ok());
  ASSERT_TRUE(recipient->UpdateStatus(posted, MessageStatus::kDownloaded).ok());
  std::string none;
  auto sink2 = MemorySink(&none);
  EXPECT_TRUE(recipient->Download(uploaded, sink2.get()).status().Is(Code::kGone));
  recipient->Close();  // client EOF
  // Wrong credentials, and a connection that never says Hello.
  {
    auto wrong = b;
    wrong.secret = "not the secret";
    RawConn conn(server_->port());
    ASSERT_TRUE(conn.Send(1, HelloFor(wrong)));
    EXPECT_TRUE(conn.WaitClosed());
  }
  RawConn silent(server_->port());
  ASSERT_TRUE(silent.WaitClosed());  // hello_timeout

  // session_start: who, from where, with what verdict.
  const auto starts = Await("session_start");
  ASSERT_EQ(starts.size(), 2u);
  const json& s0 = starts[0]["mkey"] == a.mkey.ToHex() ? starts[0] : starts[1];
  const json& s1 = starts[0]["mkey"] == a.mkey.ToHex() ? starts[1] : starts[0];
  EXPECT_EQ(s0["platform"], "ios");
  EXPECT_EQ(s0["app_version"], "2.4.1");
  EXPECT_EQ(s0["schema_version"], 3);
  EXPECT_EQ(s0["verdict"], "current");
  EXPECT_EQ(s0["tls"], false);
  EXPECT_TRUE(s0["remote"].get<std::string>().starts_with("127.0.0.1:"));
  EXPECT_EQ(s1["mkey"], b.mkey.ToHex());
  EXPECT_EQ(s1["platform"], "android");
  EXPECT_NE(s0["session"], s1["session"]);

  // The upload: committed via upload, and its transfer.
  const auto committed = Await("message_committed");
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_EQ(committed[0]["id"], uploaded.ToHex());
  EXPECT_EQ(committed[0]["via"], "upload");
  EXPECT_EQ(committed[0]["from"], a.mkey.ToHex());
  EXPECT_EQ(committed[0]["to"], b.mkey.ToHex());
  EXPECT_EQ(committed[0]["length"], blob.size());
  EXPECT_EQ(committed[1]["id"], posted.ToHex());
  EXPECT_EQ(committed[1]["via"], "post");
  EXPECT_GT(committed[1]["seq"].get<uint64_t>(), committed[0]["seq"].get<uint64_t>());
  const auto uploads =
      Await("transfer_finished", [](const json& j) { return j["direction"] == "upload"; });
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0]["id"], uploaded.ToHex());
  EXPECT_EQ(uploads[0]["bytes"], blob.size());
  EXPECT_EQ(uploads[0]["mkey"], a.mkey.ToHex());

  // The post superseded the upload.
  const auto superseded = Await("message_superseded");
  ASSERT_EQ(superseded.size(), 1u);
  EXPECT_EQ(superseded[0]["id"], uploaded.ToHex());
  EXPECT_EQ(superseded[0]["by"], posted.ToHex());
  EXPECT_EQ(superseded[0]["topic"], "");
  // Its tombstone entered the recipient's feed in the same commit, just
  // before the new message.
  EXPECT_GT(superseded[0]["seq"].get<uint64_t>(), committed[0]["seq"].get<uint64_t>());
  EXPECT_LT(superseded[0]["seq"].get<uint64_t>(), committed[1]["seq"].get<uint64_t>());

  // One status change (the repeated update changed nothing).
  const auto status = Await("status_changed");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0]["id"], posted.ToHex());
  EXPECT_EQ(status[0]["status"], "downloaded");
  EXPECT_EQ(status[0]["by"], b.mkey.ToHex());

  // Two downloads: the whole new message, and 410 for the superseded one.
  const auto downloads =
      Await("transfer_finished", [](const json& j) { return j["direction"] == "download"; });
  ASSERT_EQ(downloads.size(), 2u);
  EXPECT_EQ(downloads[0]["id"], posted.ToHex());
  EXPECT_EQ(downloads[0]["bytes"], std::string("the newer one").size());
  EXPECT_TRUE(downloads[0]["error_code"].is_null());
  EXPECT_EQ(downloads[0]["session"], s1["session"]);
  EXPECT_EQ(downloads[1]["id"], uploaded.ToHex());
  EXPECT_EQ(downloads[1]["error_code"], 410);

  // session_end of the recipient: its EOF, with what it moved.
  const auto b_end =
      Await("session_end", [&](const json& j) { return j["mkey"] == b.mkey.ToHex(); });
  ASSERT_EQ(b_end.size(), 1u);
  EXPECT_EQ(b_end[0]["reason"], "client_eof");
  EXPECT_EQ(b_end[0]["session"], s1["session"]);
  EXPECT_EQ(b_end[0]["platform"], "android");
  EXPECT_EQ(b_end[0]["verdict"], "current");
  EXPECT_TRUE(b_end[0]["error_code"].is_null());
  EXPECT_GT(b_end[0]["bytes_in"].get<uint64_t>(), 0u);
  EXPECT_GT(b_end[0]["bytes_out"].get<uint64_t>(), std::string("the newer one").size());
  EXPECT_EQ(b_end[0]["remote"], s1["remote"]);
  // Bad credentials and the silent connection: no mailbox, the 401s.
  const auto refused = Await("session_end", [](const json& j) { return j["reason"] == "error"; });
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["error_code"], 401);
  EXPECT_TRUE(refused[0]["mkey"].is_null());
  const auto silent_end =
      Await("session_end", [](const json& j) { return j["reason"] == "timeout"; });
  ASSERT_EQ(silent_end.size(), 1u);
  EXPECT_EQ(silent_end[0]["timeout"], "hello");
  EXPECT_EQ(silent_end[0]["bytes_in"], 0);
  EXPECT_GE(silent_end[0]["duration_ms"].get<uint64_t>(), 500u);

  // Stopping ends the sender's session with the shutdown.
  server_->Stop();
  const auto a_end =
      Await("session_end", [&](const json& j) { return j["mkey"] == a.mkey.ToHex(); });
  ASSERT_EQ(a_end.size(), 1u);
  EXPECT_EQ(a_end[0]["reason"], "shutdown");
  EXPECT_EQ(a_end[0]["error_code"], 503);
  ExpectAllDocumented();
  EXPECT_EQ(log_->stats().dropped, 0u);
}

TEST_F(EventLogTest, KickSentAndMailboxDeleted) {
  const auto a = NewMailbox(), c = NewMailbox();
  ASSERT_TRUE(db_->RegisterPush(c.mkey, Platform::kIos, "device-token").ok());
  // c is offline: the post kicks it through the log driver.
  Post(a, c);
  const auto kicks = Await("kick_sent");
  ASSERT_EQ(kicks.size(), 1u);
  EXPECT_EQ(kicks[0]["mkey"], c.mkey.ToHex());
  EXPECT_EQ(kicks[0]["platform"], "ios");
  EXPECT_EQ(kicks[0]["attempt"], 1);
  EXPECT_EQ(kicks[0]["outcome"], "delivered");
  EXPECT_TRUE(kicks[0]["error"].is_null());

  // A session whose mailbox is deleted through the server ends so.
  auto conn = SaidHello(server_->port(), c);
  WriteBatch batch;
  batch.DeleteMailbox(c.mkey);
  ASSERT_TRUE(server_->Write(&batch).ok());
  EXPECT_TRUE(conn->WaitClosed());
  const auto ended =
      Await("session_end", [&](const json& j) { return j["mkey"] == c.mkey.ToHex(); });
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0]["reason"], "mailbox_deleted");
  EXPECT_EQ(ended[0]["error_code"], 401);
  ExpectAllDocumented();
}

// Through the TLS listener: a TLS session says tls, a plaintext client is a
// TLS failure (426) before any Hello.
TEST_F(EventLogTest, TlsSessionsAndPlaintextOnTheTlsListener) {
  const auto pki = postbox::testing::MakeTestPki(logs_.path() / "pki");
  ServerOptions so;
  so.event_log = log_;
  TlsServerOptions tls;
  tls.cert_file = pki.server.cert;
  tls.key_file = pki.server.key;
  so.tls = tls;
  StartServer(so);
  const auto a = NewMailbox();
  ClientOptions o = OptionsFor(a);
  o.tls.enabled = true;
  o.tls.ca_file = pki.ca.cert;
  auto client = Connected(o);
  ASSERT_TRUE(client);
  {
    RawConn plain(server_->port());
    ASSERT_TRUE(plain.Send(1, HelloFor(a)));
    EXPECT_TRUE(plain.WaitClosed());
  }
  const auto starts = Await("session_start");
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0]["tls"], true);
  const auto failed =
      Await("session_end", [](const json& j) { return j["reason"] == "tls_failure"; });
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["error_code"], 426);
  EXPECT_TRUE(failed[0]["mkey"].is_null());
  EXPECT_EQ(failed[0]["tls"], true);
  client->Close();
  const auto ended =
      Await("session_end", [&](const json& j) { return j["mkey"] == a.mkey.ToHex(); });
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0]["reason"], "client_eof");
  ExpectAllDocumented();
}

}  // namespace
}  // namespace postbox::sync::testing
