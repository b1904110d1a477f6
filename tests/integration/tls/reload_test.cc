// Server::ReloadTls (what postbox-server does on SIGHUP): certificate files
// rotated in place to ones from another CA are taken by new connections while
// an open session goes on undisturbed; a reload from a broken file is an
// error that changes nothing; a server without TLS has nothing to reload.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/tls/tls_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

bool Pushed(const std::vector<InfoPacket>& packets, const MessageId& id) {
  for (const auto& p : packets) {
    for (const auto& m : p.incoming) {
      if (m.id == id) return true;
    }
  }
  return false;
}

TEST_F(TlsTest, AReloadServesTheNewCertificateAndKeepsOpenSessions) {
  const MailboxCredentials a = NewMailbox();
  const MailboxCredentials b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  PushLog log;
  ClientOptions ob = TlsOptionsFor(b);
  ob.on_push = log.Callback();
  auto open = Connected(ob);  // trusts the old CA only
  ASSERT_TRUE(open);

  postbox::testing::CopyCertFiles(pki_.other_server, live_);
  const Status reloaded = server_->ReloadTls();
  ASSERT_TRUE(reloaded.ok()) << reloaded.ToString();
  EXPECT_EQ(server_->stats().tls_reloads, 1u);

  // The open session goes on: a put, and a push.
  auto put = open->PutEntry("after", "reload");
  EXPECT_TRUE(put.ok()) << put.status().ToString();
  const MessageId id = Post(a, b, "", "pushed after the reload");
  EXPECT_TRUE(log.WaitFor([&](const auto& p) { return Pushed(p, id); }))
      << "the open session got no push after the reload";
  EXPECT_EQ(open->sessions_established(), 1u) << "the open session was interrupted";

  // New connections get the new certificate.
  auto fresh = Connected(TlsOptionsFor(a, pki_.other_ca.cert));
  ASSERT_TRUE(fresh) << "a client trusting the new CA could not connect";
  EXPECT_TRUE(fresh->Ping().ok());
  const Status old_ca = ConnectError(TlsOptionsFor(a, pki_.ca.cert));
  EXPECT_TRUE(old_ca.Is(Code::kUnavailable)) << old_ca.ToString();

  // And back again.
  postbox::testing::CopyCertFiles(pki_.server, live_);
  ASSERT_TRUE(server_->ReloadTls().ok());
  EXPECT_EQ(server_->stats().tls_reloads, 2u);
  auto back = Connected(TlsOptionsFor(a, pki_.ca.cert));
  ASSERT_TRUE(back);
  EXPECT_TRUE(fresh->Ping().ok()) << "the session made between the reloads was interrupted";
}

TEST_F(TlsTest, AReloadFromBrokenFilesChangesNothing) {
  const MailboxCredentials m = NewMailbox();
  auto open = Connected(TlsOptionsFor(m));
  ASSERT_TRUE(open);
  const std::string good_cert = postbox::testing::ReadTextFile(live_.cert);
  const std::string good_key = postbox::testing::ReadTextFile(live_.key);
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };
  struct Case {
    const char* what;
    std::function<void()> breakit;
    std::string file;  // the file the error must name
  };
  const Case cases[] = {
      {"a key that is no PEM", [&] { write(live_.key, "not a key\n"); }, live_.key},
      {"a certificate that is no PEM", [&] { write(live_.cert, "not a certificate\n"); },
       live_.cert},
      {"a missing key", [&] { std::filesystem::remove(live_.key); }, live_.key},
      {"a key of another certificate",
       [&] { write(live_.key, postbox::testing::ReadTextFile(pki_.other_server.key)); }, ""},
      {"a new certificate with the old key",
       [&] { write(live_.cert, postbox::testing::ReadTextFile(pki_.other_server.cert)); }, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    c.breakit();
    const Status s = server_->ReloadTls();
    EXPECT_TRUE(s.Is(Code::kInvalidArgument)) << s.ToString();
    if (!c.file.empty()) {
      EXPECT_NE(s.message().find(std::filesystem::path(c.file).filename().string()),
                std::string::npos)
          << s.ToString() << " does not name " << c.file;
    }
    EXPECT_EQ(server_->stats().tls_reloads, 0u);
    // Nothing changed: the old certificate is served, the open session works.
    auto c2 = Connected(TlsOptionsFor(m, pki_.ca.cert));
    EXPECT_TRUE(c2) << "the failed reload changed the served certificate";
    auto put = open->PutEntry("still", c.what);
    EXPECT_TRUE(put.ok()) << put.status().ToString();
    write(live_.cert, good_cert);
    write(live_.key, good_key);
  }
  EXPECT_EQ(open->sessions_established(), 1u);
}

TEST_F(TlsTest, AServerWithoutTlsHasNothingToReload) {
  StartTlsServer(std::nullopt);
  const Status s = server_->ReloadTls();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server_->stats().tls_reloads, 0u);
}

TEST_F(TlsTest, AReloadAlsoRereadsTheClientCa) {
  TlsServerOptions t = LiveTls();
  const CertFiles live_ca{(pki_dir_.path() / "live_client_ca.crt").string(), ""};
  std::filesystem::copy_file(pki_.client_ca.cert, live_ca.cert);
  t.client_ca_file = live_ca.cert;
  StartTlsServer(t);
  const MailboxCredentials m = NewMailbox();
  ClientOptions relay = TlsOptionsFor(m);
  relay.tls.cert_file = pki_.client.cert;
  relay.tls.key_file = pki_.client.key;
  ClientOptions stray = TlsOptionsFor(m);
  stray.tls.cert_file = pki_.stray_client.cert;
  stray.tls.key_file = pki_.stray_client.key;
  auto open = Connected(relay);
  ASSERT_TRUE(open);
  EXPECT_FALSE(ConnectError(stray).ok());

  // The client CA becomes the other CA: the stray client is let in, the
  // relay's certificate no longer is, and the relay's open session goes on.
  std::filesystem::copy_file(pki_.other_ca.cert, live_ca.cert,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(server_->ReloadTls().ok());
  EXPECT_TRUE(Connected(stray));
  EXPECT_FALSE(ConnectError(relay).ok());
  EXPECT_TRUE(open->Ping().ok());
}

}  // namespace
}  // namespace postbox::sync::testing
