// Online backup under a writing load (docs/operations.md, "Backup and
// restore"): writer threads keep committing durable entry puts, posts and
// status rises on a store while it is backed up — by DB::Backup in the same
// process, and by `postbox-admin backup` from another process, as an operator
// runs it beside a server. Every write acknowledged before the backup began
// must be in the copy; the copy's stats and feeds must be sane; and the copy,
// restored into a fresh folder, must open with the store's settings and hold
// the same again.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "postbox/db.h"

namespace postbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string AdminBinary() {
  if (const char* env = std::getenv("POSTBOX_ADMIN_BIN")) return env;
  return POSTBOX_ADMIN_BIN_PATH;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "postbox-backup-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The value a put of `key` writes: rebuilt from the key, so the check needs
// no copy of it.
std::string ValueFor(const std::string& key) {
  std::mt19937 gen(static_cast<uint32_t>(std::hash<std::string>()(key)));
  std::string v(40 + gen() % 1500, '\0');
  for (char& c : v) c = static_cast<char>(gen());
  return v;
}

std::string BlobFor(const MessageId& id, size_t n) {
  std::seed_seq seed(id.bytes.begin(), id.bytes.end());
  std::mt19937 gen(seed);
  std::string b(n, '\0');
  for (char& c : b) c = static_cast<char>(gen());
  return b;
}

// What writers had acknowledged: each write is recorded after its call
// returned OK, so a snapshot taken before the backup begins holds only
// writes committed before it.
struct Acked {
  struct Put {
    MailboxKey mkey;
    std::string key;
    uint64_t version;
  };
  struct Post {
    MessageId id;
    MailboxKey from, to;
    uint64_t length;
    Digest128 digest;
  };
  std::vector<Put> puts;
  std::vector<Post> posts;
  std::map<MessageId, MessageStatus> rises;  // the highest acknowledged status per id
  size_t size() const { return puts.size() + posts.size() + rises.size(); }
};

class BackupLoadTest : public ::testing::Test {
 protected:
  // Settings unlike the defaults, which the copy must carry.
  static Options StoreOptions() {
    Options o;
    o.durability = Durability::kDurable;  // each acknowledgement is on disk
    o.slot_depth = 2;
    o.max_value_size = 4096;
    return o;
  }

  void SetUp() override {
    auto db = DB::Open(dir_.Sub("store"), StoreOptions());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    for (int i = 0; i < kMailboxes; ++i) {
      auto m = db_->CreateMailbox();
      ASSERT_TRUE(m.ok());
      mailboxes_.push_back(m->mkey);
    }
    for (int i = 0; i < kMailboxes; ++i) {
      ASSERT_TRUE(db_->Connect(mailboxes_[i], mailboxes_[(i + 1) % kMailboxes]).ok());
    }
  }

  void TearDown() override { StopWriters(); }

  void StartWriters() {
    for (int w = 0; w < kWriters; ++w) {
      writers_.emplace_back([this, w] { Write(w); });
    }
  }
  void StopWriters() {
    stop_ = true;
    for (auto& t : writers_) t.join();
    writers_.clear();
  }

