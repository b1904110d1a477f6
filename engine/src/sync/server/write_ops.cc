#include "sync/server/write_ops.h"

#include "postbox/push.h"
#include "sync/convert.h"

namespace postbox::sync::internal {

using Op = WriteBatch::Op;
using Kind = Op::Kind;

Result<Op> MakeOp(const MailboxKey& me, const wire::StatusUpdate& m) {
  POSTBOX_ASSIGN_OR_RETURN(MessageStatus status, FromWire(m.status));
  return Op{.kind = Kind::kAdvanceStatus, .a = me, .status = status, .id = MessageIdFromWire(m.id)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::EntryPut& m) {
  if (IsReservedEntryKey(m.key)) {
    return Status::PermissionDenied("entry keys under " + std::string(kPushKeyPrefix) + " and " +
                                    std::string(kSimplePushKeyPrefix) +
                                    " are written by app servers through the HTTP endpoint only");
  }
  return Op{.kind = Kind::kPutEntry,
            .a = me,
            .key = std::string(m.key),
            .value = std::string(m.value),
            .version = m.version};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::EntryDelete& m) {
  return Op{.kind = Kind::kDeleteEntry, .a = me, .key = std::string(m.key), .version = m.version};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::ConnectionAdd& m) {
  return Op{.kind = Kind::kRequestConnection, .a = me, .b = MailboxKeyFromWire(m.peer)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::ConnectionRemove& m) {
  return Op{.kind = Kind::kDisconnect, .a = me, .b = MailboxKeyFromWire(m.peer)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::PushRegister& m) {
  POSTBOX_ASSIGN_OR_RETURN(Platform platform, FromWire(m.platform));
  return Op{
      .kind = Kind::kRegisterPush, .a = me, .key = std::string(m.push_token), .platform = platform};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::EndpointRegister& m) {
  return Op{.kind = Kind::kRegisterEndpoint,
            .a = me,
            .key = std::string(m.app_id),
            .value = std::string(m.vapid_public_key)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::EndpointRevoke& m) {
  return Op{.kind = Kind::kRevokeEndpoint, .a = me, .key = std::string(m.token)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::UploadBegin& m) {
  // Field by field: GCC 12 at -O3 takes the nested designated initializer's strings for
  // uninitialised (-Wmaybe-uninitialized, a known false positive).
  Op op{.kind = Kind::kBeginUpload};
  op.upload.from = me;
  op.upload.to = MailboxKeyFromWire(m.to);
  op.upload.id = MessageIdFromWire(m.id);
  op.upload.topic = std::string(m.topic);
  op.upload.meta = std::string(m.meta);
  op.upload.length = m.length;
  op.upload.digest = DigestFromWire(m.digest);
  return op;
}

Result<Op> MakeOp(const MailboxKey& me, const wire::UploadChunk& m) {
  // The one copy of the bytes: the frame's buffer is reused by the next read.
  return Op{.kind = Kind::kWriteChunk,
            .a = me,
            .value = std::string(m.data),
            .offset = m.offset,
            .id = MessageIdFromWire(m.id)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::UploadCommit& m) {
  return Op{.kind = Kind::kCommitUpload, .a = me, .id = MessageIdFromWire(m.id)};
}

Result<Op> MakeOp(const MailboxKey& me, const wire::UploadAbort& m) {
  return Op{.kind = Kind::kAbortUpload, .a = me, .id = MessageIdFromWire(m.id)};
}

size_t OpBytes(const Op& op) {
  return sizeof(Op) + op.key.size() + op.value.size() + op.upload.topic.size() +
         op.upload.meta.size();
}

}  // namespace postbox::sync::internal
