// Web Push endpoint commands: endpoint add|list|revoke (docs/admin.md,
// docs/notifications.md "Web Push"). Apps register their endpoints over the
// sync protocol (with a VAPID key when their app server signs); these are the
// operator's way to make one for a mailbox by hand (an unrestricted one) and
// to see and revoke them.
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

struct EndpointArgs {
  std::string mkey;
  std::string app_id;
  std::string token;
  std::string after;
  size_t limit = 100;
};

Json ToJson(const EndpointInfo& e) {
  return {{"token", e.token},
          {"mkey", e.mkey.ToHex()},
          {"app_id", e.app_id},
          {"vapid", !e.vapid_public_key.empty()},
          {"created", IsoTime(e.created_ms)}};
}

Status AddEndpoint(const Context& ctx, const EndpointArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadWrite));
  POSTBOX_ASSIGN_OR_RETURN(EndpointInfo e, db->RegisterEndpoint(mkey, args.app_id, {}));
  if (ctx.json()) {
    ctx.EmitJson(ToJson(e));
  } else {
    PrintFields(std::cout, {{"token", e.token},
                            {"path", "/push/" + e.token},
                            {"app_id", e.app_id},
                            {"created", IsoTime(e.created_ms)}});
  }
  return Status::Ok();
}

Status ListEndpoints(const Context& ctx, const EndpointArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(std::vector<EndpointInfo> endpoints,
                           db->ListEndpoints(mkey, args.after, args.limit + 1));
  const bool more = TrimPage(&endpoints, args.limit);
  if (ctx.json()) {
    Json list = Json::array();
    for (const EndpointInfo& e : endpoints) list.push_back(ToJson(e));
    ctx.EmitJson({{"endpoints", list}, {"more", more}});
    return Status::Ok();
  }
  if (endpoints.empty()) {
    std::cout << "no endpoints\n";
    return Status::Ok();
  }
  Table table({"TOKEN", "APP ID", "VAPID", "CREATED"});
  for (const EndpointInfo& e : endpoints) {
    table.AddRow(
        {e.token, e.app_id, e.vapid_public_key.empty() ? "no" : "yes", IsoTime(e.created_ms)});
  }
  table.Print(std::cout);
  if (more) std::cout << "more follow: run again with --after " << endpoints.back().token << '\n';
  return Status::Ok();
}

Status RevokeEndpoint(const Context& ctx, const EndpointArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadWrite));
  POSTBOX_RETURN_IF_ERROR(db->RevokeEndpoint(mkey, args.token));
  if (ctx.json()) {
    ctx.EmitJson({{"revoked", args.token}});
  } else {
    std::cout << "revoked " << args.token << " (app servers get 410 from now on)\n";
  }
  return Status::Ok();
}

}  // namespace

void AddEndpointCommands(CLI::App* app, Selected* selected) {
  auto args = std::make_shared<EndpointArgs>();
  const auto bind = [&](CLI::App* cmd, Status (*run)(const Context&, const EndpointArgs&)) {
    OnSelected(cmd, selected, [args, run](const Context& ctx) { return run(ctx, *args); });
  };
  CLI::App* endpoint =
      app->add_subcommand("endpoint", "Add, list and revoke a mailbox's Web Push endpoints");
  endpoint->require_subcommand(1);

  CLI::App* add = endpoint->add_subcommand(
      "add", "Make an endpoint (no VAPID key) for an app id; the same one if it exists");
  AddHexArg(add, "mkey", &args->mkey, "Mailbox key");
  add->add_option("app_id", args->app_id, "The app's id (1 to 256 bytes)")->required();
  bind(add, AddEndpoint);

  CLI::App* list = endpoint->add_subcommand("list", "List a mailbox's live endpoints");
  AddHexArg(list, "mkey", &args->mkey, "Mailbox key");
  list->add_option("--after", args->after, "Start after this token");
  list->add_option("--limit", args->limit, "At most this many")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  bind(list, ListEndpoints);

  CLI::App* revoke = endpoint->add_subcommand("revoke", "Revoke an endpoint of a mailbox");
  AddHexArg(revoke, "mkey", &args->mkey, "Mailbox key");
  revoke->add_option("token", args->token, "The endpoint's token")->required();
  bind(revoke, RevokeEndpoint);
}

}  // namespace postbox::admin
