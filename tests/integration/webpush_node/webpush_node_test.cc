// npm's web-push, a real application server library, sends encrypted and
// VAPID-signed notifications to a postbox endpoint; a postbox client of the
// mailbox receives them through the feed, and this test decrypts them with
// the subscription's keys by RFC 8291 (ECDH P-256, HKDF-SHA-256,
// AES-128-GCM; written here over OpenSSL, independently of web-push's own
// code). Run by run.sh (ctest webpush.node), which installs web-push.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdio.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "integration/http/http_test_util.h"
#include "postbox/push.h"
#include "postbox/sync/client.h"
#include "sync/crypto/jwt.h"

namespace postbox::sync::http::testing {
namespace {

using Json = nlohmann::json;

std::string Run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << command << "\n" << out;
  return out;
}

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `env` is put before the command ("NAME=value ").
std::string Node(const std::string& args, const std::string& env = "") {
  const char* script = std::getenv("POSTBOX_SEND_JS");
  EXPECT_NE(script, nullptr) << "run through run.sh (ctest webpush.node)";
  return Run(env + "node " + std::string(script ? script : "send.js") + " " + args);
}

// The user agent's side of a subscription: a P-256 key pair and the auth
// secret (RFC 8291 §2, §3).
struct Subscription {
  std::shared_ptr<EVP_PKEY> key;
  std::string public_key;  // 65 bytes, uncompressed
  std::string auth;        // 16 random bytes

  static Subscription Make() {
    Subscription s;
    s.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
    unsigned char pub[65];
    size_t len = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(s.key.get(), OSSL_PKEY_PARAM_PUB_KEY, pub,
                                              sizeof(pub), &len),
              1);
    s.public_key.assign(reinterpret_cast<char*>(pub), len);
    s.auth.resize(16);
    RAND_bytes(reinterpret_cast<unsigned char*>(s.auth.data()), 16);
    return s;
  }
};

const unsigned char* u(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Hkdf(const std::string& salt, const std::string& ikm, const std::string& info,
                 size_t length) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  std::string out(length, '\0');
  size_t out_len = length;
  if (EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), u(salt), static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), u(ikm), static_cast<int>(ikm.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), u(info), static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_len) != 1) {
    ADD_FAILURE() << "HKDF failed";
  }
  return out;
}

std::shared_ptr<EVP_PKEY> PublicKeyOf(const std::string& point) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>("P-256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ADD_FAILURE() << "not a P-256 point";
  }
  return {key, EVP_PKEY_free};
}

