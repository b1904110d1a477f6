// The remembered settings in the store (postbox/settings.h): their record in
// the meta table, the check DB::Open runs against them, and their ranges.
// The record's layout is in KEY_LAYOUT.md ("meta").
#ifndef POSTBOX_STORE_SETTINGS_H_
#define POSTBOX_STORE_SETTINGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/settings.h"
#include "postbox/status.h"
#include "store/env.h"

namespace postbox::store {

inline constexpr std::string_view kSettingsName = "settings";

using StoredSettings = std::map<Setting, uint64_t>;

// OK if every remembered setting of `options` in `which` is within its
// range; InvalidArgument naming the first that is not, with the range.
Status ValidateSettings(const Options& options, SettingSet which = SettingSet::All());

// The settings record (meta["settings"]), nullopt when the store has none.
// Internal for a malformed record, a setting this build does not know, or a
// value out of its range (a damaged or hostile store), naming `path`.
Result<std::optional<StoredSettings>> ReadSettings(const Txn& t, const std::string& path);
// Writes every remembered setting of `options` as the record.
Status WriteSettings(Txn& t, const Options& options);

// DB::Open's check, in the open transaction: every remembered setting the
// store has is compared with `asked` (InvalidArgument naming each differing
// one with both values) or, when in asked.adopt_stored, copied into
// `*in_force`. Settings the store lacks keep `asked`'s values, which are
// written (unless `read_only`); `*note` then says so. `created`: the store is
// new.
Status CheckSettings(Txn& t, const Options& asked, bool created, bool read_only,
                     const std::string& path, Options* in_force, std::string* note);

// "slot_depth=1, posting_policy=connected, ..." for the settings in `which`.
std::string DescribeSettings(const Options& options, SettingSet which = SettingSet::All());

}  // namespace postbox::store

#endif  // POSTBOX_STORE_SETTINGS_H_
