// Store: every engine operation as a function of an LMDB transaction. DB (db.cc)
// opens the transactions and dispatches batches; the operations live here, one
// file per area (mailboxes.cc, entries.cc, messages.cc, feed.cc). Write
// operations validate with reads first and only then write, so an op that fails
// validation leaves the transaction untouched and the rest of a batch proceeds;
// a failed write (map full, I/O) fails the whole transaction.
// Thread-safety: stateless apart from options; safe to share. Writes must run
// in Env::Write (one writer).
#ifndef POSTBOX_STORE_STORE_H_
#define POSTBOX_STORE_STORE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/blob.h"
#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/types.h"
#include "store/batch_op.h"
#include "store/env.h"
#include "store/records.h"

namespace postbox::store {

// The mailboxes whose feed moved in a write transaction, each with its seq
// before the transaction's first change to it (a pending kick's `since`).
using ChangedMailboxes = std::map<MailboxKey, uint64_t>;

// Per-transaction state of a write: the clock reading and the mailboxes whose
// feed moved (so a server knows whom to push to).
struct WriteCtx {
  Txn& txn;
  uint64_t now_ms;
  ChangedMailboxes* changed;
  // Set by DB::Write for a PostMessage or CommitUpload op: CommitMessage
  // reports what it did here (write_batch.h MessageCommit). May be null.
  MessageCommit* commit = nullptr;
};

class Store {
 public:
  explicit Store(const Options& options) : options_(options) {}
  const Options& options() const { return options_; }
  uint64_t Now() const;

  // ---- mailboxes.cc ----
  Result<MailboxCredentials> CreateMailbox(WriteCtx& w) const;
  // WriteBatch::EnsureMailbox: creates `m` if missing (with `secret`, or a
  // random one), or sets its secret if `secret` is not empty.
  Result<MailboxCredentials> EnsureMailbox(WriteCtx& w, const MailboxKey& m,
                                           std::string_view secret) const;
  Status Authenticate(Txn& t, const MailboxKey& m, std::string_view secret) const;
  Status DeleteMailbox(WriteCtx& w, const MailboxKey& m) const;
  Result<MailboxRecord> RequireMailbox(Txn& t, const MailboxKey& m) const;
  Result<MailboxInfo> GetMailbox(Txn& t, const MailboxKey& m) const;
  Result<std::vector<MailboxInfo>> ListMailboxes(Txn& t, std::optional<MailboxKey> after,
                                                 size_t limit) const;
  // DB::Restore's fence (docs/operations.md, "Backup and restore"): raises the
  // seq of up to `max` mailboxes after `*after` by kFeedFenceGap and sets
  // their purge point to it, so every cursor handed out before — also one from
  // writes the backup lost — gets a full snapshot, and new changes never reuse
  // a seq such a cursor names. Advances `*after`; true while more are left.
  Result<bool> FenceFeeds(Txn& t, std::optional<MailboxKey>* after, size_t max) const;
  // Mailboxes deleted so far (meta["mailbox_deletions"]).
  Result<uint64_t> MailboxDeletions(Txn& t) const;
  Status RegisterPush(WriteCtx& w, const MailboxKey& m, Platform p, std::string_view token) const;
  Result<PushRegistration> GetPush(Txn& t, const MailboxKey& m) const;

  // ---- endpoints.cc (Web Push endpoints) ----
  // The mailbox's endpoint for `app_id` with this key, made if there is none;
  // an endpoint of the app with another key is revoked first.
  Result<EndpointInfo> RegisterEndpoint(WriteCtx& w, const MailboxKey& m, std::string_view app_id,
                                        std::string_view vapid_public_key) const;
  // NotFound unless `token` is a live endpoint of `m`.
  Status RevokeEndpoint(WriteCtx& w, const MailboxKey& m, std::string_view token) const;
  // Live endpoints of `m` in token order after `after`.
  Result<std::vector<EndpointInfo>> ListEndpoints(Txn& t, const MailboxKey& m,
                                                  std::string_view after, size_t limit) const;
  // Any endpoint, revoked ones included (until purged); NotFound otherwise.
  Result<EndpointInfo> GetEndpoint(Txn& t, std::string_view token) const;
  // Mailbox deletion: every live endpoint revoked.
  Status RevokeEndpointsOf(WriteCtx& w, const MailboxKey& m) const;
  // Forgets up to `max_items` endpoints revoked before the tombstone horizon.
  Result<size_t> PurgeRevokedEndpoints(WriteCtx& w, size_t max_items) const;

