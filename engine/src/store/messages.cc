// Messages and their blobs: posting with last-writer cleanup of the slot,
// status max-merge, reads, and removal (supersession or mailbox deletion).
#include <algorithm>
#include <cstring>

#include "postbox/merge.h"
#include "store/store.h"

namespace postbox::store {
namespace {

Status CheckSize(std::string_view what, size_t size, uint64_t limit) {
  if (size <= limit) return Status();
  return Status::TooLarge(std::string(what) + " is " + std::to_string(size) +
                          " bytes; the limit is " + std::to_string(limit));
}

bool SameContent(const MessageRecord& rec, const MailboxKey& from, const MailboxKey& to,
                 std::string_view topic, std::string_view meta, uint64_t length,
                 const Digest128& digest) {
  return rec.from == from && rec.to == to && rec.topic == topic && rec.meta == meta &&
         rec.length == length && rec.digest == digest;
}

}  // namespace

Result<MessageInfo> Store::PostMessage(WriteCtx& w, const MailboxKey& from, const MailboxKey& to,
                                       const MessageId& id, std::string_view topic,
                                       std::string_view meta, std::string_view bytes,
                                       const Digest128& digest) const {
  POSTBOX_RETURN_IF_ERROR(
      CheckSize("topic", topic.size(), std::min<size_t>(options_.max_topic_size, 255)));
  POSTBOX_RETURN_IF_ERROR(
      CheckSize("meta", meta.size(), std::min<size_t>(options_.max_meta_size, 65535)));
  POSTBOX_RETURN_IF_ERROR(CheckSize("blob", bytes.size(), options_.max_blob_size));
  if (from == to) return Status::InvalidArgument("a mailbox cannot post to itself");
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, from).status());
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, to).status());
  if (options_.posting_policy == PostingPolicy::kConnected) {
    POSTBOX_ASSIGN_OR_RETURN(bool connected, IsConnected(t, from, to));
    if (!connected) {
      return Status::PermissionDenied("mailbox " + from.ToHex() + " is not connected to " +
                                      to.ToHex());
    }
  }
  const std::string mkey = MessageKey(id);
  POSTBOX_ASSIGN_OR_RETURN(auto live, t.Get(t.t().messages, mkey));
  if (live) {
    POSTBOX_ASSIGN_OR_RETURN(MessageRecord rec, MessageRecord::Decode(*live));
    if (SameContent(rec, from, to, topic, meta, bytes.size(), digest)) return rec.ToInfo(id, 0);
    return Status::Conflict("message id " + id.ToHex() + " is in use with other content");
  }
  POSTBOX_ASSIGN_OR_RETURN(auto gone, t.Get(t.t().gone, mkey));
  if (gone) return Status::Gone("message " + id.ToHex() + " was superseded or deleted");

  // Last-writer cleanup: make room in the slot before the new message enters.
  const std::string slot = SlotPrefix(from, to, topic);
  std::vector<std::string> held;  // ids in commit order
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().slots, slot, slot, [&](std::string_view k, std::string_view v) {
        if (k.size() == slot.size() + 8) held.emplace_back(v);
        return true;
      }));
  const size_t depth = std::max<uint32_t>(options_.slot_depth, 1);
  for (size_t i = 0; i + depth <= held.size(); ++i) {
    MessageId old = MessageId::FromBytes(held[i]).value_or({});
    POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().messages, held[i]));
    if (!raw) return Status::Internal("slot names a missing message " + old.ToHex());
    POSTBOX_ASSIGN_OR_RETURN(MessageRecord old_rec, MessageRecord::Decode(*raw));
    POSTBOX_RETURN_IF_ERROR(RemoveMessage(w, old, old_rec, std::nullopt));
  }

  MessageRecord rec;
  rec.from = from;
  rec.to = to;
  rec.created_ms = w.now_ms;
  rec.length = bytes.size();
  rec.digest = digest;
  rec.topic = std::string(topic);
  rec.meta = std::string(meta);
  FeedRecord feed{FeedKind::kIncoming, 0, mkey};
  POSTBOX_ASSIGN_OR_RETURN(rec.seq_to, MoveFeedItem(w, to, 0, feed));
  feed.kind = FeedKind::kOutgoing;
  POSTBOX_ASSIGN_OR_RETURN(rec.seq_from, MoveFeedItem(w, from, 0, feed));
  // The recipient's seq is unique and rising for this slot: it orders the slot.
  rec.slot_order = rec.seq_to;
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().slots, SlotKey(slot, rec.slot_order), mkey));
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().messages, mkey, rec.Encode()));
  for (uint64_t off = 0, piece = 0; off < bytes.size(); off += kBlobPieceSize, ++piece) {
    std::string_view part = bytes.substr(off, kBlobPieceSize);
    POSTBOX_ASSIGN_OR_RETURN(char* dst, t.Reserve(t.t().blobs, BlobKey(id, piece), part.size()));
    std::memcpy(dst, part.data(), part.size());
  }
  return rec.ToInfo(id, 0);
}

