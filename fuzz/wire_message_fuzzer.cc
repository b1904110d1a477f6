// Fuzzes each message's verify-and-read path directly, without having to
// discover the frame header: byte 0 picks the message type (mod 29), byte 1
// the flags (raw, zstd, zstd with the dictionary), the rest is the payload.
// An accepted payload must decode, and re-encoding what was read must give
// back the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>
#include <vector>

#include "postbox/wire/codec.h"

using namespace postbox::wire;  // NOLINT: a fuzz target, not library code.

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const uint8_t kFlags[] = {0, kFlagZstd, kFlagZstd | kFlagDictionary, 0};
  const auto type = static_cast<MessageType>(1 + data[0] % kMaxMessageType);
  const uint8_t flags = kFlags[data[1] % 4];
  std::vector<uint8_t> bytes;
  AppendRawFrame(type, 1, flags, {data + 2, size - 2}, &bytes);

  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  if (decoder.Next(&frame) != FrameDecoder::Progress::kFrame) return 0;
  AnyMessage message;
  if (!DecodeAny(frame, &message).ok()) std::abort();

  Encoder encoder;
  std::vector<uint8_t> again;
  const Error err =
      std::visit([&](const auto& m) { return encoder.Encode(2, m, &again); }, message);
  if (err.code() == ErrorCode::kEncodeTooLarge) return 0;
  if (!err.ok()) std::abort();
  FrameDecoder decoder2;
  decoder2.Feed(again);
  Frame frame2;
  if (decoder2.Next(&frame2) != FrameDecoder::Progress::kFrame) std::abort();
  AnyMessage back;
  if (!DecodeAny(frame2, &back).ok() || !(back == message)) std::abort();
  return 0;
}
