// The split message layout (KEY_LAYOUT.md): `messages` is written once, the
// mutable part lives in `message_state` under to ‖ post_seq, and every path
// that removes a message removes both. Checked by reading the tables with
// LMDB itself after the store is closed.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <map>
#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

// Every key → value of one table of the (closed) store at `path`.
std::map<std::string, std::string> Table(const std::string& path, const char* name) {
  std::map<std::string, std::string> out;
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  EXPECT_EQ(mdb_env_open(env, path.c_str(), MDB_RDONLY | MDB_NOTLS, 0644), 0);
  MDB_txn* txn = nullptr;
  EXPECT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
  MDB_dbi dbi = 0;
  EXPECT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
  MDB_cursor* cur = nullptr;
  EXPECT_EQ(mdb_cursor_open(txn, dbi, &cur), 0);
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    out.emplace(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                std::string(static_cast<const char*>(v.mv_data), v.mv_size));
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

std::string BE64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

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
