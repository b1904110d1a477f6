// Mailbox commands: mailbox create|list|show|delete, connect, disconnect,
// connections (on the store, or with --server through the live server's admin
// API: mailbox_ops.h), push-register (the store only).
#include <iostream>
#include <optional>

#include "admin/cli.h"
#include "admin/format.h"
#include "admin/mailbox_ops.h"

namespace postbox::admin {
namespace {

struct MailboxArgs {
  std::string mkey;
  std::string peer;  // connect, disconnect
  std::string after;
  size_t limit = 100;
  std::string platform;
  std::string token;
  std::string kind = "connected";  // connections --kind
};

// An optional --after.
Result<std::optional<MailboxKey>> After(const MailboxArgs& args) {
  if (args.after.empty()) return std::optional<MailboxKey>();
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey after, MailboxKey::FromHex(args.after));
  return std::optional<MailboxKey>(after);
}

Status CreateMailbox(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<MailboxOps> ops,
                           OpenMailboxOps(ctx, Access::kReadWrite));
  POSTBOX_ASSIGN_OR_RETURN(MailboxCredentials credentials, ops->Create());
  if (ctx.json()) {
    ctx.EmitJson({{"mkey", credentials.mkey.ToHex()}, {"secret", credentials.secret}});
  } else {
    PrintFields(std::cout, {{"mkey", credentials.mkey.ToHex()}, {"secret", credentials.secret}});
    std::cout << "(the secret is shown only now; the store keeps a salted hash of it)\n";
  }
  return Status::Ok();
}

Status ListMailboxes(const Context& ctx, const MailboxArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(std::optional<MailboxKey> after, After(args));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<MailboxOps> ops, OpenMailboxOps(ctx, Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(Page<MailboxInfo> page, ops->List(after, args.limit));
  const std::vector<MailboxInfo>& mailboxes = page.items;
  if (ctx.json()) {
    Json list = Json::array();
    for (const MailboxInfo& m : mailboxes) list.push_back(ToJson(m));
    ctx.EmitJson({{"mailboxes", list}, {"more", page.more}});
    return Status::Ok();
  }
  if (mailboxes.empty()) {
    std::cout << "no mailboxes\n";
    return Status::Ok();
  }
  Table table({"MKEY", "CREATED", "SEQ", "PUSH"});
  for (const MailboxInfo& m : mailboxes) {
    table.AddRow({m.mkey.ToHex(), IsoTime(m.created_ms), std::to_string(m.seq),
                  std::string(PlatformName(m.platform))});
  }
  table.Print(std::cout);
  if (page.more) {
    std::cout << "more follow: run again with --after " << mailboxes.back().mkey.ToHex() << '\n';
  }
  return Status::Ok();
}

Status ShowMailbox(const Context& ctx, const MailboxArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<MailboxOps> ops, OpenMailboxOps(ctx, Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(MailboxInfo mailbox, ops->Get(mkey));
  if (ctx.json()) {
    ctx.EmitJson(ToJson(mailbox));
  } else {
    PrintMailbox(std::cout, mailbox);
  }
  return Status::Ok();
}

Status DeleteMailbox(const Context& ctx, const MailboxArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<MailboxOps> ops,
                           OpenMailboxOps(ctx, Access::kReadWrite));
  POSTBOX_RETURN_IF_ERROR(ops->Delete(mkey));
  if (ctx.json()) {
    ctx.EmitJson({{"deleted", args.mkey}});
  } else {
    std::cout << "deleted mailbox " << args.mkey << " with its entries, connections and messages\n";
  }
  return Status::Ok();
}

// The operator's override of consent: connect joins two mailboxes at once;
// disconnect severs them from both sides (connection and any request between
// them).
Status SetConnected(const Context& ctx, const MailboxArgs& args, bool connected) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey a, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey b, MailboxKey::FromHex(args.peer));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<MailboxOps> ops,
                           OpenMailboxOps(ctx, Access::kReadWrite));
  POSTBOX_RETURN_IF_ERROR(ops->SetConnected(a, b, connected));
  if (ctx.json()) {
    ctx.EmitJson({{"a", args.mkey}, {"b", args.peer}, {"connected", connected}});
  } else {
    std::cout << (connected ? "connected " : "disconnected ") << args.mkey << " and " << args.peer
              << '\n';
  }
  return Status::Ok();
}

Status ListConnections(const Context& ctx, const MailboxArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::optional<MailboxKey> after, After(args));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<MailboxOps> ops, OpenMailboxOps(ctx, Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(Page<MailboxKey> page,
                           ops->ListConnections(mkey, args.kind, after, args.limit));
  const std::vector<MailboxKey>& peers = page.items;
  if (ctx.json()) {
    Json list = Json::array();
    for (const MailboxKey& peer : peers) list.push_back(peer.ToHex());
    ctx.EmitJson(
        {{"mkey", args.mkey}, {"kind", args.kind}, {"connections", list}, {"more", page.more}});
    return Status::Ok();
  }
  if (peers.empty()) std::cout << args.mkey << " has no " << args.kind << " connections\n";
  for (const MailboxKey& peer : peers) std::cout << peer.ToHex() << '\n';
  if (page.more)
    std::cout << "more follow: run again with --after " << peers.back().ToHex() << '\n';
  return Status::Ok();
}

