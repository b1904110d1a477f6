// Server::AddCommitListener: a host (the relay) hears which mailboxes each
// commit of the server's writer changed, sessions' writes and its own alike,
// until it removes the listener.
#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

TEST_F(SyncTest, ACommitListenerHearsEveryChangedMailboxUntilRemoved) {
  auto a = NewMailbox(), b = NewMailbox(), c = NewMailbox();
  std::mutex mu;
  std::set<MailboxKey> heard;
  const uint64_t id = server_->AddCommitListener([&](std::span<const MailboxKey> changed) {
    std::lock_guard lock(mu);
    heard.insert(changed.begin(), changed.end());
  });
  auto heard_now = [&] {
    std::lock_guard lock(mu);
    return heard;
  };
  auto client = Connected(OptionsFor(a));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->PutEntry("k", "v").ok());  // a session's write: answered after its commit
  EXPECT_EQ(heard_now(), std::set<MailboxKey>{a.mkey});

  WriteBatch batch;
  batch.PutEntry(b.mkey, "k", "v", 0);
  ASSERT_TRUE(server_->Write(&batch).ok());  // the host's own write
  EXPECT_EQ(heard_now(), (std::set<MailboxKey>{a.mkey, b.mkey}));

  server_->RemoveCommitListener(id);
  ASSERT_TRUE(Connected(OptionsFor(c))->PutEntry("k", "v").ok());
  EXPECT_EQ(heard_now().count(c.mkey), 0u) << "a removed listener is not called";
}

}  // namespace
}  // namespace postbox::sync::testing
