// Encoding messages into frames and reading verified frames back into values.
//
// Encoder turns a message value into one frame appended to a caller-owned byte
// vector, reusing its FlatBuffers builder and compression buffers, so the hot
// path allocates nothing once the buffers have grown. Decode<M> reads a Frame
// (already verified by FrameDecoder) into a message value whose views borrow
// the frame's payload. An Encoder is not thread-safe: one per connection or
// per thread. Decode is a pure function.
#ifndef POSTBOX_WIRE_CODEC_H_
#define POSTBOX_WIRE_CODEC_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "postbox/wire/error.h"
#include "postbox/wire/frame.h"
#include "postbox/wire/messages.h"

namespace postbox::wire {

// When the encoder compresses a payload with zstd (wire/PROTOCOL.md
// §Compression has the measurements behind the thresholds).
enum class Compression : uint8_t {
  kNever,
  // Only where it pays: payloads of at least kAutoMinPayload bytes, never blob
  // chunks, and only if zstd saves at least an eighth.
  kAuto,
  // Try zstd on every payload, blob chunks included (for callers that know the
  // blob is compressible); still sent raw if zstd does not make it smaller.
  kAlways,
};

// Below these payload sizes kAuto sends raw. Measured (PROTOCOL.md
// §Compression): with the dictionary zstd halves payloads of any size for
// ~1.5 us, but under 256 bytes the saving is smaller than a TCP/IP header;
// without it, zstd gains under 1.3x below 512 bytes for ~7 us.
inline constexpr size_t kAutoMinPayload = 256;
inline constexpr size_t kAutoMinPayloadNoDictionary = 1024;

struct EncoderOptions {
  uint32_t max_payload = kDefaultMaxPayload;  // Must match the peer's decoder.
  Compression compression = Compression::kAuto;
  // What the peer reads (the session's agreement, PROTOCOL.md "Compression
  // negotiation"): with a dictionary, zstd frames use it (flags 0x03);
  // otherwise, with zstd, they are plain (flags 0x01); with neither, every
  // frame is raw whatever `compression` says.
  CompressionAgreement peer = kAnyCompression;
  int zstd_level = 1;  // Level 3 compresses these payloads worse.
};

class Encoder {
 public:
  explicit Encoder(const EncoderOptions& options = {});
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Appends one frame carrying `message` to *out (earlier bytes are kept, so
  // several frames can share one write). On kEncodeTooLarge (the payload,
  // after any compression, exceeds max_payload) or kInternal, *out is left as
  // it was. M is any message type of messages.h.
  template <class M>
  Error Encode(uint64_t request_id, const M& message, std::vector<uint8_t>* out) {
    return Encode(request_id, message, out, options_.compression, options_.peer);
  }
  template <class M>
  Error Encode(uint64_t request_id, const M& message, std::vector<uint8_t>* out,
               Compression compression) {
    return Encode(request_id, message, out, compression, options_.peer);
  }
  // For a given peer: one encoder (per thread or loop) serves many sessions,
  // each with its own agreement.
  template <class M>
  Error Encode(uint64_t request_id, const M& message, std::vector<uint8_t>* out,
               const CompressionAgreement& peer) {
    return Encode(request_id, message, out, options_.compression, peer);
  }
  template <class M>
  Error Encode(uint64_t request_id, const M& message, std::vector<uint8_t>* out,
               Compression compression, const CompressionAgreement& peer);

  // Changes the default peer agreement (e.g. once HelloReply arrived).
  void set_peer(const CompressionAgreement& peer) { options_.peer = peer; }
  const EncoderOptions& options() const { return options_; }

 private:
  class Impl;
  Error Finish(MessageType type, uint64_t request_id, Compression compression,
               const CompressionAgreement& peer, std::vector<uint8_t>* out);

  EncoderOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Reads a verified frame into *out. kTypeMismatch if frame.type() is not
// M::kType (then *out is unchanged). Views in *out borrow frame.payload();
// vectors in *out are cleared and refilled, keeping their capacity.
template <class M>
Error Decode(const Frame& frame, M* out);

using AnyMessage =
    std::variant<Hello, HelloReply, Poll, InfoPacket, Ack, UploadBegin, UploadChunk,
                 UploadQueryOffset, UploadOffset, UploadCommit, UploadAbort, DownloadRequest,
                 DownloadChunk, StatusUpdate, EntryGet, EntryPut, EntryDelete, EntryList,
                 EntryListReply, EntryValue, ConnectionAdd, ConnectionRemove, ConnectionList,
                 ConnectionListReply, PushRegister, Ping, Pong, ErrorReply, Ok, EndpointRegister,
                 EndpointReply, EndpointList, EndpointListReply, EndpointRevoke>;

// Reads any verified frame into the matching alternative of *out, so a
// session can std::visit what arrived.
Error DecodeAny(const Frame& frame, AnyMessage* out);

// Appends a frame with the given header fields and payload bytes verbatim, no
// checks: for tests, fuzz seeds and forwarding frames already encoded.
void AppendRawFrame(MessageType type, uint64_t request_id, uint8_t flags,
                    std::span<const uint8_t> payload, std::vector<uint8_t>* out);

// The bytes of the published zstd dictionary `id` as this build embeds them
// (wire/dictionaries/<id>.zdict); empty for an id it does not have.
std::span<const uint8_t> DictionaryBytes(uint32_t id);
// The dictionary a server agrees to: the highest id among `offered` that this
// build has; 0 if none.
uint32_t ChooseDictionary(std::span<const uint32_t> offered);

// XXH3-64 (seed 0) of a blob chunk, as carried in DownloadChunk::xxh3_64.
uint64_t ChunkDigest(std::string_view data);
inline bool VerifyChunkDigest(const DownloadChunk& chunk) {
  return ChunkDigest(chunk.data) == chunk.xxh3_64;
}

}  // namespace postbox::wire

#endif  // POSTBOX_WIRE_CODEC_H_
