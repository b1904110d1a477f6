// DB::Backup and DB::Restore on their own (docs/operations.md, "Backup and
// restore"): what a copy holds, where it may go, and every refusal, each of
// which must leave the store and the target as they were. The copy under a
// writing load is tests/integration/backup/.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

namespace fs = std::filesystem;

class BackupTest : public test::StoreTest {
 protected:
  BackupTest() { options_.slot_depth = 2; }  // a remembered setting the copy must keep

  // A store with two connected mailboxes, an entry and a message.
  void Fill() {
    a_ = NewMailbox();
    b_ = NewMailbox();
    Connect(a_, b_);
    ASSERT_OK(db().PutEntry(a_, "k", "value"));
    blob_ = test::Bytes(300 * 1024, 7);  // two pieces
    id_ = Post(Request(a_, b_, "t", blob_)).id;
  }

  // Whatever the store holds, as the copy must hold it.
  void ExpectFilled(DB& copy) {
    ASSERT_OK_AND_ASSIGN(EntryInfo e, copy.GetEntry(a_, "k"));
    EXPECT_EQ(e.value, "value");
    ASSERT_OK_AND_ASSIGN(std::string bytes, copy.ReadBlob(b_, id_));
    EXPECT_EQ(bytes, blob_);
    EXPECT_EQ(copy.options().slot_depth, 2u);
  }

  std::unique_ptr<DB> OpenCopy(const std::string& path, bool read_only = true) {
    Options o = options_;
    o.read_only = read_only;
    auto db = DB::Open(path, o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // Every file under `dir` with its size, to show a refusal changed nothing.
  static std::map<std::string, uintmax_t> Files(const std::string& dir) {
    std::map<std::string, uintmax_t> out;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
      out[e.path().string()] = e.is_regular_file() ? e.file_size() : 0;
    }
    return out;
  }

  MailboxKey a_, b_;
  MessageId id_;
  std::string blob_;
};

TEST_F(BackupTest, CopyHoldsTheStoreAndOnlyDataMdb) {
  Fill();
  const std::string dir = dir_.Sub("backup/nested");  // parents are made
  ASSERT_OK_AND_ASSIGN(BackupInfo info, db().Backup(dir));
  EXPECT_EQ(info.path, dir);
  EXPECT_EQ(info.bytes, fs::file_size(dir + "/data.mdb"));
  EXPECT_GT(info.bytes, blob_.size());
  EXPECT_EQ(info.stats.mailboxes, 2u);
  EXPECT_EQ(info.stats.messages, 1u);
  EXPECT_EQ(info.stats.entries, 1u);
  EXPECT_EQ(info.stats.used_bytes, info.bytes) << "a compacted copy has no free pages";
  // Nothing but the copy: no lock file, no partial file.
  EXPECT_EQ(Files(dir_.Sub("backup/nested")).size(), 1u);
  auto copy = OpenCopy(dir);
  ASSERT_NE(copy, nullptr);
  ExpectFilled(*copy);
}

TEST_F(BackupTest, CopyIsCompacted) {
  Fill();
  // Free pages: write and delete a lot.
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(db().PutEntry(a_, "big" + std::to_string(i), test::Bytes(8000, i)));
  }
  for (int i = 0; i < 200; ++i) ASSERT_OK(db().DeleteEntry(a_, "big" + std::to_string(i)));
  ASSERT_OK_AND_ASSIGN(BackupInfo info, db().Backup(dir_.Sub("backup")));
  EXPECT_LT(info.bytes, info.source_bytes);
}

TEST_F(BackupTest, ReadOnlyStoreBacksUp) {
  Fill();
  Close();
  Options ro = options_;
  ro.read_only = true;
  auto db = DB::Open(path(), ro);
  ASSERT_OK(db);
  ASSERT_OK((*db)->Backup(dir_.Sub("backup")));
  auto copy = OpenCopy(dir_.Sub("backup"));
  ASSERT_NE(copy, nullptr);
  ExpectFilled(*copy);
}

