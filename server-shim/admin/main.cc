// postbox-admin: inspect and change a postbox store from the command line. The
// commands live in *_commands.cc; this file wires the global flags, parses and
// maps outcomes to exit codes (0 ok, 1 operation failed, 2 usage).
#include <exception>
#include <iostream>

#include "admin/cli.h"

int main(int argc, char** argv) {
  using namespace postbox::admin;  // NOLINT(build/namespaces): a tool's main.

  CLI::App app(
      "postbox-admin: inspect and change a postbox store (an LMDB folder), also while "
      "a server has it open.",
      "postbox-admin");
  // Inherited by every subcommand (so set before adding them): global flags may
  // follow the command, as in `postbox-admin mailbox list --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every command and exit");
  app.footer(
      "Exit status: 0 success, 1 the operation failed (the error is printed), 2 bad "
      "arguments.\nSee docs/admin.md for every command with an example.");

  GlobalFlags flags;
  app.add_option("--data", flags.data_dir, "Store folder (the server's --data)")
      ->capture_default_str();
  app.add_flag("--json", flags.json, "Print one JSON document on stdout instead of text");
  app.add_option("--server", flags.server,
                 "The live server's HTTP listener, HOST:PORT or https://HOST:PORT: mailbox, "
                 "connect, disconnect and connections go through its admin API instead of "
                 "--data; sessions, viewers, transfers and kick need it");
  app.add_option("--token-file", flags.token_file,
                 "File holding the server's admin token (default: $POSTBOX_ADMIN_TOKEN)");
  app.add_option("--ca-file", flags.ca_file, "CA certificates for an https:// --server");

  Selected selected;
  AddStoreCommands(&app, &selected);
  AddMailboxCommands(&app, &selected);
  AddEntryCommands(&app, &selected);
  AddMessageCommands(&app, &selected);
  AddEndpointCommands(&app, &selected);
  AddTlsCommands(&app, &selected);
  AddLiveCommands(&app, &selected);
  AddSettingsCommands(&app, &selected);
  AddBackupCommands(&app, &selected);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help returns 0 and prints to stdout; every real parse error is usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  const Context context(flags);
  if (const postbox::Status status = selected.CheckTarget(flags); !status.ok()) {
    context.ReportError(status);
    return kExitUsage;
  }
  try {
    const postbox::Status status = selected.run(context);
    if (!status.ok()) {
      context.ReportError(status);
      return kExitFailure;
    }
  } catch (const std::exception& e) {
    // Only allocation failures and library bugs get here; say so rather than abort.
    context.ReportError(postbox::Status::Internal(e.what()));
    return kExitFailure;
  }
  return kExitOk;
}
