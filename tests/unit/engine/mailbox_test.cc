// Mailboxes: create, authenticate, get, list, count, delete.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class MailboxTest : public test::StoreTest {};

bool IsBase64Url(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

TEST_F(MailboxTest, CreateReturnsKeyAndBase64UrlSecret) {
  ASSERT_OK_AND_ASSIGN(MailboxCredentials a, db().CreateMailbox());
  ASSERT_OK_AND_ASSIGN(MailboxCredentials b, db().CreateMailbox());
  EXPECT_NE(a.mkey, b.mkey);
  EXPECT_NE(a.secret, b.secret);
  // 32 random bytes in base64url without padding are 43 characters.
  EXPECT_EQ(a.secret.size(), 43u) << a.secret;
  EXPECT_TRUE(IsBase64Url(a.secret)) << a.secret;
  EXPECT_TRUE(IsBase64Url(b.secret)) << b.secret;
}

TEST_F(MailboxTest, GetShowsFreshMailbox) {
  ASSERT_OK_AND_ASSIGN(MailboxCredentials c, db().CreateMailbox());
  ASSERT_OK_AND_ASSIGN(MailboxInfo info, db().GetMailbox(c.mkey));
  EXPECT_EQ(info.mkey, c.mkey);
  EXPECT_EQ(info.created_ms, clock_.now());
  EXPECT_EQ(info.seq, 0u);
  EXPECT_EQ(info.purged_seq, 0u);
  EXPECT_EQ(info.platform, Platform::kNone);
  EXPECT_TRUE(info.push_token.empty());
  EXPECT_CODE(db().GetMailbox(MailboxKey::Random()), kNotFound);
}

TEST_F(MailboxTest, AuthenticateAcceptsOnlyTheSecret) {
  ASSERT_OK_AND_ASSIGN(MailboxCredentials a, db().CreateMailbox());
  ASSERT_OK_AND_ASSIGN(MailboxCredentials b, db().CreateMailbox());
  EXPECT_OK(db().Authenticate(a.mkey, a.secret));
  EXPECT_OK(db().Authenticate(b.mkey, b.secret));

  std::string wrong = a.secret;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_CODE(db().Authenticate(a.mkey, wrong), kUnauthenticated);
  EXPECT_CODE(db().Authenticate(a.mkey, b.secret), kUnauthenticated);
  EXPECT_CODE(db().Authenticate(a.mkey, ""), kUnauthenticated);
  EXPECT_CODE(db().Authenticate(a.mkey, a.secret + "A"), kUnauthenticated);
  EXPECT_CODE(db().Authenticate(a.mkey, a.secret.substr(0, 42)), kUnauthenticated);
  // An unknown mailbox looks exactly like a wrong secret.
  EXPECT_CODE(db().Authenticate(MailboxKey::Random(), a.secret), kUnauthenticated);
}

TEST_F(MailboxTest, CountFollowsCreateAndDelete) {
  ASSERT_OK_AND_ASSIGN(uint64_t zero, db().CountMailboxes());
  EXPECT_EQ(zero, 0u);
  const MailboxKey a = NewMailbox();
  NewMailbox();
  NewMailbox();
  ASSERT_OK_AND_ASSIGN(uint64_t three, db().CountMailboxes());
  EXPECT_EQ(three, 3u);
  ASSERT_OK(db().DeleteMailbox(a));
  ASSERT_OK_AND_ASSIGN(uint64_t two, db().CountMailboxes());
  EXPECT_EQ(two, 2u);
}

TEST_F(MailboxTest, ListPagesInKeyOrder) {
  std::vector<MailboxKey> all;
  for (int i = 0; i < 7; ++i) all.push_back(NewMailbox());
  std::sort(all.begin(), all.end());

  ASSERT_OK_AND_ASSIGN(std::vector<MailboxInfo> everything, db().ListMailboxes(std::nullopt, 100));
  ASSERT_EQ(everything.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(everything[i].mkey, all[i]);

  std::vector<MailboxKey> paged;
  std::optional<MailboxKey> after;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(std::vector<MailboxInfo> got, db().ListMailboxes(after, 3));
    ASSERT_LE(got.size(), 3u);
    if (got.empty()) break;
    for (const MailboxInfo& m : got) paged.push_back(m.mkey);
    after = got.back().mkey;
  }
  EXPECT_EQ(paged, all);

  // start_after need not be a mailbox: the page starts at the next key.
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxInfo> from_third, db().ListMailboxes(all[2], 2));
  ASSERT_EQ(from_third.size(), 2u);
  EXPECT_EQ(from_third[0].mkey, all[3]);
  EXPECT_EQ(from_third[1].mkey, all[4]);
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxInfo> after_last, db().ListMailboxes(all.back(), 5));
  EXPECT_TRUE(after_last.empty());
}

