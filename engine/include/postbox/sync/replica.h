// postbox::sync::Replica — the app half of postbox (docs/replica.md): a local
// mirror of one mailbox in an LMDB store in the app's folder, kept in sync by
// a Client, with a durable outbox for every write the app makes.
//
// The mirror holds the mailbox's incoming and outgoing messages with their
// statuses, its entries (with versioned tombstones), its connections, its push
// registration and the feed cursor. Every info packet (push or poll) is applied
// in one local transaction together with the cursor, and only when it follows
// the cursor last applied (InfoPacket::since): a repeated or out-of-order packet
// is skipped and a gap is filled by polling, so a crash or a lost push never
// double-applies or skips. A reset snapshot rebuilds the mirror.
//
// Writes (status updates, entry puts and deletes, posts with their blobs,
// connection changes, push registration) are stored in the outbox in the same
// local transaction as their optimistic effect on the mirror and return at
// once; they are sent when connected, retried across disconnects and restarts
// until the server answers, and end acknowledged or failed permanently (their
// effect rolled back). Reads come from the mirror and work offline.
//
// What the app sees is the server's state (as last synced) with the pending
// outbox applied on top by the same merge rules as the server's (merge.h):
// a status is the max of the synced one and the pending raises, an entry the
// merge of the synced state and the pending puts and deletes.
//
// Thread-safety: every method may be called from any thread. Callbacks run on
// the executor the app supplies (ReplicaOptions::executor), one at a time and
// in order; they may call any Replica method except the destructor.
#ifndef POSTBOX_SYNC_REPLICA_H_
#define POSTBOX_SYNC_REPLICA_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/merge.h"
#include "postbox/options.h"
#include "postbox/push.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/client.h"
#include "postbox/types.h"

namespace postbox::sync {

// What one local transaction changed in the mirror (the app's view).
struct ReplicaChange {
  std::vector<MessageId> messages;          // added or changed (status, fields)
  std::vector<MessageId> messages_removed;  // superseded, deleted, rolled back
  std::vector<std::string> entries;         // put (the visible value changed)
  std::vector<std::string> entries_removed;
  std::vector<MailboxKey> connections;  // a connection's state changed
  bool reset = false;                   // a reset snapshot was completed
  uint64_t cursor = 0;                  // the cursor after the change
  bool empty() const {
    return messages.empty() && messages_removed.empty() && entries.empty() &&
           entries_removed.empty() && connections.empty() && !reset;
  }
};

// A message as the app sees it.
struct ReplicaMessage {
  MessageInfo info;
  bool incoming = false;  // this mailbox is the recipient
  // The status the server last confirmed (info.status may be higher: a raise
  // still in the outbox). 0 for a post not yet acknowledged.
  uint8_t synced_status = 0;
  bool pending = false;  // a post not yet acknowledged, or a status raise in the outbox
  bool operator==(const ReplicaMessage&) const = default;
};

// Where a message's blob stands in the replica.
enum class BlobState : uint8_t {
  kNone = 0,        // not requested
  kWanted = 1,      // requested (by the app or the policy); downloading when connected
  kDownloaded = 2,  // complete and verified
};

struct ReplicaBlob {
  BlobState state = BlobState::kNone;
  std::string path;     // the file holding it (complete: the whole blob)
  uint64_t held = 0;    // bytes downloaded so far
  uint64_t length = 0;  // the blob's length
};

enum class OutboxKind : uint8_t {
  kStatus = 1,
  kPutEntry = 2,
  kDeleteEntry = 3,
  kPost = 4,
  kAddConnection = 5,
  kRemoveConnection = 6,
  kRegisterPush = 7,
};
std::string_view OutboxKindName(OutboxKind kind);

// One write waiting in the outbox (or just ended, in on_outbox).
struct OutboxItem {
  uint64_t id = 0;  // increasing in the order the app made the writes
  OutboxKind kind = OutboxKind::kStatus;
  uint64_t created_ms = 0;
  uint32_t attempts = 0;                            // sends that got no final answer so far
  MessageId message;                                // kStatus, kPost
  MessageStatus status = MessageStatus::kUploaded;  // kStatus
  std::string key;                                  // kPutEntry, kDeleteEntry; kPost: the topic
  std::string value;     // kPutEntry; kPost: the meta; kRegisterPush: the token
  uint64_t version = 0;  // kPutEntry, kDeleteEntry: the version, resolved when written
  MailboxKey peer;       // kPost: the recipient; kAddConnection, kRemoveConnection
  Platform platform = Platform::kNone;  // kRegisterPush
  uint64_t length = 0;                  // kPost: the blob's length
  std::string path;                     // kPost: the file the blob is read from
  Digest128 digest{};                   // kPost: the blob's XXH3-128 (zero: computed when sent)
  bool owned = false;  // kPost: `path` is the replica's copy, deleted when the item ends
  bool operator==(const OutboxItem&) const = default;
};

// Several writes made at once (Replica::Write): one local transaction, so one
// sync, for all of them instead of one each.
class ReplicaBatch {
 public:
  void UpdateStatus(const MessageId& id, MessageStatus status);
  void PutEntry(std::string_view key, std::string_view value, uint64_t version = 0);
  void DeleteEntry(std::string_view key, uint64_t version = 0);
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void Clear() { items_.clear(); }
  const std::vector<OutboxItem>& items() const { return items_; }

