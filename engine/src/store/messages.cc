// Messages and their blobs: posting with last-writer cleanup of the slot,
// status max-merge, reads, and removal (supersession or mailbox deletion).
#include <xxhash.h>

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

Result<std::optional<MessageInfo>> Store::CheckNewMessage(Txn& t, const MailboxKey& from,
                                                          const MailboxKey& to, const MessageId& id,
                                                          std::string_view topic,
                                                          std::string_view meta, uint64_t length,
                                                          const Digest128& digest) const {
  POSTBOX_RETURN_IF_ERROR(CheckSize("topic", topic.size(), options_.max_topic_size));
  POSTBOX_RETURN_IF_ERROR(CheckSize("meta", meta.size(), options_.max_meta_size));
  POSTBOX_RETURN_IF_ERROR(CheckSize("blob", length, options_.max_blob_size));
  if (from == to) return Status::InvalidArgument("a mailbox cannot post to itself");
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, from).status());
  if (options_.posting_policy == PostingPolicy::kConnected) {
    // An unknown recipient is "not connected" too: the answer must not tell
    // a sender which mailboxes exist (SPEC §2).
    POSTBOX_ASSIGN_OR_RETURN(auto connected, t.Get(t.t().conns, ConnKey(from, to)));
    if (!connected) {
      return Status::PermissionDenied("mailbox " + from.ToHex() + " is not connected to " +
                                      to.ToHex());
    }
  } else {
    POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, to).status());
  }
  POSTBOX_ASSIGN_OR_RETURN(auto live, FindMessage(t, id));
  if (live) {
    if (SameContent(live->rec, from, to, topic, meta, length, digest)) {
      return std::optional<MessageInfo>(live->ToInfo(id, 0));
    }
    return Status::Conflict("message id " + id.ToHex() + " is in use with other content");
  }
  POSTBOX_ASSIGN_OR_RETURN(auto gone, t.Get(t.t().gone, MessageKey(id)));
  if (gone) return Status::Gone("message " + id.ToHex() + " was superseded or deleted");
  return std::optional<MessageInfo>();
}

Result<MessageInfo> Store::PostMessage(WriteCtx& w, const MailboxKey& from, const MailboxKey& to,
                                       const MessageId& id, std::string_view topic,
                                       std::string_view meta, std::string_view bytes,
                                       const Digest128& digest) const {
  POSTBOX_ASSIGN_OR_RETURN(auto existing,
                           CheckNewMessage(w.txn, from, to, id, topic, meta, bytes.size(), digest));
  if (existing) return std::move(*existing);
  POSTBOX_ASSIGN_OR_RETURN(auto upload, w.txn.Get(w.txn.t().uploads, MessageKey(id)));
  if (upload) return Status::Conflict("message id " + id.ToHex() + " is in use by an upload");
  MessageRecord rec;
  rec.from = from;
  rec.to = to;
  rec.length = bytes.size();
  rec.digest = digest;
  rec.topic = std::string(topic);
  rec.meta = std::string(meta);
  POSTBOX_RETURN_IF_ERROR(AppendPieces(w.txn, id, 0, bytes));
  if (w.commit != nullptr) w.commit->began_ms = w.now_ms;
  return CommitMessage(w, id, std::move(rec));
}

Result<MessageInfo> Store::CommitMessage(WriteCtx& w, const MessageId& id,
                                         MessageRecord rec) const {
  Txn& t = w.txn;
  const std::string mkey = MessageKey(id);
  // Last-writer cleanup: make room in the slot before the new message enters.
  const std::string slot = SlotPrefix(rec.from, rec.to, rec.topic);
  std::vector<std::string> held;  // ids in commit order
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().slots, slot, slot, [&](std::string_view, std::string_view v) {
        held.emplace_back(v);
        return true;
      }));
  const size_t depth = std::max<uint32_t>(options_.slot_depth, 1);
  for (size_t i = 0; i + depth <= held.size(); ++i) {
    MessageId old = MessageId::FromBytes(held[i]).value_or({});
    POSTBOX_ASSIGN_OR_RETURN(auto old_msg, FindMessage(t, old));
    if (!old_msg) return Status::Internal("slot names a missing message " + old.ToHex());
    uint64_t tomb_seq = 0;
    POSTBOX_RETURN_IF_ERROR(RemoveMessage(w, old, *old_msg, std::nullopt, &tomb_seq));
    if (w.commit != nullptr) w.commit->superseded.push_back(old_msg->ToInfo(old, tomb_seq));
  }
  Message msg{std::move(rec), MessageState{}};
  msg.rec.created_ms = w.now_ms;
  FeedRecord feed{FeedKind::kIncoming, 0, mkey};
  POSTBOX_ASSIGN_OR_RETURN(msg.state.seq_to, MoveFeedItem(w, msg.rec.to, 0, feed));
  feed.kind = FeedKind::kOutgoing;
  POSTBOX_ASSIGN_OR_RETURN(msg.state.seq_from, MoveFeedItem(w, msg.rec.from, 0, feed));
  // The recipient's seq is unique and rising for the recipient, so for this
  // slot too: it orders the slot and keys the state row, which therefore sits
  // next to the rows of the recipient's other recent messages.
  msg.rec.post_seq = msg.state.seq_to;
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().slots, SlotKey(slot, msg.rec.post_seq), mkey));
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().messages, mkey, msg.rec.Encode()));
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().message_state, msg.StateKey(), msg.state.Encode()));
  if (w.commit != nullptr) w.commit->seq = msg.state.seq_to;
  return msg.ToInfo(id, 0);
}

