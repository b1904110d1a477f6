// DB: a postbox store on LMDB — mailboxes, connections, push registrations, the
// per-mailbox KV store (entries), messages with their blobs, and the per-mailbox
// feed. Thread-safe: any number of threads may call any method; writes are
// serialized through one writer (LMDB has one), reads run concurrently in
// read-only transactions. Several processes may open the same folder.
//
// Errors (Status codes line up with the protocol, see status.h):
//   InvalidArgument  malformed input (bad status value, connecting a mailbox to itself)
//   Unauthenticated  unknown mailbox or wrong secret in Authenticate
//   PermissionDenied not connected (posting policy kConnected), not a party / the recipient
//   NotFound         unknown mailbox, id or key
//   Conflict         a message id reused with different content
//   Gone             a superseded (or deleted) message id
//   TooLarge         a key, value, topic, meta, token or blob over its limit
//   ResourceExhausted storage full: an op that adds data while the store is
//                    within storage_reserve of max_map_size or of a full disk
//                    (options.h), an op that does not fit the map, or a full
//                    disk; nothing was written. Deletes, aborts, sweeps and
//                    purges still run, so space can always be freed.
//   Unavailable      an I/O error, or writes refused after a failed sync
//   Internal         a corrupted record, or a store of another format
#ifndef POSTBOX_DB_H_
#define POSTBOX_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/blob.h"
#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/types.h"
#include "postbox/write_batch.h"

namespace postbox {

// What DB::Backup copied, or DB::Restore put in place.
struct BackupInfo {
  std::string path;           // the folder that holds the copy (its data.mdb)
  uint64_t bytes = 0;         // the copy's size
  uint64_t source_bytes = 0;  // Backup: the store's file size when the copy began
  uint64_t duration_ms = 0;   // Backup: how long the copy took
  StoreStats stats;           // read back from the copy
  // Restore: where the folder that was in the way went (empty: it was empty
  // or missing).
  std::string set_aside;
};

class DB {
 public:
  // Opens (creating if needed, unless read_only) the store in folder `path`.
  // The folder is created if missing. A new store remembers the settings in
  // `options` (settings.h); an existing one is checked against them, or
  // gives its own for those in options.adopt_stored. Fails with
  // InvalidArgument for bad options, and for a remembered setting that
  // differs from the store's (the message names each one with the stored and
  // the asked value); Unavailable if the folder cannot be opened; Internal for
  // a store of an unknown format, a truncated data file or an unreadable
  // settings record.
  static Result<std::unique_ptr<DB>> Open(const std::string& path, const Options& options);
  ~DB();
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;

  // The options in force: the caller's, with the remembered settings as the
  // store has them.
  const Options& options() const;
  // What opening did about the remembered settings, for the host's log: empty
  // when the store had them all; otherwise one sentence naming the values it
  // now remembers (a new store; a store made before stores remembered
  // settings, which adopted this open's) or, read-only, that it has none.
  const std::string& settings_note() const;

  // Changes the remembered settings in `which` of the store in folder `path`
  // to their values in `values` (the others stay), in one durable write.
  // Existing data stays as it is (docs/operations.md says what each change
  // means for it). Every process must reopen the store to see the change, so
  // it is refused with Unavailable while another process has the store open
  // (LMDB's lock file tells; the check runs inside the write transaction, so
  // a process that opens the store meanwhile reads the new values), and
  // while this process has it open. InvalidArgument for a value out of the
  // setting's range; NotFound when `path` holds no store. Returns the
  // settings as they were before.
  static Result<Options> ChangeSettings(const std::string& path, const Options& values,
                                        SettingSet which);

