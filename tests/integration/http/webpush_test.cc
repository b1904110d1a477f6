// The Web Push routes (docs/notifications.md "Web Push"): app servers POST
// notifications to a mailbox's endpoint and a client of the mailbox gets them
// as entries through the feed; Topic replaces, DELETE withdraws, TTL expires,
// TTL 0 reaches only a connected mailbox; UnifiedPush discovery, SimplePush
// versions, VAPID (RFC 8292); every bad request gets its code and stores
// nothing.
#include <condition_variable>
#include <mutex>

#include "integration/http/http_test_util.h"
#include "postbox/push.h"
#include "postbox/sync/client.h"
#include "support/test_keys.h"
#include "sync/crypto/jwt.h"

namespace postbox::sync::http::testing {
namespace {

class WebPushTest : public HttpServerTest {
 protected:
  void SetUp() override {
    HttpServerTest::SetUp();
    options_.webpush_rate = 0;  // the rate test sets its own
    auto m = db_->CreateMailbox();
    ASSERT_TRUE(m.ok());
    mailbox_ = *m;
  }
  // Starts the server (Web Push is built in: no handler) and registers an
  // endpoint, restricted to `vapid_key` if not empty.
  void StartWithEndpoint(std::string vapid_key = {}) {
    Start(std::shared_ptr<HttpHandler>());
    auto e = db_->RegisterEndpoint(mailbox_.mkey, "org.example.app", vapid_key);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    endpoint_ = *e;
  }
  std::string PushPath() const { return "/push/" + endpoint_.token; }

  // One request on a fresh connection.
  Response Request(const std::string& method, const std::string& path,
                   const std::string& headers = "", const std::string& body = "") {
    RawClient c(port());
    EXPECT_TRUE(c.connected());
    std::string req = method + " " + path +
                      " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port()) + "\r\n" + headers;
    if (!body.empty() || method == "POST" || method == "PUT") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    EXPECT_TRUE(c.Send(req));
    auto r = c.Read();
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(Response{});
  }
  Response Post(const std::string& body, const std::string& headers = "TTL: 60\r\n") {
    return Request("POST", PushPath(), headers, body);
  }

  std::vector<EntryInfo> PushEntries() {
    auto list = db_->ListEntries(mailbox_.mkey, kPushKeyPrefix, "", 100);
    EXPECT_TRUE(list.ok());
    return list.value_or(std::vector<EntryInfo>{});
  }
  uint64_t Seq() { return db_->GetMailbox(mailbox_.mkey).value().seq; }

  MailboxCredentials mailbox_;
  EndpointInfo endpoint_;
};

TEST_F(WebPushTest, APostIsStoredDurablyAsAnEntryOfTheMailbox) {
  StartWithEndpoint();
  const std::string payload("\x01\x02 ciphertext \x00\xff", 16);
  const Response r = Post(payload, "TTL: 3600\r\nContent-Encoding: aes128gcm\r\nUrgency: high\r\n");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Header("ttl"), "3600");
  const std::string location = r.Header("location");
  ASSERT_EQ(location.rfind("/m/" + endpoint_.token + "/", 0), 0u) << location;
  // Durable before the 201: the store has it now.
  const auto entries = PushEntries();
  ASSERT_EQ(entries.size(), 1u);
  auto n = ParsePushNotification(entries[0].key, entries[0].value);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->token, endpoint_.token);
  EXPECT_EQ(location, "/m/" + endpoint_.token + "/" + n->id);
  EXPECT_EQ(n->payload, payload);
  EXPECT_EQ(n->encoding, "aes128gcm");
  EXPECT_EQ(n->urgency, PushUrgency::kHigh);
  EXPECT_EQ(n->ttl_s, 3600u);
  EXPECT_TRUE(n->topic.empty());
  EXPECT_EQ(server_->stats().webpush_stored, 1u);
}

