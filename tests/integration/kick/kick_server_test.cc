// Kicks through a real in-process Server on 127.0.0.1 with the built-in
// drivers: the webhook against a fake gateway (fake_webhook.h), and the log.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "integration/kick/fake_webhook.h"
#include "integration/kick/push_test_util.h"
#include "integration/sync/sync_test_util.h"
#include "postbox/sync/kick.h"

namespace postbox::sync::testing {
namespace {

using std::chrono::milliseconds;
using Mode = FakeWebhook::Mode;

class KickTest : public SyncTest {
 protected:
  void SetUp() override {}  // each test starts its server with its own driver

  ServerOptions KickOptions(std::shared_ptr<KickDriver> driver,
                            milliseconds delay = milliseconds(200)) {
    ServerOptions so;
    so.kick_driver = std::move(driver);
    so.kick_delay = delay;
    so.kick_retry_initial = milliseconds(50);
    so.kick_retry_max = milliseconds(200);
    return so;
  }
  std::shared_ptr<KickDriver> Webhook(WebhookOptions w = {}) {
    w.url = fake_.url();
    if (w.timeout == milliseconds(10000)) w.timeout = milliseconds(2000);
    auto d = MakeWebhookKickDriver(w);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::shared_ptr<KickDriver>(std::move(*d)) : nullptr;
  }
  // A mailbox with a push registration.
  MailboxCredentials Registered(std::string token = "device-token") {
    MailboxCredentials c = NewMailbox();
    EXPECT_TRUE(db_->RegisterPush(c.mkey, Platform::kIos, token).ok());
    return c;
  }
  std::vector<Received> KicksFor(const MailboxCredentials& c) {
    std::vector<Received> out;
    for (auto& r : fake_.received()) {
      if (r.body.value("mkey", "") == c.mkey.ToHex()) out.push_back(r);
    }
    return out;
  }
  uint64_t StoredKicks() {
    auto k = db_->ListPendingKicks(std::nullopt, 0);
    EXPECT_TRUE(k.ok());
    return k.ok() ? k->size() : 0;
  }

