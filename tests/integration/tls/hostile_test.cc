// Hostile peers at the TLS sync listener, on raw sockets the test drives: a
// connection that says nothing, half a ClientHello, a ClientHello and then
// nothing, garbage before the handshake, random bytes after a completed one,
// a TLS 1.2 renegotiation, versions and ALPN the server does not speak. Each
// is closed (the handshake ones after handshake_timeout, counted in
// tls_handshake_failures) while a well-behaved TLS client connected before
// keeps working throughout.
#include <gtest/gtest.h>

#include <random>

#include "tests/integration/tls/tls_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kHandshakeTimeout = 300ms;

class TlsHostileTest : public TlsTest {
 protected:
  void SetUp() override {
    TlsTest::SetUp();
    Restart(kHandshakeTimeout);
  }
  void TearDown() override {
    good_.reset();
    TlsTest::TearDown();
  }

  // Restarts the server with this handshake timeout (and minimum version),
  // and connects the well-behaved client anew.
  void Restart(std::chrono::milliseconds handshake_timeout,
               TlsVersion min_version = TlsVersion::kTls13) {
    good_.reset();
    TlsServerOptions t = LiveTls();
    t.handshake_timeout = handshake_timeout;
    t.min_version = min_version;
    StartTlsServer(t);
    good_mailbox_ = NewMailbox();
    good_ = Connected(TlsOptionsFor(good_mailbox_));
    ASSERT_TRUE(good_);
    before_ = server_->stats();
  }

  // The client connected before the attack still works, and so does a new one.
  void ExpectGoodClientsServed() {
    ASSERT_TRUE(good_);
    auto put = good_->PutEntry("still", "working");
    EXPECT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(good_->sessions_established(), 1u) << "the well-behaved client lost its session";
    ExpectAWellBehavedClientIsServed();
  }

  bool FailureCounted() {
    return Eventually(
        [&] { return server_->stats().tls_handshake_failures > before_.tls_handshake_failures; });
  }

  // Connects, sends `bytes` (maybe none), and returns how long the server
  // took to close the connection (or a negative duration if it did not
  // within 5 s).
  std::chrono::milliseconds TimeToClose(const std::string& bytes) {
    RawConn conn(server_->port());
    EXPECT_TRUE(conn.connected());
    const auto start = Clock::now();
    if (!bytes.empty()) {
      EXPECT_TRUE(conn.SendBytes(std::vector<uint8_t>(bytes.begin(), bytes.end())));
    }
    if (!conn.WaitClosed()) return -1ms;
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }

  MailboxCredentials good_mailbox_;
  std::unique_ptr<Client> good_;
  ServerStats before_;
};

TEST_F(TlsHostileTest, HandshakesThatNeverFinishAreClosedAfterTheTimeout) {
  const std::string hello = ClientHelloBytes();
  ASSERT_GT(hello.size(), 100u);
  const std::pair<const char*, std::string> cases[] = {
      {"nothing at all", ""},
      {"half a ClientHello", hello.substr(0, hello.size() / 2)},
      {"a record header only", hello.substr(0, 5)},
      {"a whole ClientHello, then nothing", hello},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    before_ = server_->stats();
    const auto took = TimeToClose(bytes);
    ASSERT_GE(took, 0ms) << "not closed within 5 s";
    EXPECT_GE(took, kHandshakeTimeout - 50ms) << "closed before the handshake timeout";
    EXPECT_LT(took, kHandshakeTimeout + 2500ms);
    EXPECT_TRUE(FailureCounted());
  }
  EXPECT_EQ(server_->stats().tls_handshakes, before_.tls_handshakes);
  ExpectGoodClientsServed();
}

