// The map-size gate. The map is reserved at max_map_size when the store opens,
// so this process's writes never need every transaction to end (the map used
// to double under an exclusive gate that steady readers could starve). Only a
// larger map persisted by another process needs the gate exclusively, and the
// gate prefers that taker over new readers, so it gets in while readers keep
// reading.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/crash_util.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = uint64_t{1} << 20;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

class MapGateTest : public test::StoreTest {};

// Two threads hold zero-copy views in turns that overlap, so some read
// transaction is always open, while a writer writes ~12 MiB. The writer must
// finish: nothing it does waits for the readers to stop.
TEST_F(MapGateTest, WritesDoNotWaitForReadersHoldingViews) {
  const MailboxKey a = NewMailbox();
  const MailboxKey b = NewMailbox();
  Connect(a, b);
  const std::string blob = test::Bytes(100 * 1024, 1);
  const MessageId id = Post(Request(a, b, "t", blob)).id;

  std::atomic<bool> stop{false};
  std::atomic<int> reader_errors{0};
  std::vector<std::thread> readers;
  for (int k = 0; k < 2; ++k) {
    readers.emplace_back([&, k] {
      std::this_thread::sleep_for(std::chrono::milliseconds(10 * k));
      while (!stop.load()) {
        auto view = db().ViewBlob(b, id);
        if (!view.ok()) ++reader_errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  std::atomic<int> written{0};
  std::string write_error;
  std::thread writer([&] {
    for (int i = 0; i < 400 && !stop.load(); ++i) {
      Status s = db().PutEntry(a, "k" + std::to_string(i), test::Bytes(32 * 1024, i)).status();
      if (!s.ok()) {
        write_error = s.ToString();
        return;
      }
      ++written;
    }
  });
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (written.load() < 400 && write_error.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int done = written.load();
  stop = true;  // also releases a writer stuck behind the readers
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_TRUE(write_error.empty()) << write_error;
  EXPECT_EQ(done, 400) << "the writer stalled behind readers holding views";
  EXPECT_EQ(reader_errors.load(), 0);
  EXPECT_GT(Stats().file_bytes, 12 * kMiB);
}

// Another process opens the store with a larger max_map_size and fills past
// this process's map. This process's readers and writer keep going; the first
// transaction that meets the larger map adopts it under the exclusive gate,
// and this process's writes succeed again within a generous bound.
TEST(MapAdoptionTest, LargerMapOfAnotherProcessIsAdoptedWhileReadersRead) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  const std::string go = dir.Sub("go");
  Options small;
  small.durability = Durability::kRelaxed;
  small.max_map_size = 4 * kMiB;
  MailboxKey a, b;
  MessageId id;
  const std::string blob = test::Bytes(100 * 1024, 1);
  {
    auto db = DB::Open(path, small);
    ASSERT_OK(db);
    a = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    b = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    ASSERT_OK((*db)->Connect(a, b));
    PostRequest r{a, b, MessageId::Random(), "t", "", blob};
    id = r.id;
    ASSERT_OK((*db)->PostMessage(r));
  }
  // Forked before this process starts threads; it waits for the go file.
  test::crash::Child child([&](int fd) {
    const auto until = Clock::now() + std::chrono::seconds(60);
    while (!std::filesystem::exists(go)) {
      if (Clock::now() > until) _exit(2);
      usleep(10'000);
    }
    Options large = small;
    large.max_map_size = 64 * kMiB;
    auto db = DB::Open(path, large);
    if (!db.ok()) _exit(3);
    auto c = (*db)->CreateMailbox();
    if (!c.ok()) _exit(4);
    for (int i = 0; i < 160; ++i) {  // ~9.6 MiB: past the 4 MiB map of the parent
      if (!(*db)->PutEntry(c->mkey, "c" + std::to_string(i), test::Bytes(60 * 1024, i)).ok()) {
        _exit(5);
      }
    }
    test::crash::WriteLine(fd, "DONE");
    db->reset();
    _exit(0);
  });
  ASSERT_TRUE(child.started());

  auto opened = DB::Open(path, small);
  ASSERT_OK(opened);
  DB& db = **opened;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> errors;  // guarded by mu
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(what);
  };
  constexpr int kReaders = 3;
  std::vector<std::atomic<int64_t>> read_at(kReaders);
  std::atomic<int64_t> wrote_at{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < kReaders; ++k) {
    read_at[k] = 0;
    threads.emplace_back([&, k] {
      while (!stop.load()) {
        auto view = db.ViewBlob(b, id);
        if (!view.ok()) {
          fail("ViewBlob: " + view.status().ToString());
        } else if ((*view)->CopyChunks().empty()) {
          fail("ViewBlob returned no chunks");
        } else {
          read_at[k] = NowNs();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; !stop.load(); ++i) {
      Status s = db.PutEntry(a, "w", std::to_string(i)).status();
      if (s.ok()) {
        wrote_at = NowNs();
      } else if (!s.Is(Code::kResourceExhausted)) {
        // Storage full is expected for a while: the child's data counts
        // against this process's 4 MiB until its larger map is adopted.
        fail("PutEntry: " + s.ToString());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  { std::ofstream(go) << "go"; }
  const std::vector<std::string> done = child.NextLine(std::chrono::seconds(60));
  const int64_t child_done = NowNs();
  bool caught_up = false;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!caught_up && Clock::now() < deadline) {
    caught_up = wrote_at.load() > child_done;
    for (int k = 0; k < kReaders; ++k) caught_up = caught_up && read_at[k].load() > child_done;
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(done, std::vector<std::string>{"DONE"}) << "the child did not finish its writes";
  EXPECT_TRUE(caught_up) << "this process's reads and writes did not resume within 60 s";
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(errors.empty()) << errors.size() << " errors, the first: " << errors.front();
  }
  ASSERT_OK_AND_ASSIGN(StoreStats stats, db.Stats());
  EXPECT_GT(stats.map_size, small.max_map_size);  // adopted
  EXPECT_GT(stats.used_bytes, small.max_map_size);
  ASSERT_OK_AND_ASSIGN(uint64_t mailboxes, db.CountMailboxes());
  EXPECT_EQ(mailboxes, 3u);
  ASSERT_OK(db.PutEntry(a, "after", "v").status());
}

}  // namespace
}  // namespace postbox
