// TLS between the library server and client on 127.0.0.1 (docs/tls.md): a
// whole session over TLS (Hello, entries, a push, a poll, a blob both ways);
// the client refusing a server whose certificate is expired, for another
// host, from an unknown CA or without a pinned key; a plain client at a TLS
// server and a TLS client at a plain server failing clearly while others are
// served; mutual TLS; a relay whose upstream speaks TLS; and the HTTP
// listener over TLS.
#include <gtest/gtest.h>

#include "postbox/sync/relay.h"
#include "tests/integration/tls/tls_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(TlsTest, AWholeSessionOverTls) {
  const MailboxCredentials a = NewMailbox();
  const MailboxCredentials b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  PushLog log;
  ClientOptions ob = TlsOptionsFor(b);
  ob.on_push = log.Callback();
  auto cb = Connected(ob);
  ClientOptions oa = TlsOptionsFor(a);
  oa.tls.server_name = "localhost";  // by DNS name this time (b used the IP SAN)
  auto ca = Connected(oa);
  ASSERT_TRUE(ca && cb);
  EXPECT_TRUE(ca->connected() && cb->connected());

  auto put = ca->PutEntry("settings", "over tls");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto got = ca->GetEntry("settings");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->value, "over tls");

  // A post pushed to b, then seen by a poll.
  const MessageId id = Post(a, b, "topic", "pushed through TLS");
  ASSERT_TRUE(log.WaitFor([&](const std::vector<InfoPacket>& packets) {
    for (const auto& p : packets) {
      for (const auto& m : p.incoming) {
        if (m.id == id) return true;
      }
    }
    return false;
  })) << "no push over TLS";
  auto polled = cb->Poll(0);
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  bool seen = false;
  for (const auto& m : polled->incoming) seen = seen || m.id == id;
  EXPECT_TRUE(seen);

  // A blob of several chunks up from a and down to b.
  const std::string bytes = RandomBytes(1024 * 1024 + 333, 11);
  UploadSpec spec;
  spec.to = b.mkey;
  spec.id = MessageId::Random();
  spec.topic = "video";
  auto src = MemorySource(bytes);
  const Status up = ca->Upload(src.get(), spec);
  ASSERT_TRUE(up.ok()) << up.ToString();
  std::string down;
  auto sink = MemorySink(&down);
  auto r = cb->Download(spec.id, sink.get());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(down == bytes) << "downloaded " << down.size() << " bytes";
  EXPECT_EQ(r->chunks_retried, 0u);

  const ServerStats stats = server_->stats();
  EXPECT_GE(stats.tls_handshakes, 2u);
  EXPECT_EQ(stats.tls_handshake_failures, 0u);
}

TEST_F(TlsTest, AClientAlsoReconnectsOverTls) {
  const MailboxCredentials a = NewMailbox();
  auto c = Connected(TlsOptionsFor(a));
  ASSERT_TRUE(c);
  c->DropConnection();
  ASSERT_TRUE(Eventually([&] { return c->sessions_established() >= 2 && c->connected(); }))
      << "no new TLS session after a dropped connection";
  auto put = c->PutEntry("after", "reconnect");
  EXPECT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_GE(server_->stats().tls_handshakes, 2u);
}

