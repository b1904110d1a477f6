// How Web Push notifications are laid out as entries (postbox/push.h): what
// the server writes, a client reads back exactly; anything else is refused.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "postbox/push.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

PushNotification Sample() {
  return PushNotification{.token = "AAAAAAAAAAAAAAAAAAAAAA",
                          .id = "0123456789abcdef0123456789abcdef",
                          .topic = "",
                          .urgency = PushUrgency::kHigh,
                          .ttl_s = 60,
                          .received_ms = 1'767'225'600'000,
                          .encoding = "aes128gcm",
                          .payload = std::string("\x00\n\xff payload", 11)};
}

TEST(PushFormatTest, KeysByIdOrByTopic) {
  PushNotification n = Sample();
  EXPECT_EQ(PushEntryKey(n),
            "postbox/push/AAAAAAAAAAAAAAAAAAAAAA/0123456789abcdef0123456789abcdef");
  n.topic = "news_1";
  EXPECT_EQ(PushEntryKey(n), "postbox/push/AAAAAAAAAAAAAAAAAAAAAA/t.news_1");
  EXPECT_EQ(SimplePushEntryKey("tok"), "postbox/simplepush/tok");
  EXPECT_TRUE(IsReservedEntryKey(PushEntryKey(n)));
  EXPECT_TRUE(IsReservedEntryKey("postbox/simplepush/x"));
  EXPECT_FALSE(IsReservedEntryKey("postbox/pushx"));
  EXPECT_FALSE(IsReservedEntryKey("app/postbox/push/x"));
}

TEST(PushFormatTest, TheValueIsAJsonLineThenThePayload) {
  const PushNotification n = Sample();
  const std::string v = EncodePushValue(n);
  EXPECT_EQ(v.substr(0, v.find('\n')),
            R"({"encoding":"aes128gcm","id":"0123456789abcdef0123456789abcdef",)"
            R"("received_ms":1767225600000,"topic":"","ttl":60,"urgency":"high"})");
  EXPECT_EQ(v.substr(v.find('\n') + 1), n.payload);
}

TEST(PushFormatTest, RefusesWhatIsNotANotification) {
  const PushNotification n = Sample();
  const std::string key = PushEntryKey(n);
  const std::string value = EncodePushValue(n);
  ASSERT_OK(ParsePushNotification(key, value));
  EXPECT_CODE(ParsePushNotification("app/x", value), kInvalidArgument);
  EXPECT_CODE(ParsePushNotification("postbox/push/", value), kInvalidArgument);
  EXPECT_CODE(ParsePushNotification("postbox/push/tok", value), kInvalidArgument);
  EXPECT_CODE(ParsePushNotification(key, "no header line"), kInvalidArgument);
  EXPECT_CODE(ParsePushNotification(key, "[1,2]\n"), kInvalidArgument);
  EXPECT_CODE(ParsePushNotification(key, "{\"id\":1}\n"), kInvalidArgument);
  // The key must name this notification: another token is fine, another id is not.
  EXPECT_OK(ParsePushNotification("postbox/push/other/" + n.id, value));
  EXPECT_CODE(ParsePushNotification("postbox/push/" + n.token + "/t.x", value), kInvalidArgument);
  std::string bad_urgency = value;
  bad_urgency.replace(bad_urgency.find("high"), 4, "HIGH");
  EXPECT_CODE(ParsePushNotification(key, bad_urgency), kInvalidArgument);
}

TEST(PushFormatTest, UrgencyNamesAreRfc8030s) {
  EXPECT_EQ(PushUrgencyName(PushUrgency::kVeryLow), "very-low");
  ASSERT_OK_AND_ASSIGN(PushUrgency low, ParsePushUrgency("low"));
  EXPECT_EQ(low, PushUrgency::kLow);
  EXPECT_CODE(ParsePushUrgency("Low"), kInvalidArgument);
  EXPECT_CODE(ParsePushUrgency(""), kInvalidArgument);
}

// Whatever the server writes, a client reads back exactly.
RC_GTEST_PROP(PushFormatProperty, ParseInvertsEncode, ()) {
  const auto b64 = rc::gen::elementOf(
      std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"));
  PushNotification n;
  n.token = *rc::gen::container<std::string>(22, b64);
  n.id = *rc::gen::container<std::string>(32, rc::gen::elementOf(std::string("0123456789abcdef")));
  n.topic = *rc::gen::resize(32, rc::gen::container<std::string>(b64));
  n.urgency = *rc::gen::element(PushUrgency::kVeryLow, PushUrgency::kLow, PushUrgency::kNormal,
                                PushUrgency::kHigh);
  n.ttl_s = *rc::gen::arbitrary<uint32_t>();
  n.received_ms = *rc::gen::arbitrary<uint64_t>();
  n.encoding = *rc::gen::element<std::string>("", "aes128gcm", "aesgcm");
  n.payload = *rc::gen::arbitrary<std::string>();
  const auto back = ParsePushNotification(PushEntryKey(n), EncodePushValue(n));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == n);
}

}  // namespace
}  // namespace postbox
