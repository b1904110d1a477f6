// The store's ops for relays (write_batch.h): EnsureMailbox gives a mailbox
// the credentials upstream knows it by, or makes a peer exist without a usable
// secret; RetractMessage lets a sender take back a live message.
#include <gtest/gtest.h>

#include "postbox/db.h"
#include "postbox/write_batch.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class RelayOpsTest : public test::StoreTest {};

TEST_F(RelayOpsTest, EnsureMailboxCreatesWithTheGivenCredentialsAndSetsTheSecretLater) {
  const MailboxKey m = MailboxKey::Random();
  WriteBatch batch;
  batch.EnsureMailbox(m, "upstream-secret");
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[0].status);
  EXPECT_EQ(batch.results()[0].credentials->mkey, m);
  ASSERT_OK(db().Authenticate(m, "upstream-secret"));
  EXPECT_EQ(db().Authenticate(m, "other").code(), Code::kUnauthenticated);

  // Again with another secret: the secret changes, the mailbox's data stays.
  ASSERT_OK(db().PutEntry(m, "k", "v").status());
  WriteBatch again;
  again.EnsureMailbox(m, "rotated");
  ASSERT_OK(db().Write(&again));
  ASSERT_OK(again.results()[0].status);
  ASSERT_OK(db().Authenticate(m, "rotated"));
  EXPECT_EQ(db().Authenticate(m, "upstream-secret").code(), Code::kUnauthenticated);
  EXPECT_EQ(db().GetEntry(m, "k")->value, "v");

  // Without a secret an existing mailbox is left as it is.
  WriteBatch keep;
  keep.EnsureMailbox(m, "");
  ASSERT_OK(db().Write(&keep));
  ASSERT_OK(db().Authenticate(m, "rotated"));
  EXPECT_EQ(*db().CountMailboxes(), 1u);
}

TEST_F(RelayOpsTest, EnsureMailboxWithoutASecretMakesAPeerNobodyCanLogInAs) {
  const MailboxKey peer = MailboxKey::Random();
  WriteBatch batch;
  batch.EnsureMailbox(peer, "");
  ASSERT_OK(db().Write(&batch));
  ASSERT_OK(batch.results()[0].status);
  EXPECT_TRUE(db().GetMailbox(peer).ok());
  EXPECT_EQ(db().Authenticate(peer, "").code(), Code::kUnauthenticated);
  EXPECT_FALSE(batch.results()[0].credentials->secret.empty());  // random, told once

  WriteBatch bad;
  bad.EnsureMailbox(peer, std::string(300, 's'));
  ASSERT_OK(db().Write(&bad));
  EXPECT_EQ(bad.results()[0].status.code(), Code::kInvalidArgument);
}

TEST_F(RelayOpsTest, TheSenderRetractsALiveMessageAndBothFeedsSayItIsGone) {
  const MailboxKey a = NewMailbox(), b = NewMailbox();
  ASSERT_OK(db().Connect(a, b));
  PostRequest r{a, b, MessageId::Random(), "video", "", "bytes"};
  ASSERT_OK(db().PostMessage(r).status());

  WriteBatch not_sender;
  not_sender.RetractMessage(b, r.id);
  ASSERT_OK(db().Write(&not_sender));
  EXPECT_EQ(not_sender.results()[0].status.code(), Code::kPermissionDenied);
  EXPECT_TRUE(db().GetMessage(b, r.id).ok());

  WriteBatch retract;
  retract.RetractMessage(a, r.id);
  ASSERT_OK(db().Write(&retract));
  ASSERT_OK(retract.results()[0].status);
  EXPECT_EQ(db().GetMessage(a, r.id).status().code(), Code::kGone);
  EXPECT_EQ(db().GetMessage(b, r.id).status().code(), Code::kGone);
  EXPECT_EQ(db().ReadBlob(b, r.id).status().code(), Code::kGone);
  for (const MailboxKey& m : {a, b}) {
    auto p = db().Changes(m, 0, 0);
    ASSERT_OK(p.status());
    EXPECT_TRUE(p->incoming.empty() && p->outgoing.empty());
    ASSERT_EQ(p->tombstones.size(), 1u);
    EXPECT_EQ(p->tombstones[0].key, std::string(r.id.AsBytes()));
  }
  WriteBatch twice;
  twice.RetractMessage(a, r.id);
  ASSERT_OK(db().Write(&twice));
  EXPECT_EQ(twice.results()[0].status.code(), Code::kGone);
  WriteBatch unknown;
  unknown.RetractMessage(a, MessageId::Random());
  ASSERT_OK(db().Write(&unknown));
  EXPECT_EQ(unknown.results()[0].status.code(), Code::kNotFound);
}

}  // namespace
}  // namespace postbox