TEST_F(BackupTest, BackupRefusesAFolderThatIsNotEmptyOrAFile) {
  Fill();
  fs::create_directories(dir_.Sub("full"));
  std::ofstream(dir_.Sub("full/keep")) << "mine";
  auto r = db().Backup(dir_.Sub("full"));
  EXPECT_CODE(r, kConflict);
  EXPECT_EQ(Files(dir_.Sub("full")).size(), 1u);
  std::ofstream(dir_.Sub("file")) << "x";
  EXPECT_CODE(db().Backup(dir_.Sub("file")), kConflict);
  EXPECT_CODE(db().Backup(path()), kConflict) << "the store's own folder";
  EXPECT_CODE(db().Backup(""), kInvalidArgument);
  // An empty folder is fine.
  fs::create_directories(dir_.Sub("empty"));
  EXPECT_OK(db().Backup(dir_.Sub("empty")));
}

TEST_F(BackupTest, RestoreIntoAMissingOrEmptyFolder) {
  Fill();
  ASSERT_OK(db().Backup(dir_.Sub("backup")));
  ASSERT_OK_AND_ASSIGN(BackupInfo info,
                       DB::Restore(dir_.Sub("backup"), dir_.Sub("restored"), false));
  EXPECT_EQ(info.set_aside, "");
  EXPECT_EQ(info.stats.messages, 1u);
  fs::create_directories(dir_.Sub("empty"));
  ASSERT_OK(DB::Restore(dir_.Sub("backup"), dir_.Sub("empty"), false));
  for (const char* where : {"restored", "empty"}) {
    auto copy = OpenCopy(dir_.Sub(where), /*read_only=*/false);
    ASSERT_NE(copy, nullptr);
    ExpectFilled(*copy);
    EXPECT_OK(copy->PutEntry(a_, "after", "restore")) << where;
  }
  // Nothing stays behind next to them (the staging folder is renamed).
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".restore-"), std::string::npos) << e.path();
  }
}

TEST_F(BackupTest, RestoreOverAStoreNeedsReplaceAndKeepsTheOldOneAside) {
  Fill();
  ASSERT_OK(db().Backup(dir_.Sub("backup")));
  ASSERT_OK(db().PutEntry(a_, "later", "only in the old store"));
  Close();
  const auto before = Files(path());
  auto refused = DB::Restore(dir_.Sub("backup"), path(), false);
  EXPECT_CODE(refused, kConflict);
  EXPECT_EQ(Files(path()), before);
  ASSERT_OK_AND_ASSIGN(BackupInfo info, DB::Restore(dir_.Sub("backup"), path(), true));
  ASSERT_NE(info.set_aside, "");
  EXPECT_EQ(info.set_aside.rfind(path() + ".pre-restore-", 0), 0u) << info.set_aside;
  // The old store is whole in its new place, the backup in the old one.
  auto old = OpenCopy(info.set_aside);
  ASSERT_NE(old, nullptr);
  EXPECT_OK(old->GetEntry(a_, "later"));
  Open();
  ExpectFilled(db());
  EXPECT_CODE(db().GetEntry(a_, "later"), kNotFound);
}

