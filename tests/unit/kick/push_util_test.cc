// The pure parts of the apns and fcm drivers (engine/src/sync/kick/push_util.h).
#include "sync/kick/push_util.h"

#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace postbox::sync::kick {
namespace {

using nlohmann::json;

Kick SomeKick(std::string token = "tok") {
  Kick k;
  k.mkey.bytes.fill(0xab);
  k.registration = {Platform::kAndroid, std::move(token)};
  k.dedup_id = k.mkey.ToHex() + "-0000000000000001";
  k.payload_json = R"({"type":"message_received","from":"01","id":"02","count":3})";
  return k;
}

TEST(PushUtilTest, HttpsOriginAcceptsOnlyAnOrigin) {
  EXPECT_EQ(HttpsOrigin("https://127.0.0.1:8443", "x").value(), "https://127.0.0.1:8443");
  EXPECT_EQ(HttpsOrigin("https://api.push.apple.com/", "x").value(), "https://api.push.apple.com");
  for (const char* bad : {"http://h", "https://", "https://h/p", "https://h?q", "https://u@h",
                          "https://h h", "ftp://h"}) {
    EXPECT_TRUE(HttpsOrigin(bad, "x").status().Is(Code::kInvalidArgument)) << bad;
  }
}

TEST(PushUtilTest, ApnsIdIsAStableVersion8Uuid) {
  const std::string a = ApnsId("mkey-0000000000000001");
  // 8-4-4-4-12 lowercase hex, version nibble 8, variant bits 10. (No
  // std::regex: GCC 12 warns inside it under the sanitizer presets.)
  ASSERT_EQ(a.size(), 36u);
  for (size_t i = 0; i < a.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(a[i], '-') << a;
    } else {
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(a[i])) || (a[i] >= 'a' && a[i] <= 'f'))
          << a;
    }
  }
  EXPECT_EQ(a[14], '8') << a;
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos) << a;
  EXPECT_EQ(a, ApnsId("mkey-0000000000000001"));
  EXPECT_NE(a, ApnsId("mkey-0000000000000002"));
}

TEST(PushUtilTest, DeviceTokensMustBeHex) {
  EXPECT_TRUE(IsHexToken(std::string(64, 'a')));
  EXPECT_TRUE(IsHexToken("0123456789ABCDEFabcdef"));
  EXPECT_FALSE(IsHexToken(""));
  EXPECT_FALSE(IsHexToken("ab cd"));
  EXPECT_FALSE(IsHexToken("../x"));
  EXPECT_FALSE(IsHexToken(std::string(201, 'a')));
}

TEST(PushUtilTest, FcmBodyDataValuesAreStringsAndTokensAreEscaped) {
  FcmOptions o;
  o.high_priority = false;
  o.ttl = std::chrono::seconds(60);
  const json body = json::parse(FcmBody(SomeKick("to\"k\n"), o));
  EXPECT_EQ(body["message"]["token"], "to\"k\n");
  for (const auto& [k, v] : body["message"]["data"].items()) EXPECT_TRUE(v.is_string()) << k;
  EXPECT_EQ(json::parse(body["message"]["data"]["payload"].get<std::string>())["count"], 3);
  EXPECT_EQ(body["message"]["android"]["priority"], "normal");
  EXPECT_EQ(body["message"]["android"]["ttl"], "60s");
}

TEST(PushUtilTest, ApnsAnswersNeedingANewTokenAreFlagged) {
  const auto now = std::chrono::system_clock::now();
  bool renew = true;
  EXPECT_TRUE(ApnsResult(200, "", "", now, &renew).status.ok());
  EXPECT_FALSE(renew);
  for (const char* reason : {"ExpiredProviderToken", "InvalidProviderToken"}) {
    const KickResult r =
        ApnsResult(403, std::string(R"({"reason":")") + reason + "\"}", "", now, &renew);
    EXPECT_TRUE(r.status.Is(Code::kUnavailable));
    EXPECT_TRUE(renew) << reason;
  }
  EXPECT_TRUE(ApnsResult(403, R"({"reason":"MissingTopic"})", "", now, &renew)
                  .status.Is(Code::kPermissionDenied));
  EXPECT_FALSE(renew);
  // A body that is not JSON still maps by status.
  EXPECT_TRUE(ApnsResult(410, "<html>", "", now, &renew).status.Is(Code::kNotFound));
}

TEST(PushUtilTest, ServiceAccountAndTokenResponses) {
  EXPECT_TRUE(ParseServiceAccount(R"({"client_email":"a","private_key":"k","token_uri":"u",
                                      "project_id":"p"})")
                  .ok());
  EXPECT_TRUE(ParseServiceAccount(R"({"client_email":"a","private_key":"k","token_uri":"u"})")
                  .status()
                  .Is(Code::kInvalidArgument));
  const auto t = ParseTokenResponse(R"({"access_token":"ya29.x","expires_in":3599})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "ya29.x");
  EXPECT_EQ(t->expires_in, std::chrono::seconds(3599));
  for (const char* bad : {R"({"access_token":"a b","expires_in":1})", R"({"access_token":"a"})",
                          R"({"access_token":"a","expires_in":0})", "nope"}) {
    EXPECT_FALSE(ParseTokenResponse(bad).ok()) << bad;
  }
  EXPECT_EQ(TokenRequestBody("h.p.s"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=h.p.s");
}

}  // namespace
}  // namespace postbox::sync::kick
