#include "postbox/write_batch.h"

#include "store/batch_op.h"

namespace postbox {

WriteBatch::WriteBatch() = default;
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

size_t WriteBatch::size() const { return ops_.size(); }

void WriteBatch::Clear() {
  ops_.clear();
  results_.clear();
  changed_.clear();
}

size_t WriteBatch::Add(Op op) {
  ops_.push_back(std::move(op));
  return ops_.size() - 1;
}

size_t WriteBatch::CreateMailbox() { return Add(Op{.kind = Op::Kind::kCreateMailbox}); }

size_t WriteBatch::EnsureMailbox(const MailboxKey& mkey, std::string secret) {
  return Add(Op{.kind = Op::Kind::kEnsureMailbox, .a = mkey, .key = std::move(secret)});
}

size_t WriteBatch::RetractMessage(const MailboxKey& sender, const MessageId& id) {
  return Add(Op{.kind = Op::Kind::kRetractMessage, .a = sender, .id = id});
}

size_t WriteBatch::DeleteMailbox(const MailboxKey& mkey) {
  return Add(Op{.kind = Op::Kind::kDeleteMailbox, .a = mkey});
}

size_t WriteBatch::Connect(const MailboxKey& a, const MailboxKey& b) {
  return Add(Op{.kind = Op::Kind::kConnect, .a = a, .b = b});
}

size_t WriteBatch::Disconnect(const MailboxKey& a, const MailboxKey& b) {
  return Add(Op{.kind = Op::Kind::kDisconnect, .a = a, .b = b});
}

size_t WriteBatch::RequestConnection(const MailboxKey& actor, const MailboxKey& peer) {
  return Add(Op{.kind = Op::Kind::kRequestConnection, .a = actor, .b = peer});
}

size_t WriteBatch::RegisterPush(const MailboxKey& mkey, Platform platform, std::string token) {
  return Add(Op{
      .kind = Op::Kind::kRegisterPush, .a = mkey, .key = std::move(token), .platform = platform});
}

size_t WriteBatch::PutEntry(const MailboxKey& mkey, std::string key, std::string value,
                            uint64_t version) {
  return Add(Op{.kind = Op::Kind::kPutEntry,
                .a = mkey,
                .key = std::move(key),
                .value = std::move(value),
                .version = version});
}

size_t WriteBatch::PutExpiringEntry(const MailboxKey& mkey, std::string key, std::string value,
                                    uint64_t version, uint64_t expires_ms) {
  return Add(Op{.kind = Op::Kind::kPutEntry,
                .a = mkey,
                .key = std::move(key),
                .value = std::move(value),
                .version = version,
                .at_ms = expires_ms});
}

size_t WriteBatch::DeleteEntry(const MailboxKey& mkey, std::string key, uint64_t version) {
  return Add(
      Op{.kind = Op::Kind::kDeleteEntry, .a = mkey, .key = std::move(key), .version = version});
}

size_t WriteBatch::PostMessage(PostRequest request) {
  Digest128 digest = ComputeDigest128(request.bytes);
  return Add(Op{.kind = Op::Kind::kPostMessage, .post = std::move(request), .digest = digest});
}

size_t WriteBatch::AdvanceStatus(const MailboxKey& actor, const MessageId& id,
                                 MessageStatus status) {
  return Add(Op{.kind = Op::Kind::kAdvanceStatus, .a = actor, .status = status, .id = id});
}

size_t WriteBatch::BeginUpload(UploadRequest request) {
  return Add(Op{.kind = Op::Kind::kBeginUpload, .upload = std::move(request)});
}

size_t WriteBatch::WriteChunk(const MailboxKey& actor, const MessageId& id, uint64_t offset,
                              std::string_view bytes) {
  return Add(Op{.kind = Op::Kind::kWriteChunk,
                .a = actor,
                .value = std::string(bytes),
                .offset = offset,
                .id = id});
}

size_t WriteBatch::CommitUpload(const MailboxKey& actor, const MessageId& id) {
  return Add(Op{.kind = Op::Kind::kCommitUpload, .a = actor, .id = id});
}

size_t WriteBatch::AbortUpload(const MailboxKey& actor, const MessageId& id) {
  return Add(Op{.kind = Op::Kind::kAbortUpload, .a = actor, .id = id});
}

size_t WriteBatch::RegisterEndpoint(const MailboxKey& mkey, std::string app_id,
                                    std::string vapid_public_key) {
  return Add(Op{.kind = Op::Kind::kRegisterEndpoint,
                .a = mkey,
                .key = std::move(app_id),
                .value = std::move(vapid_public_key)});
}

size_t WriteBatch::RevokeEndpoint(const MailboxKey& mkey, std::string token) {
  return Add(Op{.kind = Op::Kind::kRevokeEndpoint, .a = mkey, .key = std::move(token)});
}

size_t WriteBatch::Sweep(size_t max_uploads) {
  return Add(Op{.kind = Op::Kind::kSweep, .limit = max_uploads});
}

size_t WriteBatch::PurgeTombstones(size_t max_items) {
  return Add(Op{.kind = Op::Kind::kPurgeTombstones, .limit = max_items});
}

bool GrowsStore(const WriteBatch::Op& op) {
  using Kind = WriteBatch::Op::Kind;
  switch (op.kind) {
    case Kind::kCreateMailbox:
    case Kind::kConnect:
    case Kind::kRequestConnection:
    case Kind::kPutEntry:
    case Kind::kPostMessage:
    case Kind::kBeginUpload:
    case Kind::kWriteChunk:
    case Kind::kEnsureMailbox:
    case Kind::kRegisterEndpoint:
      return true;
    case Kind::kRegisterPush:
      return op.platform != Platform::kNone;
    // These rewrite or remove what is there (a commit moves no bytes; a status
    // rises in place); they may use the storage reserve.
    case Kind::kDeleteMailbox:
    case Kind::kDisconnect:
    case Kind::kDeleteEntry:
    case Kind::kAdvanceStatus:
    case Kind::kCommitUpload:
    case Kind::kAbortUpload:
    case Kind::kSweep:
    case Kind::kPurgeTombstones:
    case Kind::kRetractMessage:
    case Kind::kRevokeEndpoint:
    // A pending kick is a few dozen bytes per mailbox at most; refusing it on a
    // full store would lose the notification of a change that did commit.
    case Kind::kKicks:
      return false;
  }
  return true;
}

}  // namespace postbox
