// What every postbox-admin command shares: the global flags, the store opener,
// argument helpers and the exit codes. Not thread-safe; the tool is one thread.
#ifndef POSTBOX_SERVER_SHIM_ADMIN_CLI_H_
#define POSTBOX_SERVER_SHIM_ADMIN_CLI_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "admin/format.h"
#include "postbox/db.h"

namespace postbox::admin {

// Exit codes, documented in docs/admin.md so scripts can rely on them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the store refused or failed the operation
inline constexpr int kExitUsage = 2;    // bad arguments; nothing was touched

// The flags that come before (or after) any command.
struct GlobalFlags {
  std::string data_dir = "./data";
  bool json = false;
  // The live server's admin API (server_api.h, docs/operations.md "Live
  // stats"): HOST:PORT of its HTTP listener (http), or https://HOST:PORT;
  // the token from a file or POSTBOX_ADMIN_TOKEN (never a flag: flags are
  // visible in the process list); the CA that signed an https listener.
  std::string server;
  std::string token_file;
  std::string ca_file;
};

enum class Access { kReadOnly, kReadWrite };

// The environment a command runs in: global flags and the way to the store.
class Context {
 public:
  explicit Context(GlobalFlags flags) : flags_(std::move(flags)) {}

  bool json() const { return flags_.json; }
  const GlobalFlags& flags() const { return flags_; }
  const std::string& data_dir() const { return flags_.data_dir; }
  // True when --server names a live server: kStoreOrServer commands go through
  // its admin API (server_api.h) and leave --data alone.
  bool remote() const { return !flags_.server.empty(); }

  // Opens the existing store in --data. NotFound, with a hint to run `init`,
  // when the folder is missing or empty: a mistyped --data must not silently
  // create a second store. Read commands pass kReadOnly so they never take the
  // writer lock from a running server. The remembered settings (settings.h)
  // are the store's, except those in `given` (the operator's flags): their
  // values in `options` must match the store's, or the open fails with
  // InvalidArgument naming both. What opening wrote about the settings (an
  // older store adopting them) is noted on stderr.
  Result<std::unique_ptr<DB>> OpenStore(Access access, Options options = {},
                                        SettingSet given = {}) const;
  // OpenStore's check alone: NotFound, naming `init`, unless --data holds a store.
  Status RequireStore() const;
  // Opens the store in --data, creating folder and store when missing.
  Result<std::unique_ptr<DB>> CreateStore() const;

  // Writes `doc` to stdout: the command's single JSON document.
  void EmitJson(const Json& doc) const;
  // Reports a failed operation: the Status on stderr and, under --json, an
  // {"error": ...} document on stdout so scripts always get one document.
  void ReportError(const Status& status) const;

 private:
  GlobalFlags flags_;
};

// A command's action; runs only after the whole command line parsed.
using Command = std::function<Status(const Context&)>;

// What a command works on, which decides whether it takes --server.
enum class Target {
  kStore,          // the store folder (--data) only: --server is refused
  kServer,         // the live server's admin API only: --server is required
  kStoreOrServer,  // the admin API when --server is given, else the store folder
  kNeither,        // its own arguments only (tls-pin): --server is ignored
};

// The command the command line chose.
struct Selected {
  std::string name;  // "mailbox create", for messages
  Target target = Target::kStore;
  Command run;

  // InvalidArgument, naming the command, when --server is given to a kStore
  // command or missing for a kServer one: a usage error (kExitUsage), found
  // before anything is touched.
  Status CheckTarget(const GlobalFlags& flags) const;
};

// Makes `command` the action to run when `sub` is the subcommand chosen. Actions
// are deferred (not run from CLI11's callback) so that a usage error anywhere on
// the line stops the tool before it touches the store.
void OnSelected(CLI::App* sub, Selected* selected, Command command, Target target = Target::kStore);
// What OnSelected's callback does, for commands whose own callback first checks
// their arguments.
void Select(const CLI::App* sub, Selected* selected, Command command,
            Target target = Target::kStore);

// Every unsigned option also gets CLI::NonNegativeNumber: CLI11 2.1 would
// otherwise wrap "-1" to 2^64 - 1 (a version no later put could ever beat).

// Adds a required positional that must be 32 hex characters (a mailbox key or
// message id); the value is stored lowercased.
CLI::Option* AddHexArg(CLI::App* cmd, const std::string& name, std::string* out,
                       const std::string& description);
// The validator behind AddHexArg, for options such as --from.
const CLI::Validator& Hex32();

// Reads the whole file at `path` ("-" reads stdin). TooLarge past `max_size`
// bytes, checked before reading so a huge file is not loaded; Unavailable if
// it cannot be read.
Result<std::string> ReadInput(const std::string& path, uint64_t max_size);

// Drops the extra item a list command fetched to learn whether more follow.
// Returns true when there was one.
template <typename T>
bool TrimPage(std::vector<T>* items, size_t limit) {
  if (items->size() <= limit) return false;
  items->resize(limit);
  return true;
}

// The command groups, one file each.
void AddStoreCommands(CLI::App* app, Selected* selected);     // init, stats, purge
void AddMailboxCommands(CLI::App* app, Selected* selected);   // mailbox, connections, push
void AddEntryCommands(CLI::App* app, Selected* selected);     // entry put|get|list|delete
void AddMessageCommands(CLI::App* app, Selected* selected);   // post, status, changes
void AddEndpointCommands(CLI::App* app, Selected* selected);  // endpoint add|list|revoke
void AddTlsCommands(CLI::App* app, Selected* selected);       // tls-pin
void AddLiveCommands(CLI::App* app, Selected* selected);      // sessions, viewers, transfers, kick
void AddSettingsCommands(CLI::App* app, Selected* selected);  // settings show|set
void AddBackupCommands(CLI::App* app, Selected* selected);    // backup, restore

// Parses "<number>[ms|s|m|h|d]" (no unit means seconds) into milliseconds.
bool ParseDuration(std::string_view text, std::chrono::milliseconds* out);

}  // namespace postbox::admin

#endif  // POSTBOX_SERVER_SHIM_ADMIN_CLI_H_
