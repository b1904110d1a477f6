// Web Push through the replica (docs/replica.md "Web Push endpoints and
// notifications"): endpoints asked through its session, notifications the
// server stored as entries read from the mirror (offline too) and consumed
// through the outbox. The server's HTTP route is not needed: the tests store
// notifications through the server's writer as that route does.
#include "postbox/push.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration/replica/replica_test_util.h"
#include "integration/sync/sync_test_util.h"
#include "postbox/sync/replica.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

PushNotification Notification(const std::string& token, char id_fill, uint64_t received_ms,
                              std::string topic = "", std::string payload = "ciphertext") {
  PushNotification n;
  n.token = token;
  n.id = std::string(32, id_fill);
  n.topic = std::move(topic);
  n.urgency = PushUrgency::kHigh;
  n.ttl_s = 60;
  n.received_ms = received_ms;
  n.encoding = "aes128gcm";
  n.payload = std::move(payload);
  return n;
}

class ReplicaPushTest : public ReplicaTest {
 protected:
  // Stores an entry of `mkey` through the server's writer (as the HTTP route
  // does, so sessions get it pushed).
  void Store(const MailboxKey& mkey, const std::string& key, const std::string& value,
             uint64_t version) {
    WriteBatch batch;
    batch.PutEntry(mkey, key, value, version);
    ASSERT_TRUE(server_->Write(&batch).ok());
    ASSERT_TRUE(batch.results()[0].status.ok()) << batch.results()[0].status.ToString();
  }
  void Store(const MailboxKey& mkey, const PushNotification& n, uint64_t version) {
    Store(mkey, PushEntryKey(n), EncodePushValue(n), version);
  }
};

TEST_F(ReplicaPushTest, EndpointsGoThroughTheReplicasSessionAndNeedOne) {
  auto a = NewMailbox();
  auto opts = OptionsFor(a, "a");
  opts.start = false;
  auto r = Open(opts);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->RegisterEndpoint("org.example.chat").status().Is(Code::kUnavailable));
  EXPECT_TRUE(r->ListEndpoints().status().Is(Code::kUnavailable));
  EXPECT_TRUE(r->RevokeEndpoint(std::string(22, 'A')).Is(Code::kUnavailable));

  r->Start();
  ExpectSynced(r.get());
  auto e = r->RegisterEndpoint("org.example.chat");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->token.size(), 22u);
  EXPECT_EQ(e->app_id, "org.example.chat");
  auto again = r->RegisterEndpoint("org.example.chat");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *e) << "registering at every start gives the same endpoint";
  auto stored = db_->GetEndpoint(e->token);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->mkey, a.mkey);
  EXPECT_TRUE(r->RegisterEndpoint("").status().Is(Code::kInvalidArgument));

  auto other = r->RegisterEndpoint("org.example.mail");
  ASSERT_TRUE(other.ok());
  auto page = r->ListEndpoints("", 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->endpoints.size(), 1u);
  EXPECT_TRUE(page->more);
  auto all = r->ListEndpoints();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->endpoints.size(), 2u);

  ASSERT_TRUE(r->RevokeEndpoint(e->token).ok());
  EXPECT_TRUE(r->RevokeEndpoint(e->token).Is(Code::kNotFound));
  auto after = r->ListEndpoints();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->endpoints.size(), 1u);
  EXPECT_EQ(after->endpoints[0].token, other->token);
  EXPECT_EQ(r->state().pending, 0u) << "endpoint calls never queue in the outbox";
}

TEST_F(ReplicaPushTest, NotificationsArriveInTheMirrorAndAreReadOffline) {
  auto a = NewMailbox();
  Reports reports;
  auto r = Open(OptionsFor(a, "a", &reports));
  ASSERT_NE(r, nullptr);
  ExpectSynced(r.get());
  auto e1 = r->RegisterEndpoint("one");
  auto e2 = r->RegisterEndpoint("two");
  ASSERT_TRUE(e1.ok() && e2.ok());

  const auto late = Notification(e1->token, 'a', 3000);
  const auto early = Notification(e2->token, 'b', 1000, "", std::string("\0\n\xff", 3));
  const auto topical = Notification(e1->token, 'c', 2000, "weather");
  Store(a.mkey, late, 1);
  Store(a.mkey, early, 1);
  Store(a.mkey, topical, 7);
  // Not a notification this build reads: skipped, still an entry.
  const std::string odd = "postbox/push/" + e1->token + "/not-a-notification";
  Store(a.mkey, odd, "{\"v\":2}\n", 1);
  ExpectSynced(r.get());

  auto all = r->PushNotifications();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].notification, early) << "oldest first";
  EXPECT_EQ((*all)[1].notification, topical);
  EXPECT_EQ((*all)[2].notification, late);
  EXPECT_EQ((*all)[1].key, "postbox/push/" + e1->token + "/t.weather");
  EXPECT_EQ((*all)[1].version, 7u);
  auto one = r->PushNotifications(e1->token);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 2u);
  EXPECT_EQ((*one)[0].notification, topical);
  EXPECT_EQ((*one)[1].notification, late);
  EXPECT_TRUE(r->GetEntry(odd).ok());
  EXPECT_TRUE(r->PushNotifications("no/such").status().Is(Code::kInvalidArgument));
  auto none = r->PushNotifications(std::string(22, 'Z'));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  // The app learns of them through on_change, as of any entry.
  bool told = false;
  for (const auto& c : reports.changes()) {
    for (const auto& k : c.entries) told |= k == PushEntryKey(topical);
  }
  EXPECT_TRUE(told);

  r.reset();
  server_->Stop();
  auto offline = Open(OptionsFor(a, "a"));
  ASSERT_NE(offline, nullptr);
  auto again = offline->PushNotifications();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *all);
}

