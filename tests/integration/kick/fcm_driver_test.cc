// The fcm driver against the fake FCM and OAuth 2 token endpoint of
// fake_push.py: HTTP/2 over TLS on 127.0.0.1, the token request's RS256
// assertion verified with the service account's public key, every send
// checked as the FCM HTTP v1 reference describes it, every answer mapped.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "integration/kick/push_test_util.h"
#include "postbox/sync/kick.h"

namespace postbox::sync::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr char kProject[] = "postbox-test";
constexpr char kRegistration[] = "fcm-registration-token:APA91b";

class FcmDriverTest : public PushDriverTest {
 protected:
  void SetUp() override {
    ASSERT_FALSE(folder_.path().empty());
    // The token_uri in the file is Google's; the driver is pointed at the
    // fake's with FcmOptions::token_uri, as a test would with the flag.
    account_ = {{"type", "service_account"},
                {"project_id", kProject},
                {"private_key_id", "0123456789abcdef"},
                {"private_key", postbox::testing::NewRsaKeyPem()},
                {"client_email", "postbox@postbox-test.iam.gserviceaccount.com"},
                {"token_uri", "https://oauth2.googleapis.com/token"}};
    fake_ = std::make_unique<FakePush>(
        folder_.path(), FakePush::FcmArgs(folder_.Write("account.json", account_.dump())));
    ASSERT_TRUE(fake_->ok()) << "fake_push.py did not start";
  }
  FcmOptions Options() {
    FcmOptions o;
    o.service_account_json = account_.dump();
    o.base_url = fake_->base_url();
    o.token_uri = fake_->token_uri();
    o.ca_file = fake_->ca_file();
    o.timeout = milliseconds(5000);
    return o;
  }
  KickDriver* Start(const FcmOptions& o) { return Adopt(MakeFcmKickDriver(o)); }

  json account_;
};

TEST_F(FcmDriverTest, TokenRequestAndSendAreExactlyAsDocumented) {
  Start(Options());
  const Kick kick = TestKick(Platform::kAndroid, kRegistration);
  const KickResult r = Send(kick);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(fake_->Requests("token").size(), 1u);
  const auto sends = fake_->Requests("fcm");
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0]["headers"]["authorization"], "Bearer fake-access-1");
  const json body = json::parse(sends[0]["body"].get<std::string>());
  const json want = {
      {"message",
       {{"token", kRegistration},
        {"data",
         {{"mkey", kick.mkey.ToHex()},
          {"dedup_id", kick.dedup_id},
          {"payload", json::parse(kick.payload_json).dump()}}},
        {"android",
         {{"priority", "high"}, {"collapse_key", kick.mkey.ToHex()}, {"ttl", "86400s"}}}}}};
  EXPECT_EQ(body, want);
}

TEST_F(FcmDriverTest, TheAccessTokenIsCachedAcrossSends) {
  Start(Options());
  Answers answers;
  for (uint8_t i = 0; i < 5; ++i) {
    driver_->Send(TestKick(Platform::kAndroid, kRegistration, i), answers.Callback());
  }
  ASSERT_TRUE(answers.WaitFor(5));
  for (const auto& r : answers.got()) EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  EXPECT_EQ(fake_->Requests("token").size(), 1u);  // five waited for one fetch
  EXPECT_EQ(fake_->Requests("fcm").size(), 6u);
}

TEST_F(FcmDriverTest, TheAccessTokenIsRenewedBeforeItExpires) {
  fake_->SetTokenExpiresIn(2);  // renewed when half of it is left
  Start(Options());
  ASSERT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  ASSERT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  EXPECT_EQ(fake_->Requests("token").size(), 1u);
  std::this_thread::sleep_for(milliseconds(1100));
  ASSERT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  EXPECT_EQ(fake_->Requests("token").size(), 2u);
  const auto sends = fake_->Requests("fcm");
  ASSERT_EQ(sends.size(), 3u);
  EXPECT_EQ(sends[2]["headers"]["authorization"], "Bearer fake-access-2");
}

