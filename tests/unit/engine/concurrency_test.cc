// DB is thread-safe and several processes may open one folder (db.h): writes
// from many threads serialize without loss, readers always see a consistent
// feed, writes never wait for readers, and a larger map that another process
// persisted is adopted while readers keep reading.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/crash_util.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class ConcurrencyTest : public test::StoreTest {};

TEST_F(ConcurrencyTest, VersionZeroPutsFromManyThreadsGetDistinctVersions) {
  const MailboxKey m = NewMailbox();
  constexpr int kThreads = 4;
  constexpr int kPuts = 100;
  std::vector<std::vector<uint64_t>> versions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPuts; ++i) {
        auto r = db().PutEntry(m, "shared", "t" + std::to_string(t));
        EXPECT_TRUE(test::IsOk(r));
        if (r.ok()) {
          EXPECT_TRUE(r->applied);
          versions[t].push_back(r->version);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> all;
  for (const auto& v : versions) {
    all.insert(v.begin(), v.end());
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // each thread sees its own puts rise
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPuts));  // no version handed out twice
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kPuts));
  ASSERT_OK_AND_ASSIGN(EntryInfo e, db().GetEntry(m, "shared"));
  EXPECT_EQ(e.version, static_cast<uint64_t>(kThreads * kPuts));
  EXPECT_EQ(Seq(m), static_cast<uint64_t>(kThreads * kPuts));
}

