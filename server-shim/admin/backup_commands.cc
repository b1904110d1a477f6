// Online backup and restore (docs/operations.md, "Backup and restore"):
// backup DIR, restore BACKUP_DIR [--force].
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

Json InfoJson(const BackupInfo& info) {
  return {{"path", info.path}, {"bytes", info.bytes}, {"stats", ToJson(info.stats)}};
}

// "3 mailboxes, 2 messages, 5 entries".
std::string Counts(const StoreStats& s) {
  return std::to_string(s.mailboxes) + " mailboxes, " + std::to_string(s.messages) + " messages, " +
         std::to_string(s.entries) + " entries";
}

struct BackupArgs {
  std::string dir;
};

// A read-only open is enough: the copy runs in a read transaction, so a
// server on the store goes on writing (and is never blocked by it).
Status Backup(const Context& ctx, const BackupArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(BackupInfo info, db->Backup(args.dir));
  if (ctx.json()) {
    Json doc = InfoJson(info);
    doc["source"] = ctx.data_dir();
    doc["source_bytes"] = info.source_bytes;
    doc["duration_ms"] = info.duration_ms;
    ctx.EmitJson(doc);
  } else {
    std::cout << "backed up " << ctx.data_dir() << " to " << info.path << ": "
              << HumanBytes(info.bytes) << " (the store's file: " << HumanBytes(info.source_bytes)
              << ") in " << info.duration_ms << " ms; " << Counts(info.stats) << '\n';
  }
  return Status::Ok();
}

struct RestoreArgs {
  std::string backup;
  bool force = false;
};

Status Restore(const Context& ctx, const RestoreArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(BackupInfo info, DB::Restore(args.backup, ctx.data_dir(), args.force));
  if (ctx.json()) {
    Json doc = InfoJson(info);
    doc["backup"] = args.backup;
    doc["set_aside"] = info.set_aside.empty() ? Json(nullptr) : Json(info.set_aside);
    ctx.EmitJson(doc);
  } else {
    std::cout << "restored " << args.backup << " into " << info.path << ": "
              << HumanBytes(info.bytes) << "; " << Counts(info.stats) << '\n';
    if (!info.set_aside.empty()) {
      std::cout << "the folder that was there is kept as " << info.set_aside << '\n';
    }
  }
  return Status::Ok();
}

}  // namespace

void AddBackupCommands(CLI::App* app, Selected* selected) {
  auto backup_args = std::make_shared<BackupArgs>();
  CLI::App* backup = app->add_subcommand(
      "backup",
      "Copy the store (consistent, compacted) into a new or empty folder, also while a server "
      "writes to it");
  backup->add_option("dir", backup_args->dir, "The folder for the copy (created if missing)")
      ->required();
  OnSelected(backup, selected,
             [backup_args](const Context& ctx) { return Backup(ctx, *backup_args); });

  auto restore_args = std::make_shared<RestoreArgs>();
  CLI::App* restore = app->add_subcommand(
      "restore",
      "Put a backup in place as the store in --data; no process (no server) may have it open");
  restore->add_option("backup", restore_args->backup, "The backup folder (holding data.mdb)")
      ->required()
      ->check(CLI::ExistingDirectory);
  restore->add_flag("--force", restore_args->force,
                    "Replace a non-empty --data folder; it is kept as "
                    "<data>.pre-restore-<UTC time>, not deleted");
  OnSelected(restore, selected,
             [restore_args](const Context& ctx) { return Restore(ctx, *restore_args); });
}

}  // namespace postbox::admin