TEST_F(TlsHostileTest, GarbageBeforeTheHandshakeIsClosedAtOnce) {
  Restart(10s);  // so that a close cannot be the timeout's
  std::mt19937 rng(3);
  std::string random(64 * 1024, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  std::string hello = ClientHelloBytes();
  for (size_t i = 9; i < hello.size(); i += 5) hello[i] = static_cast<char>(hello[i] ^ 0xa5);
  const std::pair<const char*, std::string> cases[] = {
      {"an HTTP request", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
      {"64 KiB of random bytes", random},
      {"a ClientHello with bytes flipped", hello},
      {"an SSLv2-style hello", std::string("\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", 11) +
                                   std::string(0x15 + 0x10, '\x01')},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    before_ = server_->stats();
    const auto took = TimeToClose(bytes);
    ASSERT_GE(took, 0ms) << "not closed within 5 s";
    EXPECT_LT(took, 2000ms);
    EXPECT_TRUE(FailureCounted());
  }
  ExpectGoodClientsServed();
}

TEST_F(TlsHostileTest, RandomBytesAfterACompletedHandshakeAreClosed) {
  std::mt19937 rng(5);
  for (int round = 0; round < 3; ++round) {
    RawTls tls(server_->port(), {.ca_file = pki_.ca.cert});
    ASSERT_TRUE(tls.connected());
    ASSERT_TRUE(tls.Handshake()) << tls.error();
    EXPECT_EQ(tls.alpn(), "postbox");
    // Bytes that are no record of this session, on the socket itself. 64 KiB
    // hold a whole record whatever length the first header claims.
    std::vector<uint8_t> junk(64 * 1024);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (round == 0) junk[0] = 23;  // application data, as a real record starts
    if (round == 0) junk[1] = 3, junk[2] = 3, junk[3] = 0x10, junk[4] = 0;
    const auto start = Clock::now();
    ASSERT_TRUE(tls.tcp().SendBytes(junk));
    EXPECT_TRUE(tls.tcp().WaitClosed()) << "round " << round;
    EXPECT_LT(Clock::now() - start, 2000ms);
  }
  EXPECT_GE(server_->stats().tls_handshakes, before_.tls_handshakes + 3);
  ExpectGoodClientsServed();
}

TEST_F(TlsHostileTest, ATls12RenegotiationIsRefused) {
  Restart(kHandshakeTimeout, TlsVersion::kTls12);
  RawTls tls(
      server_->port(),
      {.ca_file = pki_.ca.cert, .min_version = TLS1_2_VERSION, .max_version = TLS1_2_VERSION});
  ASSERT_TRUE(tls.connected());
  ASSERT_TRUE(tls.Handshake()) << tls.error();
  EXPECT_STREQ(SSL_get_version(tls.ssl()), "TLSv1.2");
  EXPECT_EQ(tls.alpn(), "postbox");
  ASSERT_EQ(SSL_renegotiate(tls.ssl()), 1);
  // The client's renegotiating ClientHello goes out; the server must not
  // answer with a handshake.
  const int r = SSL_do_handshake(tls.ssl());
  EXPECT_NE(r, 1) << "the server renegotiated";
  EXPECT_TRUE(tls.tcp().WaitClosed()) << "the connection stayed open after a renegotiation attempt";
  ExpectGoodClientsServed();
}

TEST_F(TlsHostileTest, VersionsAndAlpnTheServerDoesNotSpeakAreRefused) {
  {
    SCOPED_TRACE("TLS 1.2 at a server of the default minimum");
    RawTls tls(
        server_->port(),
        {.ca_file = pki_.ca.cert, .min_version = TLS1_2_VERSION, .max_version = TLS1_2_VERSION});
    EXPECT_FALSE(tls.Handshake());
    EXPECT_TRUE(FailureCounted());
  }
  {
    SCOPED_TRACE("ALPN without postbox");
    before_ = server_->stats();
    RawTls tls(server_->port(), {.ca_file = pki_.ca.cert, .alpn = {"h2", "http/1.1"}});
    EXPECT_FALSE(tls.Handshake());
    EXPECT_NE(tls.error().find("no application protocol"), std::string::npos) << tls.error();
    EXPECT_TRUE(FailureCounted());
  }
  {
    SCOPED_TRACE("ALPN with postbox among others");
    RawTls tls(server_->port(), {.ca_file = pki_.ca.cert, .alpn = {"h2", "postbox"}});
    EXPECT_TRUE(tls.Handshake()) << tls.error();
    EXPECT_EQ(tls.alpn(), "postbox");
  }
  {
    SCOPED_TRACE("no ALPN at all");
    RawTls tls(server_->port(), {.ca_file = pki_.ca.cert, .alpn = {}});
    EXPECT_TRUE(tls.Handshake()) << tls.error();
    EXPECT_EQ(tls.alpn(), "");
  }
  ExpectGoodClientsServed();
}

}  // namespace
}  // namespace postbox::sync::testing