TEST_F(ConcurrencyTest, ReadersSeeConsistentFeedsWhileWritersRun) {
  constexpr int kWriters = 3;
  constexpr int kPuts = 150;
  std::vector<MailboxKey> boxes;
  for (int i = 0; i < kWriters; ++i) boxes.push_back(NewMailbox());
  const MailboxKey sender = NewMailbox();
  Connect(sender, boxes[0]);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPuts; ++i) {
        EXPECT_TRUE(test::IsOk(db().PutEntry(boxes[w], "k" + std::to_string(i % 40), "v")));
      }
    });
  }
  threads.emplace_back([&] {  // posts into two slots of boxes[0], advancing each
    const std::string bytes = test::Bytes(3000, 1);
    for (int i = 0; i < 60; ++i) {
      PostRequest r = Request(sender, boxes[0], "t" + std::to_string(i % 2), bytes);
      EXPECT_TRUE(test::IsOk(db().PostMessage(r)));
      EXPECT_TRUE(test::IsOk(db().AdvanceStatus(boxes[0], r.id, MessageStatus::kViewed)));
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::map<int, uint64_t> last_cursor;
      while (!done.load()) {
        for (int w = 0; w < kWriters; ++w) {
          auto p = db().Changes(boxes[w], 0, 0);
          ASSERT_TRUE(test::IsOk(p));
          EXPECT_TRUE(test::SeqsWellFormed(*p));
          EXPECT_GE(p->cursor, last_cursor[w]);  // a feed never goes back
          last_cursor[w] = p->cursor;
          EXPECT_LE(p->entries.size(), 40u);  // one record per key, ever
          EXPECT_LE(p->incoming.size(), 2u);  // one live message per slot, ever
          for (const MessageInfo& m : p->incoming) {
            auto blob = db().ReadBlob(boxes[w], m.id);
            // Superseded between the two reads is fine; anything else must be whole.
            if (blob.ok()) {
              EXPECT_EQ(blob->size(), 3000u);
            } else {
              EXPECT_TRUE(test::HasCode(blob, Code::kGone));
            }
          }
        }
        EXPECT_TRUE(test::IsOk(db().Stats()));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done = true;
  for (std::thread& t : readers) t.join();

  for (int w = 0; w < kWriters; ++w) {
    const InfoPacket p = Feed(boxes[w]);
    EXPECT_EQ(p.entries.size(), 40u);
    EXPECT_TRUE(test::SeqsWellFormed(p));
  }
  EXPECT_EQ(Seq(boxes[1]), static_cast<uint64_t>(kPuts));
  const InfoPacket in = Feed(boxes[0]);
  ASSERT_EQ(in.incoming.size(), 2u);
  for (const MessageInfo& m : in.incoming) EXPECT_EQ(m.status, MessageStatus::kViewed);
  EXPECT_EQ(in.tombstones.size(), 58u);
}

// Two processes write into one store at once; each then reads what the other
// wrote.
TEST(MultiProcessTest, TwoProcessesShareOneStore) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  Options o;
  o.durability = Durability::kRelaxed;
  {
    auto created = DB::Open(path, o);  // created, then closed before the fork
    ASSERT_OK(created);
  }
  constexpr int kPuts = 120;
  const auto value = [](int i) { return test::Bytes(24 * 1024, static_cast<uint32_t>(i)); };
  std::string parent_hex;
  std::string parent_error;
  const test::crash::ChildRun run = test::crash::RunChildBeside(
      [&](int fd) {
        auto db = DB::Open(path, o);
        if (!db.ok()) _exit(3);
        auto c = (*db)->CreateMailbox();
        if (!c.ok()) _exit(4);
        test::crash::WriteLine(fd, "M " + c->mkey.ToHex());
        for (int i = 0; i < kPuts; ++i) {
          if (!(*db)->PutEntry(c->mkey, "c" + std::to_string(i), value(i)).ok()) _exit(5);
        }
        db->reset();
        _exit(0);
      },
      [&] {
        auto db = DB::Open(path, o);
        if (!db.ok()) {
          parent_error = db.status().ToString();
          return;
        }
        auto c = (*db)->CreateMailbox();
        if (!c.ok()) {
          parent_error = c.status().ToString();
          return;
        }
        parent_hex = c->mkey.ToHex();
        for (int i = 0; i < kPuts; ++i) {
          Status s = (*db)->PutEntry(c->mkey, "p" + std::to_string(i), value(i)).status();
          if (!s.ok()) {
            parent_error = "put " + std::to_string(i) + ": " + s.ToString();
            return;
          }
        }
      });
  ASSERT_TRUE(run.error.empty()) << run.error;
  ASSERT_TRUE(parent_error.empty()) << parent_error;
  ASSERT_EQ(run.lines.size(), 1u);
  ASSERT_EQ(run.lines[0].size(), 2u);

  auto db = DB::Open(path, o);
  ASSERT_OK(db);
  ASSERT_OK_AND_ASSIGN(uint64_t count, (*db)->CountMailboxes());
  EXPECT_EQ(count, 2u);
  const std::pair<std::string, std::string> owners[] = {{run.lines[0][1], "c"}, {parent_hex, "p"}};
  for (const auto& [hex, prefix] : owners) {
    const MailboxKey m = test::Must(MailboxKey::FromHex(hex), "mkey");
    for (int i = 0; i < kPuts; ++i) {
      ASSERT_OK_AND_ASSIGN(EntryInfo e, (*db)->GetEntry(m, prefix + std::to_string(i)));
      EXPECT_TRUE(e.value == value(i)) << prefix << i;
    }
    ASSERT_OK_AND_ASSIGN(InfoPacket p, (*db)->Changes(m, 0, 0));
    EXPECT_EQ(p.entries.size(), static_cast<size_t>(kPuts));
    EXPECT_EQ(p.cursor, static_cast<uint64_t>(kPuts));
  }
  ASSERT_OK_AND_ASSIGN(StoreStats stats, (*db)->Stats());
  EXPECT_EQ(stats.map_size, o.max_map_size);
  EXPECT_EQ(stats.entries, 2u * kPuts);
}

// A process killed while it holds a read transaction (postbox-admin stopped
// mid-read, a crashed app) leaves a stale reader slot. The store must reclaim
// it rather than keep every page freed since pinned: overwriting one small
// entry again and again has to fit in a map far smaller than the bytes written.
TEST(MultiProcessTest, KilledReaderDoesNotPinSpace) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  Options o;
  o.durability = Durability::kRelaxed;
  o.max_map_size = uint64_t{4} << 20;
  MailboxKey a, b;
  MessageId id;
  {
    auto db = DB::Open(path, o);
    ASSERT_OK(db);
    a = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    b = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    ASSERT_OK((*db)->Connect(a, b));
    const std::string bytes = test::Bytes(1000, 1);
    PostRequest r{a, b, MessageId::Random(), "", "", bytes};
    id = r.id;
    ASSERT_OK((*db)->PostMessage(r));
  }  // closed before the fork
  test::crash::Child reader([&](int fd) {
    auto db = DB::Open(path, o);
    if (!db.ok()) _exit(3);
    auto view = (*db)->ViewBlob(b, id);  // zero-copy: holds a read transaction
    if (!view.ok()) _exit(4);
    test::crash::WriteLine(fd, "READY");
    for (;;) pause();
  });
  ASSERT_TRUE(reader.started());
  const std::vector<std::string> ready = reader.NextLine(std::chrono::seconds(20));
  ASSERT_EQ(ready, std::vector<std::string>{"READY"});
  auto db = DB::Open(path, o);  // while the reader lives: the reader table is kept
  ASSERT_OK(db);
  ASSERT_TRUE(reader.KillAndReap());

  const std::string value = test::Bytes(60 * 1024, 2);  // 15 pages per version
  for (int i = 0; i < 300; ++i) {                       // ~18 MiB written through a 4 MiB map
    ASSERT_OK((*db)->PutEntry(a, "k", value).status()) << "overwrite " << i;
  }
  ASSERT_OK_AND_ASSIGN(EntryInfo e, (*db)->GetEntry(a, "k"));
  EXPECT_EQ(e.version, 300u);
}

}  // namespace
}  // namespace postbox
