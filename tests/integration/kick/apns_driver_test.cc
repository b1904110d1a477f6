// The apns driver against the fake APNs of fake_push.py: HTTP/2 over TLS on
// 127.0.0.1, every request checked as Apple documents it (the provider token
// verified with the key's public half), every answer Apple documents mapped.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <thread>

#include "integration/kick/push_test_util.h"
#include "postbox/sync/kick.h"
#include "sync/kick/push_util.h"

namespace postbox::sync::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr char kKeyId[] = "ABC123DEFG";
constexpr char kTeamId[] = "DEF123GHIJ";
constexpr char kTopic[] = "com.example.postbox";
const std::string kDevice(64, 'a');

class ApnsDriverTest : public PushDriverTest {
 protected:
  void SetUp() override {
    ASSERT_FALSE(folder_.path().empty());
    key_pem_ = postbox::testing::NewP256KeyPem();
    const std::string key_path = folder_.Write("AuthKey.p8", key_pem_);
    fake_ = std::make_unique<FakePush>(folder_.path(),
                                       FakePush::ApnsArgs(key_path, kKeyId, kTeamId, kTopic));
    ASSERT_TRUE(fake_->ok()) << "fake_push.py did not start";
  }
  ApnsOptions Options() {
    ApnsOptions o;
    o.key_pem = key_pem_;
    o.key_id = kKeyId;
    o.team_id = kTeamId;
    o.topic = kTopic;
    o.base_url = fake_->base_url();
    o.ca_file = fake_->ca_file();
    o.timeout = milliseconds(5000);
    return o;
  }
  KickDriver* Start(const ApnsOptions& o) { return Adopt(MakeApnsKickDriver(o)); }

  std::string key_pem_;
};

TEST_F(ApnsDriverTest, AlertPushIsExactlyTheDocumentedRequest) {
  Start(Options());
  const Kick kick = TestKick(Platform::kIos, kDevice);
  const KickResult r = Send(kick);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  const auto reqs = fake_->Requests("apns");
  ASSERT_EQ(reqs.size(), 1u);
  const json& h = reqs[0]["headers"];
  EXPECT_EQ(h[":path"], "/3/device/" + kDevice);
  EXPECT_EQ(h["apns-push-type"], "alert");
  EXPECT_EQ(h["apns-priority"], "10");
  EXPECT_EQ(h["apns-topic"], kTopic);
  EXPECT_EQ(h["apns-collapse-id"], kick.mkey.ToHex());
  EXPECT_EQ(h["apns-id"], kick::ApnsId(kick.dedup_id));
  const int64_t expiration = std::stoll(h["apns-expiration"].get<std::string>());
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(expiration), static_cast<double>(now + 86400), 30);
  const json body = json::parse(reqs[0]["body"].get<std::string>());
  EXPECT_EQ(body["aps"], json::parse(R"({"alert":{"body":"New activity"},"mutable-content":1})"));
  EXPECT_EQ(body["postbox"]["mkey"], kick.mkey.ToHex());
  EXPECT_EQ(body["postbox"]["dedup_id"], kick.dedup_id);
  EXPECT_EQ(body["postbox"]["payload"], json::parse(kick.payload_json));
}

TEST_F(ApnsDriverTest, BackgroundPushHasContentAvailableAndPriorityFive) {
  ApnsOptions o = Options();
  o.push_type = ApnsOptions::PushType::kBackground;
  o.ttl = std::chrono::seconds(0);
  Start(o);
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());
  const auto reqs = fake_->Requests("apns");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["headers"]["apns-push-type"], "background");
  EXPECT_EQ(reqs[0]["headers"]["apns-priority"], "5");
  EXPECT_EQ(reqs[0]["headers"]["apns-expiration"], "0");
  EXPECT_EQ(json::parse(reqs[0]["body"].get<std::string>())["aps"],
            json::parse(R"({"content-available":1})"));
}

TEST_F(ApnsDriverTest, ARetryCarriesTheSameApnsIdAndTheTokenIsReused) {
  Start(Options());
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice, 7, 1)).status.ok());
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice, 7, 2)).status.ok());
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice, 8, 1)).status.ok());
  const auto reqs = fake_->Requests("apns");
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["headers"]["apns-id"], reqs[1]["headers"]["apns-id"]);
  EXPECT_NE(reqs[0]["headers"]["apns-id"], reqs[2]["headers"]["apns-id"]);
  // One provider token for all three (Apple refuses renewals more often than
  // every 20 minutes).
  EXPECT_EQ(reqs[0]["headers"]["authorization"], reqs[2]["headers"]["authorization"]);
}

