// InfoPacket.since (wire/PROTOCOL.md, conformance C28): every packet says the
// cursor it continues from, so a receiver that keeps state can tell a packet
// that does not follow the last one it applied.
#include <gtest/gtest.h>

#include "integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

TEST_F(SyncTest, SincePollsAndPushesSayWhereTheyContinueFrom) {
  auto a = NewMailbox(), b = NewMailbox();
  Post(a, b);
  Post(a, b, "other");

  PushLog log;
  auto o = OptionsFor(b);
  o.resume = false;  // polls by hand below
  o.on_push = log.Callback();
  auto client = Connected(o);
  ASSERT_NE(client, nullptr);

  auto first = client->Poll(0, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->since, 0u);
  EXPECT_TRUE(first->more);
  auto second = client->Poll(first->cursor);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->since, first->cursor) << "a poll reply carries the poll's since";
  EXPECT_FALSE(second->more);

  // Pushes follow the poll, then each other.
  Post(a, b, "third");
  ASSERT_TRUE(log.WaitFor([](const auto& p) { return p.size() >= 1; }));
  Post(a, b, "fourth");
  ASSERT_TRUE(log.WaitFor([](const auto& p) { return p.size() >= 2; }));
  auto pushes = log.packets();
  EXPECT_EQ(pushes[0].since, second->cursor);
  EXPECT_EQ(pushes[1].since, pushes[0].cursor);

  // A cursor from another store gets the snapshot, which continues from 0.
  auto reset = client->Poll(pushes[1].cursor + 1000);
  ASSERT_TRUE(reset.ok());
  EXPECT_TRUE(reset->reset);
  EXPECT_EQ(reset->since, 0u);
}

}  // namespace
}  // namespace postbox::sync::testing