// RFC 8291 §3.4 / RFC 8188: decrypts an aes128gcm body of one record.
std::optional<std::string> Decrypt(const Subscription& sub, const std::string& body) {
  if (body.size() < 21) return std::nullopt;
  const std::string salt = body.substr(0, 16);
  const uint8_t idlen = static_cast<uint8_t>(body[20]);
  if (idlen != 65 || body.size() < 21 + 65 + 16) return std::nullopt;
  const std::string as_public = body.substr(21, 65);
  const std::string record = body.substr(21 + 65);
  // ECDH with the application server's ephemeral key.
  auto peer = PublicKeyOf(as_public);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> dctx(
      EVP_PKEY_CTX_new(sub.key.get(), nullptr), EVP_PKEY_CTX_free);
  std::string secret(32, '\0');
  size_t secret_len = secret.size();
  if (EVP_PKEY_derive_init(dctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(dctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(dctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &secret_len) !=
          1) {
    return std::nullopt;
  }
  const std::string key_info = std::string("WebPush: info") + '\0' + sub.public_key + as_public;
  const std::string ikm = Hkdf(sub.auth, secret, key_info, 32);
  const std::string cek = Hkdf(salt, ikm, std::string("Content-Encoding: aes128gcm") + '\0', 16);
  const std::string nonce = Hkdf(salt, ikm, std::string("Content-Encoding: nonce") + '\0', 12);
  // AES-128-GCM, the tag last.
  const std::string ciphertext = record.substr(0, record.size() - 16);
  std::string tag = record.substr(record.size() - 16);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> c(EVP_CIPHER_CTX_new(),
                                                                    EVP_CIPHER_CTX_free);
  std::string plain(ciphertext.size(), '\0');
  int len = 0, fin = 0;
  if (EVP_DecryptInit_ex(c.get(), EVP_aes_128_gcm(), nullptr, u(cek), u(nonce)) != 1 ||
      EVP_DecryptUpdate(c.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                        u(ciphertext), static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &fin) !=
          1) {
    return std::nullopt;  // the tag does not verify
  }
  plain.resize(static_cast<size_t>(len + fin));
  // The last record's padding: the delimiter 0x02, then zeros.
  while (!plain.empty() && plain.back() == '\0') plain.pop_back();
  if (plain.empty() || plain.back() != '\x02') return std::nullopt;
  plain.pop_back();
  return plain;
}

class WebPushNodeTest : public HttpServerTest {
 protected:
  // The HTTPS variant: both listeners speak TLS with a certificate for
  // 127.0.0.1 made here, and node and the client trust it.
  virtual bool https() const { return false; }

  void SetUp() override {
    HttpServerTest::SetUp();
    if (https()) {
      ca_ = (dir_.path() / "cert.pem").string();
      const std::string key = (dir_.path() / "key.pem").string();
      testing::Run(
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
          "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
          key + " -out " + ca_ + " 2>&1");
      TlsServerOptions t;
      t.cert_file = ca_;
      t.key_file = key;
      options_.tls = options_.http_tls = t;
    }
    Start(std::shared_ptr<HttpHandler>());
    auto m = db_->CreateMailbox();
    ASSERT_TRUE(m.ok());
    mailbox_ = *m;
    vapid_ = Json::parse(Node("vapid-keys"));
    auto vapid_public = crypto::Base64UrlDecode(vapid_["publicKey"].get<std::string>());
    ASSERT_TRUE(vapid_public.ok());
    ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.mkey = mailbox_.mkey;
    o.secret = mailbox_.secret;
    o.tls.enabled = https();
    o.tls.ca_file = ca_;
    o.on_push = [this](const InfoPacket& p) {
      std::lock_guard lock(mu_);
      for (const auto& e : p.entries) pushed_.push_back(e);
      cv_.notify_all();
    };
    auto client = Client::Create(o);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ASSERT_TRUE(client_->Connect().ok());
    ASSERT_TRUE(client_->Poll(0).ok());
    // The app registers its endpoint with the application server's key.
    auto e = client_->RegisterEndpoint("org.example.webapp", *vapid_public);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    endpoint_ = *e;
    sub_ = Subscription::Make();
  }
  void TearDown() override {
    client_.reset();
    HttpServerTest::TearDown();
  }

  Json Send(const std::string& payload, int ttl, const std::string& topic = "",
            const std::string& urgency = "") {
    Json args = {{"endpoint", std::string(https() ? "https" : "http") + "://127.0.0.1:" +
                                  std::to_string(port()) + "/push/" + endpoint_.token},
                 {"p256dh", crypto::Base64UrlEncode(sub_.public_key)},
                 {"auth", crypto::Base64UrlEncode(sub_.auth)},
                 {"vapidPublic", vapid_["publicKey"]},
                 {"vapidPrivate", vapid_["privateKey"]},
                 {"payload", Base64(payload)},
                 {"ttl", ttl}};
    if (!topic.empty()) args["topic"] = topic;
    if (!urgency.empty()) args["urgency"] = urgency;
    return Json::parse(
        Node("send " + ShellQuote(args.dump()), https() ? "NODE_EXTRA_CA_CERTS=" + ca_ + " " : ""));
  }
  static std::string Base64(const std::string& s) {
    std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
    out.resize(static_cast<size_t>(n));
    return out;
  }
  // The next notification pushed to the client.
  std::optional<PushNotification> NextPushed() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return taken_ < pushed_.size(); })) return std::nullopt;
    const EntryInfo& e = pushed_[taken_++];
    auto n = ParsePushNotification(e.key, e.value);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok()) return std::nullopt;
    return *n;
  }

  std::string ca_;  // https(): the certificate node and the client trust
  MailboxCredentials mailbox_;
  Json vapid_;
  Endpoint endpoint_;
  Subscription sub_;
  std::unique_ptr<Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EntryInfo> pushed_;
  size_t taken_ = 0;
};