  // ---- Backup and restore (docs/operations.md) ----
  // Writes a consistent, compacted copy of the store into folder `dir` (LMDB's
  // copy with compaction: the pages in use as of one read transaction, free
  // pages left out), while writers go on; every write committed before the
  // call is in it. `dir` is created if missing and must be empty (Conflict
  // otherwise; nothing is written). The copy is written as data.mdb.partial,
  // synced, renamed to data.mdb and the folder synced, so an interrupted
  // backup leaves no data.mdb; then it is opened again to read its stats.
  // Unavailable (ResourceExhausted for a full disk) if writing fails, and
  // then the partial copy is removed. Works on a read-only DB too.
  Result<BackupInfo> Backup(const std::string& dir) const;
  // Puts the backup in folder `backup` (its data.mdb) in place as the store
  // in folder `path`, for a store no process has open. The backup is copied
  // next to `path` and checked first (it must open, its tables must walk
  // whole), so a bad backup changes nothing (Internal, or NotFound when
  // `backup` holds no data.mdb). `path` must be missing or empty, unless
  // `replace`: then the folder in the way is renamed to
  // `<path>.pre-restore-<UTC time>` (BackupInfo::set_aside), never deleted.
  // Conflict for a non-empty `path` without `replace`; Unavailable while a
  // process has the store in `path` open (this one included).
  static Result<BackupInfo> Restore(const std::string& backup, const std::string& path,
                                    bool replace);

  // ---- Batches (group commit) ----
  // Applies every op of `batch` in one write transaction and commits it (synced
  // as the durability mode says) before returning; per-op outcomes are in
  // batch->results(). Each op succeeds or fails alone, whatever its error: an
  // op that fails part-way (the map full, an I/O error, a corrupted record) is
  // undone alone and the others commit (the batch is then applied once more,
  // each op in a nested transaction). When storage is full (options.h,
  // storage_reserve), the ops that add data are refused with ResourceExhausted
  // before anything runs and the others go ahead; the check runs once before
  // the batch, so a batch may overshoot the limit by its own size. Returns
  // non-OK only if the transaction as a whole failed, and then every op's
  // result carries that error and nothing was written: the commit or its sync
  // failed (Unavailable; ResourceExhausted for a full disk), an earlier sync
  // failed and none has succeeded since (Unavailable), or the transaction could
  // not begin.
  Status Write(WriteBatch* batch);

  // Forces every committed write to disk (what relaxed mode's periodic sync
  // does), e.g. before a host exits, to learn whether it worked. OK, or the
  // sync's error (Unavailable; ResourceExhausted for a full disk), which also
  // makes writes fail until a sync succeeds. The destructor syncs too, but
  // best effort: a failure there is lost.
  Status Sync();

  // Folds the deferred writes (Options::pending_bytes, docs/durability.md)
  // into the tables now, so a later write does not pay for it; writes nothing
  // when none are pending. A host may call it when its writes pause (the sync
  // server does). OK, or the write's error.
  Status Checkpoint();
  // The bytes of deferred writes this process knows to be pending (0 after a
  // fold; another process's appends show once this one has read them).
  uint64_t pending_bytes() const;

  // ---- Mailboxes ----
  // Creates a mailbox with a random mkey and secret. The secret is returned only here.
  Result<MailboxCredentials> CreateMailbox();
  // OK if `secret` is the mailbox's secret (constant-time comparison of salted
  // hashes); Unauthenticated for a wrong secret or an unknown mailbox.
  Status Authenticate(const MailboxKey& mkey, std::string_view secret) const;
  // Deletes the mailbox, its entries, connections, push registration, feed and
  // messages (sent and received); each deleted message leaves a tombstone in the
  // peer's feed and answers 410 afterwards. NotFound if unknown.
  Status DeleteMailbox(const MailboxKey& mkey);
  Result<MailboxInfo> GetMailbox(const MailboxKey& mkey) const;
  // Mailboxes in mkey order after `start_after` (from the first if empty), at most `limit`.
  Result<std::vector<MailboxInfo>> ListMailboxes(std::optional<MailboxKey> start_after,
                                                 size_t limit) const;
  Result<uint64_t> CountMailboxes() const;

