// The replica's local store: the mirror of one mailbox and its durable outbox,
// in tables of their own in an LMDB store in the app's folder (layout in
// docs/replica.md). Knows nothing of the network: Replica::Impl feeds it
// packets and the server's answers. Every method is one local transaction.
//
// What the app sees (the "visible" state) is recomputed for one item at a
// time from the item's synced ("base") state and the outbox items pending on
// it, with the merge rules of merge.h, so rolling an item back is only
// removing it and recomputing.
//
// Thread-safety: methods may be called from any thread; LMDB serializes the
// writes.
#ifndef POSTBOX_SYNC_REPLICA_MIRROR_H_
#define POSTBOX_SYNC_REPLICA_MIRROR_H_

#include <lmdb.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postbox/merge.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/replica.h"
#include "postbox/types.h"
#include "store/env.h"

namespace postbox::sync::replica {

struct MirrorTables {
  MDB_dbi meta = 0;     // "mkey", "cursor", "snapshot", "next", "push", "push_base"
  MDB_dbi msgs = 0;     // id -> message record
  MDB_dbi order = 0;    // dir(1) created_ms(BE8) id(16) -> ""
  MDB_dbi entries = 0;  // key -> entry record
  MDB_dbi conns = 0;    // peer -> base state, visible state
  MDB_dbi outbox = 0;   // item id (BE8) -> item
  MDB_dbi deps = 0;     // dependency key, item id (BE8) -> ""
  MDB_dbi stale = 0;    // during a reset snapshot: synced items not (yet) in it
  MDB_dbi blobs = 0;    // id -> blob record
  MDB_dbi ended = 0;    // item id (BE8) -> outcome not yet reported to the app
};

// What applying a packet did.
enum class ApplyResult {
  kApplied,
  // Not applied: its `since` is not the cursor (repeated, or after a lost
  // push); the caller polls from the cursor.
  kNotContiguous,
};

// A server's final answer to an outbox item.
struct Answer {
  Status status;  // OK or the permanent error
  bool applied = true;
  MessageStatus status_after = MessageStatus::kUploaded;  // kStatus
  uint64_t version = 0;                                   // kPutEntry, kDeleteEntry
  ConnectionState connection = ConnectionState::kNone;    // kAddConnection
  bool cancelled = false;                                 // Cancel, not the server
};

// The outcome of ending an item, for the caller to report.
struct Ended {
  OutboxOutcome outcome;
  // The put or delete lost its merge to a state the mirror has not seen:
  // fetch the entry (GetEntry) and MergeFetchedEntry it.
  bool fetch_entry = false;
  std::string owned_file;  // a blob copy of the replica's to delete now
};

// A blob to download (state kWanted).
struct BlobTask {
  MessageId id;
  std::string path;
  bool owned = false;  // the file is in the replica's folder
};

class Mirror {
 public:
  // Opens the store in `folder` for mailbox `mkey`; Conflict if it holds
  // another mailbox's replica.
  static Result<std::unique_ptr<Mirror>> Open(const std::string& folder, const MailboxKey& mkey,
                                              Durability durability, uint64_t max_map_size);

  const std::string& folder() const { return folder_; }
  const MailboxKey& mkey() const { return mkey_; }
  Result<uint64_t> Cursor() const;

  // Applies `packet` with the cursor if it follows the cursor (or is a reset).
  // `change` gets what the app sees differently; `gone` the ids whose blobs
  // were dropped (superseded); `wanted` blobs the download policy asked for.
  Result<ApplyResult> Apply(const InfoPacket& packet, const DownloadPolicy& policy,
                            ReplicaChange* change, std::vector<MessageId>* gone);

  // ---- outbox ----
  // Stores `item` (its id assigned here) with its effect; returns the item as
  // stored (versions resolved).
  Result<OutboxItem> Enqueue(OutboxItem item, ReplicaChange* change);
  // Stores `items` in one transaction, in order; each gets its own result
  // (its check failed, or the item as stored). An error is the store's: then
  // nothing was stored.
  Result<std::vector<Result<OutboxItem>>> EnqueueAll(std::vector<OutboxItem> items,
                                                     ReplicaChange* change);
  // Ends items with their answers in one transaction; unknown ids (cancelled
  // meanwhile) are skipped. Outcomes in `forget` (reported to the app) are
  // forgotten in the same transaction.
  Status End(const std::vector<std::pair<uint64_t, Answer>>& answers,
             const std::vector<uint64_t>& forget, ReplicaChange* change, std::vector<Ended>* ended);
  // Joins an entry fetched after a lost merge into its synced state.
  Status MergeFetchedEntry(const EntryInfo& entry, ReplicaChange* change);
  Result<std::vector<OutboxItem>> Pending() const;
  // Outcomes End stored that the app has not been told of yet (on_outbox is
  // at least once: a crash between the callback and Reported repeats it).
  Result<std::vector<OutboxOutcome>> Unreported() const;
  Status Reported(const std::vector<uint64_t>& ids);
  Result<std::optional<OutboxItem>> GetItem(uint64_t id) const;
  // Dependency keys of an item: items sharing one are sent in order.
  static std::vector<std::string> DepKeys(const OutboxItem& item);

  // ---- connections refreshed from the server ----
  Status SetSyncedConnections(const std::vector<std::pair<MailboxKey, ConnectionState>>& conns,
                              ReplicaChange* change);

  // ---- blobs ----
  Status WantBlob(const MessageId& id, const std::string& path, bool owned);
  Result<std::vector<BlobTask>> WantedBlobs() const;
  // The download finished (verified) or ended for good (`ok` false: the
  // record and file are dropped).
  Status BlobDone(const MessageId& id, bool ok, uint64_t length);
  Result<std::optional<ReplicaBlob>> Blob(const MessageId& id) const;
  std::string BlobPath(const MessageId& id) const;

  // ---- reads ----
  Result<std::vector<ReplicaMessage>> Messages(bool incoming, std::optional<MessageId> start_after,
                                               size_t limit) const;
  Result<std::optional<ReplicaMessage>> Message(const MessageId& id) const;
  Result<std::optional<EntryInfo>> Entry(std::string_view key) const;
  // The visible state of `key` (a tombstone or absent included), for versions.
  Result<std::optional<EntryState>> VisibleEntry(std::string_view key) const;
  Result<std::vector<EntryInfo>> Entries(std::string_view prefix, std::string_view start_after,
                                         size_t limit) const;
  Result<std::vector<std::pair<MailboxKey, ConnectionState>>> Connections() const;
  Result<PushRegistration> Push() const;

 private:
  Mirror() = default;
  Status Write(const std::function<Status(store::Txn&)>& fn);
  Status Read(const std::function<Status(store::Txn&)>& fn) const;

  std::unique_ptr<store::Env> env_;
  MirrorTables t_;
  std::string folder_;
  MailboxKey mkey_;
};

}  // namespace postbox::sync::replica

#endif  // POSTBOX_SYNC_REPLICA_MIRROR_H_