TEST_F(WebPushTest, AConnectedClientGetsTheNotificationPushed) {
  StartWithEndpoint();
  ClientOptions o;
  o.host = "127.0.0.1";
  o.port = server_->port();
  o.mkey = mailbox_.mkey;
  o.secret = mailbox_.secret;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<EntryInfo> got;
  o.on_push = [&](const InfoPacket& p) {
    std::lock_guard lock(mu);
    for (const auto& e : p.entries) got.push_back(e);
    cv.notify_all();
  };
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Connect().ok());
  ASSERT_TRUE((*client)->Poll(0).ok());  // the feed is followed from here
  // Online now: even TTL 0 is delivered.
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.sessions == 1; }));
  ASSERT_EQ(Post("hello", "TTL: 0\r\n").status, 201);
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return !got.empty(); }));
  auto n = ParsePushNotification(got[0].key, got[0].value);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->payload, "hello");
  EXPECT_EQ(n->ttl_s, 0u);
  lock.unlock();
  // The client consumes it by deleting the entry.
  ASSERT_TRUE((*client)->DeleteEntry(got[0].key).ok());
  EXPECT_TRUE(PushEntries().empty());
  // A client may not write there itself.
  auto forged = (*client)->PutEntry(got[0].key, "forged");
  EXPECT_TRUE(forged.status().Is(Code::kPermissionDenied)) << forged.status().ToString();
  auto simple = (*client)->PutEntry(SimplePushEntryKey(endpoint_.token), "9");
  EXPECT_TRUE(simple.status().Is(Code::kPermissionDenied));
  EXPECT_TRUE(PushEntries().empty());
}

TEST_F(WebPushTest, TtlZeroWithNoSessionIsAcceptedAndDropped) {
  StartWithEndpoint();
  const uint64_t seq = Seq();
  const Response r = Post("gone at once", "TTL: 0\r\n");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.Header("ttl"), "0");
  EXPECT_TRUE(PushEntries().empty());
  EXPECT_EQ(Seq(), seq);
  EXPECT_EQ(server_->stats().webpush_dropped, 1u);
}

TEST_F(WebPushTest, ATopicReplacesTheUndeliveredOlderOne) {
  StartWithEndpoint();
  const Response first = Post("old score", "TTL: 60\r\nTopic: score\r\n");
  ASSERT_EQ(first.status, 201);
  const Response second = Post("new score", "TTL: 60\r\nTopic: score\r\n");
  ASSERT_EQ(second.status, 201);
  EXPECT_NE(first.Header("location"), second.Header("location"));
  ASSERT_EQ(Post("other", "TTL: 60\r\nTopic: other\r\n").status, 201);
  auto entries = PushEntries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key, "postbox/push/" + endpoint_.token + "/t.other");
  EXPECT_EQ(entries[1].key, "postbox/push/" + endpoint_.token + "/t.score");
  EXPECT_EQ(ParsePushNotification(entries[1].key, entries[1].value)->payload, "new score");
  // The replaced one's resource is gone; the newer one can be withdrawn.
  EXPECT_EQ(Request("DELETE", first.Header("location")).status, 404);
  EXPECT_EQ(PushEntries().size(), 2u);
  EXPECT_EQ(Request("DELETE", second.Header("location")).status, 204);
  entries = PushEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "postbox/push/" + endpoint_.token + "/t.other");
  EXPECT_EQ(Request("DELETE", second.Header("location")).status, 404);
}

TEST_F(WebPushTest, DeleteWithdrawsANotificationNotYetConsumed) {
  StartWithEndpoint();
  const Response r = Post("withdraw me");
  ASSERT_EQ(r.status, 201);
  const std::string location = r.Header("location");
  EXPECT_EQ(Request("GET", location).status, 405);
  EXPECT_EQ(Request("DELETE", location + "x").status, 404);
  EXPECT_EQ(Request("DELETE", "/m/" + endpoint_.token).status, 404);
  EXPECT_EQ(PushEntries().size(), 1u);
  EXPECT_EQ(Request("DELETE", location).status, 204);
  EXPECT_TRUE(PushEntries().empty());
}