  // ---- connections.cc (consent rules in docs/engine.md) ----
  // The operator's override: connects a and b at once (both must exist).
  Status Connect(WriteCtx& w, const MailboxKey& a, const MailboxKey& b) const;
  // `actor` asks to connect to `peer`: kConnected if the peer had asked too
  // (or they were connected), else kRequested — also for an unknown peer.
  Result<ConnectionState> RequestConnection(WriteCtx& w, const MailboxKey& actor,
                                            const MailboxKey& peer) const;
  // `actor` ends the connection, withdraws its request and declines the peer's.
  // NotFound only if `actor` is unknown.
  Status Disconnect(WriteCtx& w, const MailboxKey& actor, const MailboxKey& peer) const;
  Result<bool> IsConnected(Txn& t, const MailboxKey& a, const MailboxKey& b) const;
  Result<std::vector<MailboxKey>> ListConnections(Txn& t, const MailboxKey& m,
                                                  std::optional<MailboxKey> after, size_t limit,
                                                  ConnectionListKind kind) const;
  // Mailbox deletion: its connections and its requests (with their mirrors).
  Status DeleteConnectionsOf(WriteCtx& w, const MailboxKey& m) const;

  // ---- entries.cc ----
  // `expires_ms` > 0 (a put): the entry is indexed in entry_ttl for the sweep.
  Result<EntryPutResult> MergeEntry(WriteCtx& w, const MailboxKey& m, std::string_view key,
                                    std::string_view value, uint64_t version, bool deleted,
                                    uint64_t expires_ms = 0) const;
  // Deletes (with a tombstone) up to `limit` entries whose expiry is before
  // `now_ms`, skipping those written again since they were indexed.
  Result<uint64_t> ExpireEntries(WriteCtx& w, uint64_t now_ms, size_t limit) const;
  Result<EntryInfo> GetEntry(Txn& t, const MailboxKey& m, std::string_view key) const;
  Result<std::vector<EntryInfo>> ListEntries(Txn& t, const MailboxKey& m, std::string_view prefix,
                                             std::string_view after, size_t limit) const;

  // ---- messages.cc ----
  // `digest` is ComputeDigest128(bytes), computed by the caller outside the writer.
  Result<MessageInfo> PostMessage(WriteCtx& w, const MailboxKey& from, const MailboxKey& to,
                                  const MessageId& id, std::string_view topic,
                                  std::string_view meta, std::string_view bytes,
                                  const Digest128& digest) const;
  // The status after the call; `*applied` says whether it rose.
  // WriteBatch::RetractMessage: the sender removes its live message.
  Status RetractMessage(WriteCtx& w, const MailboxKey& sender, const MessageId& id) const;
  Result<MessageStatus> AdvanceStatus(WriteCtx& w, const MailboxKey& actor, const MessageId& id,
                                      MessageStatus status, bool* applied) const;
  // The live message `id` (both its record and its state), nullopt when the
  // id is not live; Internal when the record has no state row.
  Result<std::optional<Message>> FindMessage(Txn& t, const MessageId& id) const;
  // Who may act on a message: either party, or only one of them (the
  // recipient raises a status, the sender retracts).
  enum class Party { kEither, kRecipient, kSender };
  // The live message if `actor` may act on it as `party`; errors per
  // docs/engine.md: PermissionDenied for anyone else, for a live and a removed
  // id alike; Gone for the party of a removed id.
  Result<Message> RequireMessage(Txn& t, const MailboxKey& actor, const MessageId& id,
                                 Party party) const;
  Result<std::string> ReadBlob(Txn& t, const MailboxKey& actor, const MessageId& id,
                               uint64_t offset, uint64_t length) const;
  // The checks every new message passes (sizes, parties, posting policy) and
  // its id's state: the stored message when the id is live with the same
  // content (an idempotent retry), nullopt when the id is free; Conflict or
  // Gone otherwise. Uploads in progress are the caller's concern.
  Result<std::optional<MessageInfo>> CheckNewMessage(Txn& t, const MailboxKey& from,
                                                     const MailboxKey& to, const MessageId& id,
                                                     std::string_view topic, std::string_view meta,
                                                     uint64_t length,
                                                     const Digest128& digest) const;
  // Makes a message whose blob is already in `blobs` live: supersedes the
  // slot's oldest if it is full, writes the record, its state and both feed
  // items.
  // `rec` has from, to, topic, meta, length and digest set.
  Result<MessageInfo> CommitMessage(WriteCtx& w, const MessageId& id, MessageRecord rec) const;
  // Writes `bytes` as the pieces of blob `id` from `offset`, a piece
  // boundary (Internal otherwise), each piece whole but the last, which the
  // caller guarantees ends the blob. Pieces are written once: an upload
  // stages the bytes of an incomplete piece elsewhere (upload_bytes.h).
  Status AppendPieces(Txn& t, const MessageId& id, uint64_t offset, std::string_view bytes) const;
  Status DeletePieces(Txn& t, const MessageId& id, uint64_t stored_length) const;
  // The pieces covering [offset, offset + length) of a blob of `blob_length`
  // bytes, as views into the map, with their XXH3-64 if `hash_chunks` (the
  // stored digest for a whole piece, computed for a partial one).
  Result<std::vector<BlobChunk>> PieceViews(Txn& t, const MessageId& id, uint64_t blob_length,
                                            uint64_t offset, uint64_t length,
                                            bool hash_chunks) const;
  // Deletes a live message like a supersession: blob, slot, record; a gone
  // record and state; a gone record; tombstones in both feeds (except
  // `skip`'s, a mailbox being deleted). `tomb_seq_to`, if not null, gets the
  // seq of the recipient's tombstone (0 if skipped).
  Status RemoveMessage(WriteCtx& w, const MessageId& id, const Message& msg,
                       const std::optional<MailboxKey>& skip,
                       uint64_t* tomb_seq_to = nullptr) const;