Status RegisterPush(const Context& ctx, const MailboxArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(Platform platform, ParsePlatform(args.platform));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadWrite));
  POSTBOX_RETURN_IF_ERROR(db->RegisterPush(mkey, platform, args.token));
  POSTBOX_ASSIGN_OR_RETURN(PushRegistration push, db->GetPush(mkey));
  if (ctx.json()) {
    Json doc = {{"mkey", args.mkey}, {"platform", PlatformName(push.platform)}};
    PutBytes(&doc, "token", push.token);
    ctx.EmitJson(doc);
  } else if (push.platform == Platform::kNone) {
    std::cout << "cleared the push registration of " << args.mkey << '\n';
  } else {
    std::cout << "registered " << PlatformName(push.platform) << " push for " << args.mkey << '\n';
  }
  return Status::Ok();
}

// --after and --limit, shared by the two paged lists.
void AddPaging(CLI::App* cmd, MailboxArgs* args) {
  cmd->add_option("--after", args->after, "Start after this mailbox key")->check(Hex32());
  cmd->add_option("--limit", args->limit, "At most this many")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100000}));
}

}  // namespace

void AddMailboxCommands(CLI::App* app, Selected* selected) {
  auto args = std::make_shared<MailboxArgs>();
  // Every command here but push-register takes --server.
  const auto bind = [&](CLI::App* cmd, Status (*run)(const Context&, const MailboxArgs&)) {
    OnSelected(
        cmd, selected, [args, run](const Context& ctx) { return run(ctx, *args); },
        Target::kStoreOrServer);
  };

  CLI::App* mailbox = app->add_subcommand("mailbox", "Create, list, show and delete mailboxes");
  mailbox->require_subcommand(1);
  OnSelected(mailbox->add_subcommand("create", "Create a mailbox; prints its mkey and secret"),
             selected, CreateMailbox, Target::kStoreOrServer);

  CLI::App* list = mailbox->add_subcommand("list", "List mailboxes in mkey order");
  AddPaging(list, args.get());
  bind(list, ListMailboxes);

  CLI::App* show = mailbox->add_subcommand("show", "Show a mailbox and its push registration");
  AddHexArg(show, "mkey", &args->mkey, "Mailbox key");
  bind(show, ShowMailbox);

  CLI::App* remove = mailbox->add_subcommand(
      "delete", "Delete a mailbox and everything it owns; its messages answer 410 afterwards");
  AddHexArg(remove, "mkey", &args->mkey, "Mailbox key");
  bind(remove, DeleteMailbox);

  CLI::App* connect = app->add_subcommand("connect", "Let two mailboxes post to each other");
  AddHexArg(connect, "a", &args->mkey, "Mailbox key");
  AddHexArg(connect, "b", &args->peer, "Mailbox key");
  bind(connect,
       [](const Context& ctx, const MailboxArgs& a) { return SetConnected(ctx, a, true); });

  CLI::App* disconnect =
      app->add_subcommand("disconnect", "Remove the connection of two mailboxes");
  AddHexArg(disconnect, "a", &args->mkey, "Mailbox key");
  AddHexArg(disconnect, "b", &args->peer, "Mailbox key");
  bind(disconnect,
       [](const Context& ctx, const MailboxArgs& a) { return SetConnected(ctx, a, false); });

  CLI::App* connections = app->add_subcommand(
      "connections", "List a mailbox's connections, or its connection requests (--kind)");
  AddHexArg(connections, "mkey", &args->mkey, "Mailbox key");
  connections
      ->add_option("--kind", args->kind,
                   "connected; requested (asked by this mailbox, not yet answered); incoming "
                   "(asked of this mailbox)")
      ->capture_default_str()
      ->check(CLI::IsMember({"connected", "requested", "incoming"}));
  AddPaging(connections, args.get());
  bind(connections, ListConnections);

  CLI::App* push = app->add_subcommand(
      "push-register", "Set a mailbox's push registration (platform none clears it)");
  AddHexArg(push, "mkey", &args->mkey, "Mailbox key");
  push->add_option("platform", args->platform, "ios, android, web or none")
      ->required()
      ->transform(CLI::IsMember({"ios", "android", "web", "none"}, CLI::ignore_case));
  push->add_option("token", args->token, "Opaque push token (not needed for none)");
  // A registration without a token could never be delivered, and a token for
  // none would be dropped: refuse both as usage errors.
  push->callback([push, args, selected] {
    if (args->platform != "none" && args->token.empty()) {
      throw CLI::ValidationError("token", "platform " + args->platform + " needs a push token");
    }
    if (args->platform == "none" && !args->token.empty()) {
      throw CLI::ValidationError("token", "platform none takes no token");
    }
    Select(push, selected, [args](const Context& ctx) { return RegisterPush(ctx, *args); });
  });
}

}  // namespace postbox::admin
