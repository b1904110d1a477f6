// The messages of the postbox sync protocol as plain C++ values.
//
// These mirror wire/schema/postbox.fbs one to one, so callers never see
// generated FlatBuffers code. Byte and string fields are borrowed views: when
// encoding, they must stay valid until Encoder::Encode returns; when decoding,
// they point into the decoder's buffer and stay valid until the next call of a
// non-const FrameDecoder method (copy what must live longer). Plain values, not
// synchronised. wire/PROTOCOL.md says which message answers which.
#ifndef POSTBOX_WIRE_MESSAGES_H_
#define POSTBOX_WIRE_MESSAGES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace postbox::wire {

// Version of the frame layout and message set. A peer whose Hello names a
// version outside [kMinProtocolVersion, kProtocolVersion] gets Error 426.
// Version 2 added compression negotiation (Hello.accept_zstd and
// zstd_dictionaries, HelloReply.zstd and zstd_dictionary); a version-1 Hello
// declares no compression, so such a session is raw both ways.
inline constexpr uint32_t kProtocolVersion = 3;
inline constexpr uint32_t kMinProtocolVersion = 1;

// The 16-bit message type in the frame header. Do not renumber: on the wire.
enum class MessageType : uint16_t {
  kHello = 1,
  kHelloReply = 2,
  kPoll = 3,
  kInfoPacket = 4,
  kAck = 5,
  kUploadBegin = 6,
  kUploadChunk = 7,
  kUploadQueryOffset = 8,
  kUploadOffset = 9,
  kUploadCommit = 10,
  kUploadAbort = 11,
  kDownloadRequest = 12,
  kDownloadChunk = 13,
  kStatusUpdate = 14,
  kEntryGet = 15,
  kEntryPut = 16,
  kEntryDelete = 17,
  kEntryList = 18,
  kEntryListReply = 19,
  kEntryValue = 20,
  kConnectionAdd = 21,
  kConnectionRemove = 22,
  kConnectionList = 23,
  kConnectionListReply = 24,
  kPushRegister = 25,
  kPing = 26,
  kPong = 27,
  kError = 28,
  kOk = 29,
  // Protocol 3.
  kEndpointRegister = 30,
  kEndpointReply = 31,
  kEndpointList = 32,
  kEndpointListReply = 33,
  kEndpointRevoke = 34,
};
inline constexpr uint16_t kMaxMessageType = 34;

// "Hello", "InfoPacket", ...; "?" for a value this build does not know.
const char* MessageTypeName(MessageType type);
bool IsKnownMessageType(uint16_t type);

// Mailbox keys, message ids and XXH3-128 digests: exactly 16 bytes.
using Bytes16 = std::array<uint8_t, 16>;

// Do not renumber: on the wire.
enum class Platform : uint8_t { kNone = 0, kIos = 1, kAndroid = 2, kWeb = 3 };

// Do not renumber: on the wire.
enum class Verdict : uint8_t {
  kCurrent = 0,
  kUpdateOptional = 1,
  kUpdateRequired = 2,        // The server closes the session after the reply.
  kUpdateSchemaRequired = 3,  // Likewise.
};

// A max-register: UPLOADED < DOWNLOADED < VIEWED. Do not renumber: on the wire.
// kUnset (0) is what an absent field reads as.
enum class MessageStatus : uint8_t { kUnset = 0, kUploaded = 1, kDownloaded = 2, kViewed = 3 };

// Do not renumber: on the wire.
enum class TombstoneKind : uint8_t { kMessage = 0, kEntry = 1 };

// Where a connection stands as the asking mailbox sees it. Do not renumber.
enum class ConnectionState : uint8_t { kNone = 0, kRequested = 1, kConnected = 2 };

// Which list a ConnectionList asks for. Do not renumber.
enum class ConnectionListKind : uint8_t { kConnected = 0, kRequested = 1, kIncoming = 2 };

// Values of enums read from a newer peer may lie outside the names above; the
// codec passes them through unchanged and the receiver decides.

struct Hello {
  static constexpr MessageType kType = MessageType::kHello;
  uint32_t protocol_version = kProtocolVersion;
  Bytes16 mkey{};
  std::string_view secret{};  // base64url text as shown at mailbox creation.
  Platform platform = Platform::kNone;
  std::string_view app_version{};
  uint32_t schema_version = 0;
  // Protocol version 2: what the client reads besides raw frames, and so also
  // what it may send (PROTOCOL.md "Compression negotiation"). Ignored in a
  // version-1 Hello.
  bool accept_zstd = false;                   // plain zstd frames (flags 0x01)
  std::vector<uint32_t> zstd_dictionaries{};  // dictionary ids it has (flags 0x03)
  bool operator==(const Hello&) const = default;
};

struct HelloReply {
  static constexpr MessageType kType = MessageType::kHelloReply;
  Verdict verdict = Verdict::kCurrent;
  uint32_t protocol_version = kProtocolVersion;
  std::string_view detail{};  // Human text, e.g. where to get the update.
  // The session's compression, both directions: plain zstd frames agreed, and
  // the dictionary id flag 0x02 means (0: none, flags 0x03 refused).
  bool zstd = false;
  uint32_t zstd_dictionary = 0;
  bool operator==(const HelloReply&) const = default;
};

