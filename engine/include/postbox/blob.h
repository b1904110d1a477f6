// Types of resumable uploads and range reads of blobs (SPEC §4); the calls are
// DB::BeginUpload … DB::ViewBlob in db.h.
#ifndef POSTBOX_BLOB_H_
#define POSTBOX_BLOB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/types.h"

namespace postbox {

// What a client declares when it starts uploading a message.
struct UploadRequest {
  MailboxKey from;
  MailboxKey to;
  MessageId id;
  std::string topic;
  std::string meta;
  uint64_t length = 0;
  Digest128 digest{};  // XXH3-128 of the whole blob
};

// Where an upload stands. `offset` is the committed offset: every byte before
// it is durably stored, so a client resumes there (also after a restart).
struct UploadState {
  MessageId id;
  uint64_t length = 0;
  uint64_t offset = 0;
  bool committed = false;  // the message exists; nothing is left to send
  bool operator==(const UploadState&) const = default;
};

// An upload in progress, as an operator lists it (DB::ListUploads).
struct UploadInfo {
  MessageId id;
  MailboxKey from;
  MailboxKey to;
  std::string topic;
  uint64_t length = 0;
  uint64_t offset = 0;      // bytes durably stored so far
  uint64_t created_ms = 0;  // BeginUpload's time; swept upload_ttl after it
  bool operator==(const UploadInfo&) const = default;
};

// One stored piece of a range read, with the XXH3-64 of exactly `bytes`.
struct BlobChunk {
  uint64_t offset = 0;     // of bytes[0] within the blob
  std::string_view bytes;  // borrowed: valid while the BlobView that made it lives
  uint64_t xxh3_64 = 0;
};

struct OwnedBlobChunk {
  uint64_t offset = 0;
  std::string bytes;
  uint64_t xxh3_64 = 0;
  bool operator==(const OwnedBlobChunk&) const = default;
};

// A zero-copy range of a blob: the chunks point into the memory map and stay
// valid, and unchanged, while this object lives (it holds an LMDB read
// transaction, i.e. a snapshot). Keep it short-lived: a live view pins the
// pages it sees, so a store under writes grows until it is released. A thread
// holding one should not ask the same DB for another transaction (a read or a
// write): should another process have enlarged the map meanwhile, adopting it
// waits for this view, and the second call fails with Unavailable after 30 s.
// Not thread-safe; may be moved to and destroyed on another thread.
class BlobView {
 public:
  virtual ~BlobView() = default;
  const MessageInfo& message() const { return message_; }
  const std::vector<BlobChunk>& chunks() const { return chunks_; }
  // The copying variant, for callers that outlive the view.
  std::vector<OwnedBlobChunk> CopyChunks() const {
    std::vector<OwnedBlobChunk> out;
    out.reserve(chunks_.size());
    for (const auto& c : chunks_) out.push_back({c.offset, std::string(c.bytes), c.xxh3_64});
    return out;
  }

 protected:
  MessageInfo message_;
  std::vector<BlobChunk> chunks_;
};

// What DB::Sweep (or a WriteBatch::Sweep op) removed.
struct SweepResult {
  uint64_t uploads = 0;  // incomplete uploads deleted
  uint64_t bytes = 0;    // bytes of blob data they held
  bool more = false;     // uploads or entries past their time remain (the op hit its bound)
  uint64_t entries = 0;  // expired entries deleted (WriteBatch::PutExpiringEntry)
  bool operator==(const SweepResult&) const = default;
};

}  // namespace postbox

#endif  // POSTBOX_BLOB_H_