// Each certificate problem: Connect fails with Unavailable naming it, the
// server counts a failed handshake and goes on serving others.
TEST_F(TlsTest, TheClientRefusesABadServerCertificate) {
  const MailboxCredentials m = NewMailbox();
  struct Case {
    const char* what;
    CertFiles server;
    std::function<void(ClientOptions*)> client;
    std::initializer_list<const char*> reason;
    // The server saw the handshake fail. (A pin is the client's own check:
    // made once the chain is verified, it may come after the client's
    // Finished, so the server may count a completed handshake.)
    bool server_failure = true;
  };
  const Case cases[] = {
      {"expired", pki_.expired, [](ClientOptions*) {}, {"expired"}},
      {"for another host, asked by IP",
       pki_.wrong_host,
       [](ClientOptions*) {},
       {"mismatch", "ip address"}},
      {"for another host, asked by name",
       pki_.wrong_host,
       [](ClientOptions* o) { o->tls.server_name = "localhost"; },
       {"mismatch", "host"}},
      {"the localhost certificate asked as another name",
       pki_.server,
       [](ClientOptions* o) { o->tls.server_name = "wrong.example"; },
       {"mismatch", "host"}},
      {"from an unknown CA",
       pki_.server,
       [this](ClientOptions* o) { o->tls.ca_file = pki_.other_ca.cert; },
       {"issuer", "unknown ca", "self-signed", "self signed"}},
      {"from a CA the system store does not have",
       pki_.server,
       [](ClientOptions* o) { o->tls.ca_file = ""; },
       {"issuer", "unknown ca", "self-signed", "self signed", "verify"}},
      {"without a pinned key",
       pki_.server,
       [this](ClientOptions* o) {
         o->tls.pins = {*TlsPublicKeyPin(pki_.other_server.cert),
                        *TlsPublicKeyPin(pki_.other_ca.cert)};
       },
       {"pin"},
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    StartTlsServer(TlsWith(c.server));
    ClientOptions o = TlsOptionsFor(m);
    c.client(&o);
    const auto start = std::chrono::steady_clock::now();
    const Status s = ConnectError(o);
    EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
    EXPECT_TRUE(Mentions(s, c.reason));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms)
        << "the refusal waited for the request timeout";
    if (c.server_failure) {
      EXPECT_TRUE(Eventually([&] { return server_->stats().tls_handshake_failures >= 1; }, 2000ms))
          << "the server did not count the handshake the client refused";
      EXPECT_EQ(server_->stats().tls_handshakes, 0u) << "a refused handshake counted as completed";
    }
  }
  // The pin that matches, and a plain good client, still work.
  StartTlsServer(LiveTls());
  ClientOptions pinned = TlsOptionsFor(m);
  pinned.tls.pins = {*TlsPublicKeyPin(pki_.server.cert)};
  auto c = Connected(pinned);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->Ping().ok());
  ExpectAWellBehavedClientIsServed();
}

// docs/tls.md: a plain client gets a plain 426 saying the listener speaks TLS
// only, and stops (as after any 426) rather than reconnecting.
TEST_F(TlsTest, APlainClientAtTheTlsServerGets426AndOthersAreServed) {
  const MailboxCredentials m = NewMailbox();
  ClientOptions plain = OptionsFor(m);
  plain.request_timeout = 3000ms;
  auto client = Client::Create(plain);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const auto start = std::chrono::steady_clock::now();
  auto hello = (*client)->Connect();
  ASSERT_FALSE(hello.ok()) << "a plain client said Hello to a TLS listener";
  const Status& s = hello.status();
  EXPECT_TRUE(s.Is(Code::kProtocolUnsupported)) << s.ToString();
  EXPECT_TRUE(Mentions(s, {"TLS"})) << "the error does not say the server wants TLS";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms)
      << "the server did not close a connection that speaks no TLS: " << s.ToString();
  EXPECT_TRUE(Eventually([&] { return server_->stats().tls_handshake_failures >= 1; }));
  // Final: no reconnect follows (with a 10 ms backoff, 300 ms would see
  // several). Nothing to wait for but time: the absence of attempts.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server_->stats().tls_handshake_failures, 1u) << "the plain client kept reconnecting";
  EXPECT_FALSE((*client)->connected());
  ExpectAWellBehavedClientIsServed();
}

TEST_F(TlsTest, ATlsClientAtAPlainServerFailsClearly) {
  StartTlsServer(std::nullopt);
  const MailboxCredentials m = NewMailbox();
  const auto start = std::chrono::steady_clock::now();
  const Status s = ConnectError(TlsOptionsFor(m));
  EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
  EXPECT_TRUE(Mentions(s, {"TLS"})) << "the error does not say TLS failed";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms)
      << "the failure waited for the request timeout: " << s.ToString();
  // The plain server serves plain clients on.
  auto c = Connected(OptionsFor(m));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->Ping().ok());
  EXPECT_EQ(server_->stats().tls_handshakes, 0u);
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificate) {
  TlsServerOptions t = LiveTls();
  t.client_ca_file = pki_.client_ca.cert;
  StartTlsServer(t);
  const MailboxCredentials m = NewMailbox();
  {
    SCOPED_TRACE("without a client certificate");
    const Status s = ConnectError(TlsOptionsFor(m));
    EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
    EXPECT_TRUE(Mentions(s, {"certificate"}));
    EXPECT_TRUE(Eventually([&] { return server_->stats().tls_handshake_failures >= 1; }));
  }
  {
    SCOPED_TRACE("with one from another CA");
    ClientOptions o = TlsOptionsFor(m);
    o.tls.cert_file = pki_.stray_client.cert;
    o.tls.key_file = pki_.stray_client.key;
    const Status s = ConnectError(o);
    EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
  }
  {
    SCOPED_TRACE("with one from the client CA");
    ClientOptions o = TlsOptionsFor(m);
    o.tls.cert_file = pki_.client.cert;
    o.tls.key_file = pki_.client.key;
    auto c = Connected(o);
    ASSERT_TRUE(c);
    auto put = c->PutEntry("mtls", "yes");
    EXPECT_TRUE(put.ok()) << put.status().ToString();
  }
}