// A client whose cursor names changes the backup lacks (made after it) must
// get a full snapshot, also once the restored store has made as many new
// changes: otherwise their seqs would be reused and the client would skip
// the new ones.
TEST_F(BackupTest, RestoredFeedsAreFencedSoNoCursorMissesAChange) {
  Fill();
  const uint64_t at_backup = Seq(b_);
  ASSERT_OK(db().Backup(dir_.Sub("backup")));
  for (int i = 0; i < 3; ++i) Post(Request(a_, b_, "lost" + std::to_string(i), "x"));
  const uint64_t lost_cursor = Seq(b_);  // a client saw the writes the backup lacks
  Close();
  ASSERT_OK(DB::Restore(dir_.Sub("backup"), path(), true));
  Open();
  std::vector<MessageId> fresh;
  for (int i = 0; i < 6; ++i)
    fresh.push_back(Post(Request(a_, b_, "new" + std::to_string(i), "y")).id);
  ASSERT_GT(Seq(b_), lost_cursor);
  for (uint64_t cursor : {uint64_t{0}, at_backup, lost_cursor}) {
    InfoPacket p = Feed(b_, cursor);
    EXPECT_TRUE(p.reset) << "cursor " << cursor;
    for (const MessageId& id : fresh) {
      EXPECT_TRUE(std::any_of(p.incoming.begin(), p.incoming.end(),
                              [&](const MessageInfo& m) { return m.id == id; }))
          << "cursor " << cursor << " misses " << id.ToHex();
    }
  }
  // After the snapshot, the client goes on as usual.
  const InfoPacket snapshot = Feed(b_, lost_cursor);
  Post(Request(a_, b_, "after", "z"));
  InfoPacket next = Feed(b_, snapshot.cursor);
  EXPECT_FALSE(next.reset);
  EXPECT_EQ(next.incoming.size(), 1u);
}

TEST_F(BackupTest, RestoreRefusesAStoreThatIsOpen) {
  Fill();
  ASSERT_OK(db().Backup(dir_.Sub("backup")));
  // Open in this process.
  auto r = DB::Restore(dir_.Sub("backup"), path(), true);
  ASSERT_CODE(r, kUnavailable);
  EXPECT_NE(r.status().message().find("this process"), std::string::npos);
  Close();
  // Open in another process.
  {
    test::OpenInAnotherProcess other(path(), options_);
    ASSERT_TRUE(other.opened());
    const auto before = Files(path());
    r = DB::Restore(dir_.Sub("backup"), path(), true);
    ASSERT_CODE(r, kUnavailable);
    EXPECT_NE(r.status().message().find("process " + std::to_string(other.pid())),
              std::string::npos)
        << r.status().ToString();
    EXPECT_EQ(Files(path()).size(), before.size());
  }
  EXPECT_OK(DB::Restore(dir_.Sub("backup"), path(), true)) << "once it is closed";
}

TEST_F(BackupTest, BadBackupsChangeNothing) {
  Fill();
  ASSERT_OK(db().Backup(dir_.Sub("backup")));
  Close();
  const auto before = Files(path());
  const std::string good = dir_.Sub("backup/data.mdb");
  const uintmax_t size = fs::file_size(good);
  // No data.mdb.
  fs::create_directories(dir_.Sub("nothing"));
  EXPECT_CODE(DB::Restore(dir_.Sub("nothing"), path(), true), kNotFound);
  // Truncated: a copy cut short must not be read past its end.
  fs::create_directories(dir_.Sub("short"));
  fs::copy_file(good, dir_.Sub("short/data.mdb"));
  fs::resize_file(dir_.Sub("short/data.mdb"), size / 2);
  auto r = DB::Restore(dir_.Sub("short"), path(), true);
  EXPECT_CODE(r, kInternal);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().ToString();
  // Not LMDB at all.
  fs::create_directories(dir_.Sub("junk"));
  std::ofstream(dir_.Sub("junk/data.mdb")) << std::string(64 * 1024, 'j');
  EXPECT_CODE(DB::Restore(dir_.Sub("junk"), path(), true), kInternal);
  // The backup folder is the store's.
  EXPECT_CODE(DB::Restore(path(), path(), true), kInvalidArgument);
  EXPECT_EQ(Files(path()), before);
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".restore-"), std::string::npos) << "staging left: " << name;
    EXPECT_EQ(name.find(".pre-restore-"), std::string::npos) << "moved aside: " << name;
  }
  Open();
  ExpectFilled(db());
}

}  // namespace
}  // namespace postbox
