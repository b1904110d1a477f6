// What the TLS channel (engine/src/sync/tls/channel.h) agrees to: versions
// and ALPN; the server's certificate as the client verifies it (expiry, an
// unknown CA, host names and IP addresses, public-key pins); client
// certificates (mutual TLS); and contexts refusing bad files. A refusal is an
// error naming OpenSSL's reason, and the refused side never counts as
// established.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/unit/tls/tls_pair.h"

namespace postbox::sync::tls::testing {
namespace {

// ---- versions and ALPN ----

// A context that speaks TLS 1.2 at most (no option of ours says so: the
// test reaches into the SSL_CTX before any channel is made from it).
std::shared_ptr<const Context> CapAtTls12(std::shared_ptr<const Context> ctx) {
  if (ctx) SSL_CTX_set_max_proto_version(ctx->get(), TLS1_2_VERSION);
  return ctx;
}

// A client context that offers no ALPN (as some foreign clients do; ours
// always offer one), again by reaching into the SSL_CTX.
std::shared_ptr<const Context> WithoutAlpn(std::shared_ptr<const Context> ctx) {
  if (ctx) SSL_CTX_set_alpn_protos(ctx->get(), nullptr, 0);
  return ctx;
}

TEST(TlsChannelTest, Tls12OnlyWhenTheServerAllowsIt) {
  TlsClientOptions co = ClientOptionsTrusting(Pki().ca.cert);
  co.min_version = TlsVersion::kTls12;
  TlsServerOptions so = ServerOptionsFor(Pki().server);
  {
    SCOPED_TRACE("a TLS 1.2 client, a server with the default minimum (1.3)");
    Pair p = MakePair(CapAtTls12(ClientContext(co)), ServerContext(so));
    ExpectHandshakeFails(&p);
    EXPECT_FALSE(p.server_error.ok());
    EXPECT_TRUE(Mentions(p.server_error, {"version", "protocol"}));
  }
  so.min_version = TlsVersion::kTls12;
  {
    SCOPED_TRACE("a TLS 1.2 client, a server allowing 1.2");
    Pair p = Established(CapAtTls12(ClientContext(co)), ServerContext(so));
    EXPECT_EQ(p.client->version(), "TLSv1.2");
    EXPECT_EQ(p.server->version(), "TLSv1.2");
    EXPECT_EQ(p.server->alpn(), "postbox");
    ASSERT_TRUE(p.client->Send(Bytes("over 1.2")).ok());
    ASSERT_TRUE(Pump(&p));
    EXPECT_EQ(p.server_plain, "over 1.2");
  }
  {
    SCOPED_TRACE("both allow 1.2: they still agree on 1.3");
    Pair p = Established(ClientContext(co), ServerContext(so));
    EXPECT_EQ(p.server->version(), "TLSv1.3");
  }
}

TEST(TlsChannelTest, Tls12OnlyWhenTheClientAllowsIt) {
  TlsServerOptions so = ServerOptionsFor(Pki().server);
  so.min_version = TlsVersion::kTls12;
  // The client keeps its default minimum (1.3); the server offers 1.2 only.
  Pair p = MakePair(ClientContext(), CapAtTls12(ServerContext(so)));
  ExpectHandshakeFails(&p);
  EXPECT_FALSE(p.client->established());
}

TEST(TlsChannelTest, AlpnIsNegotiatedOrTheHandshakeRefused) {
  {
    SCOPED_TRACE("the HTTP listener's id");
    Pair p = Established(ClientContext(kHttpAlpn), ServerContext(kHttpAlpn));
    EXPECT_EQ(p.client->alpn(), "http/1.1");
    EXPECT_EQ(p.server->alpn(), "http/1.1");
  }
  {
    SCOPED_TRACE("a client offering no ALPN is accepted");
    Pair p = Established(WithoutAlpn(ClientContext()), ServerContext());
    EXPECT_EQ(p.server->alpn(), "");
    EXPECT_EQ(p.client->alpn(), "");
  }
  {
    SCOPED_TRACE("a client offering only h2 to the sync listener");
    Pair p = MakePair(ClientContext("h2"), ServerContext());
    ExpectHandshakeFails(&p);
    EXPECT_FALSE(p.server_error.ok());
    EXPECT_TRUE(Mentions(p.server_error, {"application protocol", "alpn"}));
    EXPECT_FALSE(p.client->established());
  }
  {
    SCOPED_TRACE("the sync id offered to the HTTP listener");
    Pair p = MakePair(ClientContext(kSyncAlpn), ServerContext(kHttpAlpn));
    ExpectHandshakeFails(&p);
    EXPECT_FALSE(p.server_error.ok());
  }
}

// ---- the server's certificate, as the client checks it ----

TEST(TlsChannelTest, AnExpiredCertificateIsRefused) {
  Pair p = MakePair(ClientContext(), ServerContext(ServerOptionsFor(Pki().expired)));
  ExpectHandshakeFails(&p);
  ASSERT_FALSE(p.client_error.ok());
  EXPECT_TRUE(Mentions(p.client_error, {"expired"}));
  EXPECT_FALSE(p.client->established());
}

TEST(TlsChannelTest, AnUnknownCaIsRefused) {
  {
    SCOPED_TRACE("a CA file with another CA");
    Pair p = MakePair(ClientContext(ClientOptionsTrusting(Pki().other_ca.cert)), ServerContext());
    ExpectHandshakeFails(&p);
    ASSERT_FALSE(p.client_error.ok());
    EXPECT_TRUE(Mentions(p.client_error, {"issuer", "unknown ca", "self-signed", "self signed"}));
    EXPECT_FALSE(p.client->established());
  }
  {
    SCOPED_TRACE("the system store, which does not hold the test CA");
    Pair p = MakePair(ClientContext(ClientOptionsTrusting("")), ServerContext());
    ExpectHandshakeFails(&p);
    ASSERT_FALSE(p.client_error.ok());
    EXPECT_FALSE(p.client->established());
  }
}

TEST(TlsChannelTest, TheCertificateMustNameTheHost) {
  {
    SCOPED_TRACE("a certificate for wrong.example only, asked as localhost");
    Pair p = MakePair(ClientContext(), ServerContext(ServerOptionsFor(Pki().wrong_host)));
    ExpectHandshakeFails(&p);
    ASSERT_FALSE(p.client_error.ok());
    EXPECT_TRUE(Mentions(p.client_error, {"mismatch", "host"}));
  }
  {
    SCOPED_TRACE("the same certificate asked as 127.0.0.1 (no IP address in it)");
    Pair p =
        MakePair(ClientContext(), ServerContext(ServerOptionsFor(Pki().wrong_host)), "127.0.0.1");
    ExpectHandshakeFails(&p);
    ASSERT_FALSE(p.client_error.ok());
    EXPECT_TRUE(Mentions(p.client_error, {"mismatch", "ip address"}));
  }
  {
    SCOPED_TRACE("the localhost certificate asked as another name");
    Pair p = MakePair(ClientContext(), ServerContext(), "wrong.example");
    ExpectHandshakeFails(&p);
    ASSERT_FALSE(p.client_error.ok());
  }
  {
    SCOPED_TRACE("the localhost certificate asked as another address");
    Pair p = MakePair(ClientContext(), ServerContext(), "127.0.0.2");
    ExpectHandshakeFails(&p);
    ASSERT_FALSE(p.client_error.ok());
  }
  {
    SCOPED_TRACE("its certificate for wrong.example asked as wrong.example");
    Pair p = MakePair(ClientContext(), ServerContext(ServerOptionsFor(Pki().wrong_host)),
                      "wrong.example");
    Handshake(&p);
    EXPECT_TRUE(p.client_error.ok()) << p.client_error.ToString();
    EXPECT_TRUE(p.client->established());
  }
}

TEST(TlsChannelTest, AnIpAddressMatchesTheCertificatesIpSan) {
  Pair p = MakePair(ClientContext(), ServerContext(), "127.0.0.1");
  Handshake(&p);
  EXPECT_TRUE(p.client_error.ok()) << p.client_error.ToString();
  EXPECT_TRUE(p.server_error.ok()) << p.server_error.ToString();
  EXPECT_TRUE(p.client->established() && p.server->established());
}

// The pin of a certificate's key computed here independently of the code
// under test: "sha256/" + base64(SHA-256(DER SubjectPublicKeyInfo)).
std::string PinOf(const std::string& cert_file) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return "";
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  unsigned char digest[32];
  unsigned int digest_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  X509_free(cert);
  unsigned char b64[64] = {};
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(digest_len));
  return "sha256/" + std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

TEST(TlsPublicKeyPinTest, IsTheBase64OfTheSha256OfTheKey) {
  for (const CertFiles* f : {&Pki().server, &Pki().ca, &Pki().client}) {
    auto pin = TlsPublicKeyPin(f->cert);
    ASSERT_TRUE(pin.ok()) << pin.status().ToString();
    EXPECT_EQ(*pin, PinOf(f->cert));
    EXPECT_EQ(pin->size(), 7u + 44u) << *pin;  // "sha256/" + 32 bytes in padded base64
  }
  EXPECT_NE(*TlsPublicKeyPin(Pki().server.cert), *TlsPublicKeyPin(Pki().other_server.cert));
  auto missing = TlsPublicKeyPin((Pki().ca.cert + ".missing"));
  EXPECT_TRUE(missing.status().Is(Code::kNotFound)) << missing.status().ToString();
  auto garbage = TlsPublicKeyPin(Pki().garbage);
  EXPECT_TRUE(garbage.status().Is(Code::kInvalidArgument)) << garbage.status().ToString();
  auto key = TlsPublicKeyPin(Pki().server.key);  // a PEM file, but no certificate
  EXPECT_TRUE(key.status().Is(Code::kInvalidArgument)) << key.status().ToString();
}

TEST(TlsChannelTest, PinsMatchTheServersKeyOrTheChainsOrFail) {
  TlsClientOptions co = ClientOptionsTrusting(Pki().ca.cert);
  {
    SCOPED_TRACE("the server's own key, among others");
    co.pins = {PinOf(Pki().other_server.cert), PinOf(Pki().server.cert)};
    Pair p = Established(ClientContext(co), ServerContext());
    EXPECT_TRUE(p.client->established());
  }
  {
    SCOPED_TRACE("the CA's key: a certificate of the verified chain");
    co.pins = {PinOf(Pki().ca.cert)};
    Pair p = Established(ClientContext(co), ServerContext());
    EXPECT_TRUE(p.client->established());
  }
  {
    SCOPED_TRACE("only other keys");
    co.pins = {PinOf(Pki().other_server.cert), PinOf(Pki().other_ca.cert)};
    Pair p = MakePair(ClientContext(co), ServerContext());
    Handshake(&p);
    ASSERT_FALSE(p.client_error.ok()) << "a pin mismatch went through";
    EXPECT_TRUE(p.client_error.Is(Code::kUnavailable)) << p.client_error.ToString();
    EXPECT_TRUE(Mentions(p.client_error, {"pin"}));
    EXPECT_FALSE(p.client->established()) << "established means the pins matched";
    EXPECT_FALSE(p.client->Send(Bytes("secret")).ok());
  }
}

// ---- mutual TLS ----

TEST(TlsChannelTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  TlsServerOptions so = ServerOptionsFor(Pki().server);
  so.client_ca_file = Pki().client_ca.cert;
  {
    SCOPED_TRACE("with a certificate from the client CA");
    TlsClientOptions co = ClientOptionsTrusting(Pki().ca.cert);
    co.cert_file = Pki().client.cert;
    co.key_file = Pki().client.key;
    Pair p = Established(ClientContext(co), ServerContext(so));
    EXPECT_NE(p.server->peer_subject().find("postbox relay"), std::string::npos)
        << p.server->peer_subject();
    ASSERT_TRUE(p.client->Send(Bytes("from the relay")).ok());
    ASSERT_TRUE(Pump(&p));
    EXPECT_EQ(p.server_plain, "from the relay");
  }
  {
    SCOPED_TRACE("without one");
    Pair p = MakePair(ClientContext(), ServerContext(so));
    Handshake(&p);
    ASSERT_FALSE(p.server_error.ok()) << "a client without a certificate was accepted";
    EXPECT_TRUE(p.server_error.Is(Code::kUnavailable)) << p.server_error.ToString();
    EXPECT_TRUE(Mentions(p.server_error, {"certificate"}));
    EXPECT_FALSE(p.server->established());
    EXPECT_EQ(p.server->peer_subject(), "");
    // In TLS 1.3 the client finishes first; the server's alert ends it.
    EXPECT_FALSE(p.client_error.ok()) << "the client never heard of the refusal";
  }
  {
    SCOPED_TRACE("with a certificate from another CA");
    TlsClientOptions co = ClientOptionsTrusting(Pki().ca.cert);
    co.cert_file = Pki().stray_client.cert;
    co.key_file = Pki().stray_client.key;
    Pair p = MakePair(ClientContext(co), ServerContext(so));
    Handshake(&p);
    ASSERT_FALSE(p.server_error.ok()) << "a client certificate of an unknown CA was accepted";
    EXPECT_FALSE(p.server->established());
  }
}

// ---- contexts from bad files ----

TEST(TlsContextTest, BadFilesAreInvalidArgumentNamingTheFile) {
  auto expect_invalid = [](const Result<std::shared_ptr<const Context>>& r,
                           const std::string& file) {
    ASSERT_FALSE(r.ok()) << "accepted; expected an error naming " << file;
    EXPECT_TRUE(r.status().Is(Code::kInvalidArgument)) << r.status().ToString();
    EXPECT_NE(r.status().message().find(std::filesystem::path(file).filename().string()),
              std::string::npos)
        << r.status().ToString() << " does not name " << file;
  };
  const TestPki& pki = Pki();
  TlsServerOptions so = ServerOptionsFor(pki.server);
  so.cert_file = pki.server.cert + ".missing";
  expect_invalid(Context::ForServer(so, kSyncAlpn), so.cert_file);
  so = ServerOptionsFor(pki.server);
  so.key_file = pki.garbage;
  expect_invalid(Context::ForServer(so, kSyncAlpn), so.key_file);
  so = ServerOptionsFor(pki.server);
  so.cert_file = pki.garbage;
  expect_invalid(Context::ForServer(so, kSyncAlpn), so.cert_file);
  so = ServerOptionsFor(pki.server);
  so.client_ca_file = pki.garbage;
  expect_invalid(Context::ForServer(so, kSyncAlpn), so.client_ca_file);
  {
    // A key that is not the certificate's.
    so = ServerOptionsFor(pki.server);
    so.key_file = pki.other_server.key;
    auto r = Context::ForServer(so, kSyncAlpn);
    ASSERT_FALSE(r.ok()) << "a key not matching the certificate was accepted";
    EXPECT_TRUE(r.status().Is(Code::kInvalidArgument)) << r.status().ToString();
  }
  TlsClientOptions co = ClientOptionsTrusting(pki.ca.cert + ".missing");
  expect_invalid(Context::ForClient(co, kSyncAlpn), co.ca_file);
  co = ClientOptionsTrusting(pki.garbage);
  expect_invalid(Context::ForClient(co, kSyncAlpn), co.ca_file);
  co = ClientOptionsTrusting(pki.ca.cert);
  co.cert_file = pki.client.cert;  // without its key
  EXPECT_FALSE(Context::ForClient(co, kSyncAlpn).ok()) << "a client certificate without a key";
  co.key_file = pki.other_server.key;  // not its key
  EXPECT_FALSE(Context::ForClient(co, kSyncAlpn).ok()) << "a client key not matching";

  auto good = Context::ForServer(ServerOptionsFor(pki.server), kSyncAlpn);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE((*good)->server());
  auto client = Context::ForClient(ClientOptionsTrusting(pki.ca.cert), kSyncAlpn);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_FALSE((*client)->server());
}

}  // namespace
}  // namespace postbox::sync::tls::testing
