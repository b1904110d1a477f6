// Helpers of the TLS integration tests: a SyncTest whose server speaks TLS
// with a certificate from a PKI made at test time (tests/support/tls_certs.h),
// clients that trust a chosen CA, a poll-with-deadline, and RawTls — a
// blocking OpenSSL client over a plain POSIX socket that a test drives itself
// (versions, ALPN, renegotiation, bytes after the handshake).
#ifndef POSTBOX_TESTS_INTEGRATION_TLS_TLS_TEST_UTIL_H_
#define POSTBOX_TESTS_INTEGRATION_TLS_TLS_TEST_UTIL_H_

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/integration/sync/sync_test_util.h"
#include "tests/support/tls_certs.h"

namespace postbox::sync::testing {

using postbox::testing::CertFiles;
using postbox::testing::TestPki;

// Polls `pred` every 5 ms until it holds (true) or `timeout` passes (false).
inline bool Eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The status's message names one of `words` (case-insensitively).
inline ::testing::AssertionResult Mentions(const Status& s,
                                           std::initializer_list<const char*> words) {
  const std::string m = Lower(s.message());
  for (const char* w : words) {
    if (m.find(Lower(w)) != std::string::npos) return ::testing::AssertionSuccess();
  }
  std::string list;
  for (const char* w : words) list += std::string(list.empty() ? "" : " | ") + w;
  return ::testing::AssertionFailure() << s.ToString() << " names none of: " << list;
}

// A sync server with TLS on its listener: the certificate and key are the
// "live" files (a copy of pki_.server) so that tests can rotate them.
class TlsTest : public SyncTest {
 protected:
  void SetUp() override {
    pki_ = postbox::testing::MakeTestPki(pki_dir_.path());
    live_ = {(pki_dir_.path() / "live.crt").string(), (pki_dir_.path() / "live.key").string()};
    postbox::testing::CopyCertFiles(pki_.server, live_);
    StartTlsServer(LiveTls());
  }

  TlsServerOptions LiveTls() const {
    TlsServerOptions t;
    t.cert_file = live_.cert;
    t.key_file = live_.key;
    return t;
  }
  static TlsServerOptions TlsWith(const CertFiles& files) {
    TlsServerOptions t;
    t.cert_file = files.cert;
    t.key_file = files.key;
    return t;
  }
  // (Re)starts the server (on the same store) with `tls` on its listener.
  void StartTlsServer(std::optional<TlsServerOptions> tls, ServerOptions so = {}) {
    so.tls = std::move(tls);
    StartServer(so);
  }

  // Client options for `c`, verifying the server against `ca_file` (the
  // test CA by default) as host 127.0.0.1 (its IP SAN).
  ClientOptions TlsOptionsFor(const MailboxCredentials& c, std::string ca_file = "") {
    ClientOptions o = OptionsFor(c);
    o.tls.enabled = true;
    o.tls.ca_file = ca_file.empty() ? pki_.ca.cert : ca_file;
    o.request_timeout = std::chrono::milliseconds(3000);
    return o;
  }

  // Connect's error for `o` (fails the test if Connect succeeds).
  Status ConnectError(const ClientOptions& o) {
    auto c = Client::Create(o);
    if (!c.ok()) return c.status();
    auto hello = (*c)->Connect();
    EXPECT_FALSE(hello.ok()) << "connected, though it should not have";
    return hello.ok() ? Status::Ok() : hello.status();
  }

  // A client of a mailbox of its own says Hello and Pings over TLS.
  void ExpectAWellBehavedClientIsServed() {
    const MailboxCredentials m = NewMailbox();
    auto c = Connected(TlsOptionsFor(m));
    ASSERT_TRUE(c) << "a well-behaved TLS client could not connect";
    const Status ping = c->Ping();
    EXPECT_TRUE(ping.ok()) << ping.ToString();
  }

  TempDir pki_dir_;
  TestPki pki_;
  CertFiles live_;
};

// A blocking TLS client on a plain socket, driven by the test.
class RawTls {
 public:
  struct Options {
    std::string ca_file;  // empty: no verification
    int min_version = TLS1_3_VERSION;
    int max_version = 0;                          // 0: the highest
    std::vector<std::string> alpn = {"postbox"};  // empty: none offered
    std::string sni = "localhost";
  };

  RawTls(uint16_t port, const Options& o) : tcp_(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (!o.ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!o.alpn.empty()) {
      std::string wire;
      for (const auto& p : o.alpn) wire += static_cast<char>(p.size()) + p;
      SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned>(wire.size()));
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_tlsext_host_name(ssl_, o.sni.c_str());
    SSL_set_fd(ssl_, tcp_.fd());
  }
  ~RawTls() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;

  bool connected() const { return tcp_.connected(); }
  int fd() const { return tcp_.fd(); }
  SSL* ssl() { return ssl_; }
  RawConn& tcp() { return tcp_; }

  // The handshake; on failure error() says why.
  bool Handshake() { return Check(SSL_connect(ssl_), "SSL_connect"); }
  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    return std::string(reinterpret_cast<const char*>(p), len);
  }
  bool Write(std::string_view bytes) {
    return Check(SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())), "SSL_write");
  }
  // Reads until `until` is in what was read, or EOF / an error / 5 s.
  std::string ReadUntil(std::string_view until) {
    std::string got;
    char buf[4096];
    while (got.find(until) == std::string::npos) {
      const int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  const std::string& error() const { return error_; }

 private:
  bool Check(int ret, const char* what) {
    if (ret > 0) return true;
    error_ = std::string(what) + ": SSL_get_error " + std::to_string(SSL_get_error(ssl_, ret));
    while (const unsigned long e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      error_ += std::string("; ") + buf;
    }
    return false;
  }

  RawConn tcp_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string error_;
};

// The first flight of a TLS 1.3 client (its ClientHello record), made with
// memory BIOs: what a real client sends first.
inline std::string ClientHelloBytes() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_tlsext_host_name(ssl, "localhost");
  (void)SSL_connect(ssl);  // wants to read the ServerHello
  char* data = nullptr;
  const long len = BIO_get_mem_data(wbio, &data);
  std::string hello(data, static_cast<size_t>(len));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_TLS_TLS_TEST_UTIL_H_
