// The settings a store remembers (postbox/settings.h, docs/operations.md): a
// new store writes them, a later open must ask for the same values or take
// the store's, the refusal names every difference with both values, stores
// made before format 5 adopt the opener's, and DB::ChangeSettings changes
// them only while no other process has the store open.
#include "postbox/settings.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/lmdb_tables.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

Options Relaxed() {
  Options o;
  o.durability = Durability::kRelaxed;
  return o;
}

// Settings unlike the defaults in every field.
Options Custom() {
  Options o = Relaxed();
  o.slot_depth = 2;
  o.posting_policy = PostingPolicy::kOpen;
  o.tombstone_horizon = hours(1);
  o.upload_ttl = milliseconds(1500);
  o.max_key_size = 8;
  o.max_value_size = 16;
  o.max_topic_size = 4;
  o.max_meta_size = 32;
  o.max_push_token_size = 100;
  o.max_blob_size = 1000;
  return o;
}

void ExpectSameSettings(const Options& a, const Options& b) {
  for (const SettingInfo& info : RememberedSettings()) {
    EXPECT_EQ(GetSetting(a, info.setting), GetSetting(b, info.setting)) << info.name;
  }
}

class SettingsTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.Sub("db"); }

  // Creates the store with `o` and closes it; returns the creation's note.
  std::string Create(const Options& o) {
    auto db = DB::Open(Path(), o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? (*db)->settings_note() : "";
  }

  // meta["settings"] and meta["format"] as stored (closed store only).
  std::string RawRecord() {
    auto meta = test::Table(Path(), "meta");
    return meta.count("settings") ? meta["settings"] : std::string("<none>");
  }
  uint32_t Format() {
    auto meta = test::Table(Path(), "meta");
    uint32_t f = 0;
    if (meta.count("format") && meta["format"].size() == 4) {
      std::memcpy(&f, meta["format"].data(), 4);
    }
    return f;
  }
  // Makes the closed store look like one made by a format-4 build: no
  // settings record, format 4.
  void MakeFormat4() {
    test::WithTable(Path(), "meta", true, [](MDB_txn* txn, MDB_dbi dbi) {
      MDB_val k{8, const_cast<char*>("settings")};
      EXPECT_EQ(mdb_del(txn, dbi, &k, nullptr), 0);
      uint32_t four = 4;
      MDB_val fk{6, const_cast<char*>("format")}, fv{4, &four};
      EXPECT_EQ(mdb_put(txn, dbi, &fk, &fv, 0), 0);
    });
  }

  test::TempDir dir_;
};

TEST_F(SettingsTest, NewStoreRemembersTheSettingsItWasCreatedWith) {
  const std::string note = Create(Custom());
  EXPECT_NE(note.find("a new store"), std::string::npos) << note;
  EXPECT_NE(note.find("slot_depth=2"), std::string::npos) << note;
  // An opener that leaves everything to the store gets the stored values.
  Options take = Relaxed();
  take.adopt_stored = SettingSet::All();
  auto db = DB::Open(Path(), take);
  ASSERT_OK(db);
  ExpectSameSettings((*db)->options(), Custom());
  EXPECT_EQ((*db)->settings_note(), "");
  // Asking for exactly the stored values works too.
  db->reset();
  ASSERT_OK(DB::Open(Path(), Custom()));
}

