// Properties of the wire codec: every message round-trips through encoder and
// decoder under every compression mode; any split of a byte stream into reads
// yields the same frames; any single-byte corruption is detected or decodes
// to a valid message (run under ASan/UBSan in the asan-ubsan preset).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <variant>
#include <vector>

#include "tests/property/wire/wire_generators.h"

namespace postbox::wire {
namespace {

using testing::Gen;
using testing::GenAnyMessage;
using testing::GenCompression;

// Decodes every frame in `bytes`, feeding it in reads of the given sizes
// (cycled; the rest in one read). Decoded messages borrow the decoder's
// buffer, so each is compared with `expected` (when given) as it arrives.
struct Decoded {
  size_t count = 0;
  bool all_equal = true;
  std::vector<uint64_t> request_ids;
  bool failed = false;
};

Decoded DecodeStream(const std::vector<uint8_t>& bytes, const std::vector<size_t>& reads,
                     const std::vector<AnyMessage>* expected = nullptr) {
  Decoded result;
  FrameDecoder decoder;
  size_t at = 0, r = 0;
  while (true) {
    Frame frame;
    FrameDecoder::Progress p;
    while ((p = decoder.Next(&frame)) == FrameDecoder::Progress::kFrame) {
      AnyMessage m;
      const Error err = DecodeAny(frame, &m);
      RC_ASSERT(err.ok());
      if (expected != nullptr) {
        result.all_equal =
            result.all_equal && result.count < expected->size() && (*expected)[result.count] == m;
      }
      ++result.count;
      result.request_ids.push_back(frame.request_id());
    }
    if (p == FrameDecoder::Progress::kFailed) {
      result.failed = true;
      return result;
    }
    if (at == bytes.size()) return result;
    size_t n = reads.empty() ? bytes.size() - at : std::max<size_t>(1, reads[r++ % reads.size()]);
    n = std::min(n, bytes.size() - at);
    // Alternate the copying and the zero-copy paths.
    if (r % 2 == 0) {
      decoder.Feed({bytes.data() + at, n});
    } else {
      auto space = decoder.WritableSpace(n);
      std::copy_n(bytes.data() + at, n, space.begin());
      decoder.CommitWritten(n);
    }
    at += n;
  }
}

template <class M>
void CheckRoundTrip() {
  const M message = *Gen<M>();
  const Compression compression = *GenCompression();
  const uint64_t request_id = *rc::gen::arbitrary<uint64_t>();
  Encoder encoder;
  std::vector<uint8_t> bytes;
  const Error err = encoder.Encode(request_id, message, &bytes, compression);
  RC_ASSERT(err.ok());

  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  RC_ASSERT(decoder.Next(&frame) == FrameDecoder::Progress::kFrame);
  RC_ASSERT(frame.type() == M::kType);
  RC_ASSERT(frame.request_id() == request_id);
  RC_ASSERT(frame.wire_size() == bytes.size());
  M decoded;
  RC_ASSERT(Decode(frame, &decoded).ok());
  RC_ASSERT(decoded == message);
  RC_ASSERT(decoder.Next(&frame) == FrameDecoder::Progress::kNeedMore);
}

#define ROUND_TRIP(M) \
  RC_GTEST_PROP(WireRoundTripProperty, M, ()) { CheckRoundTrip<M>(); }
ROUND_TRIP(Hello)
ROUND_TRIP(HelloReply)
ROUND_TRIP(Poll)
ROUND_TRIP(InfoPacket)
ROUND_TRIP(Ack)
ROUND_TRIP(UploadBegin)
ROUND_TRIP(UploadChunk)
ROUND_TRIP(UploadQueryOffset)
ROUND_TRIP(UploadOffset)
ROUND_TRIP(UploadCommit)
ROUND_TRIP(UploadAbort)
ROUND_TRIP(DownloadRequest)
ROUND_TRIP(DownloadChunk)
ROUND_TRIP(StatusUpdate)
ROUND_TRIP(EntryGet)
ROUND_TRIP(EntryPut)
ROUND_TRIP(EntryDelete)
ROUND_TRIP(EntryList)
ROUND_TRIP(EntryListReply)
ROUND_TRIP(EntryValue)
ROUND_TRIP(ConnectionAdd)
ROUND_TRIP(ConnectionRemove)
ROUND_TRIP(ConnectionList)
ROUND_TRIP(ConnectionListReply)
ROUND_TRIP(PushRegister)
ROUND_TRIP(Ping)
ROUND_TRIP(Pong)
ROUND_TRIP(ErrorReply)
ROUND_TRIP(Ok)
ROUND_TRIP(EndpointRegister)
ROUND_TRIP(EndpointReply)
ROUND_TRIP(EndpointList)
ROUND_TRIP(EndpointListReply)
ROUND_TRIP(EndpointRevoke)
#undef ROUND_TRIP

// Encodes a random sequence of messages into one stream.
std::vector<uint8_t> EncodeAll(const std::vector<AnyMessage>& messages, Compression compression) {
  Encoder encoder;
  std::vector<uint8_t> bytes;
  uint64_t id = 1;
  for (const AnyMessage& m : messages) {
    const Error err =
        std::visit([&](const auto& v) { return encoder.Encode(id++, v, &bytes, compression); }, m);
    RC_ASSERT(err.ok());
  }
  return bytes;
}

RC_GTEST_PROP(WireStreamProperty, AnySplitIntoReadsYieldsTheSameFrames, ()) {
  const auto messages =
      *rc::gen::resize(20, rc::gen::container<std::vector<AnyMessage>>(GenAnyMessage()));
  const std::vector<uint8_t> bytes = EncodeAll(messages, *GenCompression());
  const auto reads = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 300));

  const Decoded whole = DecodeStream(bytes, {}, &messages);
  const Decoded split = DecodeStream(bytes, reads, &messages);
  RC_ASSERT(!whole.failed);
  RC_ASSERT(!split.failed);
  RC_ASSERT(whole.count == messages.size());
  RC_ASSERT(split.count == messages.size());
  RC_ASSERT(whole.all_equal);
  RC_ASSERT(split.all_equal);
  RC_ASSERT(split.request_ids == whole.request_ids);
}

RC_GTEST_PROP(WireStreamProperty, SingleByteCorruptionIsDetectedOrDecodesValidly, ()) {
  const auto messages =
      *rc::gen::resize(4, rc::gen::container<std::vector<AnyMessage>>(GenAnyMessage()));
  RC_PRE(!messages.empty());
  std::vector<uint8_t> bytes = EncodeAll(messages, *GenCompression());
  const size_t at = *rc::gen::inRange<size_t>(0, bytes.size());
  const auto value = *rc::gen::distinctFrom(bytes[at]);
  bytes[at] = value;
  const auto reads = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 64));
  // DecodeStream asserts that every frame that passes verification decodes;
  // ASan and UBSan catch any out-of-bounds or misaligned read on the way.
  const Decoded decoded = DecodeStream(bytes, reads);
  RC_CLASSIFY(decoded.failed, "detected");
}

RC_GTEST_PROP(WireStreamProperty, RandomBytesNeverCrashTheDecoder, ()) {
  const auto bytes = *rc::gen::container<std::vector<uint8_t>>(rc::gen::arbitrary<uint8_t>());
  const auto reads = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 64));
  DecodeStream(bytes, reads);
}

}  // namespace
}  // namespace postbox::wire
