// The store's format record: a store of another format fails to open with a
// clear error instead of being misread (format 4, one behind, is upgraded). The old formats are
// made by editing meta["format"] with LMDB directly.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

constexpr uint32_t kCurrentFormat = 6;

class FormatTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.Sub("db"); }

  // A store with one mailbox, closed again.
  void MakeStore() {
    Options o;
    o.durability = Durability::kRelaxed;
    auto db = DB::Open(Path(), o);
    ASSERT_OK(db);
    ASSERT_OK((*db)->CreateMailbox());
  }

  // Runs `fn` in a write transaction on the closed store with LMDB itself.
  template <typename Fn>
  void WithRawTxn(Fn&& fn) {
    MDB_env* env = nullptr;
    EXPECT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    EXPECT_EQ(mdb_env_open(env, Path().c_str(), MDB_NOTLS, 0644), 0);
    MDB_txn* txn = nullptr;
    EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    fn(txn);
    EXPECT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }

  // Reads or rewrites meta["format"] with LMDB itself: `value` nullopt deletes
  // it. Returns the stored format before the change (0: none).
  uint32_t EditFormat(std::optional<uint32_t> value, bool write) {
    uint32_t before = 0;
    WithRawTxn([&](MDB_txn* txn) { before = EditFormatIn(txn, value, write); });
    return before;
  }
  uint32_t EditFormatIn(MDB_txn* txn, std::optional<uint32_t> value, bool write) {
    MDB_dbi meta = 0;
    EXPECT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k{6, const_cast<char*>("format")}, v{};
    uint32_t before = 0;
    if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 4) std::memcpy(&before, v.mv_data, 4);
    if (write && value) {
      MDB_val nv{4, &*value};
      EXPECT_EQ(mdb_put(txn, meta, &k, &nv, 0), 0);
    } else if (write) {
      EXPECT_EQ(mdb_del(txn, meta, &k, nullptr), 0);
    }
    return before;
  }

  void ExpectRefused(std::string_view why) {
    for (bool read_only : {false, true}) {
      Options o;
      o.read_only = read_only;
      auto db = DB::Open(Path(), o);
      ASSERT_FALSE(db.ok()) << "read_only=" << read_only;
      EXPECT_TRUE(db.error().Is(Code::kInternal)) << db.error().ToString();
      EXPECT_NE(db.error().message().find(why), std::string::npos) << db.error().ToString();
      EXPECT_NE(db.error().message().find("reads formats 4 to 6"), std::string::npos)
          << db.error().ToString();
    }
  }

  test::TempDir dir_;
};

TEST_F(FormatTest, NewStoreRecordsTheCurrentFormat) {
  MakeStore();
  EXPECT_EQ(EditFormat(std::nullopt, false), kCurrentFormat);
  auto db = DB::Open(Path(), Options{});
  ASSERT_OK(db);
}

TEST_F(FormatTest, OtherFormatNumberIsRefused) {
  MakeStore();
  EditFormat(1, true);
  ExpectRefused("has format 1");
  // Format 2 kept an upload's last piece in `blobs` and no running hash.
  EditFormat(2, true);
  ExpectRefused("has format 2");
  // Format 3 had no endpoint tables.
  EditFormat(3, true);
  ExpectRefused("has format 3");
  EditFormat(7, true);
  ExpectRefused("has format 7");
}

// Format 4 lacks the remembered settings (settings_test.cc has the rest) and
// the pending table: it opens, read-only as it is, and is stamped 6 by a
// write-enabled open.
TEST_F(FormatTest, FormatFourOpensAndIsStampedCurrentWhenWritable) {
  MakeStore();
  EditFormat(4, true);
  Options ro;
  ro.read_only = true;
  ASSERT_OK(DB::Open(Path(), ro));
  EXPECT_EQ(EditFormat(std::nullopt, false), 4u);
  ASSERT_OK(DB::Open(Path(), Options{}));
  EXPECT_EQ(EditFormat(std::nullopt, false), kCurrentFormat);
}

// Format 5 had no pending table (deferred writes): a read-only open finds
// none and reads the tables as they are; a writable one makes it.
TEST_F(FormatTest, FormatFiveWithoutPendingTableOpens) {
  MakeStore();
  EditFormat(5, true);
  WithRawTxn([](MDB_txn* txn) {
    MDB_dbi pending = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "pending", 0, &pending), 0);
    ASSERT_EQ(mdb_drop(txn, pending, 1), 0);  // deletes the table itself
  });
  Options ro;
  ro.read_only = true;
  {
    auto db = DB::Open(Path(), ro);
    ASSERT_OK(db);
    auto n = (*db)->CountMailboxes();
    ASSERT_OK(n);
    EXPECT_EQ(*n, 1u);
  }
  EXPECT_EQ(EditFormat(std::nullopt, false), 5u);
  {
    auto db = DB::Open(Path(), Options{});
    ASSERT_OK(db);
    auto m = (*db)->CreateMailbox();
    ASSERT_OK(m);
    ASSERT_OK((*db)->PutEntry(m->mkey, "k", "v", 1));  // deferred: needs the table
  }
  EXPECT_EQ(EditFormat(std::nullopt, false), kCurrentFormat);
}

TEST_F(FormatTest, DataWithoutFormatRecordIsFormatOneAndRefused) {
  MakeStore();
  EditFormat(std::nullopt, true);
  ExpectRefused("has format 1");
  // Refusing changed nothing: still no format record.
  EXPECT_EQ(EditFormat(std::nullopt, false), 0u);
}

TEST_F(FormatTest, EmptyStoreWithoutFormatRecordIsStamped) {
  {
    auto db = DB::Open(Path(), Options{});
    ASSERT_OK(db);
  }
  EditFormat(std::nullopt, true);
  auto db = DB::Open(Path(), Options{});
  ASSERT_OK(db);
  db->reset();
  EXPECT_EQ(EditFormat(std::nullopt, false), kCurrentFormat);
}

}  // namespace
}  // namespace postbox