  // ---- Connections (undirected, by consent: SPEC §2, docs/engine.md) ----
  // `actor` asks to connect to `peer`. kConnected when `peer` had asked to
  // connect to `actor` too (the connection now exists) or they were connected;
  // otherwise kRequested, and `peer` can list the request (kIncoming). An
  // unknown peer gets kRequested as well, so the answer never tells whether a
  // mailbox exists. NotFound if `actor` is unknown; InvalidArgument if
  // actor == peer; BackOff past Options::max_pending_connections.
  Result<ConnectionState> RequestConnection(const MailboxKey& actor, const MailboxKey& peer);
  // The operator's override (postbox-admin connect): connects a and b at once,
  // removing any request between them. Idempotent. NotFound if either is
  // unknown; InvalidArgument if a == b.
  Status Connect(const MailboxKey& a, const MailboxKey& b);
  // `actor` ends its connection with `peer` (both directions), withdraws its
  // request to `peer` and declines `peer`'s request to it; `peer`'s own list of
  // requests is left as it was (it learns nothing). Idempotent. NotFound only
  // if `actor` is unknown.
  Status Disconnect(const MailboxKey& actor, const MailboxKey& peer);
  Result<bool> IsConnected(const MailboxKey& a, const MailboxKey& b) const;
  // The mailboxes connected to `mkey` (or its requests, or the requests it
  // received: `kind`), in mkey order after `start_after`.
  Result<std::vector<MailboxKey>> ListConnections(
      const MailboxKey& mkey, std::optional<MailboxKey> start_after, size_t limit,
      ConnectionListKind kind = ConnectionListKind::kConnected) const;

  // ---- Push registration (one per mailbox; platform kNone clears it) ----
  Status RegisterPush(const MailboxKey& mkey, Platform platform, std::string_view token);
  Result<PushRegistration> GetPush(const MailboxKey& mkey) const;

  // ---- Web Push endpoints (docs/notifications.md; WriteBatch::RegisterEndpoint) ----
  Result<EndpointInfo> RegisterEndpoint(const MailboxKey& mkey, std::string_view app_id,
                                        std::string_view vapid_public_key);
  Status RevokeEndpoint(const MailboxKey& mkey, std::string_view token);
  // Live endpoints of `mkey` in token order after `start_after` (empty: from the
  // first), at most `limit`. NotFound for an unknown mailbox.
  Result<std::vector<EndpointInfo>> ListEndpoints(const MailboxKey& mkey,
                                                  std::string_view start_after, size_t limit) const;
  // The endpoint with `token`, a revoked one too (revoked_ms set) until the
  // tombstone horizon purges it; NotFound otherwise. What an HTTP request names.
  Result<EndpointInfo> GetEndpoint(std::string_view token) const;

  // ---- Entries (per-mailbox KV store with version max-merge, SPEC §2) ----
  // Applies if (version, value) ranks above the stored state (see merge.h);
  // version 0 means stored + 1. Returns whether it applied and the stored version.
  Result<EntryPutResult> PutEntry(const MailboxKey& mkey, std::string_view key,
                                  std::string_view value, uint64_t version = 0);
  // A versioned tombstone, merged like a put. Deleting an absent key stores a tombstone.
  Result<EntryPutResult> DeleteEntry(const MailboxKey& mkey, std::string_view key,
                                     uint64_t version = 0);
  // NotFound if absent or deleted.
  Result<EntryInfo> GetEntry(const MailboxKey& mkey, std::string_view key) const;
  // Live entries whose key starts with `prefix`, in key order after `start_after`
  // (from the first if empty), at most `limit`.
  Result<std::vector<EntryInfo>> ListEntries(const MailboxKey& mkey, std::string_view prefix,
                                             std::string_view start_after, size_t limit) const;

  // ---- Messages ----
  // Commits a message with its whole blob: UPLOADED, visible to the recipient,
  // the slot's oldest superseded if it is full, both feeds changed. Posting the
  // same id with the same content again returns the stored message (idempotent
  // retry); with other content Conflict; a superseded id Gone.
  Result<MessageInfo> PostMessage(const PostRequest& request);
  // The message as `actor` (one of its parties) sees it. PermissionDenied for
  // anyone else, NotFound for an unknown id, Gone for a superseded one.
  Result<MessageInfo> GetMessage(const MailboxKey& actor, const MessageId& id) const;
  // Copies bytes [offset, offset + length) of the blob, clipped to its end;
  // InvalidArgument if offset > length of the blob. Errors as GetMessage.
  Result<std::string> ReadBlob(const MailboxKey& actor, const MessageId& id, uint64_t offset = 0,
                               uint64_t length = UINT64_MAX) const;
  // Max-merges `status` into the message's status and returns the status after
  // the call (which may be higher than `status`). Only the recipient may advance
  // (PermissionDenied); NotFound / Gone change nothing.
  Result<MessageStatus> AdvanceStatus(const MailboxKey& actor, const MessageId& id,
                                      MessageStatus status);

