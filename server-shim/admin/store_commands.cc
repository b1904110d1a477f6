// Whole-store commands: init, stats, purge, sweep, uploads.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

// An option taking <n>[ms|s|m|h|d] into *out; its count() says whether it
// was given.
CLI::Option* AddDurationOption(CLI::App* app, const std::string& name,
                               std::chrono::milliseconds* out, const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name, [out](const std::string& value) { ParseDuration(value, out); }, help)
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            std::chrono::milliseconds parsed;
            if (ParseDuration(value, &parsed)) return "";
            return "expected <n>[ms|s|m|h|d], got '" + value + "'";
          },
          "DURATION"));
}

struct PurgeArgs {
  // When given, it must be the store's.
  std::chrono::milliseconds horizon = Options{}.tombstone_horizon;
  CLI::Option* horizon_flag = nullptr;
  size_t max_items = 0;
};

Status Init(const Context& ctx) {
  std::error_code ec;
  const bool existed = std::filesystem::is_directory(ctx.data_dir(), ec) &&
                       !std::filesystem::is_empty(ctx.data_dir(), ec);
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.CreateStore());
  POSTBOX_ASSIGN_OR_RETURN(uint64_t mailboxes, db->CountMailboxes());
  const std::string path =
      std::filesystem::absolute(ctx.data_dir(), ec).lexically_normal().string();
  if (ctx.json()) {
    ctx.EmitJson({{"data", path}, {"created", !existed}, {"mailboxes", mailboxes}});
  } else {
    std::cout << (existed ? "store already initialised at " : "initialised a new store at ") << path
              << " (" << mailboxes << " mailboxes)\n";
  }
  return Status::Ok();
}

Status Stats(const Context& ctx) {
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(StoreStats stats, db->Stats());
  if (ctx.json()) {
    ctx.EmitJson(ToJson(stats));
  } else {
    PrintStats(std::cout, stats);
  }
  return Status::Ok();
}

Status Purge(const Context& ctx, const PurgeArgs& args) {
  Options options;
  options.tombstone_horizon = args.horizon;
  SettingSet given;
  if (args.horizon_flag->count() > 0) given.Add(Setting::kTombstoneHorizon);
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db,
                           ctx.OpenStore(Access::kReadWrite, options, given));
  const std::chrono::milliseconds horizon = db->options().tombstone_horizon;
  // PurgeTombstones works in bounded batches so it never holds the single
  // writer for long; with --max 0 keep going until a batch comes back short.
  constexpr size_t kBatch = 1000;
  size_t purged = 0;
  for (;;) {
    const size_t want = args.max_items == 0 ? kBatch : std::min(kBatch, args.max_items - purged);
    if (want == 0) break;
    POSTBOX_ASSIGN_OR_RETURN(size_t removed, db->PurgeTombstones(want));
    purged += removed;
    if (removed < want) break;
  }
  if (ctx.json()) {
    ctx.EmitJson({{"purged", purged}, {"horizon_ms", horizon.count()}});
  } else {
    std::cout << "purged " << purged << " tombstones older than "
              << FormatSetting(Setting::kTombstoneHorizon, static_cast<uint64_t>(horizon.count()))
              << '\n';
  }
  return Status::Ok();
}

struct SweepArgs {
  // When given, it must be the store's.
  std::chrono::milliseconds ttl = Options{}.upload_ttl;
  CLI::Option* ttl_flag = nullptr;
};

// What the server's housekeeping does on its timer, once, offline.
Status Sweep(const Context& ctx, const SweepArgs& args) {
  Options options;
  options.upload_ttl = args.ttl;
  SettingSet given;
  if (args.ttl_flag->count() > 0) given.Add(Setting::kUploadTtl);
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db,
                           ctx.OpenStore(Access::kReadWrite, options, given));
  const std::chrono::milliseconds ttl = db->options().upload_ttl;
  const auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  POSTBOX_ASSIGN_OR_RETURN(SweepResult swept, db->Sweep(now));
  if (ctx.json()) {
    ctx.EmitJson(
        {{"uploads", swept.uploads}, {"bytes", swept.bytes}, {"upload_ttl_ms", ttl.count()}});
  } else {
    std::cout << "swept " << swept.uploads << " uploads (" << HumanBytes(swept.bytes)
              << ") begun more than "
              << FormatSetting(Setting::kUploadTtl, static_cast<uint64_t>(ttl.count())) << " ago\n";
  }
  return Status::Ok();
}

