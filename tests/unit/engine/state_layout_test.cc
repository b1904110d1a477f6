// The split message layout (KEY_LAYOUT.md): `messages` is written once, the
// mutable part lives in `message_state` under to ‖ post_seq, and every path
// that removes a message removes both. Checked by reading the tables with
// LMDB itself after the store is closed.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/lmdb_tables.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using test::BE64;
using test::Table;

class StateLayoutTest : public test::StoreTest {};

TEST_F(StateLayoutTest, RiseRewritesOnlyTheStateRow) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  const MessageInfo m = Post(Request(a, b, "t", "hello"));
  const uint64_t post_seq = Seq(b);  // the recipient's seq when it committed
  Close();
  const auto before = Table(path(), "messages");
  const auto state_before = Table(path(), "message_state");
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(state_before.size(), 1u);
  const std::string state_key = std::string(b.AsBytes()) + BE64(post_seq);
  ASSERT_EQ(state_before.count(state_key), 1u);
  EXPECT_EQ(state_before.at(state_key)[0], 1);  // uploaded

  Open();
  ASSERT_OK(db().AdvanceStatus(b, m.id, MessageStatus::kDownloaded));
  ASSERT_OK(db().AdvanceStatus(b, m.id, MessageStatus::kViewed));
  ASSERT_OK_AND_ASSIGN(MessageInfo got, db().GetMessage(a, m.id));
  EXPECT_EQ(got.status, MessageStatus::kViewed);
  Close();
  EXPECT_EQ(Table(path(), "messages"), before);  // write-once
  const auto state_after = Table(path(), "message_state");
  ASSERT_EQ(state_after.size(), 1u);
  ASSERT_EQ(state_after.count(state_key), 1u);  // the key never moves
  EXPECT_EQ(state_after.at(state_key)[0], 3);   // viewed
  Open();
}

TEST_F(StateLayoutTest, SupersessionAndMailboxDeletionRemoveBothParts) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  const MailboxKey c = NewMailbox();
  Connect(a, b);
  Connect(c, b);
  for (int i = 0; i < 3; ++i) Post(Request(a, b, "same-slot", "x"));  // supersedes
  const MessageInfo kept = Post(Request(a, b, "other", "y"));
  ASSERT_OK(db().AdvanceStatus(b, kept.id, MessageStatus::kDownloaded));
  Post(Request(c, b, "t", "z"));
  Post(Request(b, c, "t", "w"));
  const uint64_t live = Stats().messages;
  Close();
  EXPECT_EQ(Table(path(), "messages").size(), live);
  EXPECT_EQ(Table(path(), "message_state").size(), live);
  Open();
  ASSERT_OK(db().DeleteMailbox(b));
  Close();
  EXPECT_EQ(Table(path(), "messages").size(), 0u);
  EXPECT_EQ(Table(path(), "message_state").size(), 0u);
  Open();
}

}  // namespace
}  // namespace postbox