 private:
  std::vector<OutboxItem> items_;
};

// How an outbox item ended.
struct OutboxOutcome {
  OutboxItem item;
  // OK: acknowledged. Otherwise the permanent error (403, 404, 409, 410, 413,
  // 422, 400) the server answered, or, with `cancelled`, InvalidArgument
  // "cancelled" for Replica::Cancel; the item's optimistic effect was rolled back.
  Status status;
  bool cancelled = false;
  // An acknowledged put, delete or status raise that did not change the
  // server's state (its merge lost: the server's state was at or above it);
  // the mirror now shows the winner.
  bool applied = true;
};

// A Web Push notification in the mirror (postbox/push.h) with the entry that
// holds it.
struct ReplicaPushNotification {
  PushNotification notification;
  std::string key;       // its entry key (PushEntryKey(notification))
  uint64_t version = 0;  // its entry version: what ConsumePushNotification deletes
  bool operator==(const ReplicaPushNotification&) const = default;
};

// Which blobs download by themselves (besides those the app asks for).
struct DownloadPolicy {
  bool automatic = false;           // download incoming blobs as they arrive
  uint64_t max_size = UINT64_MAX;   // ...up to this length
  std::vector<std::string> topics;  // ...of these topics (empty: any)
};

struct ReplicaOptions {
  // The replica's folder: its LMDB store and its blob files (created if
  // missing). One replica per folder, for one mailbox (client.mkey).
  std::string folder;
  // The server, the mailbox and its credentials. on_push, auto_ack, resume and
  // start_cursor are the replica's own and are overwritten.
  ClientOptions client;
  // The local store's durability. kDurable: a write returned to the app
  // survives power loss; kRelaxed: it survives a crash of the app (a system
  // crash may lose the last writes, never corrupt).
  Durability durability = Durability::kDurable;
  uint64_t max_map_size = uint64_t{4} << 30;
  // Runs each callback; the app chooses the thread (a UI thread's queue, say).
  // Empty: a thread of the replica's own runs them, one at a time.
  std::function<void(std::function<void()>)> executor;
  // Called after each local transaction that changed what the app sees
  // (packets applied, writes made, items acknowledged or rolled back).
  std::function<void(const ReplicaChange&)> on_change;
  // Called when an outbox item ends (acknowledged or failed permanently).
  // At least once: the outcome is stored with the item's end and forgotten
  // once this returned, so one ended just before the app stopped (or whose
  // callback had not run yet) is reported again by the next Open. Tell
  // repeats apart by OutboxItem::id.
  std::function<void(const OutboxOutcome&)> on_outbox;
  // Called when the replica cannot sync for a reason a retry will not fix
  // (401 wrong credentials, 426 protocol, a failing local store); it keeps
  // trying with backoff_max between attempts.
  std::function<void(const Status&)> on_error;
  DownloadPolicy download_policy;
  // Outbox items in flight at once (pipelined on the session); posts count
  // one each but at most max_uploads of them run at once.
  uint32_t outbox_window = 64;
  uint32_t max_uploads = 2;
  // Retries of a transient failure (network, 429, 503) wait initial, doubling
  // up to max, each scaled by a random factor in [0.5, 1].
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{30000};
  // While connected, poll from the cursor at least this often (a safety net:
  // pushes normally carry everything; a gap found in a push polls at once).
  std::chrono::milliseconds poll_interval{30000};
  // Connect when opened (else call Start).
  bool start = true;
};

// Where the replica stands (Replica::state()).
struct ReplicaState {
  bool connected = false;
  uint64_t cursor = 0;           // the cursor of the last applied packet
  uint64_t pending = 0;          // outbox items not yet ended
  uint64_t packets_applied = 0;  // since opened
  uint64_t packets_skipped = 0;  // repeated or not contiguous (then polled)
  uint64_t sessions = 0;         // sessions established since opened
  Status last_error;             // the last final error (401, 426, store)
};

class Replica {
 public:
  // Opens (creating) the replica in options.folder and, with options.start,
  // starts syncing in the background (it never blocks on the network).
  // InvalidArgument for bad options; Conflict if the folder holds the replica
  // of another mailbox; the local store's errors (Unavailable, Internal).
  static Result<std::unique_ptr<Replica>> Open(ReplicaOptions options);
  // Stops syncing and closes the store; writes already returned are in the
  // outbox and are sent by the next Open. Callbacks still queued are dropped
  // if the replica's own executor runs them; an app executor may still run
  // some, which must then not use the Replica (see docs/replica.md).
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const MailboxKey& mkey() const;
  // Starts syncing (if options.start was false). Idempotent.
  void Start();
  // Waits until the outbox is empty and the mirror has caught up with the
  // server (a poll answered with nothing after the cursor), or `timeout`
  // passes (Unavailable). With the replica's own executor, the callbacks of
  // everything it waited for have run when it returns (an app's executor
  // runs them when the app lets it). Not from a callback on the replica's
  // own executor (InvalidArgument).
  Status Sync(std::chrono::milliseconds timeout);
  ReplicaState state() const;
  // Drops the connection as a network failure would (tests).
  void DropConnection();

