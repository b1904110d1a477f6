// Entry commands over a mailbox's KV store: entry put|get|list|delete.
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"

namespace postbox::admin {
namespace {

struct EntryArgs {
  std::string mkey;
  std::string key;
  std::string value;
  std::string value_file;
  uint64_t version = 0;
  std::string prefix;
  std::string after;
  size_t limit = 100;
};

// Put and delete both answer with the merge's outcome.
void ReportMerge(const Context& ctx, const EntryArgs& args, const EntryPutResult& result,
                 std::string_view verb) {
  if (ctx.json()) {
    Json doc = Json::object();
    PutBytes(&doc, "key", args.key);
    doc["applied"] = result.applied;
    doc["version"] = result.version;
    ctx.EmitJson(doc);
  } else if (result.applied) {
    std::cout << verb << " '" << Printable(args.key) << "' at version " << result.version << '\n';
  } else {
    // Losing the merge is not an error (a replica may replay old writes), but
    // a person should see that nothing changed.
    std::cout << "not " << verb << ": the stored version " << result.version
              << " wins the merge; nothing changed\n";
  }
}

Status PutEntry(const Context& ctx, const EntryArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  Options options;
  std::string value = args.value;
  if (!args.value_file.empty()) {
    POSTBOX_ASSIGN_OR_RETURN(value, ReadInput(args.value_file, options.max_value_size));
  }
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadWrite, options));
  POSTBOX_ASSIGN_OR_RETURN(EntryPutResult result,
                           db->PutEntry(mkey, args.key, value, args.version));
  ReportMerge(ctx, args, result, "stored");
  return Status::Ok();
}

Status DeleteEntry(const Context& ctx, const EntryArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadWrite));
  POSTBOX_ASSIGN_OR_RETURN(EntryPutResult result, db->DeleteEntry(mkey, args.key, args.version));
  ReportMerge(ctx, args, result, "deleted");
  return Status::Ok();
}

Status GetEntry(const Context& ctx, const EntryArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(EntryInfo entry, db->GetEntry(mkey, args.key));
  if (ctx.json()) {
    ctx.EmitJson(ToJson(entry));
  } else {
    PrintEntry(std::cout, entry);
  }
  return Status::Ok();
}

Status ListEntries(const Context& ctx, const EntryArgs& args) {
  POSTBOX_ASSIGN_OR_RETURN(MailboxKey mkey, MailboxKey::FromHex(args.mkey));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(Access::kReadOnly));
  POSTBOX_ASSIGN_OR_RETURN(std::vector<EntryInfo> entries,
                           db->ListEntries(mkey, args.prefix, args.after, args.limit + 1));
  const bool more = TrimPage(&entries, args.limit);
  if (ctx.json()) {
    Json list = Json::array();
    for (const EntryInfo& e : entries) list.push_back(ToJson(e));
    ctx.EmitJson({{"mkey", args.mkey}, {"entries", list}, {"more", more}});
    return Status::Ok();
  }
  if (entries.empty()) {
    std::cout << "no entries\n";
    return Status::Ok();
  }
  EntryTable(entries, /*with_seq=*/false).Print(std::cout);
  if (more) {
    std::cout << "more follow: run again with --after '" << Printable(entries.back().key) << "'\n";
  }
  return Status::Ok();
}

// The mailbox and key positionals every entry command starts with.
void AddMailboxAndKey(CLI::App* cmd, EntryArgs* args) {
  AddHexArg(cmd, "mkey", &args->mkey, "Mailbox key");
  cmd->add_option("key", args->key, "Entry key (1..256 bytes)")->required();
}

void AddVersion(CLI::App* cmd, EntryArgs* args, const std::string& what) {
  cmd->add_option("--version", args->version,
                  what + " version; applies only above the stored one (0: stored + 1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

}  // namespace

void AddEntryCommands(CLI::App* app, Selected* selected) {
  auto args = std::make_shared<EntryArgs>();
  const auto bind = [&](CLI::App* cmd, Status (*run)(const Context&, const EntryArgs&)) {
    OnSelected(cmd, selected, [args, run](const Context& ctx) { return run(ctx, *args); });
  };
  CLI::App* entry = app->add_subcommand("entry", "Put, get, list and delete a mailbox's entries");
  entry->require_subcommand(1);

  CLI::App* put = entry->add_subcommand("put", "Store a value under a key (version max-merge)");
  AddMailboxAndKey(put, args.get());
  // Exactly one source for the value: the positional or a file.
  CLI::App* source = put->add_option_group("value", "The value, given inline or read from a file");
  source->add_option("value", args->value, "The value");
  source
      ->add_option("--value-file", args->value_file,
                   "Read the value from a file ('-': stdin), e.g. for binary data")
      ->check(CLI::ExistingFile | CLI::IsMember({"-"}));
  source->require_option(1);
  AddVersion(put, args.get(), "The put's");
  bind(put, PutEntry);

  CLI::App* get = entry->add_subcommand("get", "Show one entry");
  AddMailboxAndKey(get, args.get());
  bind(get, GetEntry);

  CLI::App* list = entry->add_subcommand("list", "List live entries in key order");
  AddHexArg(list, "mkey", &args->mkey, "Mailbox key");
  list->add_option("--prefix", args->prefix, "Only keys starting with this");
  list->add_option("--after", args->after, "Start after this key");
  list->add_option("--limit", args->limit, "At most this many")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  bind(list, ListEntries);

  CLI::App* remove = entry->add_subcommand("delete", "Delete a key (a versioned tombstone)");
  AddMailboxAndKey(remove, args.get());
  AddVersion(remove, args.get(), "The delete's");
  bind(remove, DeleteEntry);
}

}  // namespace postbox::admin