  // One writer: puts of fresh keys, posts of fresh ids in topics of their
  // own (nothing supersedes), and rises by the recipient of what it got.
  void Write(int w) {
    std::mt19937 gen(1000 + w);
    const MailboxKey me = mailboxes_[w % kMailboxes];
    const MailboxKey next = mailboxes_[(w + 1) % kMailboxes];
    std::vector<MessageId> received;  // posts to `me`, to raise
    for (uint64_t n = 0; !stop_; ++n) {
      const int kind = static_cast<int>(gen() % 3);
      if (kind == 0) {
        const std::string key = "w" + std::to_string(w) + "." + std::to_string(n);
        auto r = db_->PutEntry(me, key, ValueFor(key));
        if (!r.ok()) return Fail(r.status());
        std::lock_guard<std::mutex> lock(mu_);
        acked_.puts.push_back({me, key, r->version});
      } else if (kind == 1) {
        PostRequest p;
        p.from = me;
        p.to = next;
        p.id = MessageId::Random();
        p.topic = "w" + std::to_string(w) + "." + std::to_string(n);
        const std::string blob = BlobFor(p.id, 1 + gen() % 70000);
        p.bytes = blob;
        auto r = db_->PostMessage(p);
        if (!r.ok()) return Fail(r.status());
        std::lock_guard<std::mutex> lock(mu_);
        acked_.posts.push_back({p.id, me, next, blob.size(), ComputeDigest128(blob)});
        posted_to_[next].push_back(p.id);
      } else {
        {
          std::lock_guard<std::mutex> lock(mu_);
          received = posted_to_[me];
        }
        if (received.empty()) continue;
        const MessageId id = received[gen() % received.size()];
        const auto want = static_cast<MessageStatus>(2 + gen() % 2);
        auto r = db_->AdvanceStatus(me, id, want);
        if (!r.ok()) return Fail(r.status());
        std::lock_guard<std::mutex> lock(mu_);
        MessageStatus& s = acked_.rises[id];
        s = std::max(s, *r);
      }
    }
  }
  void Fail(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = s;
  }

