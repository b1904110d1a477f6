// A power-loss simulation (issue 17). io_trace.h records every write to the
// store's data file with its bytes, and every sync; from the file as it was
// synced before the writes began and that trace, CrashImage builds what a
// disk could hold after the power failed at a given moment: each page as its
// last write made durable by then left it (a write is durable once a sync
// that began after it ended has completed, or at once through an O_DSYNC
// descriptor), or as any later write issued by then left it — the kernel
// may have written any of those back, in any order, page by page. Each image
// is opened in a child process (a torn store could crash the reader): it
// must open, its whole content must copy (DB::Backup walks every table of
// the copy), and every write acknowledged before the failure must be there.
//
// The simulation shows it can fail both ways: the same writes on a relaxed
// store (acknowledged before their meta page is synced) lose acknowledged
// writes in some images, and a raw LMDB environment under MDB_NOSYNC (no
// sync at all) gives images LMDB cannot read.
//
// Assumed: a page (4 KiB) is written whole or not at all; writes to the file
// reach the disk only as pages (no torn sectors inside one).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/integration/durability/io_trace.h"
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::durability {
namespace {

namespace fs = std::filesystem;
using postbox::sync::testing::TempDir;

// `n` pseudo-random bytes, different at each call.
std::string RandomBytes(size_t n) {
  static uint64_t seed = 1;
  return postbox::sync::testing::RandomBytes(n, seed++);
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The disk images a power failure could leave, from the synced file and a
// trace of the writes and syncs after it.
class CrashImage {
 public:
  CrashImage(std::string initial, std::vector<IoEvent> events)
      : initial_(std::move(initial)), page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    for (IoEvent& e : events) {
      (e.kind == IoKind::kSync ? syncs_ : writes_).push_back(std::move(e));
    }
    std::sort(writes_.begin(), writes_.end(),
              [](const IoEvent& a, const IoEvent& b) { return a.start < b.start; });
    // Each write's effect on each page it touched: the page's content after
    // it, applied in the order the writes were issued (the page cache's view).
    std::map<uint64_t, std::string> cache;
    for (size_t w = 0; w < writes_.size(); ++w) {
      const IoEvent& e = writes_[w];
      for (uint64_t at = e.offset; at < e.offset + e.bytes.size();) {
        const uint64_t page = at / page_;
        const uint64_t page_end = (page + 1) * page_;
        const uint64_t n = std::min<uint64_t>(page_end, e.offset + e.bytes.size()) - at;
        auto [it, fresh] = cache.try_emplace(page, Page(initial_, page));
        it->second.replace(at - page * page_, n, e.bytes, at - e.offset, n);
        versions_[page].push_back({w, it->second});
        at += n;
      }
    }
  }

  uint64_t first_tick() const { return writes_.empty() ? 0 : writes_.front().start; }
  uint64_t last_tick() const {
    uint64_t t = 0;
    for (const auto& e : writes_) t = std::max(t, e.end);
    for (const auto& e : syncs_) t = std::max(t, e.end);
    return t;
  }
  size_t writes() const { return writes_.size(); }

  // The file after a power failure at tick `at`, pages not yet durable
  // chosen by `rng` among the versions issued by then.
  std::string At(uint64_t at, std::mt19937_64& rng) const {
    std::string image = initial_;
    for (const auto& [page, versions] : versions_) {
      // The durable version (if any) and every version issued after it.
      size_t first = 0;
      bool durable = false;
      size_t issued = 0;
      for (size_t v = 0; v < versions.size(); ++v) {
        const IoEvent& e = writes_[versions[v].write];
        if (e.start >= at) break;
        issued = v + 1;
        if (Durable(e, at)) {
          first = v;
          durable = true;
        }
      }
      if (issued == 0) continue;
      // Candidates: the page as on disk before (unless a durable version
      // replaced it), and versions[first .. issued).
      const size_t choices = issued - first + (durable ? 0 : 1);
      const size_t pick = rng() % choices;
      if (!durable && pick == 0) continue;  // never written back
      const std::string& bytes = versions[first + pick - (durable ? 0 : 1)].bytes;
      if (image.size() < (page + 1) * page_) image.resize((page + 1) * page_, '\0');
      image.replace(page * page_, page_, bytes);
    }
    return image;
  }

 private:
  struct Version {
    size_t write;       // index into writes_
    std::string bytes;  // the page after it
  };
  std::string Page(const std::string& file, uint64_t page) const {
    std::string p(page_, '\0');
    if (page * page_ < file.size()) {
      file.copy(p.data(), std::min<size_t>(page_, file.size() - page * page_), page * page_);
    }
    return p;
  }
  bool Durable(const IoEvent& w, uint64_t at) const {
    if (w.end > at) return false;
    if (w.dsync) return true;
    for (const IoEvent& s : syncs_) {
      if (s.start >= w.end && s.end <= at) return true;
    }
    return false;
  }

  std::string initial_;
  size_t page_;
  std::vector<IoEvent> writes_, syncs_;
  std::map<uint64_t, std::vector<Version>> versions_;
};

// Runs `check` in a child process; its exit status 0 is a pass. A torn store
// may crash whatever reads it: a signal is a failure reported as such.
bool InChild(const std::function<bool()>& check, std::string* why) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(check() ? 0 : 1);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                             : "exit " + std::to_string(WEXITSTATUS(status));
  return false;
}

// One acknowledged write and how to find it again.
struct Acked {
  uint64_t tick = 0;  // taken right after the call returned
  enum class Kind { kEntry, kPost, kRise } kind = Kind::kEntry;
  std::string key, value;                           // kEntry
  MessageId id;                                     // kPost, kRise
  std::string blob;                                 // kPost
  MessageStatus status = MessageStatus::kUploaded;  // kRise
};

struct Traced {
  std::string initial;
  std::vector<IoEvent> events;
  std::vector<Acked> acked;
  MailboxCredentials a, b;
};

// Entry puts (small and 20 KB), posts and status rises, one call (one
// commit) each, on a store of `durability`; the trace and what was acked.
Traced WriteAndTrace(const fs::path& store, Durability durability) {
  Traced run;
  Options options;
  options.durability = durability;
  options.relaxed_sync_interval = std::chrono::minutes(10);  // no periodic sync inside the run
  auto db = DB::Open(store.string(), options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return run;
  EXPECT_GE(IoTrace::OpenDataFiles(), 1) << "LMDB's open() did not go through the interposer";
  run.a = *(*db)->CreateMailbox();
  run.b = *(*db)->CreateMailbox();
  EXPECT_TRUE((*db)->Connect(run.a.mkey, run.b.mkey).ok());
  EXPECT_TRUE((*db)->Sync().ok());
  run.initial = ReadFile(store / "data.mdb");
  IoTrace::Start(std::chrono::milliseconds(0), /*keep_bytes=*/true);
  MessageId last{};
  for (int i = 0; i < 48; ++i) {
    Acked a;
    switch (i % 4) {
      case 0:
      case 1: {
        a.kind = Acked::Kind::kEntry;
        a.key = "k" + std::to_string(i);
        a.value = RandomBytes(i % 4 == 0 ? 100 : 20000);
        if (!(*db)->PutEntry(run.a.mkey, a.key, a.value).ok()) continue;
        break;
      }
      case 2: {
        a.kind = Acked::Kind::kPost;
        a.id = MessageId::Random();
        a.blob = RandomBytes(3000);
        PostRequest p{run.a.mkey, run.b.mkey, a.id, "t" + std::to_string(i), "", a.blob};
        if (!(*db)->PostMessage(p).ok()) continue;
        last = a.id;
        break;
      }
      default: {
        a.kind = Acked::Kind::kRise;
        a.id = last;
        a.status = i % 8 == 3 ? MessageStatus::kDownloaded : MessageStatus::kViewed;
        if (!(*db)->AdvanceStatus(run.b.mkey, a.id, a.status).ok()) continue;
        break;
      }
    }
    a.tick = IoTrace::Tick();
    run.acked.push_back(std::move(a));
  }
  run.events = IoTrace::Stop();
  EXPECT_EQ(run.acked.size(), 48u);
  return run;
}

// Whether the store in `dir` opens, copies whole, and holds every write of
// `acked` acknowledged by tick `at`; says what failed on stderr.
bool Audit(const fs::path& dir, const Traced& run, uint64_t at, Durability durability) {
  Options options;
  options.durability = durability;
  auto db = DB::Open(dir.string(), options);
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    return false;
  }
  if (auto b = (*db)->Backup((dir.parent_path() / "copy").string()); !b.ok()) {
    std::fprintf(stderr, "backup (a walk of every table): %s\n", b.status().ToString().c_str());
    return false;
  }
  for (const Acked& a : run.acked) {
    if (a.tick > at) break;
    switch (a.kind) {
      case Acked::Kind::kEntry: {
        auto e = (*db)->GetEntry(run.a.mkey, a.key);
        if (!e.ok() || e->value != a.value) {
          std::fprintf(stderr, "acknowledged entry %s missing\n", a.key.c_str());
          return false;
        }
        break;
      }
      case Acked::Kind::kPost: {
        auto blob = (*db)->ReadBlob(run.b.mkey, a.id);
        if (!blob.ok() || *blob != a.blob) {
          std::fprintf(stderr, "acknowledged message %s missing\n", a.id.ToHex().c_str());
          return false;
        }
        break;
      }
      case Acked::Kind::kRise: {
        auto m = (*db)->GetMessage(run.a.mkey, a.id);
        if (!m.ok() || m->status < a.status) {
          std::fprintf(stderr, "acknowledged rise of %s missing\n", a.id.ToHex().c_str());
          return false;
        }
        break;
      }
    }
  }
  return true;
}

// Crash moments spread over the run (and its very end), `per_moment` images
// each; returns how many images failed their audit.
int FailedImages(const Traced& run, Durability durability, int moments, int per_moment,
                 std::string* first_failure) {
  CrashImage images(run.initial, run.events);
  EXPECT_GT(images.writes(), 0u);
  std::mt19937_64 rng(17);
  const uint64_t from = images.first_tick(), to = images.last_tick() + 1;
  int failed = 0;
  for (int m = 0; m <= moments; ++m) {
    const uint64_t at =
        from + (to - from) * static_cast<uint64_t>(m) / static_cast<uint64_t>(moments);
    for (int k = 0; k < per_moment; ++k) {
      TempDir dir;
      const fs::path store = dir.path() / "store";
      fs::create_directories(store);
      WriteFile(store / "data.mdb", images.At(at, rng));
      std::string why;
      if (!InChild([&] { return Audit(store, run, at, durability); }, &why)) {
        if (failed++ == 0) *first_failure = "crash at tick " + std::to_string(at) + ": " + why;
      }
    }
  }
  return failed;
}

TEST(PowerLossTest, DurableStoreKeepsEveryAcknowledgedWriteInEveryImage) {
  TempDir dir;
  const Traced run = WriteAndTrace(dir.path() / "store", Durability::kDurable);
  ASSERT_FALSE(run.acked.empty());
  std::string why;
  EXPECT_EQ(FailedImages(run, Durability::kDurable, 48, 3, &why), 0) << why;
}

// The simulation can see lost acknowledgements: relaxed mode acknowledges
// before the meta page that makes a write current is synced.
TEST(PowerLossTest, RelaxedStoreLosesAcknowledgedWritesInSomeImages) {
  TempDir dir;
  const Traced run = WriteAndTrace(dir.path() / "store", Durability::kRelaxed);
  ASSERT_FALSE(run.acked.empty());
  std::string why;
  EXPECT_GT(FailedImages(run, Durability::kRelaxed, 48, 3, &why), 0);
  if (!why.empty()) std::printf("relaxed, first failure: %s\n", why.c_str());
}

// The simulation can see a torn store: raw LMDB under MDB_NOSYNC, many small
// commits and no sync, gives images LMDB cannot read whole.
TEST(PowerLossTest, RawNoSyncEnvironmentIsTornInSomeImages) {
  TempDir dir;
  const fs::path path = dir.path() / "raw";
  fs::create_directories(path);
  auto open_env = [](const fs::path& p, unsigned flags, MDB_env** env) {
    if (mdb_env_create(env) != 0) return false;
    mdb_env_set_mapsize(*env, size_t{64} << 20);
    return mdb_env_open(*env, p.c_str(), flags, 0644) == 0;
  };
  MDB_env* env = nullptr;
  ASSERT_TRUE(open_env(path, MDB_NOSYNC, &env));
  MDB_dbi dbi = 0;
  auto put = [&](int i, size_t size) {
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    std::string key = RandomBytes(16), value = RandomBytes(size);
    MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0) << i;
  };
  for (int i = 0; i < 200; ++i) put(i, 200);
  ASSERT_EQ(mdb_env_sync(env, 1), 0);
  Traced run;
  run.initial = ReadFile(path / "data.mdb");
  IoTrace::Start(std::chrono::milliseconds(0), /*keep_bytes=*/true);
  for (int i = 0; i < 300; ++i) put(i, 200 + static_cast<size_t>(i % 7) * 500);
  run.events = IoTrace::Stop();
  mdb_env_close(env);

  CrashImage images(run.initial, run.events);
  std::mt19937_64 rng(17);
  int torn = 0;
  for (int m = 1; m <= 40 && torn == 0; ++m) {
    const uint64_t at = images.first_tick() + (images.last_tick() + 1 - images.first_tick()) *
                                                  static_cast<uint64_t>(m) / 40;
    for (int k = 0; k < 5; ++k) {
      TempDir img;
      WriteFile(img.path() / "data.mdb", images.At(at, rng));
      std::string why;
      const bool whole = InChild(
          [&] {
            MDB_env* e = nullptr;
            if (!open_env(img.path(), MDB_RDONLY | MDB_NOLOCK, &e)) {
              std::fprintf(stderr, "torn: the environment does not open\n");
              return false;
            }
            MDB_txn* txn = nullptr;
            MDB_dbi d = 0;
            MDB_cursor* c = nullptr;
            if (int rc = mdb_txn_begin(e, nullptr, MDB_RDONLY, &txn); rc != 0) {
              std::fprintf(stderr, "torn: mdb_txn_begin: %s\n", mdb_strerror(rc));
              return false;
            }
            if (mdb_dbi_open(txn, nullptr, 0, &d) != 0 || mdb_cursor_open(txn, d, &c) != 0) {
              std::fprintf(stderr, "torn: the main table does not open\n");
              return false;
            }
            MDB_val key, val;
            int rc = 0;
            size_t n = 0;
            for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
              ++n;
            }
            // Every record of the synced state must still be there.
            if (rc != MDB_NOTFOUND || n < 200) {
              std::fprintf(stderr, "torn: walk ended with %s after %zu records\n", mdb_strerror(rc),
                           n);
              return false;
            }
            return true;
          },
          &why);
      if (!whole) ++torn;
    }
  }
  EXPECT_GT(torn, 0) << "no image of an MDB_NOSYNC environment was torn";
}

}  // namespace
}  // namespace postbox::durability
