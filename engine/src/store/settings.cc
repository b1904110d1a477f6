// The remembered settings: their table (postbox/settings.h), their record in
// meta["settings"], DB::Open's check and DB::ChangeSettings.
#include "store/settings.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "postbox/db.h"
#include "store/codec.h"

namespace postbox {
namespace {

// Durations are bounded so that `now - horizon` and `now + ttl` never wrap
// (2^52 ms is 142,000 years).
constexpr uint64_t kMaxDurationMs = uint64_t{1} << 52;
constexpr uint64_t kMaxBytes = uint64_t{1} << 50;

// The order postbox-admin shows them in.
constexpr std::array<SettingInfo, 10> kSettings = {{
    {Setting::kSlotDepth, "slot_depth", SettingKind::kCount, 1, UINT32_MAX},
    {Setting::kPostingPolicy, "posting_policy", SettingKind::kPolicy, 0, 1},
    {Setting::kTombstoneHorizon, "tombstone_horizon", SettingKind::kDuration, 0, kMaxDurationMs},
    {Setting::kUploadTtl, "upload_ttl", SettingKind::kDuration, 0, kMaxDurationMs},
    // An entry's LMDB key is the 16-byte mailbox key and the entry key, and
    // LMDB's keys hold at most 511 bytes.
    {Setting::kMaxKeySize, "max_key_size", SettingKind::kBytes, 1, 511 - 16},
    {Setting::kMaxValueSize, "max_value_size", SettingKind::kBytes, 0, kMaxBytes},
    // Stored with a one-byte length in slot keys.
    {Setting::kMaxTopicSize, "max_topic_size", SettingKind::kBytes, 0, 255},
    // Stored with a two-byte length in message records.
    {Setting::kMaxMetaSize, "max_meta_size", SettingKind::kBytes, 0, 65535},
    {Setting::kMaxPushTokenSize, "max_push_token_size", SettingKind::kBytes, 0, kMaxBytes},
    {Setting::kMaxBlobSize, "max_blob_size", SettingKind::kBytes, 0, kMaxBytes},
}};

// The largest unit that writes `value` exactly.
std::string WithUnit(uint64_t value, std::initializer_list<std::pair<uint64_t, const char*>> units,
                     const char* base) {
  if (value != 0) {
    for (const auto& [scale, name] : units) {
      if (value % scale == 0) return std::to_string(value / scale) + name;
    }
  }
  return std::to_string(value) + base;
}

}  // namespace

std::span<const SettingInfo> RememberedSettings() { return kSettings; }

const SettingInfo* FindSetting(std::string_view name) {
  for (const SettingInfo& info : kSettings) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const SettingInfo& InfoOf(Setting setting) {
  for (const SettingInfo& info : kSettings) {
    if (info.setting == setting) return info;
  }
  return kSettings.front();  // unreachable for a Setting of this build
}

uint64_t GetSetting(const Options& o, Setting setting) {
  switch (setting) {
    case Setting::kSlotDepth:
      return o.slot_depth;
    case Setting::kPostingPolicy:
      return o.posting_policy == PostingPolicy::kOpen ? 1 : 0;
    case Setting::kTombstoneHorizon:
      return static_cast<uint64_t>(o.tombstone_horizon.count());
    case Setting::kUploadTtl:
      return static_cast<uint64_t>(o.upload_ttl.count());
    case Setting::kMaxKeySize:
      return o.max_key_size;
    case Setting::kMaxValueSize:
      return o.max_value_size;
    case Setting::kMaxTopicSize:
      return o.max_topic_size;
    case Setting::kMaxMetaSize:
      return o.max_meta_size;
    case Setting::kMaxPushTokenSize:
      return o.max_push_token_size;
    case Setting::kMaxBlobSize:
      return o.max_blob_size;
  }
  return 0;
}

void SetSetting(Options* o, Setting setting, uint64_t v) {
  switch (setting) {
    case Setting::kSlotDepth:
      o->slot_depth = static_cast<uint32_t>(v);
      break;
    case Setting::kPostingPolicy:
      o->posting_policy = v == 1 ? PostingPolicy::kOpen : PostingPolicy::kConnected;
      break;
    case Setting::kTombstoneHorizon:
      o->tombstone_horizon = std::chrono::milliseconds(static_cast<int64_t>(v));
      break;
    case Setting::kUploadTtl:
      o->upload_ttl = std::chrono::milliseconds(static_cast<int64_t>(v));
      break;
    case Setting::kMaxKeySize:
      o->max_key_size = v;
      break;
    case Setting::kMaxValueSize:
      o->max_value_size = v;
      break;
    case Setting::kMaxTopicSize:
      o->max_topic_size = v;
      break;
    case Setting::kMaxMetaSize:
      o->max_meta_size = v;
      break;
    case Setting::kMaxPushTokenSize:
      o->max_push_token_size = v;
      break;
    case Setting::kMaxBlobSize:
      o->max_blob_size = v;
      break;
  }
}

std::string FormatSetting(Setting setting, uint64_t value) {
  switch (InfoOf(setting).kind) {
    case SettingKind::kCount:
      return std::to_string(value);
    case SettingKind::kPolicy:
      if (value == 0) return "connected";
      if (value == 1) return "open";
      return "policy #" + std::to_string(value);
    case SettingKind::kDuration:
      return WithUnit(value, {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}},
                      "ms");
    case SettingKind::kBytes:
      return WithUnit(value, {{uint64_t{1} << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}, "B");
  }
  return std::to_string(value);
}

namespace store {
namespace {

// "max_topic_size must be 0 to 255B, not 300B".
std::string OutOfRange(const SettingInfo& info, uint64_t value) {
  return std::string(info.name) + " must be " + FormatSetting(info.setting, info.min) + " to " +
         FormatSetting(info.setting, info.max) + ", not " + FormatSetting(info.setting, value);
}

// Within the setting's range (which the Options field can also hold).
bool InRange(const SettingInfo& info, uint64_t value) {
  return value >= info.min && value <= info.max;
}

}  // namespace

Status ValidateSettings(const Options& options, SettingSet which) {
  for (const SettingInfo& info : kSettings) {
    if (!which.Has(info.setting)) continue;
    const uint64_t v = GetSetting(options, info.setting);
    // A negative duration reads as a huge number and fails here too.
    if (!InRange(info, v)) return Status::InvalidArgument(OutOfRange(info, v));
  }
  if (options.posting_policy != PostingPolicy::kConnected &&
      options.posting_policy != PostingPolicy::kOpen) {
    return Status::InvalidArgument("posting_policy must be connected or open");
  }
  return Status();
}

// The record: u16 count, then per setting u16 id and u64 value
// (little-endian). Self-describing, so a later build can add settings and
// still read this one's record (it adopts the opener's value for a setting
// the record lacks).
Result<std::optional<StoredSettings>> ReadSettings(const Txn& t, const std::string& path) {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().meta, kSettingsName));
  if (!raw) return std::optional<StoredSettings>();
  const std::string where = "the settings record of the store in " + path;
  RecordReader r(*raw);
  const uint16_t n = r.U16();
  StoredSettings out;
  for (uint16_t i = 0; i < n && r.ok(); ++i) {
    const uint16_t id = r.U16();
    const uint64_t value = r.U64();
    if (!r.ok()) break;
    const SettingInfo* info = nullptr;
    for (const SettingInfo& s : kSettings) {
      if (static_cast<uint16_t>(s.setting) == id) info = &s;
    }
    if (info == nullptr) {
      return Status::Internal(where + " holds setting #" + std::to_string(id) +
                              ", which this build does not know (a newer postbox wrote it?)");
    }
    if (!InRange(*info, value)) return Status::Internal(where + ": " + OutOfRange(*info, value));
    if (!out.emplace(info->setting, value).second) {
      return Status::Internal(where + " holds " + std::string(info->name) + " twice");
    }
  }
  if (!r.ok() || !r.done()) return Status::Internal(where + " is malformed");
  return std::optional<StoredSettings>(std::move(out));
}

Status WriteSettings(Txn& t, const Options& options) {
  std::string record;
  RecordWriter w(&record);
  w.U16(static_cast<uint16_t>(kSettings.size()));
  for (const SettingInfo& info : kSettings) {
    w.U16(static_cast<uint16_t>(info.setting)).U64(GetSetting(options, info.setting));
  }
  return t.Put(t.t().meta, kSettingsName, record);
}

std::string DescribeSettings(const Options& options, SettingSet which) {
  std::string out;
  for (const SettingInfo& info : kSettings) {
    if (!which.Has(info.setting)) continue;
    if (!out.empty()) out += ", ";
    out += std::string(info.name) + "=" +
           FormatSetting(info.setting, GetSetting(options, info.setting));
  }
  return out;
}

Status CheckSettings(Txn& t, const Options& asked, bool created, bool read_only,
                     const std::string& path, Options* in_force, std::string* note) {
  POSTBOX_ASSIGN_OR_RETURN(auto stored, ReadSettings(t, path));
  std::string differ;
  SettingSet missing;
  for (const SettingInfo& info : kSettings) {
    std::optional<uint64_t> have;
    if (stored) {
      const auto it = stored->find(info.setting);
      if (it != stored->end()) have = it->second;
    }
    if (!have) {
      missing.Add(info.setting);
      continue;
    }
    if (asked.adopt_stored.Has(info.setting)) {
      SetSetting(in_force, info.setting, *have);
    } else if (GetSetting(asked, info.setting) != *have) {
      if (!differ.empty()) differ += "; ";
      differ += std::string(info.name) + " is " + FormatSetting(info.setting, *have) +
                " in the store, " + FormatSetting(info.setting, GetSetting(asked, info.setting)) +
                " asked";
    }
  }
  if (!differ.empty()) {
    return Status::InvalidArgument(
        "the store in " + path + " remembers other settings than this open asks for: " + differ +
        " (ask for the stored values or leave them to the store, or change them while no "
        "process has the store open: postbox-admin settings set NAME VALUE)");
  }
  if (missing.empty()) return Status();
  const std::string values = DescribeSettings(*in_force, missing);
  if (read_only) {
    *note = "the store remembers no " +
            std::string(stored ? "value for some settings" : "settings") +
            " (it was made before stores remembered them) and was opened read-only, so nothing "
            "was written; in force: " +
            values;
    return Status();
  }
  if (created) {
    *note = "a new store; it remembers " + values;
  } else if (!stored) {
    *note =
        "the store remembered no settings (it was made before stores remembered them); it "
        "remembers this open's from now on: " +
        values;
  } else {
    *note = "the store did not remember every setting; from now on it remembers " + values;
  }
  return WriteSettings(t, *in_force);
}

}  // namespace store

