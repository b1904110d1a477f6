// Errors of the wire codec: one enum of precise causes plus a human message.
//
// The codec knows nothing of the engine, so it has its own error type; the sync
// layer maps it once, at its boundary, to the engine's Status (HttpCode() gives
// the protocol code each cause should be answered with). Error is a value type
// and is not synchronised; an OK Error allocates nothing.
#ifndef POSTBOX_WIRE_ERROR_H_
#define POSTBOX_WIRE_ERROR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace postbox::wire {

// Why a frame or message was refused. Not on the wire (the Error message's
// HTTP-like code is), but logged and counted, so keep the values stable.
enum class ErrorCode : uint8_t {
  kOk = 0,
  kBadHeader = 1,         // Reserved header bits set, or an impossible length.
  kOversize = 2,          // Declared payload length above the frame limit.
  kUnknownType = 3,       // Message type this build does not know.
  kBadFlags = 4,          // Unknown flag bits, dictionary without zstd, or not agreed.
  kVerifyFailed = 5,      // The FlatBuffers Verifier rejected the payload.
  kDecompressFailed = 6,  // zstd said the payload is corrupt or truncated.
  kDecompressBomb = 7,    // Decompressed size unknown or above the frame limit.
  kTypeMismatch = 8,      // Decode<T> called on a frame of another type.
  kEncodeTooLarge = 9,    // An encoded payload would exceed the frame limit.
  kInternal = 10,         // zstd could not allocate a context, and the like.
};

// The name of a code, e.g. "oversize"; never null.
const char* ErrorCodeName(ErrorCode code);

// The protocol error code (wire/PROTOCOL.md §Errors) a peer should get for a
// frame refused with `code`: 413 for oversize and decompression bombs, 500 for
// internal failures, 400 for every other malformed input, 0 for kOk.
uint16_t HttpCode(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error() = default;
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  // What was wrong and what was expected; empty when ok().
  const std::string& message() const { return message_; }
  // "oversize: frame payload of 2000000 bytes exceeds the limit of 1048576".
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

}  // namespace postbox::wire

#endif  // POSTBOX_WIRE_ERROR_H_
