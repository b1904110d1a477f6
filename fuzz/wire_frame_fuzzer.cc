// Fuzzes the incremental frame decoder on arbitrary byte streams.
//
// Input: byte 0 picks how the stream is cut into reads (so partial headers
// and payloads are exercised), the rest is the stream. Every frame the
// decoder accepts must decode, and must survive a re-encode/decode round trip
// unchanged: a verified frame is a valid message, and the encoder can say
// everything the decoder can read.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <variant>
#include <vector>

#include "postbox/wire/codec.h"

namespace {

using postbox::wire::AnyMessage;
using postbox::wire::DecodeAny;
using postbox::wire::Encoder;
using postbox::wire::ErrorCode;
using postbox::wire::Frame;
using postbox::wire::FrameDecoder;

// Small limit: keeps inputs cheap while reaching the oversize and bomb paths.
constexpr uint32_t kMaxPayload = 64 * 1024;

void CheckReencodes(const AnyMessage& message) {
  Encoder encoder({.max_payload = kMaxPayload});
  std::vector<uint8_t> bytes;
  const auto err = std::visit([&](const auto& m) { return encoder.Encode(1, m, &bytes); }, message);
  // The decoded payload fit the limit, but the encoder does not share
  // strings and vtables as a hand-made payload may, so it can be larger.
  if (err.code() == ErrorCode::kEncodeTooLarge) return;
  if (!err.ok()) std::abort();
  FrameDecoder decoder({.max_payload = kMaxPayload});
  decoder.Feed(bytes);
  Frame frame;
  if (decoder.Next(&frame) != FrameDecoder::Progress::kFrame) std::abort();
  AnyMessage again;
  if (!DecodeAny(frame, &again).ok() || !(again == message)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t read_size = data[0] == 0 ? size : data[0];
  ++data;
  --size;
  FrameDecoder decoder({.max_payload = kMaxPayload});
  Frame frame;
  AnyMessage message;
  for (size_t at = 0; at < size;) {
    const size_t n = read_size < size - at ? read_size : size - at;
    decoder.Feed({data + at, n});
    at += n;
    FrameDecoder::Progress p;
    while ((p = decoder.Next(&frame)) == FrameDecoder::Progress::kFrame) {
      if (!DecodeAny(frame, &message).ok()) std::abort();
      CheckReencodes(message);
    }
    if (p == FrameDecoder::Progress::kFailed) break;
  }
  return 0;
}