Result<Options> DB::ChangeSettings(const std::string& path, const Options& values,
                                   SettingSet which) {
  POSTBOX_RETURN_IF_ERROR(store::ValidateSettings(values, which));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::path(path) / "data.mdb", ec)) {
    return Status::NotFound("no postbox store in " + path);
  }
  if (store::OpenInThisProcess(path) > 0) {
    return Status::Unavailable("the store in " + path +
                               " is open in this process: close it before changing its settings");
  }
  Options o;  // durable: the change is synced before this returns
  POSTBOX_ASSIGN_OR_RETURN(auto env, store::Env::Open(path, o));
  Options before;
  POSTBOX_RETURN_IF_ERROR(env->Write([&](store::Txn& t) -> Status {
    // Inside the write transaction: a process that opens the store from now
    // on waits for this commit in its own open transaction and reads the new
    // values; one that has it open already holds LMDB's lock and is seen.
    POSTBOX_ASSIGN_OR_RETURN(int64_t holder, env->OtherProcessHolding());
    if (holder != 0) {
      return Status::Unavailable(
          "the store in " + path + " is open in " +
          (holder > 0 ? "process " + std::to_string(holder) : std::string("another process")) +
          ", which would go on with the old settings: stop it (the server too) first");
    }
    POSTBOX_ASSIGN_OR_RETURN(auto stored, store::ReadSettings(t, path));
    // A setting the store lacks counts as the engine's default.
    if (stored) {
      for (const auto& [setting, value] : *stored) SetSetting(&before, setting, value);
    }
    Options after = before;
    for (const SettingInfo& info : kSettings) {
      if (which.Has(info.setting)) {
        SetSetting(&after, info.setting, GetSetting(values, info.setting));
      }
    }
    return store::WriteSettings(t, after);
  }));
  return before;
}

}  // namespace postbox