struct Poll {
  static constexpr MessageType kType = MessageType::kPoll;
  uint64_t since = 0;
  uint32_t limit = 0;  // 0: the server's default.
  bool operator==(const Poll&) const = default;
};

struct MessageInfo {
  Bytes16 id{};
  Bytes16 from{};
  Bytes16 to{};
  std::string_view topic{};
  std::string_view meta{};
  uint64_t length = 0;
  Bytes16 digest{};  // XXH3-128 of the blob.
  MessageStatus status = MessageStatus::kUnset;
  uint64_t created_ms = 0;
  uint64_t seq = 0;
  bool operator==(const MessageInfo&) const = default;
};

struct Entry {
  std::string_view key{};
  std::string_view value{};
  uint64_t version = 0;
  uint64_t seq = 0;
  bool operator==(const Entry&) const = default;
};

struct Tombstone {
  TombstoneKind kind = TombstoneKind::kMessage;
  Bytes16 id{};            // kind == kMessage; all zero otherwise.
  std::string_view key{};  // kind == kEntry; empty otherwise.
  uint64_t version = 0;
  uint64_t seq = 0;
  bool operator==(const Tombstone&) const = default;
};

// Both the reply to Poll and the server's push: one code path on the client.
// Decoding reuses the vectors' capacity.
struct InfoPacket {
  static constexpr MessageType kType = MessageType::kInfoPacket;
  uint64_t cursor = 0;
  bool reset = false;
  bool more = false;
  std::vector<MessageInfo> incoming{};
  std::vector<MessageInfo> outgoing{};
  std::vector<Entry> entries{};
  std::vector<Tombstone> tombstones{};
  uint64_t since = 0;
  bool operator==(const InfoPacket&) const = default;
};

struct Ack {
  static constexpr MessageType kType = MessageType::kAck;
  uint64_t cursor = 0;
  bool operator==(const Ack&) const = default;
};

struct UploadBegin {
  static constexpr MessageType kType = MessageType::kUploadBegin;
  Bytes16 id{};
  Bytes16 to{};
  std::string_view topic{};
  std::string_view meta{};
  uint64_t length = 0;
  Bytes16 digest{};
  bool operator==(const UploadBegin&) const = default;
};

struct UploadChunk {
  static constexpr MessageType kType = MessageType::kUploadChunk;
  Bytes16 id{};
  uint64_t offset = 0;  // Explicit, never embedded in the bytes.
  std::string_view data{};
  bool operator==(const UploadChunk&) const = default;
};

struct UploadQueryOffset {
  static constexpr MessageType kType = MessageType::kUploadQueryOffset;
  Bytes16 id{};
  bool operator==(const UploadQueryOffset&) const = default;
};

// The reply to UploadBegin, UploadChunk and UploadQueryOffset.
struct UploadOffset {
  static constexpr MessageType kType = MessageType::kUploadOffset;
  Bytes16 id{};
  uint64_t committed = 0;  // Bytes durably held; resume here.
  uint64_t length = 0;     // Declared total length.
  bool operator==(const UploadOffset&) const = default;
};

struct UploadCommit {
  static constexpr MessageType kType = MessageType::kUploadCommit;
  Bytes16 id{};
  bool operator==(const UploadCommit&) const = default;
};

struct UploadAbort {
  static constexpr MessageType kType = MessageType::kUploadAbort;
  Bytes16 id{};
  bool operator==(const UploadAbort&) const = default;
};

struct DownloadRequest {
  static constexpr MessageType kType = MessageType::kDownloadRequest;
  Bytes16 id{};
  uint64_t offset = 0;
  uint64_t length = 0;  // 0: to the end, in chunks of the server's max_chunk.
  bool operator==(const DownloadRequest&) const = default;
};

struct DownloadChunk {
  static constexpr MessageType kType = MessageType::kDownloadChunk;
  Bytes16 id{};
  uint64_t offset = 0;
  uint64_t total_length = 0;
  std::string_view data{};
  uint64_t xxh3_64 = 0;             // XXH3-64 of `data`, seed 0; see VerifyChunkDigest().
  std::optional<Bytes16> digest{};  // XXH3-128 of the whole blob
  bool operator==(const DownloadChunk&) const = default;
};

struct StatusUpdate {
  static constexpr MessageType kType = MessageType::kStatusUpdate;
  Bytes16 id{};
  MessageStatus status = MessageStatus::kUnset;
  bool operator==(const StatusUpdate&) const = default;
};

struct EntryGet {
  static constexpr MessageType kType = MessageType::kEntryGet;
  std::string_view key{};
  bool operator==(const EntryGet&) const = default;
};

struct EntryPut {
  static constexpr MessageType kType = MessageType::kEntryPut;
  std::string_view key{};
  std::string_view value{};
  uint64_t version = 0;  // 0: stored version + 1.
  bool operator==(const EntryPut&) const = default;
};