  // ---- uploads.cc ----
  Result<UploadState> BeginUpload(WriteCtx& w, const UploadRequest& req) const;
  // Appends to the upload's bytes and advances its running XXH3-128 (kept in
  // its record); a resent overlap must equal the stored bytes (staged ones
  // too), else Conflict.
  Result<UploadState> WriteChunk(WriteCtx& w, const MailboxKey& actor, const MessageId& id,
                                 uint64_t offset, std::string_view bytes) const;
  Result<UploadState> UploadOffset(Txn& t, const MailboxKey& actor, const MessageId& id) const;
  // Uploads in progress in id order after `after`, at most `limit`.
  Result<std::vector<UploadInfo>> ListUploads(Txn& t, std::optional<MessageId> after,
                                              size_t limit) const;
  // Finalizes the upload's running hash (it never reads the blob, unless the
  // saved state came from another xxHash build) and commits the message. Like
  // every other op it validates before it writes: on a digest mismatch it
  // returns DigestMismatch having written nothing; discarding the upload, as
  // SPEC §4 promises, is its caller's (DB::Impl::ApplyOne's) separate step.
  Result<MessageInfo> CommitUpload(WriteCtx& w, const MailboxKey& actor, const MessageId& id) const;
  // Deletes the upload, its pieces and its staged bytes.
  Status AbortUpload(WriteCtx& w, const MailboxKey& actor, const MessageId& id) const;
  // Deletes up to `max_uploads` uploads begun before `cutoff_ms`.
  Result<SweepResult> SweepUploads(WriteCtx& w, uint64_t cutoff_ms, size_t max_uploads) const;
  // Deletes every upload from or to `m` (mailbox deletion).
  Status DeleteUploadsOf(WriteCtx& w, const MailboxKey& m) const;

  // ---- feed.cc ----
  // Moves an item's single feed record: deletes the one at `old_seq` (0: none),
  // writes `rec` at the mailbox's next seq and returns that seq. Tombstones are
  // also indexed for purging.
  Result<uint64_t> MoveFeedItem(WriteCtx& w, const MailboxKey& m, uint64_t old_seq,
                                const FeedRecord& rec) const;
  Result<InfoPacket> Changes(Txn& t, const MailboxKey& m, uint64_t since, size_t limit) const;
  Result<size_t> PurgeTombstones(WriteCtx& w, size_t max_items) const;

  // ---- kicks.cc (pending kicks of the sync server, docs/notifications.md) ----
  // Applies a kKicks op: `work.updates`, then the marking of `changed` (the
  // batch's changes before the op); fills work.armed.
  Status ApplyKicks(WriteCtx& w, const ChangedMailboxes& changed, KickWork& work) const;
  Result<std::vector<PendingKick>> ListKicks(Txn& t, std::optional<MailboxKey> after,
                                             size_t limit) const;

 private:
  Options options_;
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_STORE_H_