  // ---- reads (from the mirror; work offline) ----
  // Messages received / sent, oldest first (by creation time, then id), after
  // `start_after` (an id from the previous page), at most `limit` (0: all).
  Result<std::vector<ReplicaMessage>> Inbox(std::optional<MessageId> start_after = std::nullopt,
                                            size_t limit = 0) const;
  Result<std::vector<ReplicaMessage>> Sent(std::optional<MessageId> start_after = std::nullopt,
                                           size_t limit = 0) const;
  // NotFound if the mirror does not hold it (never synced, superseded, deleted).
  Result<ReplicaMessage> GetMessage(const MessageId& id) const;
  // NotFound if absent or deleted.
  Result<EntryInfo> GetEntry(std::string_view key) const;
  // The state of `key` as the app sees it, a tombstone (with its version)
  // included; NotFound if the replica never saw the key. (A relay compares
  // it with its own store's.)
  Result<EntryState> GetEntryState(std::string_view key) const;
  Result<std::vector<EntryInfo>> ListEntries(std::string_view prefix,
                                             std::string_view start_after = {},
                                             size_t limit = 0) const;
  // The connections as last synced with the pending changes applied: peers
  // connected (kConnected) or asked by this mailbox (kRequested).
  Result<std::vector<std::pair<MailboxKey, ConnectionState>>> Connections() const;
  Result<PushRegistration> Push() const;
  uint64_t cursor() const;

