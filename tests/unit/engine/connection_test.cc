// Connections (undirected pairs) and push registrations. Neither moves the feed.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class ConnectionTest : public test::StoreTest {};
class PushTest : public test::StoreTest {};

TEST_F(ConnectionTest, ConnectIsUndirectedAndIdempotent) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  const MailboxKey c = NewMailbox();
  ASSERT_OK_AND_ASSIGN(bool before, db().IsConnected(a, b));
  EXPECT_FALSE(before);
  ASSERT_OK(db().Connect(a, b));
  ASSERT_OK(db().Connect(a, b));
  ASSERT_OK(db().Connect(b, a));
  ASSERT_OK_AND_ASSIGN(bool ab, db().IsConnected(a, b));
  ASSERT_OK_AND_ASSIGN(bool ba, db().IsConnected(b, a));
  ASSERT_OK_AND_ASSIGN(bool ac, db().IsConnected(a, c));
  EXPECT_TRUE(ab);
  EXPECT_TRUE(ba);
  EXPECT_FALSE(ac);
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> of_a, db().ListConnections(a, std::nullopt, 10));
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> of_b, db().ListConnections(b, std::nullopt, 10));
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> of_c, db().ListConnections(c, std::nullopt, 10));
  EXPECT_EQ(of_a, std::vector<MailboxKey>{b});  // listed once despite three Connects
  EXPECT_EQ(of_b, std::vector<MailboxKey>{a});
  EXPECT_TRUE(of_c.empty());
}

TEST_F(ConnectionTest, SelfIsInvalidArgumentEvenWhenUnknown) {
  const MailboxKey a = NewMailbox();
  EXPECT_CODE(db().Connect(a, a), kInvalidArgument);
  // Form is checked before existence.
  const MailboxKey ghost = MailboxKey::Random();
  EXPECT_CODE(db().Connect(ghost, ghost), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> of_a, db().ListConnections(a, std::nullopt, 10));
  EXPECT_TRUE(of_a.empty());
}

TEST_F(ConnectionTest, UnknownMailboxIsNotFound) {
  const MailboxKey a = NewMailbox();
  const MailboxKey ghost = MailboxKey::Random();
  // The operator's calls name unknown mailboxes.
  EXPECT_CODE(db().Connect(a, ghost), kNotFound);
  EXPECT_CODE(db().Connect(ghost, a), kNotFound);
  // A mailbox's own calls never tell whether the peer exists: only an
  // unknown actor is NotFound.
  ASSERT_OK(db().Disconnect(a, ghost));
  EXPECT_CODE(db().Disconnect(ghost, a), kNotFound);
  EXPECT_CODE(db().RequestConnection(ghost, a), kNotFound);
  EXPECT_CODE(db().ListConnections(ghost, std::nullopt, 10), kNotFound);
  EXPECT_CODE(db().IsConnected(a, ghost), kNotFound);
  EXPECT_CODE(db().IsConnected(ghost, a), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> of_a, db().ListConnections(a, std::nullopt, 10));
  EXPECT_TRUE(of_a.empty());
}

TEST_F(ConnectionTest, DisconnectIsIdempotent) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  ASSERT_OK(db().Disconnect(a, b));  // never connected: still OK
  Connect(a, b);
  ASSERT_OK(db().Disconnect(b, a));  // either direction removes the pair
  ASSERT_OK_AND_ASSIGN(bool ab, db().IsConnected(a, b));
  EXPECT_FALSE(ab);
  ASSERT_OK(db().Disconnect(a, b));
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> of_a, db().ListConnections(a, std::nullopt, 10));
  EXPECT_TRUE(of_a.empty());
  // Posting needs the connection again.
  const std::string bytes = "hi";
  EXPECT_CODE(db().PostMessage(Request(a, b, "", bytes)), kPermissionDenied);
}

TEST_F(ConnectionTest, ListPagesInKeyOrder) {
  const MailboxKey hub = NewMailbox();
  std::vector<MailboxKey> peers;
  for (int i = 0; i < 6; ++i) {
    peers.push_back(NewMailbox());
    Connect(peers.back(), hub);
  }
  NewMailbox();  // not connected: never listed
  std::sort(peers.begin(), peers.end());

  std::vector<MailboxKey> paged;
  std::optional<MailboxKey> after;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> got, db().ListConnections(hub, after, 4));
    ASSERT_LE(got.size(), 4u);
    if (got.empty()) break;
    paged.insert(paged.end(), got.begin(), got.end());
    after = got.back();
  }
  EXPECT_EQ(paged, peers);
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> tail, db().ListConnections(hub, peers[3], 100));
  EXPECT_EQ(tail, std::vector<MailboxKey>(peers.begin() + 4, peers.end()));
}

TEST_F(ConnectionTest, DoesNotMoveTheFeed) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  ASSERT_OK(db().Disconnect(a, b));
  EXPECT_EQ(Seq(a), 0u);
  EXPECT_EQ(Seq(b), 0u);
  EXPECT_EQ(Feed(a).size(), 0u);
}

