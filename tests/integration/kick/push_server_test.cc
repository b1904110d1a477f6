// Kicks through a real in-process Server whose driver routes by platform
// (MakePlatformKickDriver): iOS mailboxes through the apns driver to a fake
// APNs, Android ones through the fcm driver to a fake FCM, web ones through
// the webhook driver to a fake gateway; a platform without a driver is
// dropped and counted.
#include <gtest/gtest.h>

#include <thread>

#include "integration/kick/fake_push.h"
#include "integration/kick/fake_webhook.h"
#include "integration/kick/push_test_util.h"
#include "integration/sync/sync_test_util.h"
#include "postbox/sync/kick.h"

namespace postbox::sync::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class PushServerTest : public SyncTest {
 protected:
  void SetUp() override {
    ASSERT_FALSE(folder_.path().empty());
    const std::string p8 = postbox::testing::NewP256KeyPem();
    apns_ = std::make_unique<FakePush>(
        folder_.path() + "/apns", FakePush::ApnsArgs(folder_.Write("AuthKey.p8", p8), "KEYID12345",
                                                     "TEAMID1234", "com.example.app"));
    apns_options_.key_pem = p8;
    apns_options_.key_id = "KEYID12345";
    apns_options_.team_id = "TEAMID1234";
    apns_options_.topic = "com.example.app";
    const json account = {{"project_id", "proj-1"},
                          {"private_key", postbox::testing::NewRsaKeyPem()},
                          {"client_email", "kicks@proj-1.iam.gserviceaccount.com"},
                          {"token_uri", "https://oauth2.googleapis.com/token"}};
    fcm_ = std::make_unique<FakePush>(folder_.path() + "/fcm",
                                      FakePush::FcmArgs(folder_.Write("sa.json", account.dump())));
    fcm_options_.service_account_json = account.dump();
    ASSERT_TRUE(apns_->ok() && fcm_->ok()) << "fake_push.py did not start";
    apns_options_.base_url = apns_->base_url();
    apns_options_.ca_file = apns_->ca_file();
    fcm_options_.base_url = fcm_->base_url();
    fcm_options_.token_uri = fcm_->token_uri();
    fcm_options_.ca_file = fcm_->ca_file();
  }
  void TearDown() override {
    SyncTest::TearDown();
    for (auto* fake : {apns_.get(), fcm_.get()}) {
      for (const auto& e : fake->Errors()) ADD_FAILURE() << "a request not as documented: " << e;
    }
  }

  void Start(PlatformKickDrivers drivers) {
    ServerOptions so;
    so.kick_driver = MakePlatformKickDriver(std::move(drivers)).value();
    so.kick_delay = milliseconds(100);
    so.kick_retry_initial = milliseconds(50);
    so.kick_retry_max = milliseconds(200);
    StartServer(so);
  }
  std::shared_ptr<KickDriver> Apns() { return MakeApnsKickDriver(apns_options_).value(); }
  std::shared_ptr<KickDriver> Fcm() { return MakeFcmKickDriver(fcm_options_).value(); }
  std::shared_ptr<KickDriver> Webhook() {
    WebhookOptions w;
    w.url = webhook_.url();
    return MakeWebhookKickDriver(w).value();
  }
  MailboxCredentials Registered(Platform p, const std::string& token) {
    MailboxCredentials c = NewMailbox();
    EXPECT_TRUE(db_->RegisterPush(c.mkey, p, token).ok());
    return c;
  }

  // Makes the folders the fakes write their CA into before they start.
  struct Folders {
    explicit Folders(const TempFolder& f) {
      std::filesystem::create_directories(f.path() + "/apns");
      std::filesystem::create_directories(f.path() + "/fcm");
    }
  };
  TempFolder folder_;
  Folders folders_{folder_};
  std::unique_ptr<FakePush> apns_, fcm_;
  FakeWebhook webhook_;
  ApnsOptions apns_options_;
  FcmOptions fcm_options_;
};

