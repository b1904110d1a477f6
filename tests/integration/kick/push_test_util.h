// Helpers for the apns and fcm driver tests: kicks to send, and sends that
// wait for the driver's answer.
#ifndef POSTBOX_TESTS_INTEGRATION_KICK_PUSH_TEST_UTIL_H_
#define POSTBOX_TESTS_INTEGRATION_KICK_PUSH_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/kick/fake_push.h"
#include "postbox/sync/kick.h"

namespace postbox::sync::testing {

// A kick for mailbox `b`…b (32 bytes of `b`) on `platform` with `token`.
inline Kick TestKick(Platform platform, std::string token, uint8_t b = 7, uint32_t attempt = 1) {
  Kick k;
  k.mkey.bytes.fill(b);
  k.registration = {platform, std::move(token)};
  char since[17];
  std::snprintf(since, sizeof(since), "%016x", static_cast<unsigned>(b));
  k.dedup_id = k.mkey.ToHex() + "-" + since;
  k.payload_json = R"({"type":"message_received","from":"ab","id":"cd","count":1})";
  k.attempt = attempt;
  return k;
}

// Answers collected from a driver, in arrival order. The callbacks share the
// state, so an answer that comes after the test gave up is harmless.
class Answers {
 public:
  std::function<void(KickResult)> Callback() {
    return [s = state_](KickResult r) {
      std::lock_guard lock(s->mu);
      s->got.push_back(std::move(r));
      s->cv.notify_all();
    };
  }
  // Waits until `n` answers came; false after `timeout`.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, timeout, [&] { return state_->got.size() >= n; });
  }
  std::vector<KickResult> got() {
    std::lock_guard lock(state_->mu);
    std::vector<KickResult> out;
    for (const auto& r : state_->got) out.push_back({r.status, r.retry_after});
    return out;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<KickResult> got;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Sends `kick` and waits for the answer (nullopt if none came in 10 s).
inline std::optional<KickResult> SendAndWait(KickDriver* driver, const Kick& kick) {
  Answers a;
  driver->Send(kick, a.Callback());
  if (!a.WaitFor(1)) return std::nullopt;
  return a.got()[0];
}

// Polls `pred` until it holds; false after `timeout`.
inline bool Eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// A driver under test against a fake (fake_push.h) in a temporary folder.
// TearDown fails the test if the fake found any request not as documented
// (unless check_requests_ was cleared).
class PushDriverTest : public ::testing::Test {
 protected:
  void TearDown() override {
    driver_.reset();
    if (check_requests_ && fake_) {
      for (const auto& e : fake_->Errors()) ADD_FAILURE() << "a request not as documented: " << e;
    }
  }
  // Keeps the driver a factory made (nullptr, and a failure, if it refused).
  KickDriver* Adopt(Result<std::unique_ptr<KickDriver>> made) {
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    driver_ = made.ok() ? std::move(*made) : nullptr;
    return driver_.get();
  }
  KickResult Send(const Kick& k) {
    auto r = SendAndWait(driver_.get(), k);
    EXPECT_TRUE(r.has_value()) << "no answer in 10 s";
    return r ? *r : KickResult{Status::Internal("no answer"), std::chrono::milliseconds(0)};
  }

  TempFolder folder_;
  std::unique_ptr<FakePush> fake_;
  std::unique_ptr<KickDriver> driver_;
  bool check_requests_ = true;
};

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_KICK_PUSH_TEST_UTIL_H_
