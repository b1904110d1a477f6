// The op a WriteBatch holds. Private to the engine (write_batch.cc, db.cc).
#ifndef POSTBOX_STORE_BATCH_OP_H_
#define POSTBOX_STORE_BATCH_OP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "postbox/write_batch.h"

namespace postbox {

struct KickWork;  // below

struct WriteBatch::Op {
  enum class Kind {
    kCreateMailbox,
    kDeleteMailbox,
    kConnect,
    kDisconnect,
    kRequestConnection,
    kRegisterPush,
    kPutEntry,
    kDeleteEntry,
    kPostMessage,
    kAdvanceStatus,
    kBeginUpload,
    kWriteChunk,
    kCommitUpload,
    kAbortUpload,
    kSweep,
    kPurgeTombstones,
    kEnsureMailbox,     // a: the mkey; key: the secret (empty: random, kept if it exists)
    kRetractMessage,    // a: the sender; id
    kRegisterEndpoint,  // a: the mailbox; key: the app id; value: the VAPID key
    kRevokeEndpoint,    // a: the mailbox; key: the token
    kKicks,             // kicks: the sync server's pending-kick records (KickWork)
  };
  Kind kind = Kind::kCreateMailbox;
  MailboxKey a{};       // the mailbox, the actor, or the first of a pair
  MailboxKey b{};       // the second of a pair
  std::string key{};    // entry key, push token
  std::string value{};  // entry value; kWriteChunk: the chunk's bytes
  uint64_t version = 0;
  uint64_t offset = 0;  // kWriteChunk
  Platform platform = Platform::kNone;
  MessageStatus status = MessageStatus::kUploaded;
  MessageId id{};
  PostRequest post{};  // kPostMessage
  UploadRequest upload{};
  Digest128 digest{};  // of post.bytes, hashed when the op is added (outside the writer)
  size_t limit = 0;    // kSweep, kPurgeTombstones: the most items the op removes
  uint64_t at_ms = 0;  // kSweep: the time to sweep as of (0: the batch's clock);
                       // kPutEntry: when the entry expires (0: never)
  std::shared_ptr<KickWork> kicks{};  // kKicks

  // Removes the batch's last op and its result: the sync server appends a
  // kKicks op to a host's batch (Server::Write) and takes it out again after
  // DB::Write, so the host sees its own ops only. (A nested class may reach
  // WriteBatch's private members; no public header names this.)
  static void DropLast(WriteBatch* batch) {
    batch->ops_.pop_back();
    if (batch->results_.size() > batch->ops_.size()) batch->results_.pop_back();
  }
  // The batch's op `i` (< size()): the sync server's event log reads what a
  // committed op was about beside its result.
  static const Op& At(const WriteBatch& batch, size_t i) { return batch.ops_[i]; }
};

// What a kKicks op does to the `kicks` table (KEY_LAYOUT.md), in this order:
// `updates` (the scheduler's outcomes), then the marking. Every key a
// kick names is a mailbox; records of unknown mailboxes are deleted.
struct KickUpdate {
  enum class Kind {
    // Sent (or dropped): if the record still has `since`, then it is deleted,
    // or re-armed when the feed moved past `covered` meanwhile (since =
    // covered, first_change = now, due = now + delay, attempts 0; reported in
    // KickWork::armed).
    kDone,
    // Dropped for good: the record with `since` is deleted.
    kDrop,
    // A failed send: the record with `since` gets `attempts` and `due_ms`.
    kRetry,
    // Nothing to send any more (a session connected, the registration went,
    // only the mailbox's own posts changed): as kDone, whatever the record's
    // since, with `covered` the feed cursor the scheduler last saw.
    kCancel,
  };
  Kind kind = Kind::kDone;
  MailboxKey mkey{};
  uint64_t since = 0;
  uint64_t covered = 0;   // kDone, kCancel: the feed cursor the kick covered
  uint64_t due_ms = 0;    // kRetry
  uint32_t attempts = 0;  // kRetry
};

struct KickWork {
  std::vector<KickUpdate> updates;
  // Marking (when `offline` is set): every mailbox whose feed moved in the
  // batch before this op, for which `offline` returns true and which has a
  // push registration, gets a record {since: its seq before the batch's first
  // change, first_change: now, due: now + delay_ms, attempts 0} unless it has
  // one (coalescing: the pending kick then covers this change too).
  // `offline` runs inside the write transaction: it must be quick.
  std::function<bool(const MailboxKey&)> offline;
  uint64_t delay_ms = 0;
  // Out: the records this op created (marking and re-arming), as committed
  // when DB::Write returned OK and the op's status is OK.
  std::vector<PendingKick> armed;
};

// Whether an op of this kind may add data to the store (the one place that
// says so). Such ops are refused with ResourceExhausted once storage is full;
// every other op may use the storage reserve, so a full store can be freed.
// `op` matters for RegisterPush, which grows the store only with a token.
bool GrowsStore(const WriteBatch::Op& op);

}  // namespace postbox

#endif  // POSTBOX_STORE_BATCH_OP_H_