Status Store::RemoveMessage(WriteCtx& w, const MessageId& id, const MessageRecord& rec,
                            const std::optional<MailboxKey>& skip) const {
  Txn& t = w.txn;
  const std::string mkey = MessageKey(id);
  const uint64_t pieces = (rec.length + kBlobPieceSize - 1) / kBlobPieceSize;
  for (uint64_t p = 0; p < pieces; ++p) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().blobs, BlobKey(id, static_cast<uint32_t>(p))));
  }
  POSTBOX_RETURN_IF_ERROR(
      t.Del(t.t().slots, SlotKey(SlotPrefix(rec.from, rec.to, rec.topic), rec.slot_order)));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().messages, mkey));
  GoneRecord gone{rec.from, rec.to, w.now_ms};
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().gone, mkey, gone.Encode()));
  FeedRecord tomb{FeedKind::kMessageTombstone, 0, mkey};
  if (!skip || *skip != rec.to) {
    POSTBOX_RETURN_IF_ERROR(MoveFeedItem(w, rec.to, rec.seq_to, tomb).status());
  }
  if (!skip || *skip != rec.from) {
    POSTBOX_RETURN_IF_ERROR(MoveFeedItem(w, rec.from, rec.seq_from, tomb).status());
  }
  return Status();
}

Result<MessageRecord> Store::RequireMessage(Txn& t, const MailboxKey& actor, const MessageId& id,
                                            bool recipient_only) const {
  const std::string mkey = MessageKey(id);
  POSTBOX_ASSIGN_OR_RETURN(auto live, t.Get(t.t().messages, mkey));
  if (live) {
    POSTBOX_ASSIGN_OR_RETURN(MessageRecord rec, MessageRecord::Decode(*live));
    if (actor == rec.to || (!recipient_only && actor == rec.from)) return rec;
    return Status::PermissionDenied(recipient_only
                                        ? "only the recipient may change a message's status"
                                        : "not a party to message " + id.ToHex());
  }
  POSTBOX_ASSIGN_OR_RETURN(auto gone_raw, t.Get(t.t().gone, mkey));
  if (gone_raw) {
    POSTBOX_ASSIGN_OR_RETURN(GoneRecord gone, GoneRecord::Decode(*gone_raw));
    if (actor == gone.to || (!recipient_only && actor == gone.from)) {
      return Status::Gone("message " + id.ToHex() + " was superseded or deleted");
    }
    return Status::PermissionDenied("not a party to message " + id.ToHex());
  }
  return Status::NotFound("no message " + id.ToHex());
}

Result<MessageStatus> Store::AdvanceStatus(WriteCtx& w, const MailboxKey& actor,
                                           const MessageId& id, MessageStatus status) const {
  if (status < MessageStatus::kUploaded || status > MessageStatus::kViewed) {
    return Status::InvalidArgument("status must be uploaded(1), downloaded(2) or viewed(3), got " +
                                   std::to_string(static_cast<int>(status)));
  }
  POSTBOX_ASSIGN_OR_RETURN(MessageRecord rec, RequireMessage(w.txn, actor, id, true));
  MessageStatus merged = MergeStatus(rec.status, status);
  if (merged == rec.status) return merged;
  rec.status = merged;
  const std::string mkey = MessageKey(id);
  // Both parties see the rise: the sender's outgoing item and the recipient's
  // incoming item (for the recipient's other devices).
  POSTBOX_ASSIGN_OR_RETURN(rec.seq_from,
                           MoveFeedItem(w, rec.from, rec.seq_from, {FeedKind::kOutgoing, 0, mkey}));
  POSTBOX_ASSIGN_OR_RETURN(rec.seq_to,
                           MoveFeedItem(w, rec.to, rec.seq_to, {FeedKind::kIncoming, 0, mkey}));
  POSTBOX_RETURN_IF_ERROR(w.txn.Put(w.txn.t().messages, mkey, rec.Encode()));
  return merged;
}

Result<std::string> Store::ReadBlob(Txn& t, const MailboxKey& actor, const MessageId& id,
                                    uint64_t offset, uint64_t length) const {
  POSTBOX_ASSIGN_OR_RETURN(MessageRecord rec, RequireMessage(t, actor, id, false));
  if (offset > rec.length) {
    return Status::InvalidArgument("offset " + std::to_string(offset) +
                                   " is past the blob's end (" + std::to_string(rec.length) +
                                   " bytes)");
  }
  const uint64_t end = offset + std::min(length, rec.length - offset);
  std::string out;
  out.reserve(end - offset);
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t piece = pos / kBlobPieceSize;
    POSTBOX_ASSIGN_OR_RETURN(auto raw,
                             t.Get(t.t().blobs, BlobKey(id, static_cast<uint32_t>(piece))));
    const uint64_t piece_start = piece * kBlobPieceSize;
    if (!raw || raw->size() < std::min(kBlobPieceSize, rec.length - piece_start)) {
      return Status::Internal("blob of message " + id.ToHex() + " is missing piece " +
                              std::to_string(piece));
    }
    const uint64_t from = pos - piece_start;
    const uint64_t n = std::min<uint64_t>(raw->size() - from, end - pos);
    out.append(raw->substr(from, n));
    pos += n;
  }
  return out;
}

}  // namespace postbox::store