TEST_F(WebPushTest, ANotificationExpiresAfterItsTtl) {
  options_.maintenance_interval = std::chrono::milliseconds(50);
  StartWithEndpoint();
  ASSERT_EQ(Post("short-lived", "TTL: 1\r\n").status, 201);
  ASSERT_EQ(Post("long-lived", "TTL: 3600\r\n").status, 201);
  ASSERT_EQ(PushEntries().size(), 2u);
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.entries_expired == 1; }));
  const auto entries = PushEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(ParsePushNotification(entries[0].key, entries[0].value)->payload, "long-lived");
}

TEST_F(WebPushTest, TheTtlIsCutToTheServersMaximumAndMissingMeansThatMaximum) {
  options_.webpush_max_ttl = std::chrono::seconds(600);
  StartWithEndpoint();
  EXPECT_EQ(Post("a", "TTL: 99999999999999999999\r\n").Header("ttl"), "600");
  EXPECT_EQ(Post("b", "").Header("ttl"), "600");  // UnifiedPush senders may omit it
  EXPECT_EQ(Post("c", "TTL: 5\r\n").Header("ttl"), "5");
}

TEST_F(WebPushTest, UnifiedPushDiscoveryAndRawBodies) {
  StartWithEndpoint();
  const Response d = Request("GET", PushPath());
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.body, R"({"unifiedpush":{"version":1}})");
  EXPECT_EQ(d.Header("content-type"), "application/json");
  // No Content-Encoding: the body is stored as sent.
  ASSERT_EQ(Post("{\"plain\":true}", "").status, 201);
  const auto entries = PushEntries();
  ASSERT_EQ(entries.size(), 1u);
  auto n = ParsePushNotification(entries[0].key, entries[0].value);
  EXPECT_EQ(n->encoding, "");
  EXPECT_EQ(n->payload, "{\"plain\":true}");
}

TEST_F(WebPushTest, SimplePushKeepsTheNewestVersionOnly) {
  StartWithEndpoint();
  const std::string key = SimplePushEntryKey(endpoint_.token);
  EXPECT_EQ(
      Request("PUT", PushPath(), "Content-Type: application/x-www-form-urlencoded\r\n", "version=5")
          .status,
      200);
  auto e = db_->GetEntry(mailbox_.mkey, key);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "5");
  EXPECT_EQ(e->version, 5u);
  const uint64_t seq = Seq();
  EXPECT_EQ(Request("PUT", PushPath(), "", "version=3").status, 200);  // older: no change
  EXPECT_EQ(db_->GetEntry(mailbox_.mkey, key)->version, 5u);
  EXPECT_EQ(Seq(), seq);
  EXPECT_EQ(Request("PUT", PushPath(), "", "version=9").status, 200);
  EXPECT_EQ(db_->GetEntry(mailbox_.mkey, key)->value, "9");
  // No body: the time in ms, newer than any small version.
  EXPECT_EQ(Request("PUT", PushPath(), "", "").status, 200);
  EXPECT_GT(db_->GetEntry(mailbox_.mkey, key)->version, 1'700'000'000'000u);
  for (const char* bad : {"version=", "version=x", "version=0", "v=1", "version=1&x=2",
                          "version=99999999999999999999"}) {
    EXPECT_EQ(Request("PUT", PushPath(), "", bad).status, 400) << bad;
  }
}

