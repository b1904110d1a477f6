// Encoder: message value -> FlatBuffers payload -> optional zstd -> frame.
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "build.h"
#include "dictionary.h"
#include "message_list.h"
#include "postbox/wire/codec.h"

namespace postbox::wire {
namespace {

// One reallocation at most per frame, geometric so that appending many frames
// to one vector stays linear (a bare reserve() would grow it exactly).
void GrowFor(std::vector<uint8_t>* out, size_t extra) {
  const size_t need = out->size() + extra;
  if (need > out->capacity()) out->reserve(std::max(need, 2 * out->capacity()));
}

}  // namespace

class Encoder::Impl {
 public:
  Impl() = default;
  ~Impl() { ZSTD_freeCCtx(cctx); }

  // Lazily made: an encoder that never compresses never pays for a context.
  ZSTD_CCtx* Context(int level) {
    if (cctx == nullptr) {
      cctx = ZSTD_createCCtx();
      if (cctx == nullptr) return nullptr;
      // The receiver needs the content size to bound decompression; the
      // dictionary id and checksum are implied by the flag and FlatBuffers'
      // own verification, so both are left out to save 8 bytes a frame.
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    }
    return cctx;
  }

  internal::BuildContext ctx;
  std::vector<uint8_t> compressed;  // Grows to the largest bound seen, never shrinks.
  ZSTD_CCtx* cctx = nullptr;
};

Encoder::Encoder(const EncoderOptions& options)
    : options_(options), impl_(std::make_unique<Impl>()) {}

Encoder::~Encoder() = default;

template <class M>
Error Encoder::Encode(uint64_t request_id, const M& message, std::vector<uint8_t>* out,
                      Compression compression, const CompressionAgreement& peer) {
  impl_->ctx.fbb.Clear();
  impl_->ctx.fbb.Finish(internal::Build(impl_->ctx, message));
  return Finish(M::kType, request_id, compression, peer, out);
}

#define POSTBOX_WIRE_INSTANTIATE_ENCODE(M, T)                                               \
  template Error Encoder::Encode<M>(uint64_t, const M&, std::vector<uint8_t>*, Compression, \
                                    const CompressionAgreement&);
POSTBOX_WIRE_FOR_EACH_MESSAGE(POSTBOX_WIRE_INSTANTIATE_ENCODE)
#undef POSTBOX_WIRE_INSTANTIATE_ENCODE

Error Encoder::Finish(MessageType type, uint64_t request_id, Compression compression,
                      const CompressionAgreement& peer, std::vector<uint8_t>* out) {
  const uint8_t* payload = impl_->ctx.fbb.GetBufferPointer();
  size_t size = impl_->ctx.fbb.GetSize();
  uint8_t flags = 0;
  // The receiver bounds the payload after decompression too (a bomb guard), so
  // a compressible payload over the limit must be refused here, before zstd
  // makes it look small: the caller pages it instead.
  if (size > options_.max_payload) {
    return Error(ErrorCode::kEncodeTooLarge,
                 std::string(MessageTypeName(type)) + " payload of " + std::to_string(size) +
                     " bytes (before compression) exceeds the frame limit of " +
                     std::to_string(options_.max_payload));
  }

  // Only what the peer reads: its dictionary if it has one (the better
  // choice on every size measured), else plain zstd, else nothing.
  const bool blob = type == MessageType::kUploadChunk || type == MessageType::kDownloadChunk;
  const bool with_dictionary = peer.dictionary != 0;
  const size_t min_size = with_dictionary ? kAutoMinPayload : kAutoMinPayloadNoDictionary;
  const bool try_zstd = (with_dictionary || peer.zstd) &&
                        (compression == Compression::kAlways ||
                         (compression == Compression::kAuto && !blob && size >= min_size));
  if (try_zstd) {
    ZSTD_CCtx* cctx = impl_->Context(options_.zstd_level);
    if (cctx == nullptr) return Error(ErrorCode::kInternal, "ZSTD_createCCtx failed");
    const size_t bound = ZSTD_compressBound(size);
    if (impl_->compressed.size() < bound) impl_->compressed.resize(bound);
    const ZSTD_CDict* cdict =
        with_dictionary ? internal::SharedCDict(peer.dictionary, options_.zstd_level) : nullptr;
    if (with_dictionary && cdict == nullptr) {
      return Error(ErrorCode::kInternal, "zstd dictionary " + std::to_string(peer.dictionary) +
                                             " is not available in this build");
    }
    ZSTD_CCtx_refCDict(cctx, cdict);  // Null detaches a previous dictionary.
    const size_t n =
        ZSTD_compress2(cctx, impl_->compressed.data(), impl_->compressed.size(), payload, size);
    // kAuto keeps zstd only when it saves an eighth: below that the receiver's
    // decompression time is not paid back. kAlways keeps any saving.
    const size_t keep_below = compression == Compression::kAuto ? size - size / 8 : size;
    if (!ZSTD_isError(n) && n < keep_below) {
      payload = impl_->compressed.data();
      size = n;
      flags = kFlagZstd | (cdict != nullptr ? kFlagDictionary : 0);
    }
  }
  // Raw payloads are zero-padded to a multiple of 8 (FlatBuffers ignores
  // trailing bytes), so back-to-back frames keep every payload 8-byte aligned
  // in the receiver's buffer and it can verify and read them in place.
  const size_t wire_size = flags == 0 ? (size + 7) & ~size_t{7} : size;
  if (wire_size > options_.max_payload) {
    return Error(ErrorCode::kEncodeTooLarge,
                 std::string(MessageTypeName(type)) + " payload of " + std::to_string(wire_size) +
                     " bytes exceeds the frame limit of " + std::to_string(options_.max_payload));
  }
  FrameHeader header;
  header.length = static_cast<uint32_t>(wire_size);
  header.type = static_cast<uint16_t>(type);
  header.flags = flags;
  header.request_id = request_id;
  // insert() copies without first zero-filling as resize() would, which
  // matters for 256 KiB blob chunks.
  uint8_t head[kFrameHeaderSize];
  WriteFrameHeader(header, head);
  static constexpr uint8_t kZeros[8] = {};
  GrowFor(out, kFrameHeaderSize + wire_size);
  out->insert(out->end(), head, head + kFrameHeaderSize);
  out->insert(out->end(), payload, payload + size);
  out->insert(out->end(), kZeros, kZeros + (wire_size - size));
  return Error();
}

void AppendRawFrame(MessageType type, uint64_t request_id, uint8_t flags,
                    std::span<const uint8_t> payload, std::vector<uint8_t>* out) {
  FrameHeader header;
  header.length = static_cast<uint32_t>(payload.size());
  header.type = static_cast<uint16_t>(type);
  header.flags = flags;
  header.request_id = request_id;
  uint8_t head[kFrameHeaderSize];
  WriteFrameHeader(header, head);
  GrowFor(out, kFrameHeaderSize + payload.size());
  out->insert(out->end(), head, head + kFrameHeaderSize);
  out->insert(out->end(), payload.begin(), payload.end());
}

uint64_t ChunkDigest(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

}  // namespace postbox::wire
