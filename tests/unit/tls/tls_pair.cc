#include "tests/unit/tls/tls_pair.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>
#include <vector>

namespace postbox::sync::tls::testing {
namespace {

// The test PKI in a folder of its own, removed at exit.
struct PkiDir {
  PkiDir() {
    dir = std::filesystem::temp_directory_path() / ("postbox-tls-unit-" + std::to_string(getpid()) +
                                                    "-" + std::to_string(std::random_device{}()));
    pki = postbox::testing::MakeTestPki(dir);
  }
  ~PkiDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  TestPki pki;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

const TestPki& Pki() {
  static const PkiDir d;
  return d.pki;
}

TlsServerOptions ServerOptionsFor(const CertFiles& files) {
  TlsServerOptions o;
  o.cert_file = files.cert;
  o.key_file = files.key;
  return o;
}

TlsClientOptions ClientOptionsTrusting(const std::string& ca_file) {
  TlsClientOptions o;
  o.enabled = true;
  o.ca_file = ca_file;
  return o;
}

std::shared_ptr<const Context> ServerContext(const TlsServerOptions& o, std::string_view alpn) {
  auto c = Context::ForServer(o, alpn);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}
std::shared_ptr<const Context> ServerContext(std::string_view alpn) {
  return ServerContext(ServerOptionsFor(Pki().server), alpn);
}
std::shared_ptr<const Context> ClientContext(const TlsClientOptions& o, std::string_view alpn) {
  auto c = Context::ForClient(o, alpn);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}
std::shared_ptr<const Context> ClientContext(std::string_view alpn) {
  return ClientContext(ClientOptionsTrusting(Pki().ca.cert), alpn);
}

::testing::AssertionResult Mentions(const Status& s, std::initializer_list<const char*> words) {
  const std::string m = Lower(s.message());
  for (const char* w : words) {
    if (m.find(Lower(w)) != std::string::npos) return ::testing::AssertionSuccess();
  }
  std::string list;
  for (const char* w : words) list += std::string(list.empty() ? "" : " | ") + w;
  return ::testing::AssertionFailure() << s.ToString() << " names none of: " << list;
}

Pair MakePair(std::shared_ptr<const Context> client_ctx, std::shared_ptr<const Context> server_ctx,
              std::string_view server_name) {
  Pair p;
  auto c = Channel::Connect(std::move(client_ctx), server_name);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  auto s = Channel::Accept(std::move(server_ctx));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (c.ok()) p.client = std::move(*c);
  if (s.ok()) p.server = std::move(*s);
  return p;
}

bool Pump(Pair* p) {
  for (int round = 0; round < 100; ++round) {
    bool moved = false;
    if (p->client->pending() > 0) {
      std::string bytes;
      p->client->TakeOutput(&bytes);
      if (p->server_error.ok()) {
        p->server_error = p->server->Receive(
            std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
            &p->server_plain);
      }
      moved = true;
    }
    if (p->server->pending() > 0) {
      std::vector<uint8_t> bytes;
      p->server->TakeOutput(&bytes);
      if (p->client_error.ok()) {
        std::vector<uint8_t> plain;
        p->client_error = p->client->Receive(bytes, &plain);
        p->client_plain.append(plain.begin(), plain.end());
      }
      moved = true;
    }
    if (!moved) return true;
  }
  return false;
}

void Handshake(Pair* p) {
  ASSERT_TRUE(p->client && p->server);
  ASSERT_TRUE(p->server->Start().ok());
  EXPECT_EQ(p->server->pending(), 0u) << "a server has nothing to say first";
  const Status s = p->client->Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(p->client->pending(), 0u) << "no ClientHello";
  ASSERT_TRUE(Pump(p));
}

Pair Established(std::shared_ptr<const Context> client_ctx,
                 std::shared_ptr<const Context> server_ctx) {
  Pair p = MakePair(client_ctx ? client_ctx : ClientContext(),
                    server_ctx ? server_ctx : ServerContext());
  Handshake(&p);
  EXPECT_TRUE(p.client_error.ok()) << p.client_error.ToString();
  EXPECT_TRUE(p.server_error.ok()) << p.server_error.ToString();
  EXPECT_TRUE(p.client && p.client->established());
  EXPECT_TRUE(p.server && p.server->established());
  return p;
}

void ExpectHandshakeFails(Pair* p) {
  Handshake(p);
  EXPECT_FALSE(p->client_error.ok() && p->server_error.ok()) << "the handshake succeeded";
  EXPECT_FALSE(p->server->established()) << "the server went on";
  for (const Status* s : {&p->client_error, &p->server_error}) {
    if (!s->ok()) {
      EXPECT_TRUE(s->Is(Code::kUnavailable)) << s->ToString();
      EXPECT_FALSE(s->message().empty());
    }
  }
}

}  // namespace postbox::sync::tls::testing
