// The op a WriteBatch holds. Private to the engine (write_batch.cc, db.cc).
#ifndef POSTBOX_STORE_BATCH_OP_H_
#define POSTBOX_STORE_BATCH_OP_H_

#include <string>

#include "postbox/write_batch.h"

namespace postbox {

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
  uint64_t at_ms = 0;  // kSweep: the time to sweep as of (0: the batch's clock)
};

// Whether an op of this kind may add data to the store (the one place that
// says so). Such ops are refused with ResourceExhausted once storage is full;
// every other op may use the storage reserve, so a full store can be freed.
// `op` matters for RegisterPush, which grows the store only with a token.
bool GrowsStore(const WriteBatch::Op& op);

}  // namespace postbox

#endif  // POSTBOX_STORE_BATCH_OP_H_
