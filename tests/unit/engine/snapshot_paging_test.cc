// Paging a reset snapshot whose pages end below the purge point: each page's
// cursor continues the snapshot (it is not answered with the first page again),
// and the pages together hold every live item exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class SnapshotPagingTest : public test::StoreTest {
 protected:
  SnapshotPagingTest() { options_.tombstone_horizon = std::chrono::hours(1); }
};

TEST_F(SnapshotPagingTest, PagesBelowThePurgePointReachTheEnd) {
  const MailboxKey a = NewMailbox();
  // Ten live entries, then a tombstone newer than all of them.
  for (int i = 0; i < 10; ++i) ASSERT_OK(db().PutEntry(a, "k" + std::to_string(i), "v").status());
  ASSERT_OK(db().PutEntry(a, "doomed", "v").status());
  ASSERT_OK(db().DeleteEntry(a, "doomed").status());
  clock_.Advance(std::chrono::hours(2));
  ASSERT_OK_AND_ASSIGN(size_t purged, db().PurgeTombstones());
  ASSERT_EQ(purged, 1u);
  ASSERT_OK_AND_ASSIGN(MailboxInfo info, db().GetMailbox(a));
  ASSERT_GT(info.purged_seq, 10u);  // every live entry sits below the purge point

  // A client that last synced before the purge pages through the snapshot.
  std::set<std::string> keys;
  uint64_t since = 1;
  int pages = 0;
  bool first = true;
  for (;; ++pages) {
    ASSERT_LT(pages, 50) << "paging never reached the end";
    ASSERT_OK_AND_ASSIGN(InfoPacket p, db().Changes(a, since, 3));
    // Only the first page says reset; continuation pages add to the snapshot.
    EXPECT_EQ(p.reset, first) << "page " << pages;
    first = false;
    for (const EntryInfo& e : p.entries) EXPECT_TRUE(keys.insert(e.key).second) << e.key;
    EXPECT_TRUE(p.tombstones.empty());
    if (!p.more) {
      EXPECT_EQ(p.cursor, info.seq);
      break;
    }
    since = p.cursor;
  }
  EXPECT_EQ(keys.size(), 10u);
  EXPECT_EQ(pages, 3);  // 3 + 3 + 3 + 1
}

TEST_F(SnapshotPagingTest, AContinuationCursorPastTheFeedResets) {
  const MailboxKey a = NewMailbox();
  ASSERT_OK(db().PutEntry(a, "k", "v").status());
  ASSERT_OK_AND_ASSIGN(InfoPacket p, db().Changes(a, kSnapshotCursorBit | 1000, 0));
  EXPECT_TRUE(p.reset);
  EXPECT_EQ(p.entries.size(), 1u);
}

}  // namespace
}  // namespace postbox
