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
};

}  // namespace postbox

#endif  // POSTBOX_STORE_BATCH_OP_H_
