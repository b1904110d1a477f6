// The live server's commands (docs/operations.md "Admin API"): sessions,
// viewers, transfers and kick, over the admin API of its HTTP listener
// (engine/src/sync/server/admin_routes.h) through server_api.h. They touch no
// store.
#include <cstdio>
#include <iostream>
#include <memory>

#include "admin/cli.h"
#include "admin/format.h"
#include "admin/server_api.h"

namespace postbox::admin {
namespace {

std::string Text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Status Sessions(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(Json doc, Request(ctx, "GET", "/admin/sessions"));
  if (ctx.json()) {
    ctx.EmitJson(doc);
    return Status::Ok();
  }
  std::cout << "id               state   mailbox                          platform  app      "
               "since                     in        out       pending peer\n";
  for (const Json& s : doc["sessions"]) {
    std::printf("%-16s %-7s %-32s %-9s %-8s %-25s %-9s %-9s %-7s %s%s\n", Text(s["id"]).c_str(),
                Text(s["state"]).c_str(), s["mkey"].is_null() ? "-" : Text(s["mkey"]).c_str(),
                Text(s["platform"]).c_str(),
                s["app_version"].get<std::string>().empty() ? "-" : Text(s["app_version"]).c_str(),
                IsoTime(s["since_ms"].get<uint64_t>()).c_str(), Text(s["bytes_in"]).c_str(),
                Text(s["bytes_out"]).c_str(), Text(s["pending_pushes"]).c_str(),
                Text(s["peer"]).c_str(), s["tls"].get<bool>() ? " (TLS)" : "");
  }
  std::fflush(stdout);
  return Status::Ok();
}

Status Viewers(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(Json doc, Request(ctx, "GET", "/admin/viewers"));
  if (ctx.json()) {
    ctx.EmitJson(doc);
    return Status::Ok();
  }
  std::cout << "mailbox                          viewers sessions\n";
  for (const Json& m : doc["mailboxes"]) {
    std::string ids;
    for (const Json& id : m["sessions"]) ids += (ids.empty() ? "" : ",") + Text(id);
    std::printf("%-32s %-7s %s\n", Text(m["mkey"]).c_str(), Text(m["viewers"]).c_str(),
                ids.c_str());
  }
  std::fflush(stdout);
  return Status::Ok();
}

Status Transfers(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(Json doc, Request(ctx, "GET", "/admin/transfers"));
  if (ctx.json()) {
    ctx.EmitJson(doc);
    return Status::Ok();
  }
  std::cout << "downloads (session, mailbox, message, next, end):\n";
  for (const Json& d : doc["downloads"]) {
    std::cout << "  " << Text(d["session"]) << " " << Text(d["mkey"]) << " " << Text(d["id"]) << " "
              << Text(d["next"]) << " " << Text(d["end"]) << "\n";
  }
  std::cout << "uploads (message, from, to, stored/length):\n";
  for (const Json& u : doc["uploads"]) {
    std::cout << "  " << Text(u["id"]) << " " << Text(u["from"]) << " " << Text(u["to"]) << " "
              << Text(u["offset"]) << "/" << Text(u["length"]) << "\n";
  }
  return Status::Ok();
}

Status Kick(const Context& ctx, const std::string& id) {
  POSTBOX_RETURN_IF_ERROR(Request(ctx, "DELETE", "/admin/sessions/" + id, 204).status());
  if (ctx.json()) {
    ctx.EmitJson({{"kicked", id}});
  } else {
    std::cout << "session " << id << " kicked out\n";
  }
  return Status::Ok();
}

}  // namespace

void AddLiveCommands(CLI::App* app, Selected* selected) {
  OnSelected(app->add_subcommand("sessions", "List the live server's sessions (needs --server)"),
             selected, Sessions, Target::kServer);
  OnSelected(app->add_subcommand("viewers", "Sessions per mailbox on the live server"), selected,
             Viewers, Target::kServer);
  OnSelected(app->add_subcommand("transfers", "Downloads and uploads in progress on the server"),
             selected, Transfers, Target::kServer);
  auto id = std::make_shared<std::string>();
  CLI::App* kick = app->add_subcommand("kick", "Close a session of the live server (503)");
  kick->add_option("session", *id, "Session id, as `sessions` shows it")
      ->required()
      ->check(CLI::Number);
  OnSelected(
      kick, selected, [id](const Context& ctx) { return Kick(ctx, *id); }, Target::kServer);
}

}  // namespace postbox::admin
