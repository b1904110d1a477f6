// Every write request of the protocol becomes the engine's batch op here, and
// only here: the decoded message crosses into WriteBatch::Op once, travels to
// the writer as that op and is applied from it (no intermediate form).
// Pure functions; safe from any thread.
#ifndef POSTBOX_SYNC_SERVER_WRITE_OPS_H_
#define POSTBOX_SYNC_SERVER_WRITE_OPS_H_

#include "postbox/result.h"
#include "postbox/types.h"
#include "postbox/wire/messages.h"
#include "store/batch_op.h"

namespace postbox::sync::internal {

// The op for a request of mailbox `me`. InvalidArgument for a field the engine
// cannot represent (an unknown status or platform); everything else is the
// engine's to judge when the op runs.
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::StatusUpdate& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::EntryPut& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::EntryDelete& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::ConnectionAdd& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::ConnectionRemove& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::PushRegister& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::EndpointRegister& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::EndpointRevoke& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::UploadBegin& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::UploadChunk& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::UploadCommit& m);
Result<WriteBatch::Op> MakeOp(const MailboxKey& me, const wire::UploadAbort& m);

// The request payload an op holds in memory (keys, values, chunk bytes, meta):
// what the session's and the server's budgets count while it waits.
size_t OpBytes(const WriteBatch::Op& op);

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_WRITE_OPS_H_