// SPEC §2: a connection exists only when both mailboxes agreed.
TEST_F(ConnectionTest, RequestsConnectOnlyOnceBothAsked) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  ASSERT_OK_AND_ASSIGN(ConnectionState first, db().RequestConnection(a, b));
  EXPECT_EQ(first, ConnectionState::kRequested);
  ASSERT_OK_AND_ASSIGN(ConnectionState again, db().RequestConnection(a, b));
  EXPECT_EQ(again, ConnectionState::kRequested);  // idempotent
  ASSERT_OK_AND_ASSIGN(bool half, db().IsConnected(a, b));
  EXPECT_FALSE(half);
  const std::string bytes = "hi";
  EXPECT_CODE(db().PostMessage(Request(a, b, "", bytes)), kPermissionDenied);
  // Each side sees the request in its own list.
  ASSERT_OK_AND_ASSIGN(auto asked,
                       db().ListConnections(a, std::nullopt, 10, ConnectionListKind::kRequested));
  EXPECT_EQ(asked, std::vector<MailboxKey>{b});
  ASSERT_OK_AND_ASSIGN(auto incoming,
                       db().ListConnections(b, std::nullopt, 10, ConnectionListKind::kIncoming));
  EXPECT_EQ(incoming, std::vector<MailboxKey>{a});

  ASSERT_OK_AND_ASSIGN(ConnectionState second, db().RequestConnection(b, a));
  EXPECT_EQ(second, ConnectionState::kConnected);
  ASSERT_OK_AND_ASSIGN(bool both, db().IsConnected(a, b));
  EXPECT_TRUE(both);
  ASSERT_OK(db().PostMessage(Request(a, b, "", bytes)).status());
  // The requests are gone with the consent.
  for (const MailboxKey& m : {a, b}) {
    for (auto kind : {ConnectionListKind::kRequested, ConnectionListKind::kIncoming}) {
      ASSERT_OK_AND_ASSIGN(auto rows, db().ListConnections(m, std::nullopt, 10, kind));
      EXPECT_TRUE(rows.empty());
    }
  }
  ASSERT_OK_AND_ASSIGN(ConnectionState after, db().RequestConnection(a, b));
  EXPECT_EQ(after, ConnectionState::kConnected);
}

// No probing: a request to a mailbox that does not exist is answered, and
// looks from the asker's side, exactly like one to a mailbox that says nothing.
TEST_F(ConnectionTest, UnknownAndSilentPeersLookTheSame) {
  const MailboxKey a = NewMailbox();
  const MailboxKey silent = NewMailbox();
  const MailboxKey ghost = MailboxKey::Random();
  ASSERT_OK_AND_ASSIGN(ConnectionState to_silent, db().RequestConnection(a, silent));
  ASSERT_OK_AND_ASSIGN(ConnectionState to_ghost, db().RequestConnection(a, ghost));
  EXPECT_EQ(to_silent, to_ghost);
  ASSERT_OK_AND_ASSIGN(auto asked,
                       db().ListConnections(a, std::nullopt, 10, ConnectionListKind::kRequested));
  std::vector<MailboxKey> want = {silent, ghost};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(asked, want);
  // Posting to either is "not connected", not "no such mailbox".
  const std::string bytes = "hi";
  EXPECT_CODE(db().PostMessage(Request(a, silent, "", bytes)), kPermissionDenied);
  EXPECT_CODE(db().PostMessage(Request(a, ghost, "", bytes)), kPermissionDenied);
  // Declining leaves the asker's view alone (it must not learn who said no).
  ASSERT_OK(db().Disconnect(silent, a));
  ASSERT_OK_AND_ASSIGN(auto still,
                       db().ListConnections(a, std::nullopt, 10, ConnectionListKind::kRequested));
  EXPECT_EQ(still, want);
  ASSERT_OK_AND_ASSIGN(
      auto declined, db().ListConnections(silent, std::nullopt, 10, ConnectionListKind::kIncoming));
  EXPECT_TRUE(declined.empty());
  // Withdrawing removes the request.
  ASSERT_OK(db().Disconnect(a, ghost));
  ASSERT_OK_AND_ASSIGN(auto left,
                       db().ListConnections(a, std::nullopt, 10, ConnectionListKind::kRequested));
  EXPECT_EQ(left, std::vector<MailboxKey>{silent});
}

TEST_F(ConnectionTest, PendingRequestsAreCapped) {
  options_.max_pending_connections = 3;
  Reopen();
  const MailboxKey a = NewMailbox();
  for (int i = 0; i < 3; ++i) ASSERT_OK(db().RequestConnection(a, MailboxKey::Random()).status());
  EXPECT_CODE(db().RequestConnection(a, MailboxKey::Random()), kBackOff);
  // A peer that asked first still gets its answer: consent creates no request.
  const MailboxKey b = NewMailbox();
  ASSERT_OK(db().RequestConnection(b, a).status());
  ASSERT_OK_AND_ASSIGN(ConnectionState s, db().RequestConnection(a, b));
  EXPECT_EQ(s, ConnectionState::kConnected);
}

