// Web Push endpoints over the sync protocol (protocol 3): a client registers
// an app id, gets an unguessable token (and the URL app servers use when the
// server knows its public base), lists and revokes its endpoints.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

std::string VapidKey(char fill) {
  std::string k(65, fill);
  k[0] = '\x04';
  return k;
}

TEST_F(SyncTest, AnEndpointIsRegisteredOnceListedAndRevoked) {
  ServerOptions so;
  so.http_public_url = "https://push.example.com";
  StartServer(so);
  auto a = NewMailbox();
  auto client = Connected(OptionsFor(a));
  ASSERT_NE(client, nullptr);

  auto e = client->RegisterEndpoint("org.example.chat", VapidKey('v'));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->token.size(), 22u);
  EXPECT_EQ(e->url, "https://push.example.com/push/" + e->token);
  EXPECT_EQ(e->app_id, "org.example.chat");
  EXPECT_EQ(e->vapid_public_key, VapidKey('v'));
  // UnifiedPush apps register at every start: the same endpoint comes back.
  auto again = client->RegisterEndpoint("org.example.chat", VapidKey('v'));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *e);
  // The store holds it for the HTTP side.
  auto stored = db_->GetEndpoint(e->token);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->mkey, a.mkey);

  auto other = client->RegisterEndpoint("org.example.mail");
  ASSERT_TRUE(other.ok());
  auto page = client->ListEndpoints();
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->more);
  ASSERT_EQ(page->endpoints.size(), 2u);
  EXPECT_EQ((std::set<std::string>{page->endpoints[0].token, page->endpoints[1].token}),
            (std::set<std::string>{e->token, other->token}));
  EXPECT_LT(page->endpoints[0].token, page->endpoints[1].token);
  auto first = client->ListEndpoints("", 1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->endpoints.size(), 1u);
  EXPECT_TRUE(first->more);
  auto rest = client->ListEndpoints(first->endpoints[0].token, 1);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->endpoints.size(), 1u);
  EXPECT_EQ(rest->endpoints[0], page->endpoints[1]);

  ASSERT_TRUE(client->RevokeEndpoint(e->token).ok());
  EXPECT_TRUE(client->RevokeEndpoint(e->token).Is(Code::kNotFound));
  auto revoked = db_->GetEndpoint(e->token);
  ASSERT_TRUE(revoked.ok());
  EXPECT_NE(revoked->revoked_ms, 0u);
  auto after = client->ListEndpoints();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->endpoints.size(), 1u);
  EXPECT_EQ(after->endpoints[0].token, other->token);
}

TEST_F(SyncTest, EndpointRequestsAreTheMailboxsOwnAndCheckTheirInput) {
  auto a = NewMailbox(), b = NewMailbox();
  auto ca = Connected(OptionsFor(a));
  auto cb = Connected(OptionsFor(b));
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(cb, nullptr);
  auto e = ca->RegisterEndpoint("app");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->url, "") << "no public URL configured";
  EXPECT_TRUE(cb->RevokeEndpoint(e->token).Is(Code::kNotFound)) << "b cannot revoke a's endpoint";
  auto b_list = cb->ListEndpoints();
  ASSERT_TRUE(b_list.ok());
  EXPECT_TRUE(b_list->endpoints.empty());
  EXPECT_TRUE(ca->RegisterEndpoint("").status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(ca->RegisterEndpoint(std::string(257, 'x')).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(ca->RegisterEndpoint("app", "short key").status().Is(Code::kInvalidArgument));
  // The session goes on after refusals.
  EXPECT_TRUE(ca->Ping().ok());
}

TEST_F(SyncTest, AMailboxHasABoundedNumberOfEndpoints) {
  Options o;
  o.max_endpoints_per_mailbox = 2;
  server_->Stop();  // before its store closes: SetUp's server writes into it
  server_.reset();
  db_.reset();
  StartServer(ServerOptions{}, o);
  auto a = NewMailbox();
  auto client = Connected(OptionsFor(a));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->RegisterEndpoint("one").ok());
  ASSERT_TRUE(client->RegisterEndpoint("two").ok());
  EXPECT_TRUE(client->RegisterEndpoint("three").status().Is(Code::kBackOff));
}

}  // namespace
}  // namespace postbox::sync::testing