  // ---- Resumable uploads and range reads (SPEC §4) ----
  // Starts (or, with the same declaration, continues) an upload; returns where
  // it stands. Checks as PostMessage; Conflict if the id is being uploaded with
  // another declaration; an id already committed with the same content returns
  // committed = true.
  Result<UploadState> BeginUpload(const UploadRequest& request);
  // Stores `bytes` at `offset` (≤ max_chunk_size) and returns the new committed
  // offset. Bytes overlapping stored ones must equal them (else Conflict); a
  // chunk starting past the committed offset is Conflict; past the declared
  // length TooLarge; not the sender PermissionDenied; a committed id Conflict.
  // ResourceExhausted when storage is full: the upload stays at its offset.
  Result<UploadState> WriteChunk(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                                 std::string_view bytes);
  // Where the upload stands (committed = true once the message exists).
  Result<UploadState> UploadOffset(const MailboxKey& actor, const MessageId& id) const;
  // Verifies the whole blob's digest and commits the message exactly as
  // PostMessage does. Conflict if bytes are missing; DigestMismatch discards the
  // upload. Committing again after success returns the message (idempotent).
  Result<MessageInfo> CommitUpload(const MailboxKey& actor, const MessageId& id);
  // Discards an upload and its bytes. NotFound / PermissionDenied / Conflict
  // (already committed).
  Status AbortUpload(const MailboxKey& actor, const MessageId& id);
  // Uploads in progress (begun, neither committed, aborted nor swept) in id
  // order after `start_after`, at most `limit`: what Sweep will remove once
  // they are older than upload_ttl.
  Result<std::vector<UploadInfo>> ListUploads(std::optional<MessageId> start_after,
                                              size_t limit) const;
  // A zero-copy view of [offset, offset + length) of a message's blob, clipped
  // to its end, in stored pieces each with its XXH3-64. Errors as ReadBlob.
  Result<std::unique_ptr<BlobView>> ViewBlob(const MailboxKey& actor, const MessageId& id,
                                             uint64_t offset = 0,
                                             uint64_t length = UINT64_MAX) const;
  // Deletes entries that expired before `now_ms` (WriteBatch::PutExpiringEntry)
  // and uploads begun more than upload_ttl before `now_ms`, at most
  // `batch` per write transaction (a WriteBatch::Sweep op each; never one giant
  // transaction), until none is left; returns what it freed (more = false).
  // Runs also on a full store.
  Result<SweepResult> Sweep(uint64_t now_ms, size_t batch = 16);

  // ---- Feed ----
  // The info packet of everything changed after `since`, at most `limit` items
  // (limit 0 means no limit). `since` older than the purge point, or newer than
  // the feed's sequence, gets a full snapshot with reset = true.
  Result<InfoPacket> Changes(const MailboxKey& mkey, uint64_t since, size_t limit) const;
  // Removes tombstones (and the 410 records of superseded ids) older than the
  // tombstone horizon, at most `max_items` per call (one WriteBatch::
  // PurgeTombstones op); returns how many it removed. Runs also on a full store.
  Result<size_t> PurgeTombstones(size_t max_items = 1000);

  // ---- Pending kicks (the sync server's notifications, docs/notifications.md) ----
  // The pending kicks in mkey order after `start_after` (from the first if
  // empty), at most `limit` (0: no limit). The sync server writes them; this
  // is how it finds them again after a restart, and how an operator sees them.
  Result<std::vector<PendingKick>> ListPendingKicks(std::optional<MailboxKey> start_after,
                                                    size_t limit) const;

  Result<StoreStats> Stats() const;

 private:
  class Impl;
  explicit DB(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postbox

#endif  // POSTBOX_DB_H_
