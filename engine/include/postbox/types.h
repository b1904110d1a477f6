// Value types of the postbox data model (SPEC §2, §3): keys, ids, statuses and
// the info packet. Plain values: safe to copy and to use from any thread.
#ifndef POSTBOX_TYPES_H_
#define POSTBOX_TYPES_H_

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"

namespace postbox {

// A 16-byte identifier written as 32 lowercase hex characters.
template <typename Tag>
struct Id16 {
  std::array<uint8_t, 16> bytes{};

  // Parses exactly 32 hex characters (either case). InvalidArgument otherwise.
  static Result<Id16> FromHex(std::string_view hex);
  // Takes exactly 16 raw bytes. InvalidArgument otherwise.
  static Result<Id16> FromBytes(std::string_view raw);
  // 16 bytes from a cryptographically secure generator.
  static Id16 Random();

  std::string ToHex() const;
  // Appends the 32 hex characters of ToHex() to *out.
  void AppendHex(std::string* out) const;
  std::string_view AsBytes() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  auto operator<=>(const Id16&) const = default;
  bool operator==(const Id16&) const = default;
};

struct MailboxKeyTag {};
struct MessageIdTag {};
// The mailbox key (mkey): 16 random bytes, the mailbox's name.
using MailboxKey = Id16<MailboxKeyTag>;
// A message id: 16 bytes chosen (randomly) by the sender.
using MessageId = Id16<MessageIdTag>;

// XXH3-128 digest of a blob, big-endian (high 64 bits first, as XXH128_canonical_t).
using Digest128 = std::array<uint8_t, 16>;
// Computes the XXH3-128 digest of `bytes`.
Digest128 ComputeDigest128(std::string_view bytes);

// Message status, a max-register (SPEC §2). Stored on disk and sent on the wire:
// do not renumber.
enum class MessageStatus : uint8_t { kUploaded = 1, kDownloaded = 2, kViewed = 3 };
std::string_view MessageStatusName(MessageStatus s);
// Parses "uploaded" | "downloaded" | "viewed" (any case).
Result<MessageStatus> ParseMessageStatus(std::string_view name);

// Push platform of a mailbox's registration. Stored and sent: do not renumber.
enum class Platform : uint8_t { kNone = 0, kIos = 1, kAndroid = 2, kWeb = 3 };
std::string_view PlatformName(Platform p);
// Parses "none" | "ios" | "android" | "web".
Result<Platform> ParsePlatform(std::string_view name);

// Where a connection stands as one of its two mailboxes sees it (SPEC §2: a
// connection exists only when both agreed). Sent on the wire: do not renumber.
enum class ConnectionState : uint8_t {
  kNone = 0,
  kRequested = 1,  // this mailbox asked; the peer has not asked back (or does not exist)
  kConnected = 2,
};

// Which list ListConnections returns. Sent on the wire: do not renumber.
enum class ConnectionListKind : uint8_t {
  kConnected = 0,  // mailboxes connected to this one
  kRequested = 1,  // peers this mailbox asked to connect to, not (yet) connected
  kIncoming = 2,   // mailboxes that asked this one to connect, not (yet) answered
};

// What Create returns, once: the secret is never stored and cannot be shown again.
struct MailboxCredentials {
  MailboxKey mkey;
  std::string secret;  // base64url (no padding) of 32 random bytes
};

struct MailboxInfo {
  MailboxKey mkey;
  uint64_t created_ms = 0;
  uint64_t seq = 0;         // the feed's current sequence number
  uint64_t purged_seq = 0;  // `since` below this gets reset = true
  Platform platform = Platform::kNone;
  std::string push_token;
  bool operator==(const MailboxInfo&) const = default;
};

struct PushRegistration {
  Platform platform = Platform::kNone;
  std::string token;
  bool operator==(const PushRegistration&) const = default;
};

// A Web Push endpoint of a mailbox (docs/notifications.md): app servers send
// to it by its token, which is 128 random bits in base64url (22 characters).
struct EndpointInfo {
  std::string token;
  MailboxKey mkey;
  std::string app_id;
  std::string vapid_public_key;  // empty, or a 65-byte uncompressed P-256 point
  uint64_t created_ms = 0;
  uint64_t revoked_ms = 0;  // 0: live
  bool operator==(const EndpointInfo&) const = default;
};

// A live message as its two parties see it.
struct MessageInfo {
  MessageId id;
  MailboxKey from;
  MailboxKey to;
  std::string topic;
  std::string meta;
  uint64_t length = 0;
  Digest128 digest{};
  MessageStatus status = MessageStatus::kUploaded;
  uint64_t created_ms = 0;
  uint64_t seq = 0;  // position in the feed it was read from (0 outside a feed)
  bool operator==(const MessageInfo&) const = default;
};

// A live entry of the per-mailbox KV store.
struct EntryInfo {
  std::string key;
  std::string value;
  uint64_t version = 0;
  uint64_t seq = 0;  // position in the feed (0 outside a feed)
  bool operator==(const EntryInfo&) const = default;
};

// What a feed says of an item that is gone. Stored in feed records: do not renumber.
enum class TombstoneKind : uint8_t { kMessage = 1, kEntry = 2 };

struct Tombstone {
  TombstoneKind kind = TombstoneKind::kMessage;
  std::string key;       // kMessage: the 16 id bytes; kEntry: the entry key
  uint64_t version = 0;  // kEntry: the delete's version; kMessage: 0
  uint64_t seq = 0;
  bool operator==(const Tombstone&) const = default;
};

// Set in a cursor that continues a reset snapshot below the feed's purge point
// (see docs/engine.md, The feed). Cursors are opaque to clients: pass back
// what the last packet said.
inline constexpr uint64_t kSnapshotCursorBit = uint64_t{1} << 63;

// The info packet (SPEC §3): the current state of every item changed after
// `since`, each list in ascending seq. The same object is a poll reply and a push.
struct InfoPacket {
  uint64_t cursor = 0;  // pass as `since` next time (opaque)
  // The cursor this packet continues from: the `since` it answers (0 for the
  // first page of a reset snapshot). A packet whose `since` is not the cursor
  // a receiver last applied does not follow it (a lost or repeated push).
  uint64_t since = 0;
  bool reset = false;  // a full snapshot: ids not in it are gone
  bool more = false;   // the limit cut it short; poll again from cursor
  std::vector<MessageInfo> incoming;
  std::vector<MessageInfo> outgoing;
  std::vector<EntryInfo> entries;
  std::vector<Tombstone> tombstones;
  size_t size() const {
    return incoming.size() + outgoing.size() + entries.size() + tombstones.size();
  }
  bool operator==(const InfoPacket&) const = default;
};

struct EntryPutResult {
  bool applied = false;  // false: the stored state won the merge and is unchanged
  uint64_t version = 0;  // the stored version after the call
  bool operator==(const EntryPutResult&) const = default;
};

// The outcome of a status update (a max-register merge).
struct StatusUpdateResult {
  bool applied = false;    // false: the stored status was already at or above the one asked
  MessageStatus status{};  // the status after the call (it may be higher than asked)
  bool operator==(const StatusUpdateResult&) const = default;
};

// A pending kick (docs/notifications.md): the sync server's record that an
// offline mailbox changed and its push registration should be told. One per
// mailbox at most; kept in the store so that it survives a restart.
struct PendingKick {
  MailboxKey mkey;
  uint64_t since = 0;            // the feed cursor before the first change it covers
  uint64_t first_change_ms = 0;  // when that change committed (the store's clock)
  uint64_t due_ms = 0;           // not sent before this (coalescing window, then backoff)
  uint32_t attempts = 0;         // sends that failed so far
  bool operator==(const PendingKick&) const = default;
};

struct StoreStats {
  uint64_t mailboxes = 0;
  uint64_t messages = 0;
  uint64_t entries = 0;  // live and tombstoned
  uint64_t blob_chunks = 0;
  uint64_t feed_records = 0;
  uint64_t uploads = 0;     // uploads begun and not yet complete
  uint64_t map_size = 0;    // bytes reserved for the map
  uint64_t used_bytes = 0;  // pages up to the last one written × page size
  uint64_t file_bytes = 0;
  // Mailboxes deleted over the store's life (any process): a server compares
  // it between ticks to end the sessions of deleted mailboxes.
  uint64_t mailbox_deletions = 0;
  uint64_t sync_failures = 0;  // failed syncs since the store was opened (DB::Sync)
};

}  // namespace postbox

#endif  // POSTBOX_TYPES_H_
