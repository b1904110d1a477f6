// Whole-store commands: init, stats, purge.
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

struct PurgeArgs {
  std::string horizon_text = "30d";  // as given, for the report
  // Set by the --horizon validator; starts at the engine's default (30 days).
  std::chrono::milliseconds horizon = Options{}.tombstone_horizon;
  size_t max_items = 0;
};

// Parses "<number>[ms|s|m|h|d]" (no unit means seconds) into milliseconds.
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
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadWrite, options));
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
    ctx.EmitJson({{"purged", purged}, {"horizon_ms", options.tombstone_horizon.count()}});
  } else {
    std::cout << "purged " << purged << " tombstones older than " << args.horizon_text << '\n';
  }
  return Status::Ok();
}

}  // namespace

void AddStoreCommands(CLI::App* app, Command* selected) {
  OnSelected(app->add_subcommand("init", "Create the store in --data (does nothing if it exists)"),
             selected, Init);
  OnSelected(app->add_subcommand("stats", "Show counts and sizes of the store"), selected, Stats);

  auto args = std::make_shared<PurgeArgs>();
  CLI::App* purge = app->add_subcommand(
      "purge", "Remove message and entry tombstones older than the horizon (then 410 becomes 404)");
  purge
      ->add_option("--horizon", args->horizon_text,
                   "Age past which tombstones go, <n>[ms|s|m|h|d]; use the server's horizon")
      ->capture_default_str()
      ->check(CLI::Validator(
          [args](std::string& value) -> std::string {
            if (ParseDuration(value, &args->horizon)) return "";
            return "expected <n>[ms|s|m|h|d], got '" + value + "'";
          },
          "DURATION"));
  purge->add_option("--max", args->max_items, "Stop after this many (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  OnSelected(purge, selected, [args](const Context& ctx) { return Purge(ctx, *args); });
}

}  // namespace postbox::admin
