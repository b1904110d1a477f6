// WriteBatch: many write operations applied by DB::Write in one LMDB write
// transaction, each with its own result (the group-commit primitive). An op that
// fails changes nothing and does not stop the others, whatever its error: a
// rejected request, a full store, a corrupted record or an I/O error while it
// runs (DB::Write then applies the batch again without it). Later ops see the
// effects of earlier ones. Only a failed commit fails every op, and then
// nothing was written. Not thread-safe: one thread fills it, calls Write,
// reads results.
#ifndef POSTBOX_WRITE_BATCH_H_
#define POSTBOX_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/blob.h"
#include "postbox/status.h"
#include "postbox/types.h"

namespace postbox {

// A message posted with its whole blob in one call.
struct PostRequest {
  MailboxKey from;
  MailboxKey to;
  MessageId id;
  std::string topic;
  std::string meta;
  // Borrowed: must stay valid until DB::Write (or DB::PostMessage) returns.
  std::string_view bytes;
};

// What a PurgeTombstones op removed.
struct PurgeResult {
  uint64_t tombstones = 0;  // feed tombstones removed (stale index keys and gone records aside)
  bool more = false;        // tombstones past the horizon may remain (the op hit its bound)
  bool operator==(const PurgeResult&) const = default;
};

// What a PostMessage or CommitUpload op did when it made its message live
// (an idempotent retry of a live message did nothing and has none): where the
// message entered the recipient's feed, when its bytes began to arrive, and
// the messages of its slot it superseded (SPEC §2, last-writer cleanup). The
// sync server's event log reports these (postbox/sync/events.h).
struct MessageCommit {
  uint64_t seq = 0;       // the new message's seq in the recipient's feed
  uint64_t began_ms = 0;  // CommitUpload: when BeginUpload ran; PostMessage: the commit time
  // Oldest first, each as it was, with `seq` the seq of its tombstone in the
  // recipient's feed.
  std::vector<MessageInfo> superseded;
  bool operator==(const MessageCommit&) const = default;
};

// The result of one op. Only the fields of the op's kind are set.
struct OpResult {
  Status status;
  EntryPutResult entry;                           // PutEntry, DeleteEntry
  MessageStatus message_status{};                 // AdvanceStatus: the status after the call
  bool status_applied = false;                    // AdvanceStatus: the status rose
  std::optional<MessageInfo> message;             // PostMessage, CommitUpload
  std::optional<MessageCommit> commit;            // PostMessage, CommitUpload (see MessageCommit)
  std::optional<MailboxCredentials> credentials;  // CreateMailbox
  UploadState upload;                             // BeginUpload, WriteChunk
  ConnectionState connection{};                   // RequestConnection
  SweepResult sweep;                              // Sweep
  PurgeResult purge;                              // PurgeTombstones
  std::optional<EndpointInfo> endpoint;           // RegisterEndpoint
};

class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  // Each adder returns the op's index into results().
  size_t CreateMailbox();
  size_t DeleteMailbox(const MailboxKey& mkey);
  // The operator's override: connects a and b without asking either.
  size_t Connect(const MailboxKey& a, const MailboxKey& b);
  // `actor` ends its connection with `peer`, withdraws its request to `peer`
  // and declines the peer's request. NotFound only if `actor` is unknown.
  size_t Disconnect(const MailboxKey& actor, const MailboxKey& peer);
  // `actor` asks to connect to `peer`; the op's `connection` says kConnected
  // once both asked, else kRequested (for an unknown peer too, by design).
  size_t RequestConnection(const MailboxKey& actor, const MailboxKey& peer);
  size_t RegisterPush(const MailboxKey& mkey, Platform platform, std::string token);
  // version 0 means "stored version + 1".
  size_t PutEntry(const MailboxKey& mkey, std::string key, std::string value, uint64_t version);
  // As PutEntry, and the entry expires at `expires_ms` (Unix ms, > 0): the
  // first Sweep at or after that time deletes it (a tombstone, as a
  // DeleteEntry would) unless a later write changed it meanwhile. The server
  // stores Web Push notifications so (postbox/push.h).
  size_t PutExpiringEntry(const MailboxKey& mkey, std::string key, std::string value,
                          uint64_t version, uint64_t expires_ms);
  size_t DeleteEntry(const MailboxKey& mkey, std::string key, uint64_t version);
  size_t PostMessage(PostRequest request);
  // `actor` must be the message's recipient.
  size_t AdvanceStatus(const MailboxKey& actor, const MessageId& id, MessageStatus status);