Status Store::AppendPieces(Txn& t, const MessageId& id, uint64_t offset,
                           std::string_view bytes) const {
  if (bytes.empty()) return Status();
  if (offset % kBlobPieceSize != 0) {
    return Status::Internal("blob " + id.ToHex() + ": pieces start at a piece boundary, not at " +
                            std::to_string(offset));
  }
  for (uint64_t pos = 0; pos < bytes.size(); pos += kBlobPieceSize) {
    const std::string_view part = bytes.substr(pos, kBlobPieceSize);
    const uint64_t hash = XXH3_64bits(part.data(), part.size());
    const uint32_t piece = static_cast<uint32_t>((offset + pos) / kBlobPieceSize);
    POSTBOX_ASSIGN_OR_RETURN(
        char* dst, t.Reserve(t.t().blobs, BlobKey(id, piece), part.size() + kPieceTrailer));
    std::memcpy(dst, part.data(), part.size());
    std::memcpy(dst + part.size(), &hash, kPieceTrailer);
  }
  return Status();
}

Status Store::DeletePieces(Txn& t, const MessageId& id, uint64_t stored_length) const {
  const uint64_t pieces = (stored_length + kBlobPieceSize - 1) / kBlobPieceSize;
  for (uint64_t p = 0; p < pieces; ++p) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().blobs, BlobKey(id, static_cast<uint32_t>(p))));
  }
  return Status();
}

Result<std::vector<BlobChunk>> Store::PieceViews(Txn& t, const MessageId& id, uint64_t blob_length,
                                                 uint64_t offset, uint64_t length,
                                                 bool hash_chunks) const {
  if (offset > blob_length) {
    return Status::InvalidArgument("offset " + std::to_string(offset) +
                                   " is past the blob's end (" + std::to_string(blob_length) +
                                   " bytes)");
  }
  const uint64_t end = offset + std::min(length, blob_length - offset);
  std::vector<BlobChunk> out;
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t piece = pos / kBlobPieceSize;
    POSTBOX_ASSIGN_OR_RETURN(auto raw,
                             t.Get(t.t().blobs, BlobKey(id, static_cast<uint32_t>(piece))));
    const uint64_t piece_start = piece * kBlobPieceSize;
    if (!raw || raw->size() < std::min(kBlobPieceSize, blob_length - piece_start) + kPieceTrailer) {
      return Status::Internal("blob of message " + id.ToHex() + " is missing piece " +
                              std::to_string(piece));
    }
    const std::string_view stored = raw->substr(0, raw->size() - kPieceTrailer);
    const uint64_t from = pos - piece_start;
    const uint64_t n = std::min<uint64_t>(stored.size() - from, end - pos);
    const std::string_view bytes = stored.substr(from, n);
    uint64_t hash = 0;
    if (hash_chunks && n == stored.size()) {
      std::memcpy(&hash, raw->data() + stored.size(), kPieceTrailer);  // a whole piece: stored
    } else if (hash_chunks) {
      hash = XXH3_64bits(bytes.data(), bytes.size());
    }
    out.push_back(BlobChunk{pos, bytes, hash});
    pos += n;
  }
  return out;
}

Status Store::RemoveMessage(WriteCtx& w, const MessageId& id, const Message& msg,
                            const std::optional<MailboxKey>& skip, uint64_t* tomb_seq_to) const {
  Txn& t = w.txn;
  const MessageRecord& rec = msg.rec;
  const std::string mkey = MessageKey(id);
  POSTBOX_RETURN_IF_ERROR(DeletePieces(t, id, rec.length));
  POSTBOX_RETURN_IF_ERROR(
      t.Del(t.t().slots, SlotKey(SlotPrefix(rec.from, rec.to, rec.topic), rec.post_seq)));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().messages, mkey));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().message_state, msg.StateKey()));
  GoneRecord gone{rec.from, rec.to, w.now_ms};
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().gone, mkey, gone.Encode()));
  // Indexed on its own (not through the feeds' tombstones) so it is purged
  // even when both parties' feeds are gone with their mailboxes.
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().tombs, GoneTombKey(w.now_ms, id), ""));
  FeedRecord tomb{FeedKind::kMessageTombstone, 0, mkey};
  if (!skip || *skip != rec.to) {
    POSTBOX_ASSIGN_OR_RETURN(const uint64_t seq, MoveFeedItem(w, rec.to, msg.state.seq_to, tomb));
    if (tomb_seq_to != nullptr) *tomb_seq_to = seq;
  }
  if (!skip || *skip != rec.from) {
    POSTBOX_RETURN_IF_ERROR(MoveFeedItem(w, rec.from, msg.state.seq_from, tomb).status());
  }
  return Status();
}

