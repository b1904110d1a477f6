// Resumable uploads (SPEC §4): the bytes go into `blobs` under the message id
// as pieces complete (upload_bytes.h stages the rest), so committing moves no
// data; the upload record tracks the committed offset and the running
// XXH3-128 of the bytes so far, so committing reads no blob either; and
// `upload_ttl` indexes uploads by start time for Sweep.
#include <algorithm>

#include "store/codec.h"
#include "store/store.h"
#include "store/upload_bytes.h"
#include "store/upload_hash.h"

namespace postbox::store {
namespace {

bool SameDeclaration(const UploadRecord& u, const UploadRequest& r) {
  return u.from == r.from && u.to == r.to && u.topic == r.topic && u.meta == r.meta &&
         u.length == r.length && u.digest == r.digest;
}

UploadState StateOf(const MessageId& id, const UploadRecord& u) {
  return UploadState{id, u.length, u.offset, false};
}

}  // namespace

// The answer to an actor that is not the upload's sender: an unknown mailbox
// is 404 before it is a non-party.
static Status NotSender(Txn& t, const MailboxKey& actor, std::string_view what) {
  POSTBOX_ASSIGN_OR_RETURN(auto actor_rec, t.Get(t.t().mailboxes, MailboxKeyBytes(actor)));
  if (!actor_rec) return Status::NotFound("no mailbox " + actor.ToHex());
  return Status::PermissionDenied(what);
}

// Why an id has no upload record: committed (Conflict for writers, or the
// message for committers), superseded (Gone), or unknown (NotFound).
static Status NoUpload(Txn& t, const MailboxKey& actor, const MessageId& id) {
  POSTBOX_ASSIGN_OR_RETURN(auto actor_rec, t.Get(t.t().mailboxes, MailboxKeyBytes(actor)));
  if (!actor_rec) return Status::NotFound("no mailbox " + actor.ToHex());
  const std::string mkey = MessageKey(id);
  POSTBOX_ASSIGN_OR_RETURN(auto live, t.Get(t.t().messages, mkey));
  if (live) {
    POSTBOX_ASSIGN_OR_RETURN(MessageRecord rec, MessageRecord::Decode(*live));
    if (rec.from != actor) return Status::PermissionDenied("only the sender may upload");
    return Status::Conflict("message " + id.ToHex() + " is already committed");
  }
  POSTBOX_ASSIGN_OR_RETURN(auto gone_raw, t.Get(t.t().gone, mkey));
  if (gone_raw) {
    // Only its parties learn that an id existed and was superseded.
    POSTBOX_ASSIGN_OR_RETURN(GoneRecord gone, GoneRecord::Decode(*gone_raw));
    if (actor != gone.from && actor != gone.to) {
      return Status::PermissionDenied("not a party to message " + id.ToHex());
    }
    return Status::Gone("message " + id.ToHex() + " was superseded or deleted");
  }
  return Status::NotFound("no upload " + id.ToHex());
}

// The upload `id` if `actor` is its sender.
static Result<UploadRecord> RequireUpload(Txn& t, const MailboxKey& actor, const MessageId& id) {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().uploads, MessageKey(id)));
  if (!raw) return NoUpload(t, actor, id);
  POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, UploadRecord::Decode(*raw));
  if (u.from != actor) return NotSender(t, actor, "only the sender may write its upload");
  return u;
}

// The running hash of the upload's bytes [0, u.offset) into *h. A state saved
// by another xxHash build (an upgrade under an upload in progress) cannot be
// resumed: the stored bytes are hashed again, once; the next chunk saves the
// state in this build's form.
static Status RestoreHasher(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u,
                            UploadHasher* h) {
  if (h->Restore(u.hash_state, u.offset)) return Status();
  return VisitUploadBytes(s, t, id, u, 0, u.offset, [&](uint64_t, std::string_view bytes) {
    h->Update(bytes);
    return true;
  });
}

static Status DeleteUpload(Store const& s, Txn& t, const MessageId& id, const UploadRecord& u) {
  POSTBOX_RETURN_IF_ERROR(DeleteUploadBytes(s, t, id, u));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().upload_ttl, UploadTtlKey(u.created_ms, id)));
  return t.Del(t.t().uploads, MessageKey(id));
}

