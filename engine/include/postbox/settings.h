// The settings a store remembers (docs/operations.md, "Settings the store
// remembers"): the options that decide what stored data means or may hold.
// They are written into the store when it is created and every later open
// checks them (or takes them: Options::adopt_stored), so two processes on one
// store — a server and postbox-admin, say — can never supersede, purge or
// sweep differently. DB::ChangeSettings changes them.
//
// Per-open options (durability, the map size, the storage reserve, the clock,
// the chunk size, counts of pending requests and endpoints) are not remembered:
// they change how this process runs, not what the stored data means.
//
// Everything here is a plain value or a pure function; thread-safe.
#ifndef POSTBOX_SETTINGS_H_
#define POSTBOX_SETTINGS_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace postbox {

struct Options;

// A remembered setting. The numbers are stored in the store's settings
// record: do not renumber.
enum class Setting : uint16_t {
  kSlotDepth = 1,         // Options::slot_depth: what a post supersedes
  kPostingPolicy = 2,     // Options::posting_policy: who may post
  kTombstoneHorizon = 3,  // Options::tombstone_horizon: when 410 becomes 404
  kUploadTtl = 4,         // Options::upload_ttl: when an upload in progress is swept
  kMaxKeySize = 5,        // the size limits: what the store may hold
  kMaxValueSize = 6,
  kMaxTopicSize = 7,
  kMaxMetaSize = 8,
  kMaxPushTokenSize = 9,
  kMaxBlobSize = 10,
};

// A set of remembered settings. A plain value; copy freely.
class SettingSet {
 public:
  constexpr SettingSet() = default;
  constexpr SettingSet(std::initializer_list<Setting> settings) {
    for (Setting s : settings) Add(s);
  }
  // Every remembered setting.
  static constexpr SettingSet All() {
    SettingSet all;
    for (uint16_t s = 1; s <= kLast; ++s) all.Add(static_cast<Setting>(s));
    return all;
  }

  constexpr bool Has(Setting s) const { return (bits_ & Bit(s)) != 0; }
  constexpr SettingSet& Add(Setting s) {
    bits_ |= Bit(s);
    return *this;
  }
  constexpr SettingSet& Remove(Setting s) {
    bits_ &= ~Bit(s);
    return *this;
  }
  constexpr bool empty() const { return bits_ == 0; }
  friend constexpr bool operator==(SettingSet a, SettingSet b) = default;

 private:
  static constexpr uint16_t kLast = static_cast<uint16_t>(Setting::kMaxBlobSize);
  static constexpr uint32_t Bit(Setting s) { return uint32_t{1} << static_cast<uint16_t>(s); }
  uint32_t bits_ = 0;
};

// How a setting's value reads (and how postbox-admin parses one).
enum class SettingKind {
  kCount,     // a plain number
  kBytes,     // a size in bytes
  kDuration,  // milliseconds
  kPolicy,    // PostingPolicy: 0 connected, 1 open
};

struct SettingInfo {
  Setting setting;
  std::string_view name;  // the Options field's name: "slot_depth"
  SettingKind kind;
  // The values DB::Open and DB::ChangeSettings accept (durations in ms).
  uint64_t min;
  uint64_t max;
};

// Every remembered setting, in the order they are shown.
std::span<const SettingInfo> RememberedSettings();
// The setting named `name` ("slot_depth"); nullptr if no remembered setting has that name.
const SettingInfo* FindSetting(std::string_view name);
const SettingInfo& InfoOf(Setting setting);

// The setting's value in `options` as a number: sizes in bytes, durations in
// milliseconds, the posting policy 0 (connected) or 1 (open).
uint64_t GetSetting(const Options& options, Setting setting);
// Sets it; the caller keeps `value` within InfoOf(setting)'s range (DB::Open
// refuses options outside it).
void SetSetting(Options* options, Setting setting, uint64_t value);
// The value for people: "1", "connected", "30d", "1500ms", "256MiB", "1000B".
// Sizes and durations are written in the largest unit that keeps them exact.
std::string FormatSetting(Setting setting, uint64_t value);

}  // namespace postbox

#endif  // POSTBOX_SETTINGS_H_