TEST_F(ReplicaPushTest, ConsumingDeletesTheNotificationButNotANewerOneOfItsTopic) {
  auto a = NewMailbox();
  Reports reports;
  auto r = Open(OptionsFor(a, "a", &reports));
  ASSERT_NE(r, nullptr);
  ExpectSynced(r.get());
  auto e = r->RegisterEndpoint("app");
  ASSERT_TRUE(e.ok());
  const auto plain = Notification(e->token, 'd', 1000);
  const auto first = Notification(e->token, 'e', 2000, "score");
  Store(a.mkey, plain, 1);
  Store(a.mkey, first, 1);
  ExpectSynced(r.get());
  auto seen = r->PushNotifications();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 2u);

  // A newer notification of the topic replaces the one the app saw before
  // the app consumes that one.
  const auto second = Notification(e->token, 'f', 3000, "score", "newer");
  Store(a.mkey, second, 2);
  auto plain_item = r->ConsumePushNotification((*seen)[0]);
  auto first_item = r->ConsumePushNotification((*seen)[1]);
  ASSERT_TRUE(plain_item.ok() && first_item.ok());
  ExpectSynced(r.get());
  ASSERT_TRUE(reports.WaitOutcomes(2));
  for (const auto& o : reports.outcomes()) {
    EXPECT_TRUE(o.status.ok()) << o.status.ToString();
    EXPECT_EQ(o.item.kind, OutboxKind::kDeleteEntry);
    EXPECT_EQ(o.applied, o.item.id == *plain_item) << "the older one's delete lost to the newer";
  }

  EXPECT_TRUE(db_->GetEntry(a.mkey, PushEntryKey(plain)).status().Is(Code::kNotFound));
  auto kept = db_->GetEntry(a.mkey, PushEntryKey(second));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->value, EncodePushValue(second));
  auto left = r->PushNotifications();
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].notification, second);
  EXPECT_EQ((*left)[0].version, 2u);

  ReplicaPushNotification bad = (*left)[0];
  bad.key = "elsewhere/x";
  EXPECT_TRUE(r->ConsumePushNotification(bad).status().Is(Code::kInvalidArgument));
  bad = (*left)[0];
  bad.version = 0;
  EXPECT_TRUE(r->ConsumePushNotification(bad).status().Is(Code::kInvalidArgument));
  EXPECT_EQ(r->state().pending, 0u) << "refused consumptions queue nothing";
}

TEST_F(ReplicaPushTest, TheAppMayNotPutUnderThePushPrefixesButMayDelete) {
  auto a = NewMailbox();
  auto r = Open(OptionsFor(a, "a"));
  ASSERT_NE(r, nullptr);
  const auto n = Notification(std::string(22, 'T'), '1', 1000);
  EXPECT_TRUE(
      r->PutEntry(PushEntryKey(n), EncodePushValue(n)).status().Is(Code::kPermissionDenied));
  EXPECT_TRUE(r->PutEntry(SimplePushEntryKey(n.token), "7").status().Is(Code::kPermissionDenied));
  ReplicaBatch batch;
  batch.PutEntry("postbox/push/x", "v");
  batch.PutEntry("postbox/pushy", "v");  // only the prefixes themselves are reserved
  auto results = r->Write(batch);
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[0].status().Is(Code::kPermissionDenied));
  EXPECT_TRUE((*results)[1].ok());
  EXPECT_TRUE(r->DeleteEntry(SimplePushEntryKey(n.token)).ok());
  ExpectSynced(r.get());
}

}  // namespace
}  // namespace postbox::sync::testing