TEST_F(ApnsDriverTest, EveryDocumentedAnswerIsMapped) {
  Start(Options());
  struct Case {
    int status;
    const char* reason;
    const char* retry_after;
    Code code;
    milliseconds retry;
  };
  const Case cases[] = {
      {410, "Unregistered", "", Code::kNotFound, milliseconds(0)},
      {400, "BadDeviceToken", "", Code::kInvalidArgument, milliseconds(0)},
      {400, "BadTopic", "", Code::kInvalidArgument, milliseconds(0)},
      {403, "BadCertificateEnvironment", "", Code::kPermissionDenied, milliseconds(0)},
      {404, "BadPath", "", Code::kNotFound, milliseconds(0)},
      {413, "PayloadTooLarge", "", Code::kTooLarge, milliseconds(0)},
      {429, "TooManyRequests", "7", Code::kBackOff, milliseconds(7000)},
      {429, "TooManyProviderTokenUpdates", "", Code::kBackOff, milliseconds(0)},
      {500, "InternalServerError", "", Code::kUnavailable, milliseconds(0)},
      {503, "ServiceUnavailable", "3", Code::kUnavailable, milliseconds(3000)},
      {503, "Shutdown", "", Code::kUnavailable, milliseconds(0)},
  };
  for (const Case& c : cases) {
    json answer = {{"status", c.status}, {"body", {{"reason", c.reason}}}};
    if (*c.retry_after != '\0') answer["headers"] = {{"retry-after", c.retry_after}};
    fake_->Script("apns", json::array({answer}));
    const KickResult r = Send(TestKick(Platform::kIos, kDevice));
    EXPECT_TRUE(r.status.Is(c.code)) << c.status << " " << c.reason << ": " << r.status.ToString();
    EXPECT_NE(r.status.message().find(c.reason), std::string_view::npos) << r.status.ToString();
    EXPECT_EQ(r.retry_after, c.retry) << c.status << " " << c.reason;
  }
  EXPECT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());  // unscripted again
}

TEST_F(ApnsDriverTest, AnExpiredProviderTokenIsRenewedAndTheKickRetried) {
  ApnsOptions o = Options();
  o.token_refresh_min = std::chrono::seconds(0);
  Start(o);
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());
  fake_->ExpireTokens();
  const KickResult refused = Send(TestKick(Platform::kIos, kDevice));
  EXPECT_TRUE(refused.status.Is(Code::kUnavailable)) << refused.status.ToString();  // transient
  EXPECT_NE(refused.status.message().find("ExpiredProviderToken"), std::string_view::npos);
  const KickResult retried = Send(TestKick(Platform::kIos, kDevice));
  EXPECT_TRUE(retried.status.ok()) << retried.status.ToString();
  const auto reqs = fake_->Requests("apns");
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["headers"]["authorization"], reqs[1]["headers"]["authorization"]);
  EXPECT_NE(reqs[1]["headers"]["authorization"], reqs[2]["headers"]["authorization"]);
}

TEST_F(ApnsDriverTest, ATokenIsNotRenewedSoonerThanTheMinimumInterval) {
  Start(Options());  // token_refresh_min: 20 minutes
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());
  fake_->ExpireTokens();
  EXPECT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.Is(Code::kUnavailable));
  EXPECT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.Is(Code::kUnavailable));
  const auto reqs = fake_->Requests("apns");
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["headers"]["authorization"], reqs[2]["headers"]["authorization"]);
}

TEST_F(ApnsDriverTest, ATokenIsRenewedWhenDue) {
  ApnsOptions o = Options();
  o.token_refresh = std::chrono::seconds(1);
  o.token_refresh_min = std::chrono::seconds(1);
  Start(o);
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());
  std::this_thread::sleep_for(milliseconds(1100));
  ASSERT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.ok());
  const auto reqs = fake_->Requests("apns");
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0]["headers"]["authorization"], reqs[1]["headers"]["authorization"]);
  EXPECT_NE(reqs[1]["headers"]["authorization"], reqs[2]["headers"]["authorization"]);
}

TEST_F(ApnsDriverTest, ConcurrentKicksShareOneConnection) {
  Start(Options());
  json slow = json::array();
  for (int i = 0; i < 20; ++i) slow.push_back({{"status", 200}, {"delay", 0.5}});
  fake_->Script("apns", slow);
  Answers answers;
  const auto start = std::chrono::steady_clock::now();
  for (uint8_t i = 0; i < 20; ++i) {
    driver_->Send(TestKick(Platform::kIos, kDevice, i), answers.Callback());
  }
  ASSERT_TRUE(answers.WaitFor(20));
  // Twenty half-second answers in parallel streams, not one after another.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));
  for (const auto& r : answers.got()) EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  std::set<int> conns;
  for (const auto& r : fake_->Requests("apns")) conns.insert(r["conn"].get<int>());
  EXPECT_EQ(conns.size(), 1u);
}

