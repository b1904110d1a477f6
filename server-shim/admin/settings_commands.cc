// The settings the store remembers (postbox/settings.h, docs/operations.md):
// settings show, settings set NAME VALUE.
#include <charconv>
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"
#include "postbox/settings.h"

namespace postbox::admin {
namespace {

// Parses `text` as a value of `info`'s kind: a count; bytes as <n>[B|KiB|MiB|GiB];
// a duration as <n>[ms|s|m|h|d] (bare: seconds, as the tool's other
// durations); the policy as connected or open. An error message, or empty.
std::string ParseValue(const SettingInfo& info, const std::string& text, uint64_t* out) {
  if (info.kind == SettingKind::kPolicy) {
    if (text == "connected" || text == "open") {
      *out = text == "open" ? 1 : 0;
      return "";
    }
    return "posting_policy is connected or open, not '" + text + "'";
  }
  if (info.kind == SettingKind::kDuration) {
    std::chrono::milliseconds d{};
    if (!ParseDuration(text, &d)) {
      return std::string(info.name) + " is a duration <n>[ms|s|m|h|d], not '" + text + "'";
    }
    *out = static_cast<uint64_t>(d.count());
  } else {
    uint64_t number = 0;
    const auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    const std::string_view unit(rest, static_cast<size_t>(text.data() + text.size() - rest));
    uint64_t scale = 0;
    if (unit.empty() || (info.kind == SettingKind::kBytes && unit == "B")) scale = 1;
    if (info.kind == SettingKind::kBytes && unit == "KiB") scale = uint64_t{1} << 10;
    if (info.kind == SettingKind::kBytes && unit == "MiB") scale = uint64_t{1} << 20;
    if (info.kind == SettingKind::kBytes && unit == "GiB") scale = uint64_t{1} << 30;
    if (error != std::errc() || rest == text.data() || scale == 0 || number > UINT64_MAX / scale) {
      return std::string(info.name) +
             (info.kind == SettingKind::kBytes ? " is a size <n>[B|KiB|MiB|GiB]"
                                               : " is a whole number") +
             ", not '" + text + "'";
    }
    *out = number * scale;
  }
  if (*out < info.min || *out > info.max) {
    return std::string(info.name) + " must be " + FormatSetting(info.setting, info.min) + " to " +
           FormatSetting(info.setting, info.max) + ", not " + text;
  }
  return "";
}

// What a change means for what is stored already (docs/operations.md).
std::string_view Consequence(Setting setting) {
  switch (setting) {
    case Setting::kSlotDepth:
      return "applies to new posts: a post into a slot holding more live messages supersedes the "
             "oldest down to the new depth";
    case Setting::kPostingPolicy:
      return "applies to new posts; stored messages stay";
    case Setting::kTombstoneHorizon:
      return "the next purge uses it; tombstones already purged do not come back";
    case Setting::kUploadTtl:
      return "the next sweep uses it, also for uploads in progress";
    default:
      return "applies to new writes; stored items stay as they are, whatever their size";
  }
}

Json SettingJson(const SettingInfo& info, uint64_t value) {
  if (info.kind == SettingKind::kPolicy) return FormatSetting(info.setting, value);
  return value;
}

// JSON names: durations carry their unit.
std::string JsonName(const SettingInfo& info) {
  return std::string(info.name) + (info.kind == SettingKind::kDuration ? "_ms" : "");
}

Status Show(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  const Options& o = db->options();
  // Read-only, a note means the store has not stored (all of) them yet.
  const bool stored = db->settings_note().empty();
  if (ctx.json()) {
    Json settings = Json::object();
    for (const SettingInfo& info : RememberedSettings()) {
      settings[JsonName(info)] = SettingJson(info, GetSetting(o, info.setting));
    }
    ctx.EmitJson({{"settings", settings}, {"stored", stored}});
    return Status::Ok();
  }
  for (const SettingInfo& info : RememberedSettings()) {
    std::string name(info.name);
    name.resize(21, ' ');
    std::cout << name << FormatSetting(info.setting, GetSetting(o, info.setting)) << '\n';
  }
  if (!stored) std::cout << "(" << db->settings_note() << ")\n";
  return Status::Ok();
}

struct SetArgs {
  std::string name;
  std::string value;
  uint64_t parsed = 0;  // set once the command line checked out
};

Status Set(const Context& ctx, const SetArgs& args) {
  POSTBOX_RETURN_IF_ERROR(ctx.RequireStore());
  const SettingInfo& info = *FindSetting(args.name);
  Options values;
  SetSetting(&values, info.setting, args.parsed);
  POSTBOX_ASSIGN_OR_RETURN(Options before,
                           DB::ChangeSettings(ctx.data_dir(), values, SettingSet{info.setting}));
  const uint64_t old_value = GetSetting(before, info.setting);
  if (ctx.json()) {
    ctx.EmitJson({{"name", info.name},
                  {"before", SettingJson(info, old_value)},
                  {"after", SettingJson(info, args.parsed)},
                  {"unit", info.kind == SettingKind::kDuration ? "ms"
                           : info.kind == SettingKind::kBytes  ? "bytes"
                                                               : ""}});
  } else {
    std::cout << info.name << ": " << FormatSetting(info.setting, old_value) << " -> "
              << FormatSetting(info.setting, args.parsed) << " (" << Consequence(info.setting)
              << ")\n";
  }
  return Status::Ok();
}

}  // namespace

void AddSettingsCommands(CLI::App* app, Selected* selected) {
  CLI::App* settings = app->add_subcommand(
      "settings", "Show or change the settings the store remembers (slot depth, policy, limits)");
  settings->require_subcommand(1);
  OnSelected(settings->add_subcommand("show", "Show the settings the store remembers"), selected,
             Show);

  std::vector<std::string> names;
  for (const SettingInfo& info : RememberedSettings()) names.emplace_back(info.name);
  auto args = std::make_shared<SetArgs>();
  CLI::App* set = settings->add_subcommand(
      "set",
      "Change a remembered setting; no process (no server) may have the store open. Sizes "
      "<n>[B|KiB|MiB|GiB], durations <n>[ms|s|m|h|d], the policy connected or open");
  set->add_option("name", args->name, "The setting")->required()->check(CLI::IsMember(names));
  set->add_option("value", args->value, "Its new value")->required();
  // The value's form depends on the name, so it is checked once both are in;
  // a ValidationError here is a usage error (exit 2) like any other.
  set->callback([set, selected, args] {
    const std::string error = ParseValue(*FindSetting(args->name), args->value, &args->parsed);
    if (!error.empty()) throw CLI::ValidationError("value", error);
    Select(set, selected, [args](const Context& ctx) { return Set(ctx, *args); });
  });
}

}  // namespace postbox::admin
