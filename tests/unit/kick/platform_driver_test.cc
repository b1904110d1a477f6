// The platform driver (MakePlatformKickDriver): each kick goes to its
// platform's driver, a platform without one is refused permanently, and Stop
// and Reopen reach each distinct driver once.
#include <gtest/gtest.h>

#include <vector>

#include "postbox/sync/kick.h"

namespace postbox::sync {
namespace {

// Records what reaches it and answers OK.
class RecordingDriver final : public KickDriver {
 public:
  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    tokens.push_back(kick.registration.token);
    done({});
  }
  void Stop() override { ++stops; }
  Status Reopen() override {
    ++reopens;
    return reopen_result;
  }
  std::vector<std::string> tokens;
  int stops = 0, reopens = 0;
  Status reopen_result;
};

KickResult SendTo(KickDriver* d, Platform p, const std::string& token) {
  Kick k;
  k.registration = {p, token};
  KickResult got{Status::Internal("no answer"), {}};
  d->Send(k, [&](KickResult r) { got = std::move(r); });
  return got;
}

TEST(PlatformKickDriverTest, RoutesEachKickToItsPlatformsDriver) {
  auto apns = std::make_shared<RecordingDriver>();
  auto fcm = std::make_shared<RecordingDriver>();
  auto d = MakePlatformKickDriver({.ios = apns, .android = fcm, .web = nullptr});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(SendTo(d->get(), Platform::kIos, "i1").status.ok());
  EXPECT_TRUE(SendTo(d->get(), Platform::kAndroid, "a1").status.ok());
  EXPECT_TRUE(SendTo(d->get(), Platform::kIos, "i2").status.ok());
  EXPECT_EQ(apns->tokens, (std::vector<std::string>{"i1", "i2"}));
  EXPECT_EQ(fcm->tokens, (std::vector<std::string>{"a1"}));
}

TEST(PlatformKickDriverTest, APlatformWithoutADriverIsRefusedPermanently) {
  auto apns = std::make_shared<RecordingDriver>();
  auto d = MakePlatformKickDriver({.ios = apns, .android = nullptr, .web = nullptr});
  ASSERT_TRUE(d.ok());
  for (Platform p : {Platform::kAndroid, Platform::kWeb, Platform::kNone}) {
    const KickResult r = SendTo(d->get(), p, "t");
    EXPECT_TRUE(r.status.Is(Code::kNotFound)) << r.status.ToString();
    EXPECT_NE(r.status.message().find(PlatformName(p)), std::string_view::npos);
  }
  EXPECT_TRUE(apns->tokens.empty());
}

TEST(PlatformKickDriverTest, StopAndReopenReachEachDistinctDriverOnce) {
  auto webhook = std::make_shared<RecordingDriver>();  // serves two platforms
  auto apns = std::make_shared<RecordingDriver>();
  webhook->reopen_result = Status::Unavailable("cannot reopen");
  auto d = MakePlatformKickDriver({.ios = apns, .android = webhook, .web = webhook});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)->Reopen().Is(Code::kUnavailable));
  (*d)->Stop();
  EXPECT_EQ(webhook->stops, 1);
  EXPECT_EQ(webhook->reopens, 1);
  EXPECT_EQ(apns->stops, 1);
  EXPECT_EQ(apns->reopens, 1);  // reopened although the other failed
}

TEST(PlatformKickDriverTest, NoDriverAtAllIsRefused) {
  EXPECT_TRUE(MakePlatformKickDriver({}).status().Is(Code::kInvalidArgument));
}

}  // namespace
}  // namespace postbox::sync
