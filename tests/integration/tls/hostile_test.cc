// Hostile peers at the TLS sync listener, on raw sockets the test drives: a
// connection that says nothing, half a ClientHello, a ClientHello and then
// nothing, garbage before the handshake, random bytes after a completed one,
// a TLS 1.2 renegotiation, versions and ALPN the server does not speak. Each
// is closed (the handshake ones after handshake_timeout, counted in
// tls_handshake_failures) while a well-behaved TLS client connected before
// keeps working throughout.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
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

// 64 KiB of random bytes: they hold a whole record whatever length the first
// header claims. Round 0 starts like a real application-data record.
std::vector<uint8_t> Junk(std::mt19937* rng, int round) {
  std::vector<uint8_t> junk(64 * 1024);
  for (auto& b : junk) b = static_cast<uint8_t>((*rng)());
  if (round == 0) {
    const uint8_t header[] = {23, 3, 3, 0x10, 0};
    std::copy(std::begin(header), std::end(header), junk.begin());
  }
  return junk;
}

TEST_F(TlsHostileTest, RandomBytesAfterACompletedHandshakeAreClosed) {
  std::mt19937 rng(5);
  for (int round = 0; round < 3; ++round) {
    RawTls tls(server_->port(), {.ca_file = pki_.ca.cert});
    ASSERT_TRUE(tls.connected());
    ASSERT_TRUE(tls.Handshake()) << tls.error();
    EXPECT_EQ(tls.alpn(), "postbox");
    // The server has taken the client's Finished (a TLS 1.3 client is done
    // before that) ...
    ASSERT_TRUE(Eventually(
        [&] { return server_->stats().tls_handshakes == before_.tls_handshakes + round + 1; }));
    // ... and now gets bytes that are no record of this session.
    const auto start = Clock::now();
    ASSERT_TRUE(tls.tcp().SendBytes(Junk(&rng, round)));
    EXPECT_TRUE(tls.tcp().WaitClosed()) << "round " << round;
    EXPECT_LT(Clock::now() - start, 2000ms);
  }
  EXPECT_EQ(server_->stats().tls_handshake_failures, before_.tls_handshake_failures);
  ExpectGoodClientsServed();
}

// The client's Finished and a bad record in one read: the handshake
// completed, then the record failed. The connection is closed, and counted
// once (ServerStats: every TLS connection is a completed handshake or a
// failed one).
TEST_F(TlsHostileTest, AFinishedAndABadRecordInOneReadAreCountedOnce) {
  std::mt19937 rng(9);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    RawConn tcp(server_->port());
    ASSERT_TRUE(tcp.connected());
    // A TLS 1.3 client over memory BIOs: its last flight stays here until
    // the junk is appended to it.
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL* ssl = SSL_new(ctx);
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    auto take = [&] {
      char* data = nullptr;
      const long n = BIO_get_mem_data(wbio, &data);
      std::vector<uint8_t> out(data, data + n);
      (void)BIO_reset(wbio);
      return out;
    };
    int r = 0;
    while ((r = SSL_do_handshake(ssl)) != 1 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ) {
      ASSERT_TRUE(tcp.SendBytes(take()));
      uint8_t buf[16384];
      const ssize_t n = recv(tcp.fd(), buf, sizeof(buf), 0);
      ASSERT_GT(n, 0) << "the server closed during the handshake";
      BIO_write(rbio, buf, static_cast<int>(n));
    }
    ASSERT_EQ(r, 1) << "the raw client's handshake failed";
    std::vector<uint8_t> finished_and_junk = take();
    ASSERT_FALSE(finished_and_junk.empty());
    const std::vector<uint8_t> junk = Junk(&rng, round);
    finished_and_junk.insert(finished_and_junk.end(), junk.begin(), junk.end());
    const ServerStats before = server_->stats();
    ASSERT_TRUE(tcp.SendBytes(finished_and_junk));
    EXPECT_TRUE(tcp.WaitClosed());
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    auto counted = [&] {
      const ServerStats now = server_->stats();
      return (now.tls_handshakes - before.tls_handshakes) +
             (now.tls_handshake_failures - before.tls_handshake_failures);
    };
    EXPECT_TRUE(Eventually([&] { return counted() >= 1; }, 2000ms))
        << "the connection was counted neither as a completed handshake nor as a failed one";
    EXPECT_LE(counted(), 1u);
  }
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