TEST_F(TlsTest, ARelayReachesItsUpstreamOverMutualTls) {
  TlsServerOptions t = LiveTls();
  t.client_ca_file = pki_.client_ca.cert;
  StartTlsServer(t);  // the upstream
  const MailboxCredentials a = NewMailbox();

  TempDir relay_dir;
  auto relay_db = DB::Open((relay_dir.path() / "store").string(), {});
  ASSERT_TRUE(relay_db.ok()) << relay_db.status().ToString();
  ServerOptions rso;
  rso.host = "127.0.0.1";
  rso.port = 0;
  auto relay_server = Server::Start(relay_db->get(), rso);
  ASSERT_TRUE(relay_server.ok()) << relay_server.status().ToString();
  RelayOptions ro;
  ro.upstream_port = server_->port();
  ro.upstream_tls.enabled = true;
  ro.upstream_tls.ca_file = pki_.ca.cert;
  ro.upstream_tls.cert_file = pki_.client.cert;
  ro.upstream_tls.key_file = pki_.client.key;
  ro.mailboxes = {a};
  ro.folder = (relay_dir.path() / "replicas").string();
  ro.request_timeout = 2000ms;
  ro.retry_max = 200ms;
  ro.scan_interval = 20ms;
  auto relay = Relay::Start(relay_db->get(), relay_server->get(), ro);
  ASSERT_TRUE(relay.ok()) << relay.status().ToString();

  // An entry written at the relay (plain, on loopback) reaches upstream
  // over TLS; one written upstream comes down.
  ClientOptions o = OptionsFor(a);
  o.port = (*relay_server)->port();
  auto at_relay = Connected(o);
  ASSERT_TRUE(at_relay);
  ASSERT_TRUE(at_relay->PutEntry("from", "the relay").ok());
  ASSERT_TRUE(db_->PutEntry(a.mkey, "to", "the relay").ok());
  const Status synced = (*relay)->Sync(10s);
  EXPECT_TRUE(synced.ok()) << synced.ToString();
  auto up = db_->GetEntry(a.mkey, "from");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->value, "the relay");
  auto down = (*relay_db)->GetEntry(a.mkey, "to");
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(down->value, "the relay");
  EXPECT_GE(server_->stats().tls_handshakes, 1u);

  at_relay.reset();
  relay->reset();
  (*relay_server)->Stop();
}

TEST_F(TlsTest, TheHttpListenerSpeaksTlsWithAlpnHttp11) {
  ServerOptions so;
  so.http_port = 0;
  so.http_tls = LiveTls();
  so.http_tls->handshake_timeout = 300ms;
  StartTlsServer(LiveTls(), so);
  ASSERT_NE(server_->http_port(), 0);
  {
    SCOPED_TRACE("a connection that never starts its handshake");
    RawConn silent(server_->http_port());
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(silent.WaitClosed());
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2800ms);
    EXPECT_TRUE(Eventually([&] { return server_->stats().tls_handshake_failures >= 1; }, 2000ms))
        << "the HTTP listener's timed-out handshake was not counted";
  }
  {
    RawTls tls(server_->http_port(), {.ca_file = pki_.ca.cert, .alpn = {"http/1.1"}});
    ASSERT_TRUE(tls.connected());
    ASSERT_TRUE(tls.Handshake()) << tls.error();
    EXPECT_EQ(tls.alpn(), "http/1.1");
    ASSERT_TRUE(tls.Write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    const std::string reply = tls.ReadUntil("\r\n\r\nok");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  }
  {
    SCOPED_TRACE("the sync listener's ALPN id at the HTTP listener");
    RawTls tls(server_->http_port(), {.ca_file = pki_.ca.cert, .alpn = {"postbox"}});
    EXPECT_FALSE(tls.Handshake());
  }
  {
    SCOPED_TRACE("plain HTTP at the TLS listener");
    RawConn plain(server_->http_port());
    ASSERT_TRUE(
        plain.SendBytes(std::vector<uint8_t>{'G', 'E', 'T', ' ', '/', '\r', '\n', '\r', '\n'}));
    EXPECT_TRUE(plain.WaitClosed());
  }
  ExpectAWellBehavedClientIsServed();
}

}  // namespace
}  // namespace postbox::sync::testing
