#include "admin/cli.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "admin/format.h"

namespace postbox::admin {
namespace {

namespace fs = std::filesystem;

Status NoStore(const std::string& dir) {
  return Status::NotFound("no postbox store in '" + dir +
                          "' (create one with: postbox-admin --data " + dir + " init)");
}

// Notes on stderr what opening wrote about the remembered settings.
Result<std::unique_ptr<DB>> Noted(Result<std::unique_ptr<DB>> db, bool read_only) {
  if (db && !read_only && !(*db)->settings_note().empty()) {
    std::cerr << "postbox-admin: note: " << (*db)->settings_note() << '\n';
  }
  return db;
}

}  // namespace

Status Context::RequireStore() const {
  std::error_code ec;
  if (!fs::is_directory(data_dir(), ec) || fs::is_empty(data_dir(), ec)) {
    return NoStore(data_dir());
  }
  return Status::Ok();
}

Result<std::unique_ptr<DB>> Context::OpenStore(Access access, Options options,
                                               SettingSet given) const {
  POSTBOX_RETURN_IF_ERROR(RequireStore());
  options.read_only = access == Access::kReadOnly;
  options.adopt_stored = SettingSet::All();
  for (const SettingInfo& info : RememberedSettings()) {
    if (given.Has(info.setting)) options.adopt_stored.Remove(info.setting);
  }
  return Noted(DB::Open(data_dir(), options), options.read_only);
}

Result<std::unique_ptr<DB>> Context::CreateStore() const {
  Options options;
  options.adopt_stored = SettingSet::All();
  return Noted(DB::Open(data_dir(), options), false);
}

void Context::EmitJson(const Json& doc) const { std::cout << doc.dump(2) << '\n'; }

void Context::ReportError(const Status& status) const {
  std::cerr << "postbox-admin: " << status.ToString() << '\n';
  if (json()) EmitJson(ToJson(status));
}

Status Selected::CheckTarget(const GlobalFlags& flags) const {
  if (target == Target::kStore && !flags.server.empty()) {
    return Status::InvalidArgument(
        "'" + name +
        "' works on the store folder (--data) only: the server's admin API has no route for "
        "it, so it does not take --server (postbox-admin --help names the commands that do)");
  }
  if (target == Target::kServer && flags.server.empty()) {
    return Status::InvalidArgument("'" + name +
                                   "' talks to a live server: give --server HOST:PORT");
  }
  return Status::Ok();
}

void Select(const CLI::App* sub, Selected* selected, Command command, Target target) {
  // The path below the tool itself: "mailbox create".
  std::string name = sub->get_name();
  for (const CLI::App* up = sub->get_parent(); up && up->get_parent(); up = up->get_parent()) {
    name = up->get_name() + " " + name;
  }
  *selected = {std::move(name), target, std::move(command)};
}

void OnSelected(CLI::App* sub, Selected* selected, Command command, Target target) {
  sub->callback([sub, selected, target, command = std::move(command)] {
    Select(sub, selected, command, target);
  });
}

bool ParseDuration(std::string_view text, std::chrono::milliseconds* out) {
  uint64_t number = 0;
  const auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || rest == text.data()) return false;
  const std::string_view unit(rest, static_cast<size_t>(text.data() + text.size() - rest));
  uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "m") scale = 60 * 1000;
  if (unit == "h") scale = 3600 * 1000;
  if (unit == "d") scale = 24 * 3600 * 1000;
  if (scale == 0 || number > UINT64_MAX / scale / 2) return false;
  *out = std::chrono::milliseconds(static_cast<int64_t>(number * scale));
  return true;
}

const CLI::Validator& Hex32() {
  static const CLI::Validator* validator = new CLI::Validator(
      [](std::string& value) -> std::string {
        const bool hex = std::all_of(value.begin(), value.end(),
                                     [](unsigned char c) { return std::isxdigit(c) != 0; });
        if (value.size() != 32 || !hex) {
          return "expected 32 hex characters, got '" + value + "'";
        }
        std::transform(value.begin(), value.end(), value.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return "";
      },
      "HEX32", "Hex32");
  return *validator;
}

CLI::Option* AddHexArg(CLI::App* cmd, const std::string& name, std::string* out,
                       const std::string& description) {
  return cmd->add_option(name, *out, description)->required()->check(Hex32());
}

Result<std::string> ReadInput(const std::string& path, uint64_t max_size) {
  const auto too_large = [&](uint64_t size) {
    return Status::TooLarge("'" + path + "' has " + std::to_string(size) + " bytes; the limit is " +
                            std::to_string(max_size));
  };
  if (path == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    std::string bytes = std::move(buffer).str();
    if (bytes.size() > max_size) return too_large(bytes.size());
    return bytes;
  }
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return Status::Unavailable("cannot read '" + path + "': " + ec.message());
  if (size > max_size) return too_large(size);
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return Status::Unavailable("cannot read '" + path + "'");
  }
  return bytes;
}

}  // namespace postbox::admin
