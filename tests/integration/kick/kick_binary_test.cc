// postbox-server --kick log:FILE end to end: a client registers push over the
// protocol and goes away, another posts to it, and the log gets the kick.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/sync/server_process.h"
#include "integration/sync/sync_test_util.h"
#include "postbox/sync/client.h"

namespace postbox::sync::testing {
namespace {

using std::chrono::milliseconds;

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    out.push_back(nlohmann::json::parse(line, nullptr, false));
  }
  return out;
}

TEST(KickBinaryTest, LogDriverRecordsAKickForAnOfflineMailbox) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  const std::string log = (dir.path() / "kicks.jsonl").string();
  MailboxCredentials a, b;
  {
    auto db = DB::Open(data, Options{});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    a = *(*db)->CreateMailbox();
    b = *(*db)->CreateMailbox();
    ASSERT_TRUE((*db)->Connect(a.mkey, b.mkey).ok());
  }
  ServerProcess server(ServerBinary(), data, 0, {"--kick", "log:" + log, "--kick-delay", "100ms"});
  ASSERT_NE(server.port(), 0) << "postbox-server did not start";
  const auto options = [&](const MailboxCredentials& c) {
    ClientOptions o;
    o.port = server.port();
    o.mkey = c.mkey;
    o.secret = c.secret;
    o.reconnect = false;
    return o;
  };
  {
    auto client = Client::Create(options(b));
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE((*client)->Connect().ok());
    ASSERT_TRUE((*client)->RegisterPush(Platform::kAndroid, "fcm-token-b").ok());
    (*client)->Close();
  }
  std::this_thread::sleep_for(milliseconds(200));  // the server sees b's session end
  auto sender = Client::Create(options(a));
  ASSERT_TRUE(sender.ok());
  ASSERT_TRUE((*sender)->Connect().ok());
  auto source = MemorySource("a short video");
  UploadSpec spec;
  spec.to = b.mkey;
  spec.id = MessageId::Random();
  ASSERT_TRUE((*sender)->Upload(source.get(), spec).ok());

  std::vector<nlohmann::json> lines;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (lines.empty() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(20));
    lines = ReadLines(log);
  }
  ASSERT_EQ(lines.size(), 1u);  // a is connected: only b is kicked
  EXPECT_EQ(lines[0]["mkey"], b.mkey.ToHex());
  EXPECT_EQ(lines[0]["platform"], "android");
  EXPECT_EQ(lines[0]["token"], "fcm-token-b");
  EXPECT_EQ(lines[0]["payload"]["type"], "message_received");
  EXPECT_EQ(lines[0]["payload"]["from"], a.mkey.ToHex());
  EXPECT_EQ(lines[0]["payload"]["id"], spec.id.ToHex());
  (*sender)->Close();
  const int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace postbox::sync::testing