TEST_F(FcmDriverTest, A401RenewsTheAccessTokenAndIsTransient) {
  Start(Options());
  ASSERT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  fake_->ExpireTokens();
  const KickResult refused = Send(TestKick(Platform::kAndroid, kRegistration));
  EXPECT_TRUE(refused.status.Is(Code::kUnavailable)) << refused.status.ToString();
  const KickResult retried = Send(TestKick(Platform::kAndroid, kRegistration));
  EXPECT_TRUE(retried.status.ok()) << retried.status.ToString();
  EXPECT_EQ(fake_->Requests("token").size(), 2u);
}

TEST_F(FcmDriverTest, EveryDocumentedAnswerIsMapped) {
  Start(Options());
  struct Case {
    int status;
    const char* fcm_code;  // details[].errorCode; empty: none
    const char* canonical;
    const char* retry_after;
    Code code;
    milliseconds retry;
  };
  const Case cases[] = {
      {404, "UNREGISTERED", "NOT_FOUND", "", Code::kNotFound, milliseconds(0)},
      {400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "", Code::kInvalidArgument, milliseconds(0)},
      {403, "SENDER_ID_MISMATCH", "PERMISSION_DENIED", "", Code::kPermissionDenied,
       milliseconds(0)},
      {429, "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "11", Code::kBackOff, milliseconds(11000)},
      {503, "UNAVAILABLE", "UNAVAILABLE", "4", Code::kUnavailable, milliseconds(4000)},
      {500, "INTERNAL", "INTERNAL", "", Code::kUnavailable, milliseconds(0)},
      {502, "", "", "", Code::kUnavailable, milliseconds(0)},
  };
  for (const Case& c : cases) {
    json error = {{"code", c.status}, {"message", "scripted"}, {"status", c.canonical}};
    if (*c.fcm_code != '\0') {
      error["details"] =
          json::array({{{"@type", "type.googleapis.com/google.firebase.fcm.v1.FcmError"},
                        {"errorCode", c.fcm_code}}});
    }
    json answer = {{"status", c.status}, {"body", {{"error", error}}}};
    if (*c.retry_after != '\0') answer["headers"] = {{"retry-after", c.retry_after}};
    fake_->Script("fcm", json::array({answer}));
    const KickResult r = Send(TestKick(Platform::kAndroid, kRegistration));
    EXPECT_TRUE(r.status.Is(c.code))
        << c.status << " " << c.fcm_code << ": " << r.status.ToString();
    EXPECT_NE(r.status.message().find(c.fcm_code), std::string_view::npos);
    EXPECT_EQ(r.retry_after, c.retry) << c.status;
  }
  EXPECT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  EXPECT_EQ(fake_->Requests("token").size(), 1u);  // none of these renews the token
}

TEST_F(FcmDriverTest, AFailingTokenEndpointIsTransientAndRetried) {
  Start(Options());
  fake_->Script("token", json::array({{{"status", 400}, {"body", {{"error", "invalid_grant"}}}},
                                      {{"status", 503}, {"headers", {{"retry-after", "2"}}}}}));
  const KickResult first = Send(TestKick(Platform::kAndroid, kRegistration));
  EXPECT_TRUE(first.status.Is(Code::kUnavailable)) << first.status.ToString();
  EXPECT_NE(first.status.message().find("invalid_grant"), std::string_view::npos);
  const KickResult second = Send(TestKick(Platform::kAndroid, kRegistration));
  EXPECT_TRUE(second.status.Is(Code::kUnavailable)) << second.status.ToString();
  EXPECT_EQ(second.retry_after, milliseconds(2000));
  EXPECT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.ok());
  EXPECT_EQ(fake_->Requests("token").size(), 3u);
  EXPECT_EQ(fake_->Requests("fcm").size(), 1u);
}

