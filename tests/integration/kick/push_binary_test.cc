// postbox-server with --kick apns:KEY --kick fcm:ACCOUNT --kick log:FILE end
// to end: offline iOS, Android and web mailboxes get their kicks through the
// fake APNs, the fake FCM and the log, each through its own driver.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "integration/kick/fake_push.h"
#include "integration/sync/server_process.h"
#include "integration/sync/sync_test_util.h"
#include "postbox/sync/client.h"

namespace postbox::sync::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

size_t LineCount(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(PushBinaryTest, EachPlatformGoesThroughTheDriverItsFlagNames) {
  TempFolder folder;
  ASSERT_FALSE(folder.path().empty());
  std::filesystem::create_directories(folder.path() + "/apns");
  std::filesystem::create_directories(folder.path() + "/fcm");
  const std::string p8 = folder.Write("AuthKey_KEYID12345.p8", postbox::testing::NewP256KeyPem());
  const json account = {{"project_id", "proj-1"},
                        {"private_key", postbox::testing::NewRsaKeyPem()},
                        {"client_email", "kicks@proj-1.iam.gserviceaccount.com"},
                        {"token_uri", "https://oauth2.googleapis.com/token"}};
  const std::string sa = folder.Write("service-account.json", account.dump());
  FakePush apns(folder.path() + "/apns",
                FakePush::ApnsArgs(p8, "KEYID12345", "TEAMID1234", "com.example.app"));
  FakePush fcm(folder.path() + "/fcm", FakePush::FcmArgs(sa));
  ASSERT_TRUE(apns.ok() && fcm.ok()) << "fake_push.py did not start";

  const std::string data = folder.path() + "/data";
  const std::string log = folder.path() + "/web-kicks.jsonl";
  const std::string ios_token(64, 'c');
  MailboxCredentials sender, ios, android, web;
  {
    auto db = DB::Open(data, Options{});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    sender = *(*db)->CreateMailbox();
    ios = *(*db)->CreateMailbox();
    android = *(*db)->CreateMailbox();
    web = *(*db)->CreateMailbox();
    for (const auto& [to, platform, token] :
         {std::tuple{ios, Platform::kIos, ios_token},
          std::tuple{android, Platform::kAndroid, std::string("fcm-registration")},
          std::tuple{web, Platform::kWeb, std::string("web-subscription")}}) {
      ASSERT_TRUE((*db)->Connect(sender.mkey, to.mkey).ok());
      ASSERT_TRUE((*db)->RegisterPush(to.mkey, platform, token).ok());
    }
  }
  ServerProcess server(ServerBinary(), data, 0,
                       {"--kick",
                        "apns:" + p8,
                        "--kick",
                        "fcm:" + sa,
                        "--kick",
                        "log:" + log,
                        "--kick-delay",
                        "100ms",
                        "--kick-apns-key-id",
                        "KEYID12345",
                        "--kick-apns-team-id",
                        "TEAMID1234",
                        "--kick-apns-topic",
                        "com.example.app",
                        "--kick-apns-url",
                        apns.base_url(),
                        "--kick-apns-ca-file",
                        apns.ca_file(),
                        "--kick-fcm-url",
                        fcm.base_url(),
                        "--kick-fcm-token-uri",
                        fcm.token_uri(),
                        "--kick-fcm-ca-file",
                        fcm.ca_file()});
  ASSERT_NE(server.port(), 0) << "postbox-server did not start";

  ClientOptions o;
  o.port = server.port();
  o.mkey = sender.mkey;
  o.secret = sender.secret;
  o.reconnect = false;
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Connect().ok());
  for (const auto& to : {ios, android, web}) {
    auto source = MemorySource("a short video");
    UploadSpec spec;
    spec.to = to.mkey;
    spec.id = MessageId::Random();
    ASSERT_TRUE((*client)->Upload(source.get(), spec).ok());
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < end &&
         (apns.Requests("apns").empty() || fcm.Requests("fcm").empty() || LineCount(log) == 0)) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::this_thread::sleep_for(milliseconds(300));  // nothing more comes
  const auto to_apple = apns.Requests("apns");
  ASSERT_EQ(to_apple.size(), 1u);
  EXPECT_EQ(to_apple[0]["headers"][":path"], "/3/device/" + ios_token);
  EXPECT_EQ(json::parse(to_apple[0]["body"].get<std::string>())["postbox"]["mkey"],
            ios.mkey.ToHex());
  const auto to_google = fcm.Requests("fcm");
  ASSERT_EQ(to_google.size(), 1u);
  EXPECT_EQ(json::parse(to_google[0]["body"].get<std::string>())["message"]["data"]["mkey"],
            android.mkey.ToHex());
  std::ifstream in(log);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(json::parse(line)["mkey"], web.mkey.ToHex());
  EXPECT_EQ(LineCount(log), 1u);
  for (auto* fake : {&apns, &fcm}) {
    for (const auto& e : fake->Errors()) ADD_FAILURE() << "a request not as documented: " << e;
  }
  (*client)->Close();
  const int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace postbox::sync::testing
