// Web Push endpoints in the store: registration (idempotent per app id and
// key), revocation, listing, mailbox deletion and the purge of revoked ones.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class EndpointTest : public test::StoreTest {};

std::string Key(char fill) {
  std::string k(65, fill);
  k[0] = '\x04';
  return k;
}

TEST_F(EndpointTest, RegisteringAgainGivesTheSameEndpoint) {
  const MailboxKey m = NewMailbox();
  ASSERT_OK_AND_ASSIGN(EndpointInfo e, db().RegisterEndpoint(m, "org.example.chat", ""));
  EXPECT_EQ(e.token.size(), 22u);  // 128 bits of base64url
  EXPECT_EQ(
      e.token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  EXPECT_EQ(e.mkey, m);
  EXPECT_EQ(e.app_id, "org.example.chat");
  EXPECT_EQ(e.revoked_ms, 0u);
  EXPECT_NE(e.created_ms, 0u);
  ASSERT_OK_AND_ASSIGN(EndpointInfo again, db().RegisterEndpoint(m, "org.example.chat", ""));
  EXPECT_EQ(again, e);
  ASSERT_OK_AND_ASSIGN(EndpointInfo got, db().GetEndpoint(e.token));
  EXPECT_EQ(got, e);
  // Another app: another endpoint.
  ASSERT_OK_AND_ASSIGN(EndpointInfo other, db().RegisterEndpoint(m, "org.example.mail", Key('k')));
  EXPECT_NE(other.token, e.token);
  EXPECT_EQ(other.vapid_public_key, Key('k'));
}

TEST_F(EndpointTest, ANewKeyRevokesTheOldEndpoint) {
  const MailboxKey m = NewMailbox();
  ASSERT_OK_AND_ASSIGN(EndpointInfo first, db().RegisterEndpoint(m, "app", Key('a')));
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_OK_AND_ASSIGN(EndpointInfo second, db().RegisterEndpoint(m, "app", Key('b')));
  EXPECT_NE(second.token, first.token);
  ASSERT_OK_AND_ASSIGN(EndpointInfo old, db().GetEndpoint(first.token));
  EXPECT_NE(old.revoked_ms, 0u);  // app servers holding it get 410
  ASSERT_OK_AND_ASSIGN(auto live, db().ListEndpoints(m, "", 10));
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0], second);
}

TEST_F(EndpointTest, BadInputIsRefusedAndChangesNothing) {
  const MailboxKey m = NewMailbox();
  EXPECT_CODE(db().RegisterEndpoint(m, "", "").status(), kInvalidArgument);
  EXPECT_CODE(db().RegisterEndpoint(m, std::string(257, 'a'), "").status(), kInvalidArgument);
  EXPECT_CODE(db().RegisterEndpoint(m, "app", std::string(65, 'x')).status(),
              kInvalidArgument);  // not an uncompressed point
  EXPECT_CODE(db().RegisterEndpoint(m, "app", Key('a').substr(0, 33)).status(), kInvalidArgument);
  EXPECT_CODE(db().RegisterEndpoint(MailboxKey::Random(), "app", "").status(), kNotFound);
  ASSERT_OK_AND_ASSIGN(auto live, db().ListEndpoints(m, "", 10));
  EXPECT_TRUE(live.empty());
  EXPECT_CODE(db().GetEndpoint("no-such-token").status(), kNotFound);
}

TEST_F(EndpointTest, AMailboxHasABoundedNumberOfEndpoints) {
  options_.max_endpoints_per_mailbox = 3;
  Reopen();
  const MailboxKey m = NewMailbox();
  for (int i = 0; i < 3; ++i) ASSERT_OK(db().RegisterEndpoint(m, "app" + std::to_string(i), ""));
  EXPECT_CODE(db().RegisterEndpoint(m, "app3", "").status(), kBackOff);
  // Re-registering one of the three is not a fourth.
  ASSERT_OK(db().RegisterEndpoint(m, "app1", ""));
  ASSERT_OK_AND_ASSIGN(auto live, db().ListEndpoints(m, "", 10));
  ASSERT_OK(db().RevokeEndpoint(m, live[0].token));
  ASSERT_OK(db().RegisterEndpoint(m, "app3", ""));
}

TEST_F(EndpointTest, RevokeIsTheOwnersAndOnlyOnce) {
  const MailboxKey m = NewMailbox();
  const MailboxKey other = NewMailbox();
  ASSERT_OK_AND_ASSIGN(EndpointInfo e, db().RegisterEndpoint(m, "app", ""));
  EXPECT_CODE(db().RevokeEndpoint(other, e.token), kNotFound);
  ASSERT_OK(db().RevokeEndpoint(m, e.token));
  EXPECT_CODE(db().RevokeEndpoint(m, e.token), kNotFound);
  EXPECT_CODE(db().RevokeEndpoint(m, "never-registered"), kNotFound);
  ASSERT_OK_AND_ASSIGN(EndpointInfo revoked, db().GetEndpoint(e.token));
  EXPECT_NE(revoked.revoked_ms, 0u);
  // The app registers again: a new endpoint, never the revoked one.
  ASSERT_OK_AND_ASSIGN(EndpointInfo fresh, db().RegisterEndpoint(m, "app", ""));
  EXPECT_NE(fresh.token, e.token);
}

TEST_F(EndpointTest, ListingPagesInTokenOrder) {
  const MailboxKey m = NewMailbox();
  std::set<std::string> tokens;
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK_AND_ASSIGN(EndpointInfo e, db().RegisterEndpoint(m, "app" + std::to_string(i), ""));
    tokens.insert(e.token);
  }
  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(auto page, db().ListEndpoints(m, after, 3));
    for (const auto& e : page) seen.push_back(e.token);
    if (page.size() < 3) break;
    after = page.back().token;
  }
  EXPECT_EQ(seen, std::vector<std::string>(tokens.begin(), tokens.end()));
  EXPECT_CODE(db().ListEndpoints(MailboxKey::Random(), "", 10).status(), kNotFound);
}

TEST_F(EndpointTest, DeletingTheMailboxRevokesItsEndpointsAndThePurgeForgetsThem) {
  const MailboxKey m = NewMailbox();
  ASSERT_OK_AND_ASSIGN(EndpointInfo e, db().RegisterEndpoint(m, "app", ""));
  ASSERT_OK(db().DeleteMailbox(m));
  ASSERT_OK_AND_ASSIGN(EndpointInfo revoked, db().GetEndpoint(e.token));
  EXPECT_NE(revoked.revoked_ms, 0u);  // 410, not 404, until the horizon
  clock_.Advance(options_.tombstone_horizon - std::chrono::milliseconds(1));
  ASSERT_OK(db().PurgeTombstones(100).status());
  ASSERT_OK(db().GetEndpoint(e.token).status());
  clock_.Advance(std::chrono::milliseconds(2));
  ASSERT_OK(db().PurgeTombstones(100).status());
  EXPECT_CODE(db().GetEndpoint(e.token).status(), kNotFound);
}

TEST_F(EndpointTest, EndpointsSurviveReopening) {
  const MailboxKey m = NewMailbox();
  ASSERT_OK_AND_ASSIGN(EndpointInfo e, db().RegisterEndpoint(m, "app", Key('z')));
  Reopen();
  ASSERT_OK_AND_ASSIGN(EndpointInfo got, db().GetEndpoint(e.token));
  EXPECT_EQ(got, e);
}

}  // namespace
}  // namespace postbox