TEST_F(FcmDriverTest, AFullQueueAnswersBackOffAtOnce) {
  FcmOptions o = Options();
  o.queue_limit = 2;
  Start(o);
  fake_->Script("token",
                json::array({{{"status", 200},
                              {"delay", 1.0},
                              {"body", {{"access_token", "slow"}, {"expires_in", 3600}}}}}));
  Answers answers;
  for (uint8_t i = 1; i <= 3; ++i) {
    driver_->Send(TestKick(Platform::kAndroid, kRegistration, i), answers.Callback());
  }
  ASSERT_TRUE(answers.WaitFor(1, milliseconds(500)));
  EXPECT_TRUE(answers.got()[0].status.Is(Code::kBackOff)) << answers.got()[0].status.ToString();
  ASSERT_TRUE(answers.WaitFor(3));
  for (size_t i = 1; i < 3; ++i) EXPECT_TRUE(answers.got()[i].status.ok());
  EXPECT_EQ(fake_->Requests("fcm")[0]["headers"]["authorization"], "Bearer slow");
}

TEST_F(FcmDriverTest, StopAnswersKicksWaitingForATokenAndInFlight) {
  Start(Options());
  fake_->Script("token", json::array({{{"status", 200}, {"delay", 30}}}));
  Answers answers;
  for (uint8_t i = 0; i < 3; ++i) {
    driver_->Send(TestKick(Platform::kAndroid, kRegistration, i), answers.Callback());
  }
  for (int i = 0; i < 500 && fake_->Requests("token").empty(); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(fake_->Requests("token").size(), 1u);
  const auto start = std::chrono::steady_clock::now();
  driver_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  ASSERT_TRUE(answers.WaitFor(3, milliseconds(100)));
  for (const auto& r : answers.got()) EXPECT_TRUE(r.status.Is(Code::kUnavailable));
  EXPECT_TRUE(Send(TestKick(Platform::kAndroid, kRegistration)).status.Is(Code::kUnavailable));
}

TEST_F(FcmDriverTest, BadServiceAccountsAndOptionsAreRefused) {
  check_requests_ = false;
  // The account with `field` set to `value` (null: removed).
  const auto account = [&](const char* field, json value) {
    json a = account_;
    if (value.is_null()) {
      a.erase(field);
    } else {
      a[field] = std::move(value);
    }
    return a.dump();
  };
  const std::function<void(FcmOptions&)> spoil[] = {
      [&](FcmOptions& x) { x.service_account_json = account("client_email", nullptr); },
      [&](FcmOptions& x) { x.service_account_json = account("private_key", nullptr); },
      [&](FcmOptions& x) { x.service_account_json = account("token_uri", nullptr); },
      [&](FcmOptions& x) { x.service_account_json = account("project_id", nullptr); },
      [&](FcmOptions& x) {
        x.service_account_json = account("private_key", postbox::testing::NewP256KeyPem());
      },
      [&](FcmOptions& x) { x.service_account_json = account("project_id", "a/b"); },
      [](FcmOptions& x) { x.service_account_json = "{"; },
      [](FcmOptions& x) { x.base_url = "http://127.0.0.1:1"; },
      [](FcmOptions& x) { x.token_uri = "http://127.0.0.1:1/token"; },
      [](FcmOptions& x) { x.queue_limit = 0; },
      [](FcmOptions& x) { x.timeout = milliseconds(0); },
  };
  for (size_t i = 0; i < std::size(spoil); ++i) {
    FcmOptions o = Options();
    spoil[i](o);
    auto d = MakeFcmKickDriver(o);
    EXPECT_TRUE(!d.ok() && d.status().Is(Code::kInvalidArgument)) << "case " << i;
  }
  EXPECT_TRUE(MakeFcmKickDriver(Options()).ok());
}

}  // namespace
}  // namespace postbox::sync::testing