TEST_F(PushServerTest, EachPlatformIsKickedThroughItsOwnDriver) {
  Start({.ios = Apns(), .android = Fcm(), .web = Webhook()});
  const auto sender = NewMailbox();
  const std::string ios_token(64, 'e');
  const auto ios = Registered(Platform::kIos, ios_token);
  const auto android = Registered(Platform::kAndroid, "android-registration");
  const auto web = Registered(Platform::kWeb, "web-subscription");
  const MessageId to_ios = Post(sender, ios);
  Post(sender, android);
  Post(sender, web);
  ASSERT_TRUE(Eventually([&] { return server_->stats().kicks_sent == 3; }))
      << "sent " << server_->stats().kicks_sent << ", dropped " << server_->stats().kicks_dropped;

  const auto apns = apns_->Requests("apns");
  ASSERT_EQ(apns.size(), 1u);
  EXPECT_EQ(apns[0]["headers"][":path"], "/3/device/" + ios_token);
  const json apns_body = json::parse(apns[0]["body"].get<std::string>());
  EXPECT_EQ(apns_body["postbox"]["mkey"], ios.mkey.ToHex());
  EXPECT_EQ(apns_body["postbox"]["payload"]["type"], "message_received");
  EXPECT_EQ(apns_body["postbox"]["payload"]["id"], to_ios.ToHex());

  const auto fcm = fcm_->Requests("fcm");
  ASSERT_EQ(fcm.size(), 1u);
  const json message = json::parse(fcm[0]["body"].get<std::string>())["message"];
  EXPECT_EQ(message["token"], "android-registration");
  EXPECT_EQ(message["data"]["mkey"], android.mkey.ToHex());
  EXPECT_EQ(fcm_->Requests("token").size(), 1u);

  ASSERT_EQ(webhook_.count(), 1u);
  EXPECT_EQ(webhook_.received()[0].body["mkey"], web.mkey.ToHex());
  EXPECT_EQ(webhook_.received()[0].body["platform"], "web");
  EXPECT_EQ(server_->stats().kicks_dropped, 0u);
}

TEST_F(PushServerTest, APlatformWithoutADriverIsDroppedAndCounted) {
  Start({.ios = Apns(), .android = nullptr, .web = nullptr});
  const auto sender = NewMailbox();
  const auto android = Registered(Platform::kAndroid, "android-registration");
  const auto ios = Registered(Platform::kIos, std::string(64, 'f'));
  Post(sender, android);
  Post(sender, ios);
  ASSERT_TRUE(Eventually([&] {
    const auto s = server_->stats();
    return s.kicks_dropped == 1 && s.kicks_sent == 1 && s.kicks_pending == 0;
  }));
  EXPECT_EQ(apns_->Requests("apns").size(), 1u);
  EXPECT_TRUE(fcm_->Requests().empty());
  EXPECT_EQ(server_->stats().kicks_retried, 0u);  // refused for good, not retried
}

TEST_F(PushServerTest, AnUnregisteredDeviceIsDroppedAndATransientFailureRetried) {
  Start({.ios = Apns(), .android = Fcm(), .web = nullptr});
  apns_->Script("apns", json::array({{{"status", 410}, {"body", {{"reason", "Unregistered"}}}}}));
  fcm_->Script("fcm", json::array({{{"status", 503}, {"body", {{"error", {{"code", 503}}}}}}}));
  const auto sender = NewMailbox();
  Post(sender, Registered(Platform::kIos, std::string(64, '1')));
  Post(sender, Registered(Platform::kAndroid, "android-registration"));
  ASSERT_TRUE(Eventually([&] {
    const auto s = server_->stats();
    return s.kicks_dropped == 1 && s.kicks_sent == 1 && s.kicks_pending == 0;
  }));
  EXPECT_GE(server_->stats().kicks_retried, 1u);
  EXPECT_EQ(apns_->Requests("apns").size(), 1u);
  EXPECT_EQ(fcm_->Requests("fcm").size(), 2u);  // the 503, then the retry
}

}  // namespace
}  // namespace postbox::sync::testing
