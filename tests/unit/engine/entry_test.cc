// Entries: the per-mailbox KV store with the version max-merge of SPEC §2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

class EntryTest : public test::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    m_ = NewMailbox();
  }
  MailboxKey m_;
};

TEST_F(EntryTest, VersionZeroIsStoredPlusOne) {
  ASSERT_OK_AND_ASSIGN(EntryPutResult first, db().PutEntry(m_, "k", "a"));
  EXPECT_EQ(first, (EntryPutResult{true, 1}));
  ASSERT_OK_AND_ASSIGN(EntryPutResult second, db().PutEntry(m_, "k", "a"));  // same value too
  EXPECT_EQ(second, (EntryPutResult{true, 2}));
  ASSERT_OK_AND_ASSIGN(EntryPutResult high, db().PutEntry(m_, "k", "b", 40));
  EXPECT_EQ(high, (EntryPutResult{true, 40}));
  ASSERT_OK_AND_ASSIGN(EntryPutResult next, db().PutEntry(m_, "k", "c", 0));
  EXPECT_EQ(next, (EntryPutResult{true, 41}));
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, "k"));
  EXPECT_EQ(got.key, "k");
  EXPECT_EQ(got.value, "c");
  EXPECT_EQ(got.version, 41u);
}

TEST_F(EntryTest, HigherVersionWinsLowerLoses) {
  ASSERT_OK_AND_ASSIGN(EntryPutResult put, db().PutEntry(m_, "k", "five", 5));
  EXPECT_EQ(put, (EntryPutResult{true, 5}));
  const uint64_t seq = Seq(m_);

  ASSERT_OK_AND_ASSIGN(EntryPutResult lower, db().PutEntry(m_, "k", "zzzz", 3));
  EXPECT_EQ(lower, (EntryPutResult{false, 5}));  // not an error: applied=false, stored version
  ASSERT_OK_AND_ASSIGN(EntryInfo kept, db().GetEntry(m_, "k"));
  EXPECT_EQ(kept.value, "five");
  EXPECT_EQ(kept.version, 5u);
  EXPECT_EQ(Seq(m_), seq);  // a losing put does not touch the feed

  ASSERT_OK_AND_ASSIGN(EntryPutResult higher, db().PutEntry(m_, "k", "a", 6));
  EXPECT_EQ(higher, (EntryPutResult{true, 6}));
  ASSERT_OK_AND_ASSIGN(EntryInfo now, db().GetEntry(m_, "k"));
  EXPECT_EQ(now.value, "a");
  EXPECT_EQ(Seq(m_), seq + 1);
}

TEST_F(EntryTest, EqualVersionGreaterValueWins) {
  ASSERT_OK(db().PutEntry(m_, "k", "b", 7).status());
  ASSERT_OK_AND_ASSIGN(EntryPutResult smaller, db().PutEntry(m_, "k", "a", 7));
  EXPECT_EQ(smaller, (EntryPutResult{false, 7}));
  ASSERT_OK_AND_ASSIGN(EntryPutResult same, db().PutEntry(m_, "k", "b", 7));
  EXPECT_FALSE(same.applied);  // a replay changes nothing
  ASSERT_OK_AND_ASSIGN(EntryPutResult prefix, db().PutEntry(m_, "k", "", 7));
  EXPECT_FALSE(prefix.applied);
  ASSERT_OK_AND_ASSIGN(EntryPutResult bigger, db().PutEntry(m_, "k", "ba", 7));
  EXPECT_EQ(bigger, (EntryPutResult{true, 7}));
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, "k"));
  EXPECT_EQ(got.value, "ba");
  // Bytewise means unsigned: 0xff ranks above 'z'.
  ASSERT_OK_AND_ASSIGN(EntryPutResult high_byte, db().PutEntry(m_, "k", "\xff", 7));
  EXPECT_TRUE(high_byte.applied);
  ASSERT_OK_AND_ASSIGN(EntryPutResult z, db().PutEntry(m_, "k", "zzz", 7));
  EXPECT_FALSE(z.applied);
}

TEST_F(EntryTest, DeleteStoresTombstoneAndGetIsNotFound) {
  ASSERT_OK(db().PutEntry(m_, "k", "v", 5).status());
  ASSERT_OK_AND_ASSIGN(EntryPutResult del, db().DeleteEntry(m_, "k"));
  EXPECT_EQ(del, (EntryPutResult{true, 6}));
  EXPECT_CODE(db().GetEntry(m_, "k"), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> listed, db().ListEntries(m_, "", "", 10));
  EXPECT_TRUE(listed.empty());

  // The tombstone keeps its version: an older put cannot bring the key back...
  ASSERT_OK_AND_ASSIGN(EntryPutResult old, db().PutEntry(m_, "k", "old", 5));
  EXPECT_EQ(old, (EntryPutResult{false, 6}));
  EXPECT_CODE(db().GetEntry(m_, "k"), kNotFound);
  // ...but a newer one, or version 0 (stored + 1), does.
  ASSERT_OK_AND_ASSIGN(EntryPutResult back, db().PutEntry(m_, "k", "back"));
  EXPECT_EQ(back, (EntryPutResult{true, 7}));
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, "k"));
  EXPECT_EQ(got.value, "back");
}