TEST_F(WebPushNodeTest, AnEncryptedSignedNotificationArrivesAndDecrypts) {
  const std::string message = R"({"title":"New photo","from":"alice"})";
  const Json r = Send(message, 120, "", "high");
  ASSERT_EQ(r["status"], 201) << r.dump();
  EXPECT_EQ(r["ttl"], "120");
  auto n = NextPushed();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->encoding, "aes128gcm");
  EXPECT_EQ(n->urgency, PushUrgency::kHigh);
  EXPECT_EQ(n->ttl_s, 120u);
  EXPECT_EQ(r["location"], "/m/" + endpoint_.token + "/" + n->id);
  auto plain = Decrypt(sub_, n->payload);
  ASSERT_TRUE(plain.has_value()) << "the payload did not decrypt with the subscription's keys";
  EXPECT_EQ(*plain, message);
  // Another subscription's keys cannot read it.
  EXPECT_FALSE(Decrypt(Subscription::Make(), n->payload).has_value());
}

TEST_F(WebPushNodeTest, ALargePayloadAndTopicReplacement) {
  // web-push pads and encrypts: 3,993 bytes of plaintext make 4,096 on the wire.
  const std::string big(3993, 'p');
  const Json r = Send(big, 60);
  ASSERT_EQ(r["status"], 201) << r.dump();
  auto n = NextPushed();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->payload.size(), 4096u);
  EXPECT_EQ(Decrypt(sub_, n->payload), big);
  // One more byte is past what a push service must take: 413.
  EXPECT_EQ(Send(big + "p", 60)["status"], 413);

  ASSERT_EQ(Send("score 1-0", 60, "score")["status"], 201);
  ASSERT_EQ(Send("score 2-0", 60, "score")["status"], 201);
  auto list = db_->ListEntries(mailbox_.mkey, "postbox/push/" + endpoint_.token + "/t.", "", 10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  auto stored = ParsePushNotification((*list)[0].key, (*list)[0].value);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->topic, "score");
  EXPECT_EQ(Decrypt(sub_, stored->payload), "score 2-0");
}

TEST_F(WebPushNodeTest, AnotherApplicationServersKeyIsRefused) {
  // web-push signs with a fresh VAPID key the endpoint was not registered with.
  vapid_ = Json::parse(Node("vapid-keys"));
  EXPECT_EQ(Send("intruder", 60)["status"], 403);
  auto list = db_->ListEntries(mailbox_.mkey, kPushKeyPrefix, "", 10);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

class WebPushNodeHttpsTest : public WebPushNodeTest {
 protected:
  bool https() const override { return true; }
};

TEST_F(WebPushNodeHttpsTest, SendNotificationOverHttpsArrivesAndDecrypts) {
  // web-push's sendNotification() itself, over TLS to the HTTP listener; the
  // client reads the feed over TLS too.
  const std::string message = R"({"title":"over https"})";
  const Json r = Send(message, 300, "", "normal");
  ASSERT_EQ(r["status"], 201) << r.dump();
  EXPECT_EQ(r["ttl"], "300");
  auto n = NextPushed();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(r["location"], "/m/" + endpoint_.token + "/" + n->id);
  EXPECT_EQ(Decrypt(sub_, n->payload), message);
  // A refusal comes back through web-push's error path with its status.
  vapid_ = Json::parse(Node("vapid-keys"));
  EXPECT_EQ(Send("intruder", 60)["status"], 403);
  EXPECT_GE(server_->stats().tls_handshakes, 3u);  // the client and two sends
}

}  // namespace
}  // namespace postbox::sync::http::testing