TEST_F(WebPushTest, BadRequestsGetTheirCodeAndStoreNothing) {
  options_.http_max_body_bytes = 16 * 1024;
  StartWithEndpoint();
  const uint64_t seq = Seq();
  struct Case {
    std::string method, path, headers, body;
    int status;
  };
  const std::string p = PushPath();
  const std::vector<Case> cases = {
      {"POST", "/push/AAAAAAAAAAAAAAAAAAAAAA", "TTL: 1\r\n", "x", 404},  // unknown token
      {"POST", "/push/short", "TTL: 1\r\n", "x", 404},                   // not a token
      {"POST", "/push/" + endpoint_.token + "/x", "TTL: 1\r\n", "x", 404},
      {"POST", p, "TTL: -1\r\n", "x", 400},
      {"POST", p, "TTL: 1.5\r\n", "x", 400},
      {"POST", p, "TTL: 1\r\nUrgency: urgent\r\n", "x", 400},
      {"POST", p, "TTL: 1\r\nTopic: has space\r\n", "x", 400},
      {"POST", p, "TTL: 1\r\nTopic: " + std::string(33, 'a') + "\r\n", "x", 400},
      {"POST", p, "TTL: 1\r\nContent-Encoding: aesgcm\r\n", "x", 415},
      {"POST", p, "TTL: 1\r\nContent-Encoding: gzip\r\n", "x", 415},
      {"POST", p, "TTL: 1\r\n", std::string(4097, 'x'), 413},
      {"PATCH", p, "", "", 405},
      {"POST", "/m/" + endpoint_.token + "/00", "", "", 405},
  };
  for (const Case& c : cases) {
    const Response r = Request(c.method, c.path, c.headers, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.headers;
    EXPECT_EQ(r.Header("content-type"), "application/json") << c.path;
  }
  EXPECT_EQ(Post(std::string(4096, 'x')).status, 201);  // exactly the limit is fine
  EXPECT_EQ(Seq(), seq + 1);
  EXPECT_EQ(PushEntries().size(), 1u);
}

TEST_F(WebPushTest, ARevokedEndpointIsGoneAndAnUnknownOneNotFound) {
  StartWithEndpoint();
  ASSERT_TRUE(db_->RevokeEndpoint(mailbox_.mkey, endpoint_.token).ok());
  const Response r = Post("late");
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(Request("GET", PushPath()).status, 410);
  EXPECT_TRUE(PushEntries().empty());
  // A deleted mailbox revokes its endpoints.
  auto other = db_->CreateMailbox();
  auto e = db_->RegisterEndpoint(other->mkey, "x", "");
  ASSERT_TRUE(db_->DeleteMailbox(other->mkey).ok());
  EXPECT_EQ(Request("POST", "/push/" + e->token, "TTL: 1\r\n", "x").status, 410);
}

TEST_F(WebPushTest, PastTheRateAnEndpointGets429WithRetryAfter) {
  options_.webpush_rate = 1;
  options_.webpush_burst = 3;
  StartWithEndpoint();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Post("x").status, 201) << i;
  const Response r = Post("x");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_EQ(PushEntries().size(), 3u);
  EXPECT_EQ(server_->stats().webpush_rate_limited, 1u);
  // Another endpoint has its own bucket.
  auto e2 = db_->RegisterEndpoint(mailbox_.mkey, "org.example.other", "");
  EXPECT_EQ(Request("POST", "/push/" + e2->token, "TTL: 1\r\n", "x").status, 201);
}

// What a UnifiedPush or SimplePush sender does with curl, as its docs show it.
std::string Curl(const std::string& args) {  // args are the test's own, nothing to quote
  std::string out;
  FILE* p = popen(("curl -sS --max-time 10 " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST_F(WebPushTest, CurlSpeaksUnifiedPushAndSimplePush) {
  StartWithEndpoint();
  const std::string url = "http://127.0.0.1:" + std::to_string(port()) + PushPath();
  EXPECT_EQ(Curl(url), R"({"unifiedpush":{"version":1}})");
  // UnifiedPush: a plain POST of the message (curl -d), no TTL, no encoding.
  EXPECT_EQ(
      Curl("-o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -d 'hello up' " + url),
      "201");
  auto entries = PushEntries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(ParsePushNotification(entries[0].key, entries[0].value)->payload, "hello up");
  // SimplePush: curl -X PUT -d version=N.
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code}' -X PUT -d version=42 " + url), "200");
  auto v = db_->GetEntry(mailbox_.mkey, SimplePushEntryKey(endpoint_.token));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->version, 42u);
  // A too large message: 413, and nothing more stored.
  const std::string big(5000, 'x');
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code}' -d " + big + " " + url), "413");
  EXPECT_EQ(PushEntries().size(), 1u);
}