TEST_F(ApnsDriverTest, AFullQueueAnswersBackOffAtOnce) {
  ApnsOptions o = Options();
  o.queue_limit = 2;
  Start(o);
  fake_->Script(
      "apns", json::array({{{"status", 200}, {"delay", 1.0}}, {{"status", 200}, {"delay", 1.0}}}));
  Answers answers;
  driver_->Send(TestKick(Platform::kIos, kDevice, 1), answers.Callback());
  driver_->Send(TestKick(Platform::kIos, kDevice, 2), answers.Callback());
  driver_->Send(TestKick(Platform::kIos, kDevice, 3), answers.Callback());
  ASSERT_TRUE(answers.WaitFor(1, milliseconds(500)));
  EXPECT_TRUE(answers.got()[0].status.Is(Code::kBackOff)) << answers.got()[0].status.ToString();
  ASSERT_TRUE(answers.WaitFor(3));
  for (size_t i = 1; i < 3; ++i) EXPECT_TRUE(answers.got()[i].status.ok());
  // With room again, the next kick goes through.
  EXPECT_TRUE(Send(TestKick(Platform::kIos, kDevice, 4)).status.ok());
}

TEST_F(ApnsDriverTest, StopAnswersSendsInFlightAtOnce) {
  Start(Options());
  fake_->Script("apns", json::array({{{"status", 200}, {"delay", 30}},
                                     {{"status", 200}, {"delay", 30}},
                                     {{"status", 200}, {"delay", 30}}}));
  Answers answers;
  for (uint8_t i = 0; i < 3; ++i)
    driver_->Send(TestKick(Platform::kIos, kDevice, i), answers.Callback());
  // Wait until all three are on the wire.
  for (int i = 0; i < 500 && fake_->Requests("apns").size() < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(fake_->Requests("apns").size(), 3u);
  const auto start = std::chrono::steady_clock::now();
  driver_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  ASSERT_TRUE(answers.WaitFor(3, milliseconds(100)));
  for (const auto& r : answers.got()) EXPECT_TRUE(r.status.Is(Code::kUnavailable));
  // After Stop, a send is answered at once.
  EXPECT_TRUE(Send(TestKick(Platform::kIos, kDevice)).status.Is(Code::kUnavailable));
}

TEST_F(ApnsDriverTest, ASlowAnswerTimesOutAsTransient) {
  ApnsOptions o = Options();
  o.timeout = milliseconds(300);
  Start(o);
  fake_->Script("apns", json::array({{{"status", 200}, {"delay", 3}}}));
  const KickResult r = Send(TestKick(Platform::kIos, kDevice));
  EXPECT_TRUE(r.status.Is(Code::kUnavailable)) << r.status.ToString();
}

TEST_F(ApnsDriverTest, AnUntrustedCertificateIsTransient) {
  check_requests_ = false;  // nothing reaches the fake
  ApnsOptions o = Options();
  o.ca_file = folder_.Write("other-ca.pem", "");  // trusts nothing
  Start(o);
  const KickResult r = Send(TestKick(Platform::kIos, kDevice));
  EXPECT_TRUE(r.status.Is(Code::kUnavailable)) << r.status.ToString();
  EXPECT_TRUE(fake_->Requests("apns").empty());
}

TEST_F(ApnsDriverTest, ANonHexDeviceTokenIsRefusedWithoutARequest) {
  Start(Options());
  for (const std::string& token : {std::string("not-hex"), std::string("ab/../x"), std::string()}) {
    const KickResult r = Send(TestKick(Platform::kIos, token));
    EXPECT_TRUE(r.status.Is(Code::kInvalidArgument)) << r.status.ToString();
  }
  EXPECT_TRUE(fake_->Requests("apns").empty());
}

TEST_F(ApnsDriverTest, BadOptionsAreRefused) {
  check_requests_ = false;
  const std::function<void(ApnsOptions&)> spoil[] = {
      [](ApnsOptions& x) { x.key_pem = "junk"; },
      [](ApnsOptions& x) { x.key_pem = postbox::testing::NewRsaKeyPem(); },
      [](ApnsOptions& x) { x.key_id = ""; },
      [](ApnsOptions& x) { x.team_id = "a\"b"; },
      [](ApnsOptions& x) { x.topic = "a b"; },
      [](ApnsOptions& x) { x.base_url = "http://127.0.0.1:1"; },
      [](ApnsOptions& x) { x.base_url = "https://h/path"; },
      [](ApnsOptions& x) { x.queue_limit = 0; },
      [](ApnsOptions& x) { x.max_in_flight = 0; },
      [](ApnsOptions& x) { x.token_refresh = std::chrono::minutes(61); },
      [](ApnsOptions& x) { x.token_refresh_min = std::chrono::minutes(50); },
  };
  for (size_t i = 0; i < std::size(spoil); ++i) {
    ApnsOptions o = Options();
    spoil[i](o);
    auto d = MakeApnsKickDriver(o);
    EXPECT_TRUE(!d.ok() && d.status().Is(Code::kInvalidArgument)) << "case " << i;
  }
  EXPECT_TRUE(MakeApnsKickDriver(Options()).ok());
}

}  // namespace
}  // namespace postbox::sync::testing