  size_t BeginUpload(UploadRequest request);
  // `bytes` is copied into the batch.
  size_t WriteChunk(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                    std::string_view bytes);
  // The op's `message` is set on success. The one exception to "an op that
  // fails changes nothing": when the bytes do not match the declared digest,
  // the op fails with DigestMismatch and discards the upload (its record,
  // pieces and staged bytes) in the same transaction, as SPEC §4 promises;
  // a new upload of the id starts from 0.
  size_t CommitUpload(const MailboxKey& actor, const MessageId& id);
  size_t AbortUpload(const MailboxKey& actor, const MessageId& id);

  // ---- For relays (docs/relay.md) ----
  // Makes sure mailbox `mkey` exists: creates it if missing, with `secret` (a
  // random one if empty, returned in the op's `credentials`: a relay that
  // discards it makes a peer nobody can log in as); if it exists, sets its
  // secret to `secret` unless that is empty (then `credentials` hold the mkey
  // and an empty secret). A created mailbox lists the connection requests
  // others made to its key. InvalidArgument for a secret over 256 bytes.
  size_t EnsureMailbox(const MailboxKey& mkey, std::string secret);
  // The sender takes back a live message: it is removed as a supersession
  // removes it (tombstones in both feeds, 410 afterwards). PermissionDenied
  // for anyone but the sender; NotFound, Gone as usual.
  size_t RetractMessage(const MailboxKey& sender, const MessageId& id);

  // ---- Web Push endpoints (docs/notifications.md) ----
  // The mailbox's endpoint for `app_id` (1..max_app_id_size bytes) with this
  // VAPID key (empty, or a 65-byte uncompressed P-256 point), in the op's
  // `endpoint`: the existing one if registered before with the same key, else
  // a new one (an endpoint of the app with another key is revoked).
  // InvalidArgument for a bad app id or key, NotFound for an unknown mailbox,
  // BackOff past max_endpoints_per_mailbox live endpoints.
  size_t RegisterEndpoint(const MailboxKey& mkey, std::string app_id, std::string vapid_public_key);
  // App servers then get 410 from it. NotFound unless it is a live endpoint of `mkey`.
  size_t RevokeEndpoint(const MailboxKey& mkey, std::string token);
  // ---- Maintenance, bounded so that a host can run it inside its group commits ----
  // Deletes up to `max_uploads` (≥ 1) expired entries (PutExpiringEntry) and
  // as many uploads begun more than upload_ttl before the batch's clock
  // (Options::clock), oldest first; the result says what was freed and
  // whether more remain.
  size_t Sweep(size_t max_uploads);
  // Removes up to `max_items` (≥ 1) tombstones older than the tombstone
  // horizon, as DB::PurgeTombstones, and as many endpoints revoked before it;
  // the result says how many tombstones and whether more of either may remain.
  size_t PurgeTombstones(size_t max_items);

  // The op as the engine holds it. Defined in engine/src/store/batch_op.h, so
  // only the library's own layers (the sync server) build one and hand it to
  // Add: a request decoded off the wire becomes its batch op once.
  struct Op;
  size_t Add(Op op);

  size_t size() const;
  bool empty() const { return size() == 0; }
  // Drops ops and results, keeping capacity.
  void Clear();

  // Valid after DB::Write: one result per op, in order.
  const std::vector<OpResult>& results() const { return results_; }
  // Valid after DB::Write: every mailbox whose feed moved, each once, sorted.
  const std::vector<MailboxKey>& changed_mailboxes() const { return changed_; }

 private:
  friend class DB;
  std::vector<Op> ops_;
  std::vector<OpResult> results_;
  std::vector<MailboxKey> changed_;
};

}  // namespace postbox

#endif  // POSTBOX_WRITE_BATCH_H_
