// Message and feed commands: post, status, changes.
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

struct PostArgs {
  std::string from;
  std::string to;
  std::string id;  // empty: random
  std::string topic;
  std::string meta;
  std::string file;
  uint32_t slot_depth = Options{}.slot_depth;
  bool open_policy = false;
  // When given, they must be the store's (remembered settings).
  CLI::Option* slot_depth_flag = nullptr;
  CLI::Option* open_policy_flag = nullptr;
};

struct StatusArgs {
  std::string mkey;
  std::string id;
  std::string status;  // empty: show
};

struct ChangesArgs {
  std::string mkey;
  uint64_t since = 0;
  size_t limit = 100;
};

void ShowMessage(const Context& ctx, const MessageInfo& message) {
  if (ctx.json()) {
    ctx.EmitJson(ToJson(message));
  } else {
    PrintMessage(std::cout, message);
  }
}

Status Post(const Context& ctx, const PostArgs& args) {
  PostRequest request;
  POSTBOX_ASSIGN_OR_RETURN(request.from, MailboxKey::FromHex(args.from));
  POSTBOX_ASSIGN_OR_RETURN(request.to, MailboxKey::FromHex(args.to));
  request.id = MessageId::Random();
  if (!args.id.empty()) {
    POSTBOX_ASSIGN_OR_RETURN(request.id, MessageId::FromHex(args.id));
  }
  request.topic = args.topic;
  request.meta = args.meta;
  // Slot depth and posting policy are the store's (it remembers them, so this
  // post cleans the slot as the server's would); given, they must match.
  Options options;
  options.slot_depth = args.slot_depth;
  options.posting_policy = args.open_policy ? PostingPolicy::kOpen : PostingPolicy::kConnected;
  SettingSet given;
  if (args.slot_depth_flag->count() > 0) given.Add(Setting::kSlotDepth);
  if (args.open_policy_flag->count() > 0) given.Add(Setting::kPostingPolicy);
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db,
                           ctx.OpenStore(Access::kReadWrite, options, given));
  POSTBOX_ASSIGN_OR_RETURN(std::string bytes, ReadInput(args.file, db->options().max_blob_size));
  request.bytes = bytes;
  POSTBOX_ASSIGN_OR_RETURN(MessageInfo message, db->PostMessage(request));
  if (!ctx.json()) std::cout << "posted\n";
  ShowMessage(ctx, message);
  return Status::Ok();
}

Status ShowOrAdvanceStatus(const Context& ctx, const StatusArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey actor, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(MessageId id, MessageId::FromHex(args.id));
  const Access access = args.status.empty() ? Access::kReadOnly : Access::kReadWrite;
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(access));
  if (!args.status.empty()) {
    POSTBOX_ASSIGN_OR_RETURN(MessageStatus wanted, ParseMessageStatus(args.status));
    POSTBOX_ASSIGN_OR_RETURN(MessageStatus now, db->AdvanceStatus(actor, id, wanted));
    if (!ctx.json() && now != wanted) {
      std::cout << "already " << MessageStatusName(now) << " (a status never goes down)\n";
    }
  }
  POSTBOX_ASSIGN_OR_RETURN(MessageInfo message, db->GetMessage(actor, id));
  ShowMessage(ctx, message);
  return Status::Ok();
}

Status Changes(const Context& ctx, const ChangesArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(InfoPacket packet, db->Changes(mkey, args.since, args.limit));
  if (ctx.json()) {
    ctx.EmitJson(ToJson(packet));
  } else {
    PrintPacket(std::cout, packet);
  }
  return Status::Ok();
}

}  // namespace

void AddMessageCommands(CLI::App* app, Selected* selected) {
  auto post_args = std::make_shared<PostArgs>();
  CLI::App* post = app->add_subcommand("post", "Post a message whose blob is a file's bytes");
  post->add_option("--from", post_args->from, "Sender's mailbox key")->required()->check(Hex32());
  post->add_option("--to", post_args->to, "Recipient's mailbox key")->required()->check(Hex32());
  post->add_option("--id", post_args->id, "Message id, 32 hex (default: random)")->check(Hex32());
  post->add_option("--topic", post_args->topic, "Slot topic (default: empty)");
  post->add_option("--meta", post_args->meta, "Opaque metadata, e.g. a content type");
  post_args->slot_depth_flag =
      post->add_option("--slot-depth", post_args->slot_depth,
                       "Live messages per slot (default: the store's slot_depth); when given it "
                       "must be the store's")
          ->check(CLI::Range(1u, 1000000u));
  post_args->open_policy_flag = post->add_flag(
      "--open-policy", post_args->open_policy,
      "Assert that the store runs the open posting policy (default: the store's policy)");
  post->add_option("file", post_args->file, "The blob ('-': stdin)")
      ->required()
      ->check(CLI::ExistingFile | CLI::IsMember({"-"}));
  OnSelected(post, selected, [post_args](const Context& ctx) { return Post(ctx, *post_args); });

  auto status_args = std::make_shared<StatusArgs>();
  CLI::App* status = app->add_subcommand(
      "status", "Show a message as one of its parties, or advance its status as its recipient");
  AddHexArg(status, "mkey", &status_args->mkey, "The acting mailbox (recipient to advance)");
  AddHexArg(status, "id", &status_args->id, "Message id");
  status->add_option("status", status_args->status, "uploaded, downloaded or viewed")
      ->transform(CLI::IsMember({"uploaded", "downloaded", "viewed"}, CLI::ignore_case));
  OnSelected(status, selected,
             [status_args](const Context& ctx) { return ShowOrAdvanceStatus(ctx, *status_args); });

  auto changes_args = std::make_shared<ChangesArgs>();
  CLI::App* changes = app->add_subcommand(
      "changes", "Show a mailbox's info packet: what changed after --since (as a poll gets it)");
  AddHexArg(changes, "mkey", &changes_args->mkey, "Mailbox key");
  changes->add_option("--since", changes_args->since, "Feed cursor to start after")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  changes->add_option("--limit", changes_args->limit, "At most this many items (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  OnSelected(changes, selected,
             [changes_args](const Context& ctx) { return Changes(ctx, *changes_args); });
}

}  // namespace postbox::admin