TEST_F(EntryTest, DeleteAtSameVersionBeatsPut) {
  ASSERT_OK(db().PutEntry(m_, "k", "v", 4).status());
  ASSERT_OK_AND_ASSIGN(EntryPutResult del, db().DeleteEntry(m_, "k", 4));
  EXPECT_EQ(del, (EntryPutResult{true, 4}));
  EXPECT_CODE(db().GetEntry(m_, "k"), kNotFound);
  // A concurrent put of the same version cannot undo it, whatever its bytes.
  ASSERT_OK_AND_ASSIGN(EntryPutResult put, db().PutEntry(m_, "k", "\xff\xff\xff", 4));
  EXPECT_EQ(put, (EntryPutResult{false, 4}));
  EXPECT_CODE(db().GetEntry(m_, "k"), kNotFound);
  // Deleting again at that version changes nothing either.
  const uint64_t seq = Seq(m_);
  ASSERT_OK_AND_ASSIGN(EntryPutResult again, db().DeleteEntry(m_, "k", 4));
  EXPECT_FALSE(again.applied);
  EXPECT_EQ(Seq(m_), seq);
}

TEST_F(EntryTest, LowerVersionDeleteLoses) {
  ASSERT_OK(db().PutEntry(m_, "k", "v", 5).status());
  const uint64_t seq = Seq(m_);
  ASSERT_OK_AND_ASSIGN(EntryPutResult del, db().DeleteEntry(m_, "k", 3));
  EXPECT_EQ(del, (EntryPutResult{false, 5}));
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, "k"));
  EXPECT_EQ(got.value, "v");
  EXPECT_EQ(Seq(m_), seq);
}

TEST_F(EntryTest, DeletingAbsentKeyStoresTombstone) {
  ASSERT_OK_AND_ASSIGN(EntryPutResult del, db().DeleteEntry(m_, "never"));
  EXPECT_EQ(del, (EntryPutResult{true, 1}));
  ASSERT_OK_AND_ASSIGN(EntryPutResult at9, db().DeleteEntry(m_, "other", 9));
  EXPECT_EQ(at9, (EntryPutResult{true, 9}));
  EXPECT_CODE(db().GetEntry(m_, "other"), kNotFound);
  ASSERT_OK_AND_ASSIGN(EntryPutResult stale, db().PutEntry(m_, "other", "v", 8));
  EXPECT_FALSE(stale.applied);
  ASSERT_OK_AND_ASSIGN(EntryPutResult next, db().PutEntry(m_, "other", "v"));
  EXPECT_EQ(next, (EntryPutResult{true, 10}));
  // Version 0 on a tombstone also always applies.
  ASSERT_OK_AND_ASSIGN(EntryPutResult del2, db().DeleteEntry(m_, "never"));
  EXPECT_EQ(del2, (EntryPutResult{true, 2}));
}

TEST_F(EntryTest, ListByPrefixWithStartAfterAndLimit) {
  for (const char* k : {"a/2", "a/1", "b/1", "a", "a/3", "a0"}) {
    ASSERT_OK(db().PutEntry(m_, k, std::string("v:") + k).status());
  }
  ASSERT_OK(db().PutEntry(m_, "a/1", "v:a/1 again").status());  // version 2
  ASSERT_OK(db().DeleteEntry(m_, "a/2").status());

  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> a, db().ListEntries(m_, "a/", "", 100));
  ASSERT_EQ(a.size(), 2u);  // a/2 is a tombstone
  EXPECT_EQ(a[0].key, "a/1");
  EXPECT_EQ(a[0].value, "v:a/1 again");
  EXPECT_EQ(a[0].version, 2u);
  EXPECT_EQ(a[1].key, "a/3");
  EXPECT_EQ(a[1].version, 1u);

  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> all, db().ListEntries(m_, "", "", 100));
  std::vector<std::string> keys;
  for (const EntryInfo& e : all) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "a/1", "a/3", "a0", "b/1"}));

  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> page1, db().ListEntries(m_, "a", "", 2));
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].key, "a");
  EXPECT_EQ(page1[1].key, "a/1");
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> page2, db().ListEntries(m_, "a", "a/1", 2));
  ASSERT_EQ(page2.size(), 2u);
  EXPECT_EQ(page2[0].key, "a/3");
  EXPECT_EQ(page2[1].key, "a0");
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> page3, db().ListEntries(m_, "a", "a0", 2));
  EXPECT_TRUE(page3.empty());
  // start_after between keys and a prefix that matches nothing.
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> mid, db().ListEntries(m_, "", "a/2", 1));
  ASSERT_EQ(mid.size(), 1u);
  EXPECT_EQ(mid[0].key, "a/3");
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> none, db().ListEntries(m_, "c", "", 10));
  EXPECT_TRUE(none.empty());
}