TEST_F(ConnectionTest, OperatorConnectOverridesAndDeletionCleansRequests) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  const MailboxKey c = NewMailbox();
  ASSERT_OK(db().RequestConnection(a, b).status());
  ASSERT_OK(db().Connect(a, b));  // the operator: no second consent needed
  ASSERT_OK_AND_ASSIGN(auto asked,
                       db().ListConnections(a, std::nullopt, 10, ConnectionListKind::kRequested));
  EXPECT_TRUE(asked.empty());
  // c asks a and b asks c; deleting c removes c's request (and its mirror in
  // a's incoming list); b's request to c stays in b's own list, as a request
  // to an unknown mailbox would.
  ASSERT_OK(db().RequestConnection(c, a).status());
  ASSERT_OK(db().RequestConnection(b, c).status());
  ASSERT_OK(db().DeleteMailbox(c));
  ASSERT_OK_AND_ASSIGN(auto incoming_a,
                       db().ListConnections(a, std::nullopt, 10, ConnectionListKind::kIncoming));
  EXPECT_TRUE(incoming_a.empty());
  ASSERT_OK_AND_ASSIGN(auto asked_b,
                       db().ListConnections(b, std::nullopt, 10, ConnectionListKind::kRequested));
  EXPECT_EQ(asked_b, std::vector<MailboxKey>{c});
  ASSERT_OK_AND_ASSIGN(StoreStats stats, db().Stats());
  EXPECT_EQ(stats.mailbox_deletions, 1u);
}

TEST_F(PushTest, RegisterReplacesAndNoneClears) {
  const MailboxKey a = NewMailbox();
  ASSERT_OK_AND_ASSIGN(PushRegistration none, db().GetPush(a));
  EXPECT_EQ(none.platform, Platform::kNone);
  EXPECT_TRUE(none.token.empty());

  ASSERT_OK(db().RegisterPush(a, Platform::kIos, "apns-token"));
  ASSERT_OK_AND_ASSIGN(PushRegistration ios, db().GetPush(a));
  EXPECT_EQ(ios, (PushRegistration{Platform::kIos, "apns-token"}));
  ASSERT_OK_AND_ASSIGN(MailboxInfo info, db().GetMailbox(a));
  EXPECT_EQ(info.platform, Platform::kIos);
  EXPECT_EQ(info.push_token, "apns-token");

  ASSERT_OK(db().RegisterPush(a, Platform::kAndroid, std::string("fcm\0bin", 7)));
  ASSERT_OK_AND_ASSIGN(PushRegistration android, db().GetPush(a));
  EXPECT_EQ(android, (PushRegistration{Platform::kAndroid, std::string("fcm\0bin", 7)}));

  ASSERT_OK(db().RegisterPush(a, Platform::kNone, ""));
  ASSERT_OK_AND_ASSIGN(PushRegistration cleared, db().GetPush(a));
  EXPECT_EQ(cleared.platform, Platform::kNone);
  EXPECT_TRUE(cleared.token.empty());
  EXPECT_EQ(Seq(a), 0u);  // registrations are not feed items
}

TEST_F(PushTest, RegistrationsArePerMailbox) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  ASSERT_OK(db().RegisterPush(a, Platform::kWeb, "https://push.example/a"));
  ASSERT_OK_AND_ASSIGN(PushRegistration of_b, db().GetPush(b));
  EXPECT_EQ(of_b.platform, Platform::kNone);
  ASSERT_OK_AND_ASSIGN(PushRegistration of_a, db().GetPush(a));
  EXPECT_EQ(of_a.token, "https://push.example/a");
}

TEST_F(PushTest, TokenOverLimitIsTooLargeAndChangesNothing) {
  const MailboxKey a = NewMailbox();
  ASSERT_OK(db().RegisterPush(a, Platform::kIos, "old"));
  const std::string max(options_.max_push_token_size, 't');
  const std::string over(options_.max_push_token_size + 1, 't');
  EXPECT_CODE(db().RegisterPush(a, Platform::kAndroid, over), kTooLarge);
  ASSERT_OK_AND_ASSIGN(PushRegistration kept, db().GetPush(a));
  EXPECT_EQ(kept, (PushRegistration{Platform::kIos, "old"}));

  ASSERT_OK(db().RegisterPush(a, Platform::kAndroid, max));
  ASSERT_OK_AND_ASSIGN(PushRegistration at_limit, db().GetPush(a));
  EXPECT_EQ(at_limit.token, max);
  // Size is checked before existence.
  EXPECT_CODE(db().RegisterPush(MailboxKey::Random(), Platform::kIos, over), kTooLarge);
}

TEST_F(PushTest, UnknownMailboxIsNotFound) {
  EXPECT_CODE(db().RegisterPush(MailboxKey::Random(), Platform::kIos, "t"), kNotFound);
  EXPECT_CODE(db().GetPush(MailboxKey::Random()), kNotFound);
}

}  // namespace
}  // namespace postbox
