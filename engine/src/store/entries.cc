// The per-mailbox KV store: entries with version max-merge (postbox/merge.h).
#include "postbox/merge.h"
#include "store/codec.h"
#include "store/store.h"

namespace postbox::store {
namespace {

Status CheckKey(std::string_view key, size_t limit) {
  if (key.empty()) return Status::InvalidArgument("entry key is empty; expected 1 or more bytes");
  if (key.size() > limit) {
    return Status::TooLarge("entry key is " + std::to_string(key.size()) + " bytes; the limit is " +
                            std::to_string(limit));
  }
  return Status();
}

}  // namespace

Result<EntryPutResult> Store::MergeEntry(WriteCtx& w, const MailboxKey& m, std::string_view key,
                                         std::string_view value, uint64_t version, bool deleted,
                                         uint64_t expires_ms) const {
  if (key.empty()) return Status::InvalidArgument("entry key is empty; expected 1 or more bytes");
  if (key.size() > options_.max_key_size) {
    return Status::TooLarge("entry key is " + std::to_string(key.size()) + " bytes; the limit is " +
                            std::to_string(options_.max_key_size));
  }
  if (value.size() > options_.max_value_size) {
    return Status::TooLarge("entry value is " + std::to_string(value.size()) +
                            " bytes; the limit is " + std::to_string(options_.max_value_size));
  }
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
  const std::string k = EntryKey(m, key);
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().entries, k));
  EntryRecord stored;
  if (raw) {
    POSTBOX_ASSIGN_OR_RETURN(stored, EntryRecord::Decode(*raw));
  }
  if (version == 0) {
    if (stored.version == UINT64_MAX) return Status::Conflict("entry version is at its maximum");
    version = stored.version + 1;
  }
  EntryState incoming{version, deleted, deleted ? std::string() : std::string(value)};
  if (raw && !EntryRanksAbove(incoming, EntryState{stored.version, stored.deleted, stored.value})) {
    return EntryPutResult{false, stored.version};
  }
  FeedRecord feed;
  feed.kind = deleted ? FeedKind::kEntryTombstone : FeedKind::kEntry;
  feed.version = version;
  feed.item = std::string(key);
  POSTBOX_ASSIGN_OR_RETURN(uint64_t seq, MoveFeedItem(w, m, raw ? stored.seq : 0, feed));
  EntryRecord rec{version, seq, deleted, std::move(incoming.value)};
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().entries, k, rec.Encode()));
  if (expires_ms != 0 && !deleted) {
    std::string version_be;
    AppendBE64(version_be, version);
    POSTBOX_RETURN_IF_ERROR(t.Put(t.t().entry_ttl, EntryTtlKey(expires_ms, k), version_be));
  }
  return EntryPutResult{true, version};
}

Result<uint64_t> Store::ExpireEntries(WriteCtx& w, uint64_t now_ms, size_t limit) const {
  Txn& t = w.txn;
  struct Due {
    std::string index_key;
    uint64_t version;
  };
  std::vector<Due> due;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().entry_ttl, "", "", [&](std::string_view k, std::string_view v) {
        if (due.size() >= limit || ReadBE64(k) >= now_ms) return false;
        due.push_back(Due{std::string(k), v.size() == 8 ? ReadBE64(v) : 0});
        return true;
      }));
  uint64_t expired = 0;
  for (const Due& d : due) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().entry_ttl, d.index_key));
    // After the time: the entries key (mkey ‖ key), which names the entry.
    const std::string_view entry_key = std::string_view(d.index_key).substr(8);
    POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().entries, entry_key));
    if (!raw) continue;  // its mailbox was deleted
    POSTBOX_ASSIGN_OR_RETURN(EntryRecord rec, EntryRecord::Decode(*raw));
    if (rec.deleted || rec.version != d.version) continue;  // written again since
    if (rec.version == UINT64_MAX) continue;                // cannot be outranked
    POSTBOX_ASSIGN_OR_RETURN(MailboxKey m, MailboxKey::FromBytes(entry_key.substr(0, 16)));
    POSTBOX_RETURN_IF_ERROR(
        MergeEntry(w, m, entry_key.substr(16), {}, rec.version + 1, /*deleted=*/true).status());
    ++expired;
  }
  return expired;
}

Result<EntryInfo> Store::GetEntry(Txn& t, const MailboxKey& m, std::string_view key) const {
  POSTBOX_RETURN_IF_ERROR(CheckKey(key, options_.max_key_size));
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().entries, EntryKey(m, key)));
  if (!raw) {
    // Entries die with their mailbox, so only a miss needs to ask which 404 it is.
    POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
    return Status::NotFound("no entry '" + std::string(key) + "'");
  }
  POSTBOX_ASSIGN_OR_RETURN(EntryRecord rec, EntryRecord::Decode(*raw));
  if (rec.deleted) return Status::NotFound("entry '" + std::string(key) + "' was deleted");
  return EntryInfo{std::string(key), std::move(rec.value), rec.version, 0};
}

Result<std::vector<EntryInfo>> Store::ListEntries(Txn& t, const MailboxKey& m,
                                                  std::string_view prefix, std::string_view after,
                                                  size_t limit) const {
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
  std::vector<EntryInfo> out;
  const std::string scan_prefix = EntryKey(m, prefix);
  const std::string from = after.empty() ? scan_prefix : EntryKey(m, after);
  Status decode_error;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().entries, scan_prefix, from, [&](std::string_view k, std::string_view v) {
        if (!after.empty() && k == from) return true;
        if (out.size() >= limit) return false;
        auto rec = EntryRecord::Decode(v);
        if (!rec) {
          decode_error = rec.error();
          return false;
        }
        if (rec->deleted) return true;
        out.push_back(EntryInfo{std::string(k.substr(16)), std::move(rec->value), rec->version, 0});
        return true;
      }));
  POSTBOX_RETURN_IF_ERROR(decode_error);
  return out;
}

}  // namespace postbox::store