  FakeWebhook fake_;
};

TEST_F(KickTest, OfflineMailboxGetsOneCoalescedKickForABurst) {
  StartServer(KickOptions(Webhook()));
  const auto a = NewMailbox();
  const auto b = Registered("tok-b");
  MessageId last;
  for (int i = 0; i < 5; ++i) last = Post(a, b, "t" + std::to_string(i));
  ASSERT_TRUE(fake_.WaitFor(1));
  std::this_thread::sleep_for(milliseconds(600));  // three windows: nothing more comes
  ASSERT_EQ(fake_.count(), 1u);                    // a has no registration: only b is kicked
  Received r = fake_.received()[0];
  EXPECT_EQ(r.body["mkey"], b.mkey.ToHex());
  EXPECT_EQ(r.body["platform"], "ios");
  EXPECT_EQ(r.body["token"], "tok-b");
  EXPECT_EQ(r.body["attempt"], 1);
  EXPECT_EQ(r.body["payload"]["type"], "message_received");
  EXPECT_EQ(r.body["payload"]["from"], a.mkey.ToHex());
  EXPECT_EQ(r.body["payload"]["id"], last.ToHex());
  EXPECT_EQ(r.body["payload"]["count"], 5);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["idempotency-key"], r.body["dedup_id"]);
  EXPECT_EQ(r.body["dedup_id"], b.mkey.ToHex() + "-0000000000000000");
  EXPECT_TRUE(Eventually([&] { return server_->stats().kicks_pending == 0; }));
  EXPECT_EQ(server_->stats().kicks_sent, 1u);
  EXPECT_EQ(StoredKicks(), 0u);
}

TEST_F(KickTest, ConnectedMailboxGetsNoneUntilItsSessionsClose) {
  StartServer(KickOptions(Webhook()));
  const auto a = NewMailbox();
  const auto b = Registered();
  auto client = Connected(OptionsFor(b));
  ASSERT_NE(client, nullptr);
  Post(a, b);
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_EQ(fake_.count(), 0u);
  EXPECT_EQ(StoredKicks(), 0u);
  client->Close();
  client.reset();
  ASSERT_TRUE(Eventually([&] { return server_->stats().sessions == 0; }));
  Post(a, b, "after");
  ASSERT_TRUE(fake_.WaitFor(1));
  EXPECT_EQ(KicksFor(b).size(), 1u);
}

TEST_F(KickTest, ASessionCancelsThePendingKick) {
  StartServer(KickOptions(Webhook(), milliseconds(800)));
  const auto a = NewMailbox();
  const auto b = Registered();
  Post(a, b);
  ASSERT_EQ(StoredKicks(), 1u);
  auto client = Connected(OptionsFor(b));
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(
      Eventually([&] { return StoredKicks() == 0 && server_->stats().kicks_pending == 0; }));
  std::this_thread::sleep_for(milliseconds(1000));  // past the window
  EXPECT_EQ(fake_.count(), 0u);
}

TEST_F(KickTest, StatusRiseKicksTheSenderButItsOwnPostDoesNot) {
  StartServer(KickOptions(Webhook()));
  const auto a = Registered("tok-a");
  const auto b = NewMailbox();  // the recipient: no registration
  const MessageId id = Post(a, b);
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_EQ(fake_.count(), 0u);  // a's feed moved (its outgoing post): nothing to say
  WriteBatch batch;
  batch.AdvanceStatus(b.mkey, id, MessageStatus::kViewed);
  ASSERT_TRUE(server_->Write(&batch).ok());
  ASSERT_TRUE(batch.results()[0].status.ok());
  ASSERT_TRUE(fake_.WaitFor(1));
  Received r = fake_.received()[0];
  EXPECT_EQ(r.body["mkey"], a.mkey.ToHex());
  EXPECT_EQ(r.body["payload"]["type"], "status_changed");
  EXPECT_EQ(r.body["payload"]["to"], b.mkey.ToHex());
  EXPECT_EQ(r.body["payload"]["id"], id.ToHex());
  EXPECT_EQ(r.body["payload"]["status"], "viewed");
}

TEST_F(KickTest, A503IsRetriedNoSoonerThanRetryAfterWithTheSameDedupId) {
  fake_.SetMode(Mode::k503, 1, "1");
  StartServer(KickOptions(Webhook()));
  const auto a = NewMailbox();
  const auto b = Registered();
  Post(a, b);
  ASSERT_TRUE(fake_.WaitFor(2, milliseconds(10000)));
  const auto got = fake_.received();
  const auto gap = std::chrono::duration_cast<milliseconds>(got[1].at - got[0].at);
  EXPECT_GE(gap.count(), 950);  // retry_initial is 50 ms: only Retry-After explains this
  EXPECT_EQ(got[0].body["dedup_id"], got[1].body["dedup_id"]);
  EXPECT_EQ(got[0].body["attempt"], 1);
  EXPECT_EQ(got[1].body["attempt"], 2);
  EXPECT_TRUE(Eventually([&] { return server_->stats().kicks_sent == 1; }));
  EXPECT_EQ(server_->stats().kicks_retried, 1u);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(fake_.count(), 2u);
}

TEST_F(KickTest, A500IsRetriedWithBackoff) {
  fake_.SetMode(Mode::k500, 2);
  StartServer(KickOptions(Webhook()));
  Post(NewMailbox(), Registered());
  ASSERT_TRUE(fake_.WaitFor(3));
  EXPECT_TRUE(Eventually([&] { return server_->stats().kicks_sent == 1; }));
  EXPECT_EQ(server_->stats().kicks_retried, 2u);
}

TEST_F(KickTest, A400DropsTheKick) {
  fake_.SetMode(Mode::k400);
  StartServer(KickOptions(Webhook()));
  Post(NewMailbox(), Registered());
  ASSERT_TRUE(fake_.WaitFor(1));
  EXPECT_TRUE(Eventually([&] { return server_->stats().kicks_dropped == 1; }));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(fake_.count(), 1u);
  EXPECT_EQ(server_->stats().kicks_pending, 0u);
  EXPECT_EQ(server_->stats().kicks_sent, 0u);
  EXPECT_EQ(StoredKicks(), 0u);
}

TEST_F(KickTest, APendingKickSurvivesARestartWithItsDedupId) {
  fake_.SetMode(Mode::kHang);
  StartServer(KickOptions(Webhook()));
  const auto a = NewMailbox();
  const auto b = Registered();
  Post(a, b);
  ASSERT_TRUE(fake_.WaitFor(1));  // in flight, never answered
  server_->Stop();
  server_.reset();
  db_.reset();  // the store closes; the kick is in it
  fake_.SetMode(Mode::kOk);
  StartServer(KickOptions(Webhook()));  // reopens the DB
  ASSERT_TRUE(fake_.WaitFor(2));
  const auto got = fake_.received();
  EXPECT_EQ(got[0].body["dedup_id"], got[1].body["dedup_id"]);
  EXPECT_EQ(got[1].body["payload"]["type"], "message_received");
  EXPECT_TRUE(Eventually([&] { return StoredKicks() == 0; }));
}

TEST_F(KickTest, NoRegistrationNoKick) {
  StartServer(KickOptions(Webhook()));
  const auto a = NewMailbox();
  const auto b = NewMailbox();
  Post(a, b);
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_EQ(fake_.count(), 0u);
  EXPECT_EQ(StoredKicks(), 0u);
  EXPECT_EQ(server_->stats().kicks_pending, 0u);
}

TEST_F(KickTest, AHangingWebhookKeepsTheQueueBoundedAndKicksAreRetriedLater) {
  fake_.SetMode(Mode::kHang);
  WebhookOptions w;
  w.max_in_flight = 1;
  w.queue_limit = 2;
  w.timeout = milliseconds(500);
  StartServer(KickOptions(Webhook(w), milliseconds(50)));
  const auto a = NewMailbox();
  std::vector<MailboxCredentials> boxes;
  for (int i = 0; i < 20; ++i) {
    boxes.push_back(Registered("tok" + std::to_string(i)));
    Post(a, boxes.back());
  }
  // The queue refuses all but three (one in flight, two queued): they are
  // retried, not held in memory by the driver.
  ASSERT_TRUE(Eventually([&] { return server_->stats().kicks_retried >= 17; }));
  EXPECT_LE(fake_.count(), 2u);  // one hangs at a time (the next after its timeout)
  EXPECT_EQ(server_->stats().kicks_pending, 20u);
  fake_.SetMode(Mode::kOk);
  ASSERT_TRUE(Eventually([&] { return server_->stats().kicks_sent == 20; }, milliseconds(20000)));
  std::set<std::string> kicked;
  for (const auto& r : fake_.received()) kicked.insert(r.body.value("mkey", ""));
  EXPECT_EQ(kicked.size(), 20u);
  EXPECT_EQ(server_->stats().kicks_dropped, 0u);
}

TEST_F(KickTest, KicksGiveUpAfterMaxAttempts) {
  fake_.SetMode(Mode::k500);
  auto so = KickOptions(Webhook());
  so.kick_max_attempts = 3;
  StartServer(so);
  Post(NewMailbox(), Registered());
  ASSERT_TRUE(Eventually([&] { return server_->stats().kicks_dropped == 1; }));
  EXPECT_EQ(fake_.count(), 3u);
  EXPECT_EQ(server_->stats().kicks_retried, 2u);
  // The scheduler counts the drop before its store write removes the kick.
  EXPECT_TRUE(Eventually([&] { return StoredKicks() == 0; }));
}

TEST_F(KickTest, LogDriverWritesOneJsonObjectPerLine) {
  const std::string path = (dir_.path() / "kicks.jsonl").string();
  auto d = MakeLogKickDriver({.path = path, .fsync = true});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::shared_ptr<KickDriver> driver = std::move(*d);
  StartServer(KickOptions(driver, milliseconds(50)));
  const auto a = NewMailbox();
  const auto b = Registered("tok \"b\"\n");
  const auto c = Registered("tok-c");
  Post(a, b);
  Post(a, c);
  ASSERT_TRUE(Eventually([&] { return server_->stats().kicks_sent == 2; }));
  // logrotate: the file is moved away, SIGHUP makes the driver write anew.
  const std::string rotated = path + ".1";
  std::filesystem::rename(path, rotated);
  ASSERT_TRUE(driver->Reopen().ok());
  Post(a, b, "again");
  ASSERT_TRUE(Eventually([&] { return server_->stats().kicks_sent == 3; }));
  std::vector<nlohmann::json> lines;
  for (const auto& file : {rotated, path}) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << line;
      lines.push_back(j);
    }
  }
  ASSERT_EQ(lines.size(), 3u);
  std::set<std::string> tokens;
  for (const auto& j : lines) {
    EXPECT_TRUE(j["time"].is_string());
    EXPECT_EQ(j["platform"], "ios");
    EXPECT_EQ(j["payload"]["type"], "message_received");
    EXPECT_EQ(j["payload"]["from"], a.mkey.ToHex());
    EXPECT_TRUE(j["dedup_id"].get<std::string>().starts_with(j["mkey"].get<std::string>()));
    tokens.insert(j["token"]);
  }
  EXPECT_EQ(tokens, (std::set<std::string>{"tok \"b\"\n", "tok-c"}));
  EXPECT_NE(lines[0]["dedup_id"], lines[2]["dedup_id"]);  // b's second kick is a new one
}

}  // namespace
}  // namespace postbox::sync::testing