Result<std::optional<Message>> Store::FindMessage(Txn& t, const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().messages, MessageKey(id)));
  if (!raw) return std::optional<Message>();
  Message msg;
  POSTBOX_ASSIGN_OR_RETURN(msg.rec, MessageRecord::Decode(*raw));
  POSTBOX_ASSIGN_OR_RETURN(auto state, t.Get(t.t().message_state, msg.StateKey()));
  if (!state) return Status::Internal("message " + id.ToHex() + " has no state row");
  POSTBOX_ASSIGN_OR_RETURN(msg.state, MessageState::Decode(*state));
  return std::optional<Message>(std::move(msg));
}

Result<Message> Store::RequireMessage(Txn& t, const MailboxKey& actor, const MessageId& id,
                                      Party party) const {
  // An unknown (or deleted) actor is an unknown mailbox before it is a non-party.
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, actor).status());
  const auto may = [&](const MailboxKey& from, const MailboxKey& to) {
    return (party != Party::kSender && actor == to) ||
           (party != Party::kRecipient && actor == from);
  };
  const auto refused = [&] {
    switch (party) {
      case Party::kRecipient:
        return Status::PermissionDenied("only the recipient may change a message's status");
      case Party::kSender:
        return Status::PermissionDenied("only the sender may retract message " + id.ToHex());
      case Party::kEither:
        break;
    }
    return Status::PermissionDenied("not a party to message " + id.ToHex());
  };
  const std::string mkey = MessageKey(id);
  POSTBOX_ASSIGN_OR_RETURN(auto live, FindMessage(t, id));
  if (live) {
    if (may(live->rec.from, live->rec.to)) return std::move(*live);
    return refused();
  }
  POSTBOX_ASSIGN_OR_RETURN(auto gone_raw, t.Get(t.t().gone, mkey));
  if (gone_raw) {
    POSTBOX_ASSIGN_OR_RETURN(GoneRecord gone, GoneRecord::Decode(*gone_raw));
    if (may(gone.from, gone.to)) {
      return Status::Gone("message " + id.ToHex() + " was superseded or deleted");
    }
    return refused();
  }
  return Status::NotFound("no message " + id.ToHex());
}

Status Store::RetractMessage(WriteCtx& w, const MailboxKey& sender, const MessageId& id) const {
  POSTBOX_ASSIGN_OR_RETURN(Message msg, RequireMessage(w.txn, sender, id, Party::kSender));
  return RemoveMessage(w, id, msg, std::nullopt);
}

Result<MessageStatus> Store::AdvanceStatus(WriteCtx& w, const MailboxKey& actor,
                                           const MessageId& id, MessageStatus status,
                                           bool* applied) const {
  *applied = false;
  if (status < MessageStatus::kUploaded || status > MessageStatus::kViewed) {
    return Status::InvalidArgument("status must be uploaded(1), downloaded(2) or viewed(3), got " +
                                   std::to_string(static_cast<int>(status)));
  }
  POSTBOX_ASSIGN_OR_RETURN(Message msg, RequireMessage(w.txn, actor, id, Party::kRecipient));
  MessageState& state = msg.state;
  MessageStatus merged = MergeStatus(state.status, status);
  if (merged == state.status) return merged;
  *applied = true;
  state.status = merged;
  const std::string mkey = MessageKey(id);
  // Both parties see the rise: the sender's outgoing item and the recipient's
  // incoming item (for the recipient's other devices).
  POSTBOX_ASSIGN_OR_RETURN(state.seq_from, MoveFeedItem(w, msg.rec.from, state.seq_from,
                                                        {FeedKind::kOutgoing, 0, mkey}));
  POSTBOX_ASSIGN_OR_RETURN(
      state.seq_to, MoveFeedItem(w, msg.rec.to, state.seq_to, {FeedKind::kIncoming, 0, mkey}));
  // Only the small state row is rewritten; the record in `messages` (keyed by
  // the random id, a page of its own per message) stays as it is.
  POSTBOX_RETURN_IF_ERROR(w.txn.Put(w.txn.t().message_state, msg.StateKey(), state.Encode()));
  return merged;
}

Result<std::string> Store::ReadBlob(Txn& t, const MailboxKey& actor, const MessageId& id,
                                    uint64_t offset, uint64_t length) const {
  POSTBOX_ASSIGN_OR_RETURN(Message msg, RequireMessage(t, actor, id, Party::kEither));
  POSTBOX_ASSIGN_OR_RETURN(auto chunks, PieceViews(t, id, msg.rec.length, offset, length, false));
  std::string out;
  for (const auto& c : chunks) out.append(c.bytes);
  return out;
}

}  // namespace postbox::store