Result<UploadState> Store::BeginUpload(WriteCtx& w, const UploadRequest& r) const {
  Txn& t = w.txn;
  POSTBOX_ASSIGN_OR_RETURN(
      auto existing, CheckNewMessage(t, r.from, r.to, r.id, r.topic, r.meta, r.length, r.digest));
  if (existing) return UploadState{r.id, r.length, r.length, true};
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().uploads, MessageKey(r.id)));
  if (raw) {
    POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, UploadRecord::Decode(*raw));
    if (!SameDeclaration(u, r)) {
      return Status::Conflict("upload " + r.id.ToHex() + " was begun with another declaration");
    }
    return StateOf(r.id, u);
  }
  UploadRecord u;
  u.from = r.from;
  u.to = r.to;
  u.created_ms = w.now_ms;
  u.length = r.length;
  u.digest = r.digest;
  u.topic = r.topic;
  u.meta = r.meta;
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().uploads, MessageKey(r.id), u.Encode()));
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().upload_ttl, UploadTtlKey(u.created_ms, r.id), ""));
  return StateOf(r.id, u);
}

Result<UploadState> Store::WriteChunk(WriteCtx& w, const MailboxKey& actor, const MessageId& id,
                                      uint64_t offset, std::string_view bytes) const {
  if (bytes.size() > options_.max_chunk_size) {
    return Status::TooLarge("chunk is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                            std::to_string(options_.max_chunk_size));
  }
  Txn& t = w.txn;
  POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, RequireUpload(t, actor, id));
  if (offset > u.length || bytes.size() > u.length - offset) {
    return Status::TooLarge("chunk [" + std::to_string(offset) + ", " +
                            std::to_string(offset + bytes.size()) +
                            ") is past the declared length " + std::to_string(u.length));
  }
  if (offset > u.offset) {
    return Status::Conflict("chunk starts at " + std::to_string(offset) +
                            " but the committed offset is " + std::to_string(u.offset) +
                            "; resume from there");
  }
  // Bytes already stored (in pieces or staged) must match: a resent chunk is
  // idempotent, a different one is refused and changes nothing.
  const uint64_t end = offset + bytes.size();
  bool same = true;
  POSTBOX_RETURN_IF_ERROR(VisitUploadBytes(
      *this, t, id, u, offset, std::min(u.offset, end), [&](uint64_t at, std::string_view stored) {
        same = stored == bytes.substr(at - offset, stored.size());
        return same;
      }));
  if (!same) {
    return Status::Conflict("chunk at " + std::to_string(offset) +
                            " differs from bytes already stored");
  }
  if (end > u.offset) {
    // Appends are in order, so the running hash takes exactly the new bytes.
    const std::string_view fresh = bytes.substr(u.offset - offset);
    UploadHasher hash;
    POSTBOX_RETURN_IF_ERROR(RestoreHasher(*this, t, id, u, &hash));
    hash.Update(fresh);
    POSTBOX_RETURN_IF_ERROR(AppendUploadBytes(*this, t, id, u, fresh));
    u.offset = end;
    u.hash_state = hash.Save();
    POSTBOX_RETURN_IF_ERROR(t.Put(t.t().uploads, MessageKey(id), u.Encode()));
  }
  return StateOf(id, u);
}

Result<UploadState> Store::UploadOffset(Txn& t, const MailboxKey& actor,
                                        const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().uploads, MessageKey(id)));
  if (!raw) {
    Status why = NoUpload(t, actor, id);
    if (!why.Is(Code::kConflict)) return why;
    POSTBOX_ASSIGN_OR_RETURN(Message msg, RequireMessage(t, actor, id, Party::kEither));
    return UploadState{id, msg.rec.length, msg.rec.length, true};
  }
  POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, UploadRecord::Decode(*raw));
  if (u.from != actor) return NotSender(t, actor, "only the sender may see its upload");
  return StateOf(id, u);
}