// RFC 8292: an endpoint registered with a key takes only requests signed by
// its private half.
class VapidTest : public WebPushTest {
 protected:
  void SetUp() override {
    WebPushTest::SetUp();
    auto key = crypto::PrivateKey::FromPem(postbox::testing::NewP256KeyPem());
    ASSERT_TRUE(key.ok());
    key_.emplace(*key);
    public_key_ = key_->PublicKey().value();
    StartWithEndpoint(public_key_);
  }
  std::string Origin() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::string Token(const std::string& aud, int64_t exp_from_now,
                    const crypto::PrivateKey* key = nullptr) const {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::string claims = R"({"aud":")" + aud + R"(","exp":)" +
                               std::to_string(now + exp_from_now) +
                               R"(,"sub":"mailto:ops@example.com"})";
    return crypto::SignJwt(key ? *key : *key_, R"({"typ":"JWT","alg":"ES256"})", claims).value();
  }
  std::string Auth(const std::string& token, const std::string& k) const {
    return "TTL: 60\r\nAuthorization: vapid t=" + token + ", k=" + k + "\r\n";
  }
  std::optional<crypto::PrivateKey> key_;
  std::string public_key_;
};

TEST_F(VapidTest, ASignedRequestIsAccepted) {
  const std::string k = crypto::Base64UrlEncode(public_key_);
  EXPECT_EQ(Post("signed", Auth(Token(Origin(), 3600), k)).status, 201);
  // The parameters in the other order, the scheme in another case.
  EXPECT_EQ(Post("signed",
                 "TTL: 60\r\nAuthorization: Vapid k=" + k + ",t=" + Token(Origin(), 3600) + "\r\n")
                .status,
            201);
  EXPECT_EQ(PushEntries().size(), 2u);
}

TEST_F(VapidTest, MissingOrWrongCredentialsAreRefused) {
  const std::string k = crypto::Base64UrlEncode(public_key_);
  auto other = crypto::PrivateKey::FromPem(postbox::testing::NewP256KeyPem()).value();
  const std::string other_k = crypto::Base64UrlEncode(other.PublicKey().value());
  std::string tampered = Token(Origin(), 3600);
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  const Response none = Post("x");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Header("www-authenticate"), "vapid");
  EXPECT_EQ(Post("x", "TTL: 60\r\nAuthorization: Bearer abc\r\n").status, 401);
  EXPECT_EQ(Post("x", "TTL: 60\r\nAuthorization: vapid t=abc\r\n").status, 401);
  EXPECT_EQ(Post("x", Auth(Token(Origin(), 3600, &other), other_k)).status, 403);  // other key
  EXPECT_EQ(Post("x", Auth(Token(Origin(), 3600, &other), k)).status, 403);  // signed by other
  EXPECT_EQ(Post("x", Auth(tampered, k)).status, 403);
  EXPECT_EQ(Post("x", Auth(Token(Origin(), -3600), k)).status, 403);          // expired
  EXPECT_EQ(Post("x", Auth(Token(Origin(), 3 * 24 * 3600), k)).status, 403);  // too far ahead
  EXPECT_EQ(Post("x", Auth(Token("https://push.example.com", 3600), k)).status, 403);  // aud
  EXPECT_EQ(Post("x", Auth("a.b.c", k)).status, 403);
  EXPECT_TRUE(PushEntries().empty());
}

}  // namespace
}  // namespace postbox::sync::http::testing