TEST_F(EntryTest, StartAfterOutsideThePrefix) {
  for (const char* k : {"a", "b/1", "b/2", "c"}) ASSERT_OK(db().PutEntry(m_, k, "v").status());
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> before, db().ListEntries(m_, "b/", "a", 10));
  ASSERT_EQ(before.size(), 2u);  // start_after below the prefix: from the prefix's first key
  EXPECT_EQ(before[0].key, "b/1");
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> after, db().ListEntries(m_, "b/", "c", 10));
  EXPECT_TRUE(after.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> none, db().ListEntries(m_, "", "", 0));
  EXPECT_TRUE(none.empty());  // at most `limit`: zero is zero
}

TEST_F(EntryTest, EntriesArePerMailbox) {
  const MailboxKey other = NewMailbox();
  ASSERT_OK(db().PutEntry(m_, "k", "mine").status());
  EXPECT_CODE(db().GetEntry(other, "k"), kNotFound);
  ASSERT_OK_AND_ASSIGN(EntryPutResult theirs, db().PutEntry(other, "k", "theirs"));
  EXPECT_EQ(theirs.version, 1u);  // versions are per mailbox too
  ASSERT_OK_AND_ASSIGN(EntryInfo mine, db().GetEntry(m_, "k"));
  EXPECT_EQ(mine.value, "mine");
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> listed, db().ListEntries(other, "", "", 10));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].value, "theirs");
}

TEST_F(EntryTest, BinaryKeysAndValuesRoundTrip) {
  const std::string key("k\0\xff\x01", 4);
  const std::string value = test::Bytes(1000, 7);
  ASSERT_OK(db().PutEntry(m_, key, value).status());
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, key));
  EXPECT_EQ(got.key, key);
  EXPECT_EQ(got.value, value);
  EXPECT_CODE(db().GetEntry(m_, std::string("k\0", 2)), kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<EntryInfo> listed,
                       db().ListEntries(m_, std::string("k\0", 2), "", 10));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key, key);
  // An empty value is a value, not a delete.
  ASSERT_OK(db().PutEntry(m_, "empty", "").status());
  ASSERT_OK_AND_ASSIGN(EntryInfo empty, db().GetEntry(m_, "empty"));
  EXPECT_EQ(empty.value, "");
}

TEST_F(EntryTest, SizeLimitsAreTooLargeAndEmptyKeyInvalid) {
  const std::string max_key(options_.max_key_size, 'k');
  const std::string long_key(options_.max_key_size + 1, 'k');
  const std::string max_value(options_.max_value_size, 'v');
  const std::string big_value(options_.max_value_size + 1, 'v');
  ASSERT_OK(db().PutEntry(m_, max_key, max_value).status());
  ASSERT_OK_AND_ASSIGN(EntryInfo got, db().GetEntry(m_, max_key));
  EXPECT_EQ(got.value.size(), options_.max_value_size);

  EXPECT_CODE(db().PutEntry(m_, long_key, "v"), kTooLarge);
  EXPECT_CODE(db().DeleteEntry(m_, long_key), kTooLarge);
  EXPECT_CODE(db().PutEntry(m_, "k2", big_value), kTooLarge);
  EXPECT_CODE(db().GetEntry(m_, "k2"), kNotFound);  // nothing was stored
  EXPECT_CODE(db().PutEntry(m_, "", "v"), kInvalidArgument);
  EXPECT_CODE(db().DeleteEntry(m_, ""), kInvalidArgument);
  EXPECT_CODE(db().GetEntry(m_, ""), kInvalidArgument);
  EXPECT_CODE(db().GetEntry(m_, long_key), kTooLarge);
  EXPECT_EQ(Seq(m_), 1u);  // only the first put moved the feed
}

TEST_F(EntryTest, UnknownMailboxIsNotFoundAfterFormChecks) {
  const MailboxKey ghost = MailboxKey::Random();
  EXPECT_CODE(db().PutEntry(ghost, "k", "v"), kNotFound);
  EXPECT_CODE(db().DeleteEntry(ghost, "k"), kNotFound);
  EXPECT_CODE(db().GetEntry(ghost, "k"), kNotFound);
  EXPECT_CODE(db().ListEntries(ghost, "", "", 10), kNotFound);
  // Sizes and form come first.
  EXPECT_CODE(db().PutEntry(ghost, "", "v"), kInvalidArgument);
  EXPECT_CODE(db().GetEntry(ghost, ""), kInvalidArgument);
  EXPECT_CODE(db().PutEntry(ghost, "k", std::string(options_.max_value_size + 1, 'v')), kTooLarge);
}

class SmallEntryLimitsTest : public test::StoreTest {
 protected:
  SmallEntryLimitsTest() {
    options_.max_key_size = 8;
    options_.max_value_size = 16;
  }
};

TEST_F(SmallEntryLimitsTest, LimitsComeFromOptions) {
  const MailboxKey m = NewMailbox();
  EXPECT_OK(db().PutEntry(m, "12345678", std::string(16, 'v')));
  EXPECT_CODE(db().PutEntry(m, "123456789", "v"), kTooLarge);
  EXPECT_CODE(db().PutEntry(m, "k", std::string(17, 'v')), kTooLarge);
}

}  // namespace
}  // namespace postbox
