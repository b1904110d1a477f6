// The admin API (docs/operations.md "Admin API"): sessions, viewers,
// transfers, stats and kicking a session out, behind the admin token.
#include <nlohmann/json.hpp>
#include <set>

#include "integration/http/http_test_util.h"
#include "postbox/sync/client.h"

namespace postbox::sync::http::testing {
namespace {

using Json = nlohmann::json;
constexpr const char* kToken = "admin-token-0123456789";

class AdminApiTest : public HttpServerTest {
 protected:
  void SetUp() override {
    HttpServerTest::SetUp();
    options_.admin_token = kToken;
  }
  Response Call(const std::string& method, const std::string& path,
                const std::string& token = kToken) {
    RawClient c(port());
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    EXPECT_TRUE(c.Send(req + "Content-Length: 0\r\n\r\n"));
    auto r = c.Read();
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(Response{});
  }
  Json Get(const std::string& path) {
    const Response r = Call("GET", path);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    return Json::parse(r.body, nullptr, false);
  }
};

TEST_F(AdminApiTest, ABadTokenLearnsNothing) {
  Start(std::shared_ptr<HttpHandler>());
  for (const std::string path : {"/admin/sessions", "/admin/nothing-here", "/admin/sessions/1"}) {
    for (const std::string token : {"", "wrong", "admin-token-0123456788"}) {
      const Response r = Call(path == "/admin/sessions/1" ? "DELETE" : "GET", path, token);
      EXPECT_EQ(r.status, 401) << path << " with '" << token << "'";
      EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"postbox admin\"");
    }
  }
  EXPECT_EQ(Call("GET", "/admin/nothing-here").status, 404);
  EXPECT_EQ(Call("POST", "/admin/sessions").status, 405);
}

TEST_F(AdminApiTest, WithoutATokenConfiguredTheApiIsNotThere) {
  options_.admin_token.clear();
  Start(std::shared_ptr<HttpHandler>());
  EXPECT_EQ(Call("GET", "/admin/sessions").status, 404);
  EXPECT_EQ(Call("GET", "/admin/sessions", "").status, 404);
}

TEST_F(AdminApiTest, SessionsViewersTransfersAndKick) {
  options_.threads = 2;  // sessions on both loops: ids stay unique
  Start(std::shared_ptr<HttpHandler>());
  auto a = db_->CreateMailbox();
  auto b = db_->CreateMailbox();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(db_->Connect(a->mkey, b->mkey).ok());
  auto phone = ConnectClient(*a, Platform::kIos, "2.3.1");
  auto tablet = ConnectClient(*a, Platform::kAndroid, "2.4.0");
  auto other = ConnectClient(*b, Platform::kWeb, "1.0");
  ASSERT_TRUE(phone->Poll(0).ok());

  Json s = Get("/admin/sessions");
  ASSERT_EQ(s["sessions"].size(), 3u) << s.dump();
  std::set<uint64_t> ids;
  Json phone_row;
  for (const Json& row : s["sessions"]) {
    ids.insert(row["id"].get<uint64_t>());
    EXPECT_EQ(row["state"], "active");
    EXPECT_EQ(row["tls"], false);
    EXPECT_TRUE(row["peer"].get<std::string>().starts_with("127.0.0.1:"));
    EXPECT_GT(row["since_ms"].get<int64_t>(), 1'700'000'000'000);
    EXPECT_GT(row["bytes_in"].get<uint64_t>(), 0u);
    if (row["platform"] == "ios") phone_row = row;
  }
  EXPECT_EQ(ids.size(), 3u) << "session ids are unique across loops";
  ASSERT_FALSE(phone_row.is_null());
  EXPECT_EQ(phone_row["mkey"], a->mkey.ToHex());
  EXPECT_EQ(phone_row["app_version"], "2.3.1");

  Json v = Get("/admin/viewers");
  ASSERT_EQ(v["mailboxes"].size(), 2u);
  for (const Json& m : v["mailboxes"]) {
    EXPECT_EQ(m["viewers"], m["mkey"] == a->mkey.ToHex() ? 2 : 1) << m.dump();
  }

  // An upload begun and left: it shows among the transfers.
  const MessageId id = MessageId::Random();
  UploadRequest up;
  up.from = a->mkey;
  up.to = b->mkey;
  up.id = id;
  up.length = 1000;
  ASSERT_TRUE(db_->BeginUpload(up).ok());
  Json t = Get("/admin/transfers");
  ASSERT_EQ(t["uploads"].size(), 1u) << t.dump();
  EXPECT_EQ(t["uploads"][0]["id"], id.ToHex());
  EXPECT_EQ(t["uploads"][0]["length"], 1000);

  Json st = Get("/admin/stats");
  EXPECT_EQ(st["sessions"], 3);

  // Kicking the phone out: it hears 503 and its session ends; the others stay.
  const std::string kick = "/admin/sessions/" + std::to_string(phone_row["id"].get<uint64_t>());
  EXPECT_EQ(Call("DELETE", kick).status, 204);
  ASSERT_TRUE(WaitStats([](const ServerStats& st) { return st.sessions == 2; }));
  EXPECT_FALSE(phone->Poll(0).ok());
  EXPECT_TRUE(tablet->Poll(0).ok());
  EXPECT_EQ(Call("DELETE", kick).status, 404);
  EXPECT_EQ(Call("DELETE", "/admin/sessions/999999").status, 404);
  EXPECT_EQ(Call("DELETE", "/admin/sessions/x1").status, 404);
  EXPECT_EQ(Get("/admin/sessions")["sessions"].size(), 2u);
}

}  // namespace
}  // namespace postbox::sync::http::testing
