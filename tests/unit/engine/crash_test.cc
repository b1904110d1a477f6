// Crash: a child process writes in a loop and reports each acknowledged write
// on a pipe; it is killed with SIGKILL mid-loop. The parent then opens the
// store and checks that every acknowledged write is there and the store is
// consistent. The fork happens while the parent has no store open (LMDB must
// not be used across fork), and the child only ever leaves through _exit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/crash_util.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using test::crash::ChildRun;
using test::crash::RunChildAndKill;
using test::crash::WriteLine;

// ---- Entries ----

// Values are recomputed from the iteration number; rounds >= 1'000'000 x kBigRound
// write 60 KiB values (overflow pages, and a file that grows as the child is killed).
constexpr uint64_t kBigRound = 10'000'000;
std::string EntryValue(uint64_t i) {
  const size_t pad = i >= kBigRound ? 60 * 1024 : i % 200;
  return "v" + std::to_string(i) + std::string(pad, '.');
}

// The child: puts (single and batched) and deletes with version 0, reporting
// "E key version i" for an acknowledged put and "D key version" for a delete.
[[noreturn]] void EntryWriter(const std::string& path, int fd, std::string mkey_hex,
                              uint64_t first) {
  Options o;  // kDurable: acknowledged means synced
  auto db = DB::Open(path, o);
  if (!db.ok()) _exit(3);
  MailboxKey m;
  if (mkey_hex.empty()) {
    auto c = (*db)->CreateMailbox();
    if (!c.ok()) _exit(4);
    m = c->mkey;
    WriteLine(fd, "M " + m.ToHex());
  } else {
    auto parsed = MailboxKey::FromHex(mkey_hex);
    if (!parsed.ok()) _exit(5);
    m = *parsed;
  }
  for (uint64_t i = first;; ++i) {
    if (i % 10 == 0) {
      WriteBatch batch;
      std::vector<std::string> keys;
      for (int j = 0; j < 3; ++j)
        keys.push_back("batch-" + std::to_string(i) + "-" + std::to_string(j));
      keys.push_back("hot" + std::to_string(i % 16));
      for (const std::string& k : keys) batch.PutEntry(m, k, EntryValue(i), 0);
      if (!(*db)->Write(&batch).ok()) _exit(6);
      for (size_t j = 0; j < keys.size(); ++j) {
        const OpResult& r = batch.results()[j];
        if (!r.status.ok() || !r.entry.applied) _exit(7);
        WriteLine(fd,
                  "E " + keys[j] + " " + std::to_string(r.entry.version) + " " + std::to_string(i));
      }
    } else if (i % 7 == 0) {
      const std::string key = "hot" + std::to_string(i % 16);
      auto r = (*db)->DeleteEntry(m, key, 0);
      if (!r.ok() || !r->applied) _exit(8);
      WriteLine(fd, "D " + key + " " + std::to_string(r->version));
    } else {
      const std::string key =
          i % 2 == 0 ? "hot" + std::to_string(i % 16) : "cold" + std::to_string(i);
      auto r = (*db)->PutEntry(m, key, EntryValue(i), 0);
      if (!r.ok() || !r->applied) _exit(9);
      WriteLine(fd, "E " + key + " " + std::to_string(r->version) + " " + std::to_string(i));
    }
  }
}

struct KeyState {
  bool deleted = false;
  uint64_t version = 0;
  std::string value;
};

// One acknowledged write: 'E' put (key, version, i) or 'D' delete (key, version).
struct Ack {
  char kind = 'E';
  std::string key;
  uint64_t version = 0;
  uint64_t i = 0;
};

