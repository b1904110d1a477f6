// The admin API's mailbox, connection and health routes, the console's
// logins (cookie, CSRF token, same-origin checks) and its files
// (docs/operations.md "Admin API" and "Web console").
#include "sync/server/admin_console.h"

#include <nlohmann/json.hpp>

#include "integration/http/http_test_util.h"
#include "postbox/sync/client.h"
#include "sync/server/health.h"

namespace postbox::sync::http::testing {
namespace {

using Json = nlohmann::json;
using internal::ConsoleLogins;
constexpr const char* kToken = "admin-token-0123456789";

// Whether `text` has the shape of `pattern`: 'd' a digit, 'b' a base64url
// character, anything else itself.
bool Shaped(const std::string& text, const std::string& pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (pattern[i] == 'd'   ? !std::isdigit(c)
        : pattern[i] == 'b' ? !(std::isalnum(c) || c == '-' || c == '_')
                            : text[i] != pattern[i]) {
      return false;
    }
  }
  return true;
}

class AdminConsoleTest : public HttpServerTest {
 protected:
  void SetUp() override {
    HttpServerTest::SetUp();
    options_.admin_token = kToken;
  }
  // `method` `path` with `headers` ("Name: value\r\n" lines) and `body`.
  Response Call(const std::string& method, const std::string& path, const std::string& headers,
                const std::string& body = "") {
    RawClient c(port());
    EXPECT_TRUE(c.Send(method + " " + path + " HTTP/1.1\r\nHost: pb.test\r\n" + headers +
                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    auto r = c.Read();
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(Response{});
  }
  static std::string Bearer() { return std::string("Authorization: Bearer ") + kToken + "\r\n"; }
  Json Doc(const Response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    return Json::parse(r.body, nullptr, false);
  }
  Json Get(const std::string& path) { return Doc(Call("GET", path, Bearer()), 200); }
  MailboxCredentials Create() {
    const Json doc = Doc(Call("POST", "/admin/mailboxes", Bearer()), 201);
    auto mkey = MailboxKey::FromHex(doc.value("mkey", ""));
    EXPECT_TRUE(mkey.ok()) << doc.dump();
    return {mkey.ok() ? *mkey : MailboxKey{}, doc.value("secret", "")};
  }
};

TEST_F(AdminConsoleTest, MailboxesAreCreatedListedSearchedShownAndDeletedThroughTheWriter) {
  Start(std::shared_ptr<HttpHandler>());
  const uint64_t commits = server_->stats().commits;
  std::vector<MailboxCredentials> made;
  for (int i = 0; i < 5; ++i) made.push_back(Create());
  // Through the sessions' group commit, and the secret shown is the mailbox's.
  EXPECT_GE(server_->stats().commits, commits + 5);
  for (const auto& m : made) EXPECT_TRUE(db_->Authenticate(m.mkey, m.secret).ok());
  std::sort(made.begin(), made.end(), [](const auto& a, const auto& b) { return a.mkey < b.mkey; });

  // Pages in key order.
  Json page = Get("/admin/mailboxes?limit=2");
  ASSERT_EQ(page["mailboxes"].size(), 2u) << page.dump();
  EXPECT_EQ(page["more"], true);
  EXPECT_EQ(page["mailboxes"][0]["mkey"], made[0].mkey.ToHex());
  EXPECT_EQ(page["mailboxes"][0]["push"]["platform"], "none");
  EXPECT_TRUE(
      Shaped(page["mailboxes"][0]["created"].get<std::string>(), "dddd-dd-ddTdd:dd:dd.dddZ"));
  page = Get("/admin/mailboxes?limit=2&after=" + made[3].mkey.ToHex());
  ASSERT_EQ(page["mailboxes"].size(), 1u);
  EXPECT_EQ(page["mailboxes"][0]["mkey"], made[4].mkey.ToHex());
  EXPECT_EQ(page["more"], false);

  // Search by a prefix of the key, in either case.
  std::string prefix = made[2].mkey.ToHex().substr(0, 6);
  for (char& c : prefix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  page = Get("/admin/mailboxes?prefix=" + prefix);
  ASSERT_EQ(page["mailboxes"].size(), 1u) << page.dump();
  EXPECT_EQ(page["mailboxes"][0]["mkey"], made[2].mkey.ToHex());
  EXPECT_EQ(Get("/admin/mailboxes?prefix=" + made[4].mkey.ToHex())["mailboxes"].size(), 1u);
  const std::vector<std::string> bads = {"prefix=xyz", "prefix=" + std::string(33, 'a'),
                                         "limit=0",    "limit=1001",
                                         "limit=ten",  "after=12"};
  for (const std::string& bad : bads) {
    EXPECT_EQ(Call("GET", "/admin/mailboxes?" + bad, Bearer()).status, 400) << bad;
  }

  // Show, with the viewers a live session makes.
  auto phone = ConnectClient(made[1], Platform::kIos, "3.0");
  ASSERT_TRUE(phone != nullptr);
  Json one = Get("/admin/mailboxes/" + made[1].mkey.ToHex());
  EXPECT_EQ(one["mkey"], made[1].mkey.ToHex());
  EXPECT_EQ(one["viewers"], 1);
  EXPECT_EQ(Get("/admin/mailboxes/" + made[0].mkey.ToHex())["viewers"], 0);

  // Delete: gone from the store and the list; its session is closed.
  Json deleted = Doc(Call("DELETE", "/admin/mailboxes/" + made[1].mkey.ToHex(), Bearer()), 200);
  EXPECT_EQ(deleted["deleted"], made[1].mkey.ToHex());
  EXPECT_EQ(db_->GetMailbox(made[1].mkey).status().code(), Code::kNotFound);
  EXPECT_EQ(Call("GET", "/admin/mailboxes/" + made[1].mkey.ToHex(), Bearer()).status, 404);
  EXPECT_EQ(Call("DELETE", "/admin/mailboxes/" + made[1].mkey.ToHex(), Bearer()).status, 404);
  EXPECT_EQ(Get("/admin/mailboxes")["mailboxes"].size(), 4u);
  EXPECT_TRUE(WaitStats([](const ServerStats& s) { return s.sessions == 0; }));
  EXPECT_EQ(Call("GET", "/admin/mailboxes/nothex", Bearer()).status, 400);
  EXPECT_EQ(Call("PUT", "/admin/mailboxes", Bearer()).status, 405);
  EXPECT_EQ(Call("PATCH", "/admin/mailboxes/" + made[0].mkey.ToHex(), Bearer()).status, 405);
}

TEST_F(AdminConsoleTest, TheOperatorConnectsAndDisconnectsTwoMailboxes) {
  Start(std::shared_ptr<HttpHandler>());
  const MailboxCredentials a = Create(), b = Create();
  const std::string pair = "/admin/connections/" + a.mkey.ToHex() + "/" + b.mkey.ToHex();
  Json doc = Doc(Call("PUT", pair, Bearer()), 200);
  EXPECT_EQ(doc["connected"], true);
  EXPECT_TRUE(db_->IsConnected(a.mkey, b.mkey).value_or(false));
  for (const auto& [m, peer] : {std::pair{a, b}, std::pair{b, a}}) {
    Json list = Get("/admin/mailboxes/" + m.mkey.ToHex() + "/connections");
    EXPECT_EQ(list["kind"], "connected");
    EXPECT_EQ(list["connections"], Json::array({peer.mkey.ToHex()})) << list.dump();
    EXPECT_EQ(list["more"], false);
  }
  doc = Doc(Call("DELETE", pair, Bearer()), 200);
  EXPECT_EQ(doc["connected"], false);
  EXPECT_FALSE(db_->IsConnected(a.mkey, b.mkey).value_or(true));
  EXPECT_EQ(Get("/admin/mailboxes/" + a.mkey.ToHex() + "/connections")["connections"].size(), 0u);

  // A request one side made shows as requested and incoming.
  ASSERT_TRUE(db_->RequestConnection(a.mkey, b.mkey).ok());
  EXPECT_EQ(
      Get("/admin/mailboxes/" + a.mkey.ToHex() + "/connections?kind=requested")["connections"][0],
      b.mkey.ToHex());
  EXPECT_EQ(
      Get("/admin/mailboxes/" + b.mkey.ToHex() + "/connections?kind=incoming")["connections"][0],
      a.mkey.ToHex());

  const std::string unknown = MailboxKey::Random().ToHex();
  EXPECT_EQ(Call("PUT", "/admin/connections/" + a.mkey.ToHex() + "/" + unknown, Bearer()).status,
            404);
  EXPECT_EQ(Call("GET", "/admin/mailboxes/" + unknown + "/connections", Bearer()).status, 404);
  EXPECT_EQ(Call("DELETE", "/admin/connections/" + a.mkey.ToHex() + "/" + unknown, Bearer()).status,
            404);
  // Disconnecting severs both sides: the request a made of b is withdrawn too.
  EXPECT_EQ(Call("DELETE", pair, Bearer()).status, 200);
  EXPECT_EQ(Get("/admin/mailboxes/" + b.mkey.ToHex() + "/connections?kind=incoming")["connections"]
                .size(),
            0u);
  ASSERT_TRUE(db_->RequestConnection(b.mkey, a.mkey).ok());
  EXPECT_EQ(Call("DELETE", pair, Bearer()).status, 200);
  EXPECT_EQ(Get("/admin/mailboxes/" + b.mkey.ToHex() + "/connections?kind=requested")["connections"]
                .size(),
            0u)
      << "b's own request to a is withdrawn by a disconnect of a and b";
  EXPECT_EQ(
      Call("PUT", "/admin/connections/" + a.mkey.ToHex() + "/" + a.mkey.ToHex(), Bearer()).status,
      400);
  EXPECT_EQ(
      Call("GET", "/admin/mailboxes/" + a.mkey.ToHex() + "/connections?kind=all", Bearer()).status,
      400);
  EXPECT_EQ(Call("POST", pair, Bearer()).status, 405);
}

TEST_F(AdminConsoleTest, AConsoleLoginIsACookieAndEveryChangeNeedsItsCsrfTokenFromThisOrigin) {
  Start(std::shared_ptr<HttpHandler>());
  const std::string json = "Content-Type: application/json\r\n";
  // Refusals: a wrong token (401, nothing said about why), a malformed body,
  // a huge one, a login posted from another site.
  EXPECT_EQ(Call("POST", "/admin/login", json, R"({"token":"wrong"})").status, 401);
  EXPECT_EQ(Call("POST", "/admin/login", json, R"({"token":"admin-token-0123456788"})").status,
            401);
  EXPECT_EQ(Call("POST", "/admin/login", json, R"({"tok":"x"})").status, 400);
  EXPECT_EQ(Call("POST", "/admin/login", json, "not json").status, 400);
  EXPECT_EQ(Call("POST", "/admin/login", json, std::string(5000, ' ')).status, 413);
  EXPECT_EQ(Call("POST", "/admin/login", json + "Origin: https://evil.test\r\n",
                 std::string(R"({"token":")") + kToken + "\"}")
                .status,
            403);
  EXPECT_EQ(Call("GET", "/admin/login", "").status, 401);

  const Response login = Call("POST", "/admin/login", json + "Origin: http://pb.test\r\n",
                              std::string(R"({"token":")") + kToken + "\"}");
  const Json doc = Doc(login, 200);
  const std::string csrf = doc.value("csrf", "");
  EXPECT_EQ(csrf.size(), 43u);
  const std::string set_cookie = login.Header("set-cookie");
  const std::string value = set_cookie.substr(0, set_cookie.find(';'));
  ASSERT_TRUE(value.starts_with("postbox_admin=")) << set_cookie;
  ASSERT_TRUE(Shaped(value.substr(14), std::string(43, 'b'))) << set_cookie;
  for (const char* attr : {"; Path=/admin", "; HttpOnly", "; SameSite=Strict", "; Max-Age=43200"}) {
    EXPECT_NE(set_cookie.find(attr), std::string::npos) << attr << " in " << set_cookie;
  }
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "plain HTTP: no Secure";
  EXPECT_EQ(login.body.find(kToken), std::string::npos);
  const std::string cookie = "Cookie: theme=dark; " + value + "\r\n";

  // Reads with the cookie alone; a page reload gets the same CSRF token.
  EXPECT_EQ(Doc(Call("GET", "/admin/login", cookie), 200)["csrf"], csrf);
  EXPECT_EQ(Call("GET", "/admin/mailboxes", cookie).status, 200);
  EXPECT_EQ(Call("GET", "/admin/health", cookie).status, 200);
  EXPECT_EQ(
      Call("GET", "/admin/mailboxes", "Cookie: postbox_admin=" + std::string(43, 'A') + "\r\n")
          .status,
      401);

  // A change needs the CSRF token, and no sign of another site.
  const std::string token = "X-CSRF-Token: " + csrf + "\r\n";
  EXPECT_EQ(Call("POST", "/admin/mailboxes", cookie).status, 403);
  EXPECT_EQ(
      Call("POST", "/admin/mailboxes", cookie + "X-CSRF-Token: " + std::string(43, 'x') + "\r\n")
          .status,
      403);
  EXPECT_EQ(
      Call("POST", "/admin/mailboxes", cookie + token + "Origin: https://evil.test\r\n").status,
      403);
  EXPECT_EQ(
      Call("POST", "/admin/mailboxes", cookie + token + "Sec-Fetch-Site: cross-site\r\n").status,
      403);
  EXPECT_EQ(
      Call("POST", "/admin/mailboxes", cookie + token + "Sec-Fetch-Site: same-site\r\n").status,
      403);
  EXPECT_EQ(Call("POST", "/admin/mailboxes", cookie + token + "Sec-Fetch-Site: none\r\n").status,
            403);
  EXPECT_EQ(Get("/admin/mailboxes")["mailboxes"].size(), 0u) << "nothing refused was written";
  EXPECT_EQ(Call("POST", "/admin/mailboxes",
                 cookie + token + "Origin: http://pb.test\r\nSec-Fetch-Site: same-origin\r\n")
                .status,
            201);
  // The bearer token needs no CSRF token (no browser sends it on its own).
  EXPECT_EQ(Call("POST", "/admin/mailboxes", Bearer()).status, 201);
  EXPECT_EQ(Get("/admin/mailboxes")["mailboxes"].size(), 2u);

  // Logging out forgets the login.
  EXPECT_EQ(Call("POST", "/admin/logout", cookie).status, 403);
  const Response out = Call("POST", "/admin/logout", cookie + token);
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.Header("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(Call("GET", "/admin/mailboxes", cookie).status, 401);
  EXPECT_EQ(Call("GET", "/admin/login", cookie).status, 401);
}

TEST_F(AdminConsoleTest, TheConsoleFilesCarryAStrictPolicyAndNoInlineCode) {
  Start(std::shared_ptr<HttpHandler>());
  const Response page = Call("GET", "/console/", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  const std::string csp = page.Header("content-security-policy");
  for (const char* part : {"default-src 'none'", "script-src 'self'", "style-src 'self'",
                           "frame-ancestors 'none'", "form-action 'self'"}) {
    EXPECT_NE(csp.find(part), std::string::npos) << part;
  }
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  EXPECT_EQ(page.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.Header("x-frame-options"), "DENY");
  EXPECT_EQ(page.Header("referrer-policy"), "no-referrer");
  // What the policy would refuse is not there to refuse: every script is a
  // file, no inline handlers or style attributes.
  std::string lower = page.body;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t at = lower.find("<script"); at != std::string::npos;
       at = lower.find("<script", at + 1)) {
    const std::string tag = lower.substr(at, lower.find('>', at) - at);
    EXPECT_NE(tag.find(" src="), std::string::npos) << "an inline script: " << tag;
  }
  EXPECT_EQ(lower.find(" style="), std::string::npos);
  for (size_t at = lower.find(" on"); at != std::string::npos; at = lower.find(" on", at + 1)) {
    size_t end = at + 3;
    while (end < lower.size() && std::isalpha(static_cast<unsigned char>(lower[end]))) ++end;
    EXPECT_FALSE(end > at + 3 && end < lower.size() && lower[end] == '=')
        << "an inline handler: " << lower.substr(at, end - at + 1);
  }
  // Each script and style sheet the page names is served, with its policy.
  int files = 0;
  for (const std::string attr : {"src=\"", "href=\""}) {
    for (size_t at = page.body.find(attr); at != std::string::npos;
         at = page.body.find(attr, at + 1)) {
      const size_t begin = at + attr.size();
      const std::string file = page.body.substr(begin, page.body.find('"', begin) - begin);
      if (!file.ends_with(".js") && !file.ends_with(".css")) continue;
      const Response f = Call("GET", file.starts_with("/") ? file : "/console/" + file, "");
      EXPECT_EQ(f.status, 200) << file;
      EXPECT_FALSE(f.Header("content-security-policy").empty());
      ++files;
    }
  }
  EXPECT_GE(files, 2);
  EXPECT_EQ(Call("GET", "/console/console.js", "").Header("content-type"),
            "text/javascript; charset=utf-8");

  const Response redirect = Call("GET", "/console", "");
  EXPECT_EQ(redirect.status, 308);
  EXPECT_EQ(redirect.Header("location"), "/console/");
  EXPECT_EQ(Call("GET", "/console/nothing.js", "").status, 404);
  EXPECT_EQ(Call("GET", "/console/../admin/stats", "").status, 404);
  EXPECT_EQ(Call("POST", "/console/", "").status, 405);
}

TEST_F(AdminConsoleTest, WithoutAnAdminTokenThereIsNoConsole) {
  options_.admin_token.clear();
  Start(std::shared_ptr<HttpHandler>());
  EXPECT_EQ(Call("GET", "/console/", "").status, 404);
  EXPECT_EQ(Call("POST", "/admin/login", "", R"({"token":""})").status, 404);
  EXPECT_EQ(Call("GET", "/admin/mailboxes", "").status, 404);
}

TEST_F(AdminConsoleTest, HealthSamplesTheCommitsOfTheLastInterval) {
  Start(std::shared_ptr<HttpHandler>());
  // The first tick sets the baseline; commits after it show in the next sample.
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  Json busy;
  while (busy.is_null() && std::chrono::steady_clock::now() < deadline) {
    Create();
    const Json h = Get("/admin/health");
    EXPECT_EQ(h["interval_ms"], 2000);
    for (const Json& s : h["samples"]) {
      if (s["commits_per_s"].get<double>() > 0) busy = s;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(busy.is_null()) << "no sample with commits within 15 s";
  EXPECT_GT(busy["ops_per_s"].get<double>(), 0);
  EXPECT_TRUE(busy["commit_p50_ms"].is_number());
  EXPECT_GE(busy["commit_p99_ms"].get<double>(), busy["commit_p50_ms"].get<double>());
  EXPECT_GT(busy["store_used_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(busy["store_mailboxes"].get<uint64_t>(), 0u);
  EXPECT_GT(busy["t_ms"].get<int64_t>(), 1'700'000'000'000);
}

TEST_F(AdminConsoleTest, ASessionWhoseAppVersionIsNotUtf8IsStillListed) {
  Start(std::shared_ptr<HttpHandler>());
  const MailboxCredentials a = Create();
  auto c = ConnectClient(a, Platform::kAndroid, "1.0\xff\xfe");
  ASSERT_TRUE(c != nullptr);
  const Json s = Get("/admin/sessions");
  ASSERT_EQ(s["sessions"].size(), 1u);
  EXPECT_EQ(s["sessions"][0]["app_version"], "1.0\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(ConsoleLoginsTest, LoginsExpireWhenIdleOrOldAndTheLeastUsedGoesFirst) {
  ConsoleLogins logins;
  auto t = ConsoleLogins::Clock::now();
  const auto a = logins.Create(t);
  EXPECT_NE(a.cookie, a.csrf);
  EXPECT_EQ(logins.Find(a.cookie, t + 29min), a.csrf);
  EXPECT_EQ(logins.Find(a.cookie, t + 58min), a.csrf) << "each use restarts the idle time";
  EXPECT_EQ(logins.Find(a.cookie, t + 89min), std::nullopt) << "31 minutes idle";
  EXPECT_EQ(logins.size(), 0u);

  const auto b = logins.Create(t);
  for (auto at = t; at < t + 11h; at += 20min) ASSERT_EQ(logins.Find(b.cookie, at), b.csrf);
  EXPECT_EQ(logins.Find(b.cookie, t + 12h + 1min), std::nullopt) << "12 hours at most";

  std::vector<ConsoleLogins::Login> all;
  for (size_t i = 0; i < ConsoleLogins::kMax; ++i) all.push_back(logins.Create(t));
  ASSERT_TRUE(logins.Find(all[0].cookie, t));  // now the most recently used
  const auto extra = logins.Create(t);
  EXPECT_EQ(logins.size(), ConsoleLogins::kMax);
  EXPECT_TRUE(logins.Find(all[0].cookie, t));
  EXPECT_FALSE(logins.Find(all[1].cookie, t)) << "the least recently used made room";
  EXPECT_TRUE(logins.Find(extra.cookie, t));
  logins.Remove(extra.cookie);
  EXPECT_FALSE(logins.Find(extra.cookie, t));
}

TEST(HealthQuantileTest, InterpolatesWithinTheBucketOfTheRank) {
  constexpr std::array<double, 3> bounds{0.001, 0.01, 0.1};
  const std::array<uint64_t, 4> zero{};
  EXPECT_EQ(internal::HealthHistory::Quantile(0.5, bounds, zero, zero), std::nullopt);
  // 10 in (0, 1 ms], 10 in (1, 10 ms]: the median is the first bucket's top,
  // p75 half-way into the second.
  const std::array<uint64_t, 4> before{5, 5, 0, 0}, after{15, 15, 0, 0};
  EXPECT_DOUBLE_EQ(*internal::HealthHistory::Quantile(0.5, bounds, before, after), 0.001);
  EXPECT_DOUBLE_EQ(*internal::HealthHistory::Quantile(0.75, bounds, before, after), 0.0055);
  // Past the last bound: the last bound.
  const std::array<uint64_t, 4> slow{0, 0, 0, 3};
  EXPECT_DOUBLE_EQ(*internal::HealthHistory::Quantile(0.99, bounds, zero, slow), 0.1);
}

}  // namespace
}  // namespace postbox::sync::http::testing
