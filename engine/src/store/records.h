// Keys and records of every table. KEY_LAYOUT.md beside this file is the prose
// description; the two change together. Record kinds stored on disk: do not renumber.
#ifndef POSTBOX_STORE_RECORDS_H_
#define POSTBOX_STORE_RECORDS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "postbox/result.h"
#include "postbox/types.h"

namespace postbox::store {

// Blobs are stored in pieces of this size (the last may be shorter), so a range
// read touches only the pieces it covers and no LMDB value exceeds it.
inline constexpr uint64_t kBlobPieceSize = 256 * 1024;
// A stored piece is its bytes followed by their XXH3-64 (u64, little-endian):
// hashed once when written (the bytes are in cache then), so a read of whole
// pieces serves their per-chunk digests without touching them again. A trailer,
// not a header, so the bytes keep the alignment LMDB gives a value (a copy
// whose source and destination differ in alignment runs markedly slower).
inline constexpr size_t kPieceTrailer = 8;

// Format of the store, kept in meta["format"] as a u32. Open refuses a store of
// any other format, and a store with data but no format record (format 1, which
// did not write one). 2: a message's mutable part moved to `message_state`.
// 3: an upload's incomplete last piece is staged in `upload_tail`, and its
// record carries the running XXH3-128 state. 4: Web Push endpoints
// (`endpoints`, `mailbox_endpoints`, `endpoint_revoked`) and pending kicks
// (`kicks`). 5: the remembered settings (meta["settings"]); a format-4 store
// is opened and, when written, stamped 5 (it adopts the opener's settings).
// 6: deferred writes in `pending` (pending.h) and meta["pending_folded"]; a
// store of format 4 or 5 has none and is stamped 6 when opened writable.
inline constexpr uint32_t kFormatVersion = 6;
inline constexpr uint32_t kOldestFormat = 4;
inline constexpr std::string_view kFormatName = "format";
// meta["mailbox_deletions"]: u64, mailboxes deleted so far (see StoreStats).
inline constexpr std::string_view kMailboxDeletionsName = "mailbox_deletions";
// How far DB::Restore moves every feed's sequence past the backup's
// (Store::FenceFeeds): more changes than a mailbox could have made between a
// backup and its restore.
inline constexpr uint64_t kFeedFenceGap = uint64_t{1} << 32;

// base64url without padding (secrets, endpoint tokens).
std::string Base64Url(const uint8_t* data, size_t n);

// ---- keys ----
std::string MailboxKeyBytes(const MailboxKey& m);               // mailboxes, push
std::string ConnKey(const MailboxKey& a, const MailboxKey& b);  // conns
// conn_requests: the owner's request to `peer` (kind 0) or `peer`'s request
// to the owner (kind 1, the mirror that lets the owner list what it was asked).
inline constexpr uint8_t kRequestOut = 0;
inline constexpr uint8_t kRequestIn = 1;
std::string ConnRequestKey(const MailboxKey& owner, uint8_t kind, const MailboxKey& peer);
std::string EntryKey(const MailboxKey& m, std::string_view key);  // entries
// expires_ms BE64 ‖ an entries key.
std::string EntryTtlKey(uint64_t expires_ms, std::string_view entry_key);  // entry_ttl
std::string MessageKey(const MessageId& id);                               // messages, gone
std::string MessageStateKey(const MailboxKey& to, uint64_t post_seq);      // message_state
std::string SlotPrefix(const MailboxKey& from, const MailboxKey& to, std::string_view topic);
std::string SlotKey(std::string_view slot_prefix, uint64_t order);            // slots
std::string BlobKey(const MessageId& id, uint32_t piece);                     // blobs
std::string FeedKey(const MailboxKey& m, uint64_t seq);                       // feed
std::string TombKey(uint64_t created_ms, const MailboxKey& m, uint64_t seq);  // tombs
// The tombs key of a gone record: the id in the mailbox's place and seq 0,
// which no feed record has (seqs start at 1).
std::string GoneTombKey(uint64_t gone_ms, const MessageId& id);
std::string UploadTtlKey(uint64_t created_ms, const MessageId& id);  // upload_ttl
// The upload_tail key of bytes staged at blob offset `offset`; every key of
// one upload starts with MessageKey(id).
std::string UploadTailKey(const MessageId& id, uint64_t offset);

// ---- records ----
struct MailboxRecord {
  std::array<uint8_t, 16> salt{};
  std::array<uint8_t, 32> hash{};  // SHA-256(salt || secret)
  uint64_t created_ms = 0;
  uint64_t seq = 0;
  uint64_t purged_seq = 0;
  std::string Encode() const;
  static Result<MailboxRecord> Decode(std::string_view in);
};

struct EntryRecord {
  uint64_t version = 0;
  uint64_t seq = 0;
  bool deleted = false;
  std::string value;
  std::string Encode() const;
  static Result<EntryRecord> Decode(std::string_view in);
};

// The immutable part of a message, written once when it commits (`messages`,
// keyed by the random id: rewriting it would dirty a random page per change).
struct MessageRecord {
  MailboxKey from;
  MailboxKey to;
  uint64_t created_ms = 0;
  uint64_t length = 0;
  Digest128 digest{};
  // The recipient's feed seq when the message committed: unique per recipient
  // and rising, it orders the message's slot and keys its MessageState.
  uint64_t post_seq = 0;
  std::string topic;
  std::string meta;
  std::string Encode() const;
  static Result<MessageRecord> Decode(std::string_view in);
};

// The mutable part of a message (`message_state`, keyed to ‖ post_seq, so the
// rows of a recipient's recent messages share pages).
struct MessageState {
  MessageStatus status = MessageStatus::kUploaded;
  uint64_t seq_from = 0;  // its outgoing record in the sender's feed
  uint64_t seq_to = 0;    // its incoming record in the recipient's feed
  std::string Encode() const;
  static Result<MessageState> Decode(std::string_view in);
};

// A live message as the store reads it: both parts.
struct Message {
  MessageRecord rec;
  MessageState state;
  std::string StateKey() const { return MessageStateKey(rec.to, rec.post_seq); }
  MessageInfo ToInfo(const MessageId& id, uint64_t seq) const;
};

struct GoneRecord {
  MailboxKey from;
  MailboxKey to;
  uint64_t gone_ms = 0;
  std::string Encode() const;
  static Result<GoneRecord> Decode(std::string_view in);
};

// An incomplete upload. Its bytes [0, offset) are stored under its id: the
// whole pieces in `blobs`, those of an incomplete last piece in `upload_tail`
// (see upload_bytes.h).
struct UploadRecord {
  MailboxKey from;
  MailboxKey to;
  uint64_t created_ms = 0;
  uint64_t length = 0;
  uint64_t offset = 0;
  Digest128 digest{};
  std::string topic;
  std::string meta;
  // UploadHasher::Save() of the bytes [0, offset); empty before the first
  // bytes arrive.
  std::string hash_state;
  std::string Encode() const;
  static Result<UploadRecord> Decode(std::string_view in);
};

// What a feed record points at. Stored: do not renumber.
enum class FeedKind : uint8_t {
  kIncoming = 1,          // item: message id
  kOutgoing = 2,          // item: message id
  kEntry = 3,             // item: entry key
  kMessageTombstone = 4,  // item: message id
  kEntryTombstone = 5,    // item: entry key; version = the delete's version
};

struct FeedRecord {
  FeedKind kind = FeedKind::kEntry;
  uint64_t version = 0;  // kEntryTombstone only
  std::string item;
  std::string Encode() const;
  static Result<FeedRecord> Decode(std::string_view in);
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_RECORDS_H_