// Checks every acknowledged write against the store and the store against itself.
void VerifyEntries(DB& db, const MailboxKey& m, const std::vector<Ack>& acks) {
  ASSERT_OK_AND_ASSIGN(InfoPacket feed, db.Changes(m, 0, 0));
  EXPECT_FALSE(feed.reset);
  EXPECT_FALSE(feed.more);
  EXPECT_TRUE(feed.incoming.empty());
  EXPECT_TRUE(test::SeqsWellFormed(feed));
  ASSERT_OK_AND_ASSIGN(MailboxInfo info, db.GetMailbox(m));
  EXPECT_EQ(feed.cursor, info.seq);

  // The feed lists every key exactly once, live or tombstoned.
  std::map<std::string, KeyState> state;
  for (const EntryInfo& e : feed.entries) {
    EXPECT_TRUE(state.emplace(e.key, KeyState{false, e.version, e.value}).second) << e.key;
  }
  for (const Tombstone& t : feed.tombstones) {
    EXPECT_EQ(t.kind, TombstoneKind::kEntry);
    EXPECT_TRUE(state.emplace(t.key, KeyState{true, t.version, ""}).second) << t.key;
  }
  // Every acknowledged write is there with at least its version; at exactly its
  // version it is that very write (the single writer never reuses a version).
  for (const Ack& ack : acks) {
    auto it = state.find(ack.key);
    ASSERT_NE(it, state.end()) << "acknowledged " << ack.key << " v" << ack.version << " lost";
    EXPECT_GE(it->second.version, ack.version) << ack.key;
    if (it->second.version == ack.version) {
      EXPECT_EQ(it->second.deleted, ack.kind == 'D') << ack.key;
      if (ack.kind == 'E') {
        EXPECT_EQ(it->second.value, EntryValue(ack.i)) << ack.key;
      }
    }
  }
  // Point reads and the listing agree with the feed.
  size_t live = 0;
  for (const auto& [key, s] : state) {
    if (s.deleted) {
      EXPECT_CODE(db.GetEntry(m, key), kNotFound);
      continue;
    }
    ++live;
    ASSERT_OK_AND_ASSIGN(EntryInfo e, db.GetEntry(m, key));
    EXPECT_EQ(e.version, s.version);
    EXPECT_EQ(e.value, s.value);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> listed, db.ListEntries(m, "", "", 1000000));
  EXPECT_EQ(listed.size(), live);
  ASSERT_OK_AND_ASSIGN(StoreStats stats, db.Stats());
  EXPECT_EQ(stats.mailboxes, 1u);
  EXPECT_EQ(stats.entries, state.size());
  EXPECT_EQ(stats.feed_records, state.size());
  EXPECT_LE(stats.used_bytes, stats.map_size);
  // And the store takes new writes above everything before.
  ASSERT_OK_AND_ASSIGN(EntryPutResult put, db.PutEntry(m, "after-crash", "v"));
  EXPECT_TRUE(put.applied);
  EXPECT_EQ(test::Must(db.GetMailbox(m), "GetMailbox").seq, info.seq + 1);
}

void RunEntryRounds(uint64_t base) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  std::string mkey_hex;
  std::vector<Ack> acks;
  // Twice: the second child recovers the killed store and is killed again.
  for (int round = 0; round < 2; ++round) {
    const uint64_t first = base + static_cast<uint64_t>(round) * 1'000'000 + 1;
    const ChildRun run = RunChildAndKill([&](int fd) { EntryWriter(path, fd, mkey_hex, first); });
    ASSERT_TRUE(run.killed) << run.error;
    size_t writes = 0;
    for (const std::vector<std::string>& f : run.lines) {
      if (f[0] == "M" && f.size() == 2) {
        mkey_hex = f[1];
      } else if (f[0] == "E" && f.size() == 4) {
        acks.push_back(Ack{'E', f[1], std::stoull(f[2]), std::stoull(f[3])});
        ++writes;
      } else if (f[0] == "D" && f.size() == 3) {
        acks.push_back(Ack{'D', f[1], std::stoull(f[2]), 0});
        ++writes;
      } else {
        ADD_FAILURE() << "unexpected line from the child: " << f[0];
      }
    }
    ASSERT_FALSE(mkey_hex.empty()) << "the child never reported its mailbox";
    EXPECT_GE(writes, 10u) << "too few writes before the kill to test anything";

    Options o;
    o.durability = Durability::kRelaxed;
    auto db = DB::Open(path, o);
    ASSERT_OK(db) << "round " << round;
    const MailboxKey m = test::Must(MailboxKey::FromHex(mkey_hex), "mkey");
    ASSERT_NO_FATAL_FAILURE(VerifyEntries(**db, m, acks)) << "round " << round;
    if (base == kBigRound) {
      ASSERT_OK_AND_ASSIGN(StoreStats stats, (*db)->Stats());
      EXPECT_GT(stats.file_bytes, uint64_t{1} << 20)
          << "the child wrote too little to test anything";
    }
  }
}

TEST(CrashTest, AcknowledgedEntryWritesSurviveSigkill) { RunEntryRounds(0); }

// 60 KiB values: the kill may land while the file grows by overflow pages.
TEST(CrashTest, AcknowledgedEntryWritesSurviveSigkillWithLargeValues) { RunEntryRounds(kBigRound); }

}  // namespace
}  // namespace postbox