struct UploadsArgs {
  std::string after;
  size_t limit = 100;
};

Status ListUploads(const Context& ctx, const UploadsArgs& args) {
  std::optional<MessageId> after;
  if (!args.after.empty()) {
    POSTBOX_ASSIGN_OR_RETURN(after, MessageId::FromHex(args.after));
  }
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(std::vector<UploadInfo> uploads, db->ListUploads(after, args.limit + 1));
  const bool more = TrimPage(&uploads, args.limit);
  if (ctx.json()) {
    Json list = Json::array();
    for (const UploadInfo& u : uploads) {
      Json doc = {{"id", u.id.ToHex()},
                  {"from", u.from.ToHex()},
                  {"to", u.to.ToHex()},
                  {"length", u.length},
                  {"offset", u.offset},
                  {"created_ms", u.created_ms},
                  {"created", IsoTime(u.created_ms)}};
      PutBytes(&doc, "topic", u.topic);
      list.push_back(std::move(doc));
    }
    ctx.EmitJson({{"uploads", list}, {"more", more}});
    return Status::Ok();
  }
  if (uploads.empty()) std::cout << "no uploads in progress\n";
  for (const UploadInfo& u : uploads) {
    std::cout << u.id.ToHex() << "  " << u.from.ToHex() << " -> " << u.to.ToHex() << "  "
              << u.offset << "/" << u.length << " bytes  since " << IsoTime(u.created_ms) << '\n';
  }
  if (more)
    std::cout << "more follow: run again with --after " << uploads.back().id.ToHex() << '\n';
  return Status::Ok();
}

}  // namespace

void AddStoreCommands(CLI::App* app, Selected* selected) {
  OnSelected(app->add_subcommand("init", "Create the store in --data (does nothing if it exists)"),
             selected, Init);
  OnSelected(app->add_subcommand("stats", "Show counts and sizes of the store"), selected, Stats);

  auto args = std::make_shared<PurgeArgs>();
  CLI::App* purge = app->add_subcommand(
      "purge", "Remove message and entry tombstones older than the horizon (then 410 becomes 404)");
  args->horizon_flag = AddDurationOption(
      purge, "--horizon", &args->horizon,
      "Age past which tombstones go, <n>[ms|s|m|h|d] (default: the store's tombstone_horizon); "
      "when given it must be the store's");
  purge->add_option("--max", args->max_items, "Stop after this many (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  OnSelected(purge, selected, [args](const Context& ctx) { return Purge(ctx, *args); });

  auto sweep_args = std::make_shared<SweepArgs>();
  CLI::App* sweep = app->add_subcommand(
      "sweep", "Remove uploads begun longer ago than the TTL and never committed");
  sweep_args->ttl_flag = AddDurationOption(
      sweep, "--ttl", &sweep_args->ttl,
      "Age past which uploads go, <n>[ms|s|m|h|d] (default: the store's upload_ttl); when "
      "given it must be the store's");
  OnSelected(sweep, selected, [sweep_args](const Context& ctx) { return Sweep(ctx, *sweep_args); });

  auto uploads_args = std::make_shared<UploadsArgs>();
  CLI::App* uploads = app->add_subcommand(
      "uploads", "List uploads in progress (what sweep removes once past the TTL)");
  uploads->add_option("--after", uploads_args->after, "Start after this message id")
      ->check(Hex32());
  uploads->add_option("--limit", uploads_args->limit, "At most this many")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  OnSelected(uploads, selected,
             [uploads_args](const Context& ctx) { return ListUploads(ctx, *uploads_args); });
}

}  // namespace postbox::admin