struct EntryDelete {
  static constexpr MessageType kType = MessageType::kEntryDelete;
  std::string_view key{};
  uint64_t version = 0;
  bool operator==(const EntryDelete&) const = default;
};

struct EntryList {
  static constexpr MessageType kType = MessageType::kEntryList;
  std::string_view prefix{};
  std::string_view start_after{};
  uint32_t limit = 0;
  bool operator==(const EntryList&) const = default;
};

struct EntryListReply {
  static constexpr MessageType kType = MessageType::kEntryListReply;
  std::vector<Entry> entries{};
  bool more = false;
  bool operator==(const EntryListReply&) const = default;
};

// The reply to EntryGet (a missing key is Error 404).
struct EntryValue {
  static constexpr MessageType kType = MessageType::kEntryValue;
  Entry entry{};
  bool operator==(const EntryValue&) const = default;
};

struct ConnectionAdd {
  static constexpr MessageType kType = MessageType::kConnectionAdd;
  Bytes16 peer{};
  bool operator==(const ConnectionAdd&) const = default;
};

struct ConnectionRemove {
  static constexpr MessageType kType = MessageType::kConnectionRemove;
  Bytes16 peer{};
  bool operator==(const ConnectionRemove&) const = default;
};

struct ConnectionList {
  static constexpr MessageType kType = MessageType::kConnectionList;
  std::optional<Bytes16> start_after{};
  uint32_t limit = 0;
  ConnectionListKind kind = ConnectionListKind::kConnected;
  bool operator==(const ConnectionList&) const = default;
};

struct ConnectionListReply {
  static constexpr MessageType kType = MessageType::kConnectionListReply;
  std::vector<Bytes16> peers{};
  bool more = false;
  bool operator==(const ConnectionListReply&) const = default;
};

// Platform kNone with an empty token removes the registration.
struct PushRegister {
  static constexpr MessageType kType = MessageType::kPushRegister;
  Platform platform = Platform::kNone;
  std::string_view push_token{};
  bool operator==(const PushRegister&) const = default;
};

// Protocol 3: a Web Push endpoint of the session's mailbox (wire/PROTOCOL.md
// "Endpoints").
struct Endpoint {
  std::string_view token{};
  std::string_view app_id{};
  std::string_view vapid_public_key{};  // empty or 65 bytes
  uint64_t created_ms = 0;
  std::string_view url{};
  bool operator==(const Endpoint&) const = default;
};

struct EndpointRegister {
  static constexpr MessageType kType = MessageType::kEndpointRegister;
  std::string_view app_id{};
  std::string_view vapid_public_key{};
  bool operator==(const EndpointRegister&) const = default;
};

// The reply to EndpointRegister.
struct EndpointReply {
  static constexpr MessageType kType = MessageType::kEndpointReply;
  Endpoint endpoint{};
  bool operator==(const EndpointReply&) const = default;
};

struct EndpointList {
  static constexpr MessageType kType = MessageType::kEndpointList;
  std::string_view start_after{};  // a token; empty: from the first
  uint32_t limit = 0;
  bool operator==(const EndpointList&) const = default;
};

struct EndpointListReply {
  static constexpr MessageType kType = MessageType::kEndpointListReply;
  std::vector<Endpoint> endpoints{};
  bool more = false;
  bool operator==(const EndpointListReply&) const = default;
};

// The reply is Ok.
struct EndpointRevoke {
  static constexpr MessageType kType = MessageType::kEndpointRevoke;
  std::string_view token{};
  bool operator==(const EndpointRevoke&) const = default;
};

struct Ping {
  static constexpr MessageType kType = MessageType::kPing;
  uint64_t nonce = 0;
  bool operator==(const Ping&) const = default;
};

struct Pong {
  static constexpr MessageType kType = MessageType::kPong;
  uint64_t nonce = 0;  // Echoes Ping::nonce.
  bool operator==(const Pong&) const = default;
};

// HTTP-like codes: 400 401 403 404 409 410 413 422 426 429 500 503.
struct ErrorReply {
  static constexpr MessageType kType = MessageType::kError;
  uint16_t code = 0;
  std::string_view message{};
  uint32_t min_version = 0;  // 426 only: the supported protocol range.
  uint32_t max_version = 0;
  bool operator==(const ErrorReply&) const = default;
};

// Generic success: `version` for entry put/delete, `status` for StatusUpdate
// (the current, possibly higher, status); zero when not meaningful.
struct Ok {
  static constexpr MessageType kType = MessageType::kOk;
  uint64_t version = 0;
  MessageStatus status = MessageStatus::kUnset;
  ConnectionState connection = ConnectionState::kNone;
  // Whether the request changed the store (wire/PROTOCOL.md §3 says what it
  // means per request).
  bool applied = false;
  bool operator==(const Ok&) const = default;
};

}  // namespace postbox::wire

#endif  // POSTBOX_WIRE_MESSAGES_H_
