// Framing: the fixed frame header and the incremental, verifying decoder.
//
// A frame is a 16-byte little-endian header followed by `length` payload bytes
// (layout in wire/PROTOCOL.md §Frame). The decoder takes whatever a socket read
// delivers — part of a frame, many frames — and yields frames whose payload has
// been decompressed if flagged, bounded by the frame limit, and passed through
// the FlatBuffers Verifier for its message type. Nothing reads a payload before
// that. FrameDecoder is not thread-safe: one per connection, on its loop thread.
#ifndef POSTBOX_WIRE_FRAME_H_
#define POSTBOX_WIRE_FRAME_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#include "postbox/wire/error.h"
#include "postbox/wire/messages.h"

namespace postbox::wire {

static_assert(std::endian::native == std::endian::little,
              "the frame header is read with memcpy; add byte swaps for big-endian hosts");

inline constexpr size_t kFrameHeaderSize = 16;
// The default payload limit: one 256 KiB blob chunk fits with room to spare,
// and an info packet is paged (`more`) well below it.
inline constexpr uint32_t kDefaultMaxPayload = 1u << 20;
// Larger limits are lowered to this: FlatBuffers addresses at most 2 GiB.
inline constexpr uint32_t kMaxSupportedPayload = (1u << 31) - 1;

// Header flag bits. Do not renumber: on the wire. Unknown bits are refused.
inline constexpr uint8_t kFlagZstd = 0x01;  // Payload is one zstd frame.
// ...made with the dictionary the session agreed (HelloReply.zstd_dictionary).
inline constexpr uint8_t kFlagDictionary = 0x02;
inline constexpr uint8_t kKnownFlags = kFlagZstd | kFlagDictionary;

// The highest zstd dictionary id this build has (wire/dictionaries/<id>.zdict;
// PROTOCOL.md "Compression negotiation"). Ids start at 1; 0 means none.
inline constexpr uint32_t kLatestDictionary = 1;

// The compressed frames a session carries besides raw ones (flags 0), as Hello
// and HelloReply agreed them (PROTOCOL.md "Compression negotiation"). The same
// set holds in both directions: an Encoder sends only these, and a
// FrameDecoder refuses any other flags as a malformed stream.
struct CompressionAgreement {
  bool zstd = false;        // Plain zstd frames (flags 0x01).
  uint32_t dictionary = 0;  // The dictionary flags 0x03 use; 0: none (0x03 refused).
  bool operator==(const CompressionAgreement&) const = default;
};
// Nothing but raw frames: a session before Hello, or whose client declared
// nothing (every version-1 client).
inline constexpr CompressionAgreement kNoCompression{};
// Everything this build reads: for endpoints that do not negotiate (tools,
// tests, a peer that knows its counterpart is this build).
inline constexpr CompressionAgreement kAnyCompression{true, kLatestDictionary};

struct FrameHeader {
  uint32_t length = 0;  // Payload bytes after the header, as sent (compressed).
  uint16_t type = 0;    // A MessageType value.
  uint8_t flags = 0;
  uint8_t reserved = 0;  // Must be zero.
  uint64_t request_id = 0;
};

inline void WriteFrameHeader(const FrameHeader& h, uint8_t* out) {
  std::memcpy(out, &h.length, 4);
  std::memcpy(out + 4, &h.type, 2);
  out[6] = h.flags;
  out[7] = h.reserved;
  std::memcpy(out + 8, &h.request_id, 8);
}

inline FrameHeader ReadFrameHeader(const uint8_t* in) {
  FrameHeader h;
  std::memcpy(&h.length, in, 4);
  std::memcpy(&h.type, in + 4, 2);
  h.flags = in[6];
  h.reserved = in[7];
  std::memcpy(&h.request_id, in + 8, 8);
  return h;
}

// A verified frame. Only FrameDecoder makes one, so holding a Frame means its
// payload passed the Verifier. The payload is borrowed from the decoder: valid
// until the next call of a non-const method of the decoder that produced it.
class Frame {
 public:
  Frame() = default;
  MessageType type() const { return type_; }
  uint64_t request_id() const { return request_id_; }
  uint8_t flags() const { return flags_; }  // As received: was it compressed?
  // The decompressed, verified FlatBuffers payload, 8-byte aligned.
  std::span<const uint8_t> payload() const { return payload_; }
  // Bytes the frame took on the wire, header included.
  size_t wire_size() const { return wire_size_; }