  // ---- writes (durable in the outbox, optimistic in the mirror) ----
  // Each returns the outbox item's id once the write is durable locally.
  // Checks that need no server are made here (InvalidArgument, NotFound for a
  // message the mirror does not hold, PermissionDenied for a status raise of
  // a message this mailbox did not receive, TooLarge past the server's
  // default limits); the server's verdict arrives later through on_outbox.
  Result<uint64_t> UpdateStatus(const MessageId& id, MessageStatus status);
  // version 0: one above the version the mirror shows (resolved now and sent
  // explicitly, so a resend cannot apply twice; an offline write can then lose
  // to a newer one it did not see, reported with applied = false).
  // PermissionDenied for a key under kPushKeyPrefix or kSimplePushKeyPrefix
  // (push.h: only the server writes there; deleting is consuming).
  Result<uint64_t> PutEntry(std::string_view key, std::string_view value, uint64_t version = 0);
  Result<uint64_t> DeleteEntry(std::string_view key, uint64_t version = 0);
  // The writes of `batch`, in order, in one local transaction: each gets the
  // result its own call would have (the outbox item's id, or its check's
  // error). An error of the whole is the store's: then nothing was written.
  Result<std::vector<Result<uint64_t>>> Write(const ReplicaBatch& batch);
  // Posts `bytes` as message `id` to `to` (copied into the replica's folder
  // until the upload is acknowledged). A new random id if `id` is empty.
  Result<MessageId> Post(const MailboxKey& to, std::string bytes, std::string_view topic,
                         std::string_view meta = {}, std::optional<MessageId> id = std::nullopt);
  // As Post, reading the blob from the app's file at `path`, which must stay
  // unchanged until the item ends.
  Result<MessageId> PostFile(const MailboxKey& to, const std::string& path, std::string_view topic,
                             std::string_view meta = {},
                             std::optional<MessageId> id = std::nullopt);
  Result<uint64_t> AddConnection(const MailboxKey& peer);
  Result<uint64_t> RemoveConnection(const MailboxKey& peer);
  Result<uint64_t> RegisterPush(Platform platform, std::string_view token);

  // ---- Web Push (docs/replica.md "Web Push endpoints and notifications") ----
  // Endpoints live on the server and are not mirrored: these three are
  // Client's (client.h: protocol 3, the same errors) sent at once through the
  // replica's session, blocking up to client.request_timeout. Unavailable when
  // the replica has no session (offline, not started, reconnecting): an app
  // registers at each start once connected (after Sync, say) — registering is
  // idempotent — and keeps the URL it gets.
  Result<Endpoint> RegisterEndpoint(std::string_view app_id,
                                    std::string_view vapid_public_key = {});
  Result<EndpointPage> ListEndpoints(std::string_view start_after = {}, uint32_t limit = 0);
  Status RevokeEndpoint(std::string_view token);
  // The notifications the mirror holds (entries under kPushKeyPrefix, pending
  // consumptions already applied: works offline), of endpoint `token` or
  // (empty) of every endpoint, oldest first (received_ms, then key). Entries
  // there that do not parse (a later server's format) are skipped; they stay
  // visible to ListEntries. InvalidArgument for a token that is not base64url.
  Result<std::vector<ReplicaPushNotification>> PushNotifications(std::string_view token = {}) const;
  // Consumes `n`: deletes its entry at its version through the outbox (as
  // DeleteEntry(n.key, n.version), the item's id returned), so a newer
  // notification that replaced it (same topic, higher version) survives.
  // InvalidArgument if n.key is not under kPushKeyPrefix or n.version is 0.
  Result<uint64_t> ConsumePushNotification(const ReplicaPushNotification& n);

  // ---- the outbox ----
  // Items not yet ended, oldest first.
  Result<std::vector<OutboxItem>> Pending() const;
  // Removes a pending item and rolls its effect back (on_outbox reports it
  // with InvalidArgument "cancelled"). NotFound if it has ended; Conflict if
  // it is being sent right now (its outcome will follow).
  Status Cancel(uint64_t item);

  // ---- blobs ----
  // Asks for the blob of a received (or sent) message to be downloaded into
  // the replica's folder (resumable across restarts). NotFound / Gone as
  // GetMessage.
  Status RequestBlob(const MessageId& id);
  // As RequestBlob, into the app's file at `path` (appended; its bytes are the
  // resume point).
  Status RequestBlobTo(const MessageId& id, const std::string& path);
  // Where the blob stands; NotFound if never requested.
  Result<ReplicaBlob> Blob(const MessageId& id) const;
  // The whole blob once downloaded (Unavailable before).
  Result<std::string> ReadBlob(const MessageId& id) const;

  class Impl;

 private:
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_REPLICA_H_