TEST_F(SettingsTest, DifferentSettingsAreRefusedNamingEachWithBothValues) {
  Create(Custom());
  const std::string before = RawRecord();
  for (bool read_only : {false, true}) {
    Options asked = Relaxed();  // the defaults: every remembered setting differs
    asked.max_meta_size = 32;   // but this one
    asked.read_only = read_only;
    auto db = DB::Open(Path(), asked);
    ASSERT_CODE(db, kInvalidArgument);
    const std::string msg(db.status().message());
    EXPECT_NE(msg.find("slot_depth is 2 in the store, 1 asked"), std::string::npos) << msg;
    EXPECT_NE(msg.find("posting_policy is open in the store, connected asked"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("tombstone_horizon is 1h in the store, 30d asked"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("upload_ttl is 1500ms in the store, 1d asked"), std::string::npos) << msg;
    EXPECT_NE(msg.find("max_key_size is 8B in the store, 256B asked"), std::string::npos) << msg;
    EXPECT_NE(msg.find("max_blob_size is 1000B in the store, 256MiB asked"), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find("max_meta_size"), std::string::npos) << "a matching setting is named";
    EXPECT_NE(msg.find("settings set"), std::string::npos) << "no way out named: " << msg;
  }
  EXPECT_EQ(RawRecord(), before) << "a refused open changed the record";
}

TEST_F(SettingsTest, AdoptedSettingsTakeTheStoredValueTheOthersAreChecked) {
  Create(Custom());
  Options asked = Custom();
  asked.slot_depth = 7;  // taken from the store: no matter
  asked.max_blob_size = 5;
  asked.adopt_stored = SettingSet{Setting::kSlotDepth, Setting::kMaxBlobSize};
  auto db = DB::Open(Path(), asked);
  ASSERT_OK(db);
  EXPECT_EQ((*db)->options().slot_depth, 2u);
  EXPECT_EQ((*db)->options().max_blob_size, 1000u);
  db->reset();
  asked.posting_policy = PostingPolicy::kConnected;  // not adopted: checked
  db = DB::Open(Path(), asked);
  ASSERT_CODE(db, kInvalidArgument);
  const std::string msg(db.status().message());
  EXPECT_NE(msg.find("posting_policy"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("slot_depth"), std::string::npos) << msg;
}

TEST_F(SettingsTest, StoredSettingsGovernTheStore) {
  Create(Custom());
  Options take = Relaxed();
  take.adopt_stored = SettingSet::All();
  auto db = DB::Open(Path(), take);
  ASSERT_OK(db);
  DB& d = **db;
  auto a = test::Must(d.CreateMailbox(), "CreateMailbox").mkey;
  auto b = test::Must(d.CreateMailbox(), "CreateMailbox").mkey;
  // The stored limits, not the defaults, apply.
  EXPECT_CODE(d.PutEntry(a, "123456789", "v"), kTooLarge);
  EXPECT_CODE(d.PutEntry(a, "k", std::string(17, 'x')), kTooLarge);
  // The open policy: no connection needed.
  PostRequest r{
      .from = a, .to = b, .id = MessageId::Random(), .topic = "t", .meta = "", .bytes = "x"};
  ASSERT_OK(d.PostMessage(r));
  // Depth 2: a second post keeps the first, a third supersedes it.
  const MessageId first = r.id;
  r.id = MessageId::Random();
  ASSERT_OK(d.PostMessage(r));
  ASSERT_OK(d.GetMessage(b, first));
  r.id = MessageId::Random();
  ASSERT_OK(d.PostMessage(r));
  EXPECT_CODE(d.GetMessage(b, first), kGone);
}

TEST_F(SettingsTest, FormatFourStoreAdoptsTheOpenersSettingsAndSaysSo) {
  Create(Relaxed());
  MakeFormat4();
  // Read-only: opens with the opener's values, writes nothing, says so.
  Options ro = Custom();
  ro.read_only = true;
  {
    auto db = DB::Open(Path(), ro);
    ASSERT_OK(db);
    ExpectSameSettings((*db)->options(), Custom());
    EXPECT_NE((*db)->settings_note().find("read-only"), std::string::npos);
  }
  EXPECT_EQ(RawRecord(), "<none>");
  EXPECT_EQ(Format(), 4u);
  // The first write-enabled open writes them and stamps the current format.
  {
    auto db = DB::Open(Path(), Custom());
    ASSERT_OK(db);
    EXPECT_NE((*db)->settings_note().find("remembered no settings"), std::string::npos)
        << (*db)->settings_note();
  }
  EXPECT_EQ(Format(), 6u);
  EXPECT_NE(RawRecord(), "<none>");
  // From now on they are remembered: the defaults are refused.
  EXPECT_CODE(DB::Open(Path(), Relaxed()), kInvalidArgument);
  auto db = DB::Open(Path(), Custom());
  ASSERT_OK(db);
  EXPECT_EQ((*db)->settings_note(), "");
}

// The record: u16 count, then u16 id and u64 value per setting.
std::string Record(std::vector<std::pair<uint16_t, uint64_t>> settings) {
  std::string out;
  const uint16_t n = static_cast<uint16_t>(settings.size());
  out.append(reinterpret_cast<const char*>(&n), 2);
  for (const auto& [id, value] : settings) {
    out.append(reinterpret_cast<const char*>(&id), 2);
    out.append(reinterpret_cast<const char*>(&value), 8);
  }
  return out;
}

TEST_F(SettingsTest, RecordLackingSomeSettingsTakesTheOpenersForThem) {
  Create(Relaxed());
  test::PutRow(Path(), "meta", "settings", Record({{1, 3}}));  // slot_depth only
  Options asked = Custom();
  asked.adopt_stored = SettingSet{Setting::kSlotDepth};
  {
    auto db = DB::Open(Path(), asked);
    ASSERT_OK(db);
    EXPECT_EQ((*db)->options().slot_depth, 3u);
    EXPECT_EQ((*db)->options().max_blob_size, 1000u);
    EXPECT_NE((*db)->settings_note().find("did not remember every setting"), std::string::npos);
    EXPECT_EQ((*db)->settings_note().find("slot_depth"), std::string::npos)
        << "the stored one is named as new: " << (*db)->settings_note();
  }
  Options take = Relaxed();
  take.adopt_stored = SettingSet::All();
  auto db = DB::Open(Path(), take);
  ASSERT_OK(db);
  Options want = Custom();
  want.slot_depth = 3;
  ExpectSameSettings((*db)->options(), want);
}

TEST_F(SettingsTest, DamagedRecordIsInternalAndChangesNothing) {
  Create(Relaxed());
  const struct {
    std::string record;
    std::string says;
  } cases[] = {
      {"\x01", "malformed"},
      {Record({{1, 2}}) + "x", "malformed"},
      {Record({{99, 1}}), "setting #99"},
      {Record({{1, 0}}), "slot_depth must be"},        // depth 0
      {Record({{7, 256}}), "max_topic_size must be"},  // a topic length byte
      {Record({{1, 2}, {1, 3}}), "slot_depth twice"},  // a setting twice
      {Record({{3, uint64_t{1} << 63}}), "tombstone_horizon must be"},
  };
  for (const auto& c : cases) {
    test::PutRow(Path(), "meta", "settings", c.record);
    for (bool read_only : {false, true}) {
      Options o = Relaxed();
      o.read_only = read_only;
      o.adopt_stored = SettingSet::All();
      auto db = DB::Open(Path(), o);
      ASSERT_CODE(db, kInternal) << c.says;
      EXPECT_NE(db.status().message().find(c.says), std::string::npos) << db.status().ToString();
    }
    EXPECT_EQ(RawRecord(), c.record);
  }
}

TEST_F(SettingsTest, OptionsOutOfRangeAreInvalidArgument) {
  for (auto [setting, value] :
       std::vector<std::pair<Setting, uint64_t>>{{Setting::kMaxKeySize, 496},
                                                 {Setting::kMaxKeySize, 0},
                                                 {Setting::kMaxTopicSize, 256},
                                                 {Setting::kMaxMetaSize, 65536},
                                                 {Setting::kSlotDepth, 0}}) {
    Options o = Relaxed();
    SetSetting(&o, setting, value);
    EXPECT_CODE(DB::Open(Path(), o), kInvalidArgument) << InfoOf(setting).name;
    EXPECT_CODE(DB::ChangeSettings(Path(), o, SettingSet{setting}), kInvalidArgument);
  }
  Options o = Relaxed();
  o.tombstone_horizon = milliseconds(-1);
  EXPECT_CODE(DB::Open(Path(), o), kInvalidArgument);
}

TEST_F(SettingsTest, ChangeSettingsChangesOnlyThoseNamedAndReturnsTheOldValues) {
  Create(Custom());
  Options values = Relaxed();
  values.slot_depth = 9;
  values.max_value_size = 1 << 20;
  values.max_blob_size = 12345;  // not named: stays
  ASSERT_OK_AND_ASSIGN(
      Options before,
      DB::ChangeSettings(Path(), values, SettingSet{Setting::kSlotDepth, Setting::kMaxValueSize}));
  ExpectSameSettings(before, Custom());
  Options want = Custom();
  want.slot_depth = 9;
  want.max_value_size = 1 << 20;
  ASSERT_OK(DB::Open(Path(), want));
  EXPECT_CODE(DB::Open(Path(), Custom()), kInvalidArgument);
}

TEST_F(SettingsTest, ChangeSettingsNeedsAStoreNoOneHasOpen) {
  Options values = Relaxed();
  EXPECT_CODE(DB::ChangeSettings(Path(), values, SettingSet{Setting::kSlotDepth}), kNotFound);
  Create(Relaxed());
  const std::string before = RawRecord();
  values.slot_depth = 4;
  {
    auto db = DB::Open(Path(), Relaxed());
    ASSERT_OK(db);
    auto r = DB::ChangeSettings(Path(), values, SettingSet{Setting::kSlotDepth});
    ASSERT_CODE(r, kUnavailable);
    EXPECT_NE(r.status().message().find("this process"), std::string::npos);
  }
  // Another process with the store open.
  {
    Options o;
    o.read_only = true;
    o.adopt_stored = SettingSet::All();
    test::OpenInAnotherProcess other(Path(), o);
    ASSERT_TRUE(other.opened());
    auto r = DB::ChangeSettings(Path(), values, SettingSet{Setting::kSlotDepth});
    ASSERT_CODE(r, kUnavailable);
    EXPECT_NE(r.status().message().find("process " + std::to_string(other.pid())),
              std::string::npos)
        << r.status().ToString();
  }
  EXPECT_EQ(RawRecord(), before) << "a refused change wrote";
  // Once it is gone the change goes through.
  ASSERT_OK(DB::ChangeSettings(Path(), values, SettingSet{Setting::kSlotDepth}));
  Options want = Relaxed();
  want.slot_depth = 4;
  EXPECT_OK(DB::Open(Path(), want));
}

TEST_F(SettingsTest, LowerSlotDepthAppliesToTheNextPost) {
  Options o = Relaxed();
  o.slot_depth = 3;
  MailboxKey a, b;
  std::vector<MessageId> ids;
  {
    auto db = DB::Open(Path(), o);
    ASSERT_OK(db);
    a = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    b = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    ASSERT_OK((*db)->Connect(a, b));
    for (int i = 0; i < 3; ++i) {
      PostRequest r{
          .from = a, .to = b, .id = MessageId::Random(), .topic = "", .meta = "", .bytes = "x"};
      ASSERT_OK((*db)->PostMessage(r));
      ids.push_back(r.id);
    }
  }
  o.slot_depth = 1;
  ASSERT_OK(DB::ChangeSettings(Path(), o, SettingSet{Setting::kSlotDepth}));
  auto db = DB::Open(Path(), o);
  ASSERT_OK(db);
  for (const auto& id : ids) EXPECT_OK((*db)->GetMessage(b, id));  // nothing changed yet
  PostRequest r{
      .from = a, .to = b, .id = MessageId::Random(), .topic = "", .meta = "", .bytes = "y"};
  ASSERT_OK((*db)->PostMessage(r));
  for (const auto& id : ids) EXPECT_CODE((*db)->GetMessage(b, id), kGone);
  EXPECT_OK((*db)->GetMessage(b, r.id));
}

TEST_F(SettingsTest, LowerSizeLimitKeepsStoredItems) {
  MailboxKey a;
  const std::string big(100, 'v');
  {
    auto db = DB::Open(Path(), Relaxed());
    ASSERT_OK(db);
    a = test::Must((*db)->CreateMailbox(), "CreateMailbox").mkey;
    ASSERT_OK((*db)->PutEntry(a, "k", big));
  }
  Options o = Relaxed();
  o.max_value_size = 10;
  ASSERT_OK(DB::ChangeSettings(Path(), o, SettingSet{Setting::kMaxValueSize}));
  auto db = DB::Open(Path(), o);
  ASSERT_OK(db);
  ASSERT_OK_AND_ASSIGN(EntryInfo e, (*db)->GetEntry(a, "k"));
  EXPECT_EQ(e.value, big);
  ASSERT_OK_AND_ASSIGN(InfoPacket p, (*db)->Changes(a, 0, 0));
  ASSERT_EQ(p.entries.size(), 1u);
  EXPECT_EQ(p.entries[0].value, big);
  EXPECT_CODE((*db)->PutEntry(a, "k", big), kTooLarge);
  EXPECT_OK((*db)->PutEntry(a, "k", "small"));
}

TEST(SettingInfoTest, NamesRoundTripAndFormatsAreExact) {
  for (const SettingInfo& info : RememberedSettings()) {
    ASSERT_NE(FindSetting(info.name), nullptr);
    EXPECT_EQ(FindSetting(info.name)->setting, info.setting);
    EXPECT_EQ(InfoOf(info.setting).name, info.name);
    Options o;
    SetSetting(&o, info.setting, info.max);
    EXPECT_EQ(GetSetting(o, info.setting), info.max) << info.name;
  }
  EXPECT_EQ(FindSetting("max_chunk_size"), nullptr) << "per-open, not remembered";
  EXPECT_EQ(FormatSetting(Setting::kMaxBlobSize, 256u << 20), "256MiB");
  EXPECT_EQ(FormatSetting(Setting::kMaxBlobSize, 1000), "1000B");
  EXPECT_EQ(FormatSetting(Setting::kMaxValueSize, 0), "0B");
  EXPECT_EQ(FormatSetting(Setting::kTombstoneHorizon, 30ull * 86'400'000), "30d");
  EXPECT_EQ(FormatSetting(Setting::kUploadTtl, 90'000), "90s");
  EXPECT_EQ(FormatSetting(Setting::kPostingPolicy, 1), "open");
  EXPECT_EQ(SettingSet::All(),
            (SettingSet{Setting::kSlotDepth, Setting::kPostingPolicy, Setting::kTombstoneHorizon,
                        Setting::kUploadTtl, Setting::kMaxKeySize, Setting::kMaxValueSize,
                        Setting::kMaxTopicSize, Setting::kMaxMetaSize, Setting::kMaxPushTokenSize,
                        Setting::kMaxBlobSize}));
}

// A few values per setting, so that two random picks are often equal.
uint64_t PickValue(Setting s) {
  switch (s) {
    case Setting::kSlotDepth:
      return *rc::gen::element<uint64_t>(1, 2, 5);
    case Setting::kPostingPolicy:
      return *rc::gen::element<uint64_t>(0, 1);
    case Setting::kTombstoneHorizon:
    case Setting::kUploadTtl:
      return *rc::gen::element<uint64_t>(0, 1000, 86'400'000);
    case Setting::kMaxKeySize:
      return *rc::gen::element<uint64_t>(1, 256, 495);
    case Setting::kMaxTopicSize:
      return *rc::gen::element<uint64_t>(0, 64, 255);
    case Setting::kMaxMetaSize:
      return *rc::gen::element<uint64_t>(0, 1024, 65535);
    default:
      return *rc::gen::element<uint64_t>(0, 4096, uint64_t{1} << 30);
  }
}

Options PickSettings() {
  Options o = Relaxed();
  for (const SettingInfo& info : RememberedSettings()) {
    SetSetting(&o, info.setting, PickValue(info.setting));
  }
  return o;
}

// Against a model: an open succeeds exactly when every setting it does not
// adopt equals the stored one; it then runs with the stored values; a refusal
// names exactly the differing settings, each with both values, and changes
// nothing.
RC_GTEST_PROP(SettingsProperty, OpenAgreesWithTheModel, ()) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  const Options stored = PickSettings();
  RC_ASSERT(DB::Open(path, stored).ok());
  Options asked = PickSettings();
  asked.read_only = *rc::gen::arbitrary<bool>();
  for (const SettingInfo& info : RememberedSettings()) {
    if (*rc::gen::arbitrary<bool>()) asked.adopt_stored.Add(info.setting);
  }
  // A change first, sometimes: the model's stored values follow it.
  Options now = stored;
  if (*rc::gen::arbitrary<bool>()) {
    const Options values = PickSettings();
    SettingSet which;
    for (const SettingInfo& info : RememberedSettings()) {
      if (*rc::gen::arbitrary<bool>()) {
        which.Add(info.setting);
        SetSetting(&now, info.setting, GetSetting(values, info.setting));
      }
    }
    auto before = DB::ChangeSettings(path, values, which);
    RC_ASSERT(before.ok());
    for (const SettingInfo& info : RememberedSettings()) {
      RC_ASSERT(GetSetting(*before, info.setting) == GetSetting(stored, info.setting));
    }
  }
  std::vector<const SettingInfo*> differ;
  for (const SettingInfo& info : RememberedSettings()) {
    if (!asked.adopt_stored.Has(info.setting) &&
        GetSetting(asked, info.setting) != GetSetting(now, info.setting)) {
      differ.push_back(&info);
    }
  }
  auto db = DB::Open(path, asked);
  if (differ.empty()) {
    RC_ASSERT(db.ok());
    for (const SettingInfo& info : RememberedSettings()) {
      RC_ASSERT(GetSetting((*db)->options(), info.setting) == GetSetting(now, info.setting));
    }
    RC_ASSERT((*db)->settings_note().empty());
    return;
  }
  RC_ASSERT(db.status().Is(Code::kInvalidArgument));
  const std::string msg(db.status().message());
  for (const SettingInfo& info : RememberedSettings()) {
    const bool named = msg.find(std::string(info.name) + " is ") != std::string::npos;
    const bool differs = std::find(differ.begin(), differ.end(), &info) != differ.end();
    RC_ASSERT(named == differs);
    if (differs) {
      const std::string both =
          std::string(info.name) + " is " +
          FormatSetting(info.setting, GetSetting(now, info.setting)) + " in the store, " +
          FormatSetting(info.setting, GetSetting(asked, info.setting)) + " asked";
      RC_ASSERT(msg.find(both) != std::string::npos);
    }
  }
  // Nothing changed: the stored values still open.
  RC_ASSERT(DB::Open(path, now).ok());
}

}  // namespace
}  // namespace postbox