 private:
  friend class FrameDecoder;
  MessageType type_ = MessageType::kPing;
  uint8_t flags_ = 0;
  uint64_t request_id_ = 0;
  std::span<const uint8_t> payload_;
  size_t wire_size_ = 0;
};

struct DecoderOptions {
  // Largest payload accepted, both as sent and after decompression (413
  // above); clamped to [8, kMaxSupportedPayload].
  uint32_t max_payload = kDefaultMaxPayload;
  // Verifier limits: nesting depth and number of tables in one payload. The
  // deepest message (InfoPacket > vector > MessageInfo) needs 3 levels.
  uint32_t max_depth = 8;
  uint32_t max_tables = 1u << 16;
  // Which compressed frames are accepted; any other flags fail the stream
  // with kBadFlags. A server starts a session at kNoCompression and widens it
  // to the agreement once Hello succeeded (FrameDecoder::set_accept).
  CompressionAgreement accept = kAnyCompression;
};

class FrameDecoder {
 public:
  enum class Progress { kFrame, kNeedMore, kFailed };

  explicit FrameDecoder(const DecoderOptions& options = {});
  ~FrameDecoder();
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Zero-copy read path: returns writable space of at least `min_size` bytes
  // (64 KiB if 0) at the end of the buffered bytes; read into it, then call
  // CommitWritten with the count actually read. Invalidates earlier frames.
  std::span<uint8_t> WritableSpace(size_t min_size = 0);
  void CommitWritten(size_t n);
  // Copying read path: appends `bytes`. Invalidates earlier frames.
  void Feed(std::span<const uint8_t> bytes);

  // kFrame: *frame holds the next verified frame (previous frames become
  // invalid). kNeedMore: no complete frame is buffered. kFailed: the stream is
  // malformed (see error()); it stays failed, since framing is lost — answer
  // with Error HttpCode(error().code()) and close the connection.
  [[nodiscard]] Progress Next(Frame* frame);

  // Changes which compressed frames the following Next() calls accept (e.g.
  // after the Hello exchange); frames already returned are not affected. A
  // dictionary id this build does not have makes its frames fail as kInternal.
  void set_accept(const CompressionAgreement& accept) { options_.accept = accept; }
  const CompressionAgreement& accept() const { return options_.accept; }

  const Error& error() const { return error_; }
  bool failed() const { return !error_.ok(); }
  // The request id in the header of the frame that failed the stream. The
  // decoder judges a frame only once its 16-byte header is buffered, so every
  // failure has one: an Error reply to a malformed frame echoes it.
  uint64_t error_request_id() const { return error_request_id_; }
  // The request id of the incomplete frame at the front of the buffer, if its
  // header has arrived (for the reply to a frame that missed its deadline).
  std::optional<uint64_t> pending_request_id() const;
  // Bytes received and not yet returned as frames.
  size_t buffered() const { return end_ - begin_ - consume_; }

 private:
  class Decompressor;
  Progress Fail(ErrorCode code, std::string message);
  void Reserve(size_t min_free);

  DecoderOptions options_;
  Error error_;
  uint64_t error_request_id_ = 0;
  std::unique_ptr<uint8_t[]> buf_;  // new[] storage: at least 16-byte aligned.
  size_t capacity_ = 0;
  size_t begin_ = 0;                    // First byte not yet returned as a frame.
  size_t end_ = 0;                      // One past the last received byte.
  size_t consume_ = 0;                  // Bytes of the frame last returned, released lazily.
  std::unique_ptr<uint8_t[]> scratch_;  // Decompressed or realigned payloads.
  size_t scratch_capacity_ = 0;
  std::unique_ptr<Decompressor> decompressor_;
};

}  // namespace postbox::wire

#endif  // POSTBOX_WIRE_FRAME_H_