Result<MessageInfo> Store::CommitUpload(WriteCtx& w, const MailboxKey& actor,
                                        const MessageId& id) const {
  Txn& t = w.txn;
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().uploads, MessageKey(id)));
  if (!raw) {
    // A retry whose acknowledgement was lost finds the message committed.
    Status why = NoUpload(t, actor, id);
    if (!why.Is(Code::kConflict)) return why;
    POSTBOX_ASSIGN_OR_RETURN(Message msg, RequireMessage(t, actor, id, Party::kEither));
    return msg.ToInfo(id, 0);
  }
  POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, UploadRecord::Decode(*raw));
  if (u.from != actor) return NotSender(t, actor, "only the sender may commit its upload");
  if (u.offset < u.length) {
    return Status::Conflict("upload is incomplete: " + std::to_string(u.offset) + " of " +
                            std::to_string(u.length) + " bytes");
  }
  UploadHasher hash;
  POSTBOX_RETURN_IF_ERROR(RestoreHasher(*this, t, id, u, &hash));
  if (hash.Digest() != u.digest) {
    // Nothing written: the discard is the caller's step (store.h).
    return Status::DigestMismatch(
        "the uploaded bytes do not match the declared XXH3-128 digest; "
        "the upload is discarded");
  }
  // Parties and policy may have changed since BeginUpload: check again. The
  // id is still free (BeginUpload reserved it), so no retry is possible here.
  POSTBOX_ASSIGN_OR_RETURN(
      auto existing, CheckNewMessage(t, u.from, u.to, id, u.topic, u.meta, u.length, u.digest));
  if (existing) return Status::Internal("upload " + id.ToHex() + " has a live message");
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().upload_ttl, UploadTtlKey(u.created_ms, id)));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().uploads, MessageKey(id)));
  MessageRecord rec;
  rec.from = u.from;
  rec.to = u.to;
  rec.length = u.length;
  rec.digest = u.digest;
  rec.topic = std::move(u.topic);
  rec.meta = std::move(u.meta);
  if (w.commit != nullptr) w.commit->began_ms = u.created_ms;
  return CommitMessage(w, id, std::move(rec));
}

Status Store::AbortUpload(WriteCtx& w, const MailboxKey& actor, const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, RequireUpload(w.txn, actor, id));
  return DeleteUpload(*this, w.txn, id, u);
}

Result<std::vector<UploadInfo>> Store::ListUploads(Txn& t, std::optional<MessageId> after,
                                                   size_t limit) const {
  std::vector<UploadInfo> out;
  const std::string from = after ? MessageKey(*after) : std::string();
  Status error;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().uploads, "", from, [&](std::string_view k, std::string_view v) {
        if (after && k == from) return true;
        if (out.size() >= limit) return false;
        auto u = UploadRecord::Decode(v);
        if (!u) {
          error = u.error();
          return false;
        }
        out.push_back(UploadInfo{.id = MessageId::FromBytes(k).value_or({}),
                                 .from = u->from,
                                 .to = u->to,
                                 .topic = std::move(u->topic),
                                 .length = u->length,
                                 .offset = u->offset,
                                 .created_ms = u->created_ms});
        return true;
      }));
  POSTBOX_RETURN_IF_ERROR(error);
  return out;
}

Result<SweepResult> Store::SweepUploads(WriteCtx& w, uint64_t cutoff_ms, size_t max_uploads) const {
  Txn& t = w.txn;
  std::vector<MessageId> due;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().upload_ttl, "", "", [&](std::string_view k, std::string_view) {
        if (due.size() >= max_uploads || ReadBE64(k) >= cutoff_ms) return false;
        due.push_back(MessageId::FromBytes(k.substr(8)).value_or({}));
        return true;
      }));
  SweepResult result;
  for (const MessageId& id : due) {
    POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().uploads, MessageKey(id)));
    if (!raw) return Status::Internal("upload_ttl names a missing upload " + id.ToHex());
    POSTBOX_ASSIGN_OR_RETURN(UploadRecord u, UploadRecord::Decode(*raw));
    POSTBOX_RETURN_IF_ERROR(DeleteUpload(*this, t, id, u));
    ++result.uploads;
    result.bytes += u.offset;
  }
  return result;
}

Status Store::DeleteUploadsOf(WriteCtx& w, const MailboxKey& m) const {
  Txn& t = w.txn;
  std::vector<std::pair<MessageId, UploadRecord>> doomed;
  Status error;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().uploads, "", "", [&](std::string_view k, std::string_view v) {
        auto u = UploadRecord::Decode(v);
        if (!u) {
          error = u.error();
          return false;
        }
        if (u->from == m || u->to == m) {
          doomed.emplace_back(MessageId::FromBytes(k).value_or({}), std::move(*u));
        }
        return true;
      }));
  POSTBOX_RETURN_IF_ERROR(error);
  for (const auto& [id, u] : doomed) POSTBOX_RETURN_IF_ERROR(DeleteUpload(*this, t, id, u));
  return Status();
}

}  // namespace postbox::store