  // Waits until writers acknowledged at least `n` writes; returns a copy.
  Acked WaitFor(size_t n) {
    for (int i = 0; i < 6000; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (acked_.size() >= n || !error_.ok()) return acked_;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }

  // Every write in `acked` is in `copy`, as acknowledged or later.
  void ExpectHolds(DB& copy, const Acked& acked) {
    size_t missing = 0;
    for (const auto& p : acked.puts) {
      auto e = copy.GetEntry(p.mkey, p.key);
      if (!e.ok() || e->version < p.version || e->value != ValueFor(p.key)) {
        if (++missing < 5) ADD_FAILURE() << "entry " << p.key << ": " << e.status().ToString();
      }
    }
    for (const auto& p : acked.posts) {
      auto m = copy.GetMessage(p.to, p.id);
      if (!m.ok() || m->length != p.length || m->digest != p.digest || m->from != p.from) {
        if (++missing < 5)
          ADD_FAILURE() << "message " << p.id.ToHex() << ": " << m.status().ToString();
        continue;
      }
      auto it = acked.rises.find(p.id);
      if (it != acked.rises.end() && m->status < it->second) {
        if (++missing < 5) ADD_FAILURE() << "status of " << p.id.ToHex() << " went back";
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  }

  // The copy's stats and feeds: every mailbox, counts within what was
  // written, every feed item there once in rising order, every message's
  // blob reading back to its digest.
  void ExpectSane(DB& copy, const Acked& before, const Acked& all) {
    auto stats = copy.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->mailboxes, static_cast<uint64_t>(kMailboxes));
    EXPECT_GE(stats->messages, before.posts.size());
    EXPECT_LE(stats->messages, all.posts.size());
    EXPECT_GE(stats->entries, before.puts.size());
    EXPECT_LE(stats->entries, all.puts.size());
    EXPECT_EQ(stats->used_bytes, stats->file_bytes) << "a compacted copy has no free pages";
    EXPECT_EQ(copy.options().slot_depth, 2u) << "the copy remembers the store's settings";
    EXPECT_EQ(copy.options().max_value_size, 4096u);
    uint64_t incoming = 0, entries = 0;
    for (const MailboxKey& m : mailboxes_) {
      auto info = copy.GetMailbox(m);
      ASSERT_TRUE(info.ok());
      auto p = copy.Changes(m, 0, 0);
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      EXPECT_FALSE(p->more);
      EXPECT_LE(p->cursor, info->seq);
      std::set<uint64_t> seqs;
      for (const auto& e : p->entries) {
        EXPECT_TRUE(seqs.insert(e.seq).second);
        EXPECT_EQ(e.value, ValueFor(e.key));
      }
      for (const auto& msg : p->outgoing) EXPECT_TRUE(seqs.insert(msg.seq).second);
      for (const auto& msg : p->incoming) {
        EXPECT_TRUE(seqs.insert(msg.seq).second);
        auto bytes = copy.ReadBlob(m, msg.id);
        ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
        EXPECT_EQ(bytes->size(), msg.length);
        EXPECT_EQ(ComputeDigest128(*bytes), msg.digest) << msg.id.ToHex();
      }
      EXPECT_TRUE(p->tombstones.empty()) << "nothing was superseded or deleted";
      incoming += p->incoming.size();
      entries += p->entries.size();
    }
    EXPECT_EQ(incoming, stats->messages) << "every message in its recipient's feed once";
    EXPECT_EQ(entries, stats->entries);
  }

  // Opens a copy: what an operator's tools do, leaving the settings to it.
  static std::unique_ptr<DB> OpenCopy(const std::string& path, bool read_only) {
    Options o;
    o.read_only = read_only;
    o.adopt_stored = SettingSet::All();
    auto db = DB::Open(path, o);
    EXPECT_TRUE(db.ok()) << path << ": " << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // Checks the copy in `backup`, restores it into a fresh folder, and
  // checks that store, opened as the original was, once more.
  void CheckCopyAndRestore(const std::string& backup, const Acked& before) {
    Acked all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ASSERT_TRUE(error_.ok()) << error_.ToString();
      all = acked_;
    }
    ASSERT_GT(all.size(), before.size()) << "nothing was written during the backup";
    {
      auto copy = OpenCopy(backup, /*read_only=*/true);
      ASSERT_NE(copy, nullptr);
      ExpectHolds(*copy, before);
      ExpectSane(*copy, before, all);
    }
    auto restored = DB::Restore(backup, dir_.Sub("restored"), false);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    auto db = DB::Open(dir_.Sub("restored"), StoreOptions());  // the original's settings, asked
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ExpectHolds(**db, before);
    EXPECT_TRUE((*db)->PutEntry(mailboxes_[0], "after-restore", "x").ok());
  }

  static constexpr int kMailboxes = 4;
  static constexpr int kWriters = 3;
  static constexpr size_t kBeforeBackup = 150;

  TempDir dir_;
  std::unique_ptr<DB> db_;
  std::vector<MailboxKey> mailboxes_;
  std::vector<std::thread> writers_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Acked acked_;                                             // guarded by mu_
  std::map<MailboxKey, std::vector<MessageId>> posted_to_;  // guarded by mu_
  Status error_;                                            // guarded by mu_
};

TEST_F(BackupLoadTest, InProcessBackupHoldsEveryWriteAcknowledgedBeforeIt) {
  StartWriters();
  const Acked before = WaitFor(kBeforeBackup);
  ASSERT_GE(before.size(), kBeforeBackup);
  auto info = db_->Backup(dir_.Sub("backup"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  WaitFor(before.size() + 30);  // the writers went on meanwhile, and go on
  StopWriters();
  EXPECT_EQ(info->stats.mailboxes, static_cast<uint64_t>(kMailboxes));
  CheckCopyAndRestore(dir_.Sub("backup"), before);
}

TEST_F(BackupLoadTest, AdminBackupFromAnotherProcessHoldsEveryWriteAcknowledgedBeforeIt) {
  StartWriters();
  const Acked before = WaitFor(kBeforeBackup);
  ASSERT_GE(before.size(), kBeforeBackup);
  const std::string out = dir_.Sub("admin.json");
  const std::string cmd = "'" + AdminBinary() + "' --data '" + dir_.Sub("store") +
                          "' --json backup '" + dir_.Sub("backup") + "' > '" + out + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd << " exited " << rc << ":\n"
                                                     << std::ifstream(out).rdbuf();
  WaitFor(before.size() + 30);
  StopWriters();
  CheckCopyAndRestore(dir_.Sub("backup"), before);
}

}  // namespace
}  // namespace postbox
