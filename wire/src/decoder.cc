// FrameDecoder: bytes from the socket -> verified frames, or a precise error.
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <string>

#include "dictionary.h"
#include "fb_util.h"
#include "postbox/wire/frame.h"

namespace postbox::wire {

namespace {
constexpr size_t kDefaultReadSize = 64 * 1024;
constexpr uintptr_t kPayloadAlign = 8;  // FlatBuffers' largest scalar.
}  // namespace

class FrameDecoder::Decompressor {
 public:
  explicit Decompressor(uint32_t max_payload) : dctx_(ZSTD_createDCtx()) {
    if (dctx_ != nullptr) {
      // Bound the window (and so the memory a hostile frame can make us
      // allocate) by the frame limit: no legal payload needs a larger one.
      const int window_log = std::clamp(static_cast<int>(std::bit_width(max_payload - 1u)), 10, 30);
      ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, window_log);
    }
  }
  ~Decompressor() { ZSTD_freeDCtx(dctx_); }
  ZSTD_DCtx* get() const { return dctx_; }

 private:
  ZSTD_DCtx* dctx_;
};

FrameDecoder::FrameDecoder(const DecoderOptions& options) : options_(options) {
  // The FlatBuffers Verifier asserts buffers below 2 GiB; so must the limit.
  options_.max_payload = std::clamp<uint32_t>(options_.max_payload, 8, kMaxSupportedPayload);
}
FrameDecoder::~FrameDecoder() = default;

void FrameDecoder::Reserve(size_t min_free) {
  // Release the frame handed out last, then move the unread tail to the
  // front: the buffer start is 16-byte aligned, so frames from an aligned
  // sender stay aligned and need no copy.
  begin_ += consume_;
  consume_ = 0;
  if (begin_ > 0) {
    const size_t live = end_ - begin_;
    if (live > 0) std::memmove(buf_.get(), buf_.get() + begin_, live);
    begin_ = 0;
    end_ = live;
  }
  if (capacity_ - end_ >= min_free) return;
  const size_t capacity = std::max(end_ + min_free, capacity_ * 2);
  auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
  if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
  buf_ = std::move(bigger);
  capacity_ = capacity;
}

std::span<uint8_t> FrameDecoder::WritableSpace(size_t min_size) {
  if (min_size == 0) min_size = kDefaultReadSize;
  Reserve(min_size);
  return {buf_.get() + end_, capacity_ - end_};
}

void FrameDecoder::CommitWritten(size_t n) {
  assert(n <= capacity_ - end_ && "committed more than WritableSpace returned");
  end_ = std::min(end_ + n, capacity_);
}