TEST_F(MailboxTest, DeleteForgetsTheMailbox) {
  ASSERT_OK_AND_ASSIGN(MailboxCredentials a, db().CreateMailbox());
  const MailboxKey b = NewMailbox();
  Connect(a.mkey, b);
  ASSERT_OK(db().RegisterPush(a.mkey, Platform::kIos, "token"));
  ASSERT_OK(db().PutEntry(a.mkey, "k", "v").status());

  ASSERT_OK(db().DeleteMailbox(a.mkey));
  EXPECT_CODE(db().GetMailbox(a.mkey), kNotFound);
  EXPECT_CODE(db().Authenticate(a.mkey, a.secret), kUnauthenticated);
  EXPECT_CODE(db().GetEntry(a.mkey, "k"), kNotFound);
  EXPECT_CODE(db().GetPush(a.mkey), kNotFound);
  EXPECT_CODE(db().Changes(a.mkey, 0, 0), kNotFound);
  EXPECT_CODE(db().DeleteMailbox(a.mkey), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxKey> peers, db().ListConnections(b, std::nullopt, 10));
  EXPECT_TRUE(peers.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<MailboxInfo> listed, db().ListMailboxes(std::nullopt, 10));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].mkey, b);
  EXPECT_CODE(db().DeleteMailbox(MailboxKey::Random()), kNotFound);
}

TEST_F(MailboxTest, DeleteLeavesTombstonesInPeersFeedsAndGoneAfterwards) {
  const MailboxKey doomed = NewMailbox();
  const MailboxKey peer = NewMailbox();
  const MailboxKey bystander = NewMailbox();
  Connect(doomed, peer);
  Connect(peer, bystander);
  const std::string bytes = test::Bytes(3000, 1);
  const MessageInfo sent = Post(Request(doomed, peer, "t", bytes));
  const MessageInfo received = Post(Request(peer, doomed, "t", bytes));
  const MessageInfo unrelated = Post(Request(peer, bystander, "t", bytes));
  const uint64_t seq_before = Seq(peer);

  ASSERT_OK(db().DeleteMailbox(doomed));

  // Both messages with the deleted mailbox answer 410 to the surviving party.
  EXPECT_CODE(db().GetMessage(peer, sent.id), kGone);
  EXPECT_CODE(db().GetMessage(peer, received.id), kGone);
  EXPECT_CODE(db().ReadBlob(peer, sent.id), kGone);
  EXPECT_CODE(db().AdvanceStatus(peer, sent.id, MessageStatus::kViewed), kGone);
  EXPECT_OK(db().GetMessage(peer, unrelated.id));

  // The peer's feed replaced both items with message tombstones.
  const InfoPacket p = Feed(peer, seq_before);
  EXPECT_TRUE(p.incoming.empty());
  EXPECT_TRUE(p.outgoing.empty());
  ASSERT_EQ(p.tombstones.size(), 2u);
  std::vector<std::string> ids;
  for (const Tombstone& t : p.tombstones) {
    EXPECT_EQ(t.kind, TombstoneKind::kMessage);
    EXPECT_GT(t.seq, seq_before);
    ids.push_back(t.key);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want = {std::string(sent.id.AsBytes()),
                                   std::string(received.id.AsBytes())};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);

  const InfoPacket full = Feed(peer);
  for (const MessageInfo& m : full.incoming) EXPECT_NE(m.id, sent.id);
  for (const MessageInfo& m : full.outgoing) EXPECT_NE(m.id, received.id);
  // The bystander's feed did not move.
  EXPECT_EQ(Feed(bystander).incoming.size(), 1u);
  EXPECT_TRUE(Feed(bystander).tombstones.empty());
}

TEST_F(MailboxTest, DeletedMailboxIsUnknownToOtherOperations) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  ASSERT_OK(db().DeleteMailbox(a));
  EXPECT_CODE(db().Connect(a, b), kNotFound);
  EXPECT_CODE(db().PutEntry(a, "k", "v"), kNotFound);
  EXPECT_CODE(db().RegisterPush(a, Platform::kWeb, "t"), kNotFound);
  const std::string bytes = "x";
  // To a deleted mailbox: "not connected", as to any unknown one (no probing).
  EXPECT_CODE(db().PostMessage(Request(b, a, "", bytes)), kPermissionDenied);
  EXPECT_CODE(db().PostMessage(Request(a, b, "", bytes)), kNotFound);
  EXPECT_CODE(db().IsConnected(a, b), kNotFound);
  EXPECT_CODE(db().ListEntries(a, "", "", 10), kNotFound);
}

TEST_F(MailboxTest, DeletedPartyIsUnknownToItsOldMessages) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  const std::string bytes = "x";
  const MessageInfo m = Post(Request(a, b, "", bytes));
  ASSERT_OK(db().DeleteMailbox(a));
  // b, which still exists, learns the message is gone; a no longer exists at all.
  EXPECT_CODE(db().GetMessage(b, m.id), kGone);
  EXPECT_CODE(db().GetMessage(a, m.id), kNotFound);
  EXPECT_CODE(db().ReadBlob(a, m.id), kNotFound);
}

}  // namespace
}  // namespace postbox