void FrameDecoder::Feed(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  Reserve(bytes.size());
  std::memcpy(buf_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

FrameDecoder::Progress FrameDecoder::Fail(ErrorCode code, std::string message) {
  error_ = Error(code, std::move(message));
  return Progress::kFailed;
}

std::optional<uint64_t> FrameDecoder::pending_request_id() const {
  const size_t start = begin_ + consume_;
  if (end_ - start < kFrameHeaderSize) return std::nullopt;
  return ReadFrameHeader(buf_.get() + start).request_id;
}

FrameDecoder::Progress FrameDecoder::Next(Frame* frame) {
  if (failed()) return Progress::kFailed;
  begin_ += consume_;
  consume_ = 0;
  if (end_ - begin_ < kFrameHeaderSize) return Progress::kNeedMore;

  // The header is judged before the payload arrives, so an oversized or
  // garbage frame is refused without buffering it.
  const FrameHeader h = ReadFrameHeader(buf_.get() + begin_);
  // Every failure from here on concerns this frame: its Error echoes the id.
  error_request_id_ = h.request_id;
  if (h.reserved != 0) {
    return Fail(ErrorCode::kBadHeader,
                "reserved header byte is " + std::to_string(h.reserved) + ", expected 0");
  }
  if (h.length > options_.max_payload) {
    return Fail(ErrorCode::kOversize, "frame payload of " + std::to_string(h.length) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(options_.max_payload));
  }
  if (!IsKnownMessageType(h.type)) {
    return Fail(ErrorCode::kUnknownType, "message type " + std::to_string(h.type) +
                                             " is not in 1.." + std::to_string(kMaxMessageType));
  }
  if ((h.flags & ~kKnownFlags) != 0 || h.flags == kFlagDictionary) {
    return Fail(ErrorCode::kBadFlags, "flags " + std::to_string(h.flags) +
                                          ": only 0 (raw), 1 (zstd) and 3 (zstd with the"
                                          " dictionary) are defined");
  }
  // A peer sends only what the session agreed (PROTOCOL.md "Compression
  // negotiation"); anything else is refused like an undefined flag.
  if (h.flags == kFlagZstd && !options_.accept.zstd) {
    return Fail(ErrorCode::kBadFlags, "flags 1 (zstd): plain zstd was not agreed for this session");
  }
  if (h.flags == (kFlagZstd | kFlagDictionary) && options_.accept.dictionary == 0) {
    return Fail(ErrorCode::kBadFlags,
                "flags 3 (zstd with a dictionary): no dictionary was agreed for this session");
  }
  if (end_ - begin_ < kFrameHeaderSize + h.length) return Progress::kNeedMore;

  const auto type = static_cast<MessageType>(h.type);
  const uint8_t* payload = buf_.get() + begin_ + kFrameHeaderSize;
  size_t size = h.length;

  auto scratch = [this](size_t n) {
    if (scratch_capacity_ < n) {
      scratch_ = std::make_unique_for_overwrite<uint8_t[]>(n);
      scratch_capacity_ = n;
    }
    return scratch_.get();
  };

  if ((h.flags & kFlagZstd) != 0) {
    const unsigned long long content = ZSTD_getFrameContentSize(payload, size);
    if (content == ZSTD_CONTENTSIZE_ERROR) {
      return Fail(ErrorCode::kDecompressFailed, "payload is not a zstd frame");
    }
    // Decompressing into a buffer of the declared size, itself bounded by the
    // frame limit, caps memory whatever the compressed bytes claim.
    if (content == ZSTD_CONTENTSIZE_UNKNOWN || content > options_.max_payload) {
      return Fail(ErrorCode::kDecompressBomb,
                  content == ZSTD_CONTENTSIZE_UNKNOWN
                      ? std::string("zstd frame does not declare its content size")
                      : "zstd content of " + std::to_string(content) +
                            " bytes exceeds the limit of " + std::to_string(options_.max_payload));
    }
    // Exactly one zstd frame: trailing bytes would be unverified data.
    if (ZSTD_findFrameCompressedSize(payload, size) != size) {
      return Fail(ErrorCode::kDecompressFailed, "payload is not exactly one zstd frame");
    }
    if (decompressor_ == nullptr) {
      decompressor_ = std::make_unique<Decompressor>(options_.max_payload);
    }
    ZSTD_DCtx* dctx = decompressor_->get();
    const bool with_dictionary = (h.flags & kFlagDictionary) != 0;
    const ZSTD_DDict* ddict =
        with_dictionary ? internal::SharedDDict(options_.accept.dictionary) : nullptr;
    if (dctx == nullptr) {
      return Fail(ErrorCode::kInternal, "could not create a zstd decompression context");
    }
    if (with_dictionary && ddict == nullptr) {
      return Fail(ErrorCode::kInternal, "zstd dictionary " +
                                            std::to_string(options_.accept.dictionary) +
                                            " is not available in this build");
    }
    // At least 8 bytes so an empty payload still has a valid address.
    uint8_t* out = scratch(std::max<size_t>(content, 8));
    const size_t n = ZSTD_decompress_usingDDict(dctx, out, content, payload, size, ddict);
    if (ZSTD_isError(n)) {
      return Fail(ErrorCode::kDecompressFailed, ZSTD_getErrorName(n));
    }
    if (n != content) {
      return Fail(ErrorCode::kDecompressFailed, "zstd produced " + std::to_string(n) +
                                                    " bytes, the frame declared " +
                                                    std::to_string(content));
    }
    payload = out;
    size = n;
  } else if (reinterpret_cast<uintptr_t>(payload) % kPayloadAlign != 0) {
    // A sender that does not pad leaves payloads misaligned; FlatBuffers
    // reads scalars in place, so realign by copying.
    uint8_t* out = scratch(std::max<size_t>(size, 8));
    std::memcpy(out, payload, size);
    payload = out;
  }

  if (!internal::VerifyPayload(type, payload, size, options_)) {
    return Fail(ErrorCode::kVerifyFailed, std::string(MessageTypeName(type)) + " payload of " +
                                              std::to_string(size) +
                                              " bytes failed FlatBuffers verification");
  }
  frame->type_ = type;
  frame->flags_ = h.flags;
  frame->request_id_ = h.request_id;
  frame->payload_ = {payload, size};
  frame->wire_size_ = kFrameHeaderSize + h.length;
  consume_ = kFrameHeaderSize + h.length;
  return Progress::kFrame;
}

}  // namespace postbox::wire
