// FrameDecoder: framing across reads, and one test per refusal cause.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "postbox/wire/codec.h"

namespace postbox::wire {
namespace {

using Progress = FrameDecoder::Progress;

std::vector<uint8_t> EncodePing(uint64_t request_id, uint64_t nonce) {
  Encoder encoder;
  std::vector<uint8_t> out;
  EXPECT_TRUE(encoder.Encode(request_id, Ping{.nonce = nonce}, &out).ok());
  return out;
}

std::vector<uint8_t> Header(uint32_t length, uint16_t type, uint8_t flags, uint8_t reserved = 0) {
  std::vector<uint8_t> out(kFrameHeaderSize);
  WriteFrameHeader(
      {.length = length, .type = type, .flags = flags, .reserved = reserved, .request_id = 7},
      out.data());
  return out;
}

ErrorCode FailureOf(const std::vector<uint8_t>& bytes, DecoderOptions options = {}) {
  FrameDecoder decoder(options);
  decoder.Feed(bytes);
  Frame frame;
  while (true) {
    const Progress p = decoder.Next(&frame);
    if (p == Progress::kFailed) return decoder.error().code();
    if (p == Progress::kNeedMore) return ErrorCode::kOk;
  }
}

TEST(FrameDecoderTest, HeaderLayoutIsLittleEndianSixteenBytes) {
  const std::vector<uint8_t> h = Header(0x01020304, 0x0506, 0x01);
  const std::vector<uint8_t> expected = {4, 3, 2, 1, 6, 5, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(h, expected);
  const FrameHeader back = ReadFrameHeader(h.data());
  EXPECT_EQ(back.length, 0x01020304u);
  EXPECT_EQ(back.type, 0x0506);
  EXPECT_EQ(back.request_id, 7u);
}

TEST(FrameDecoderTest, ByteByByteYieldsTheFrameOnlyWhenComplete) {
  const std::vector<uint8_t> bytes = EncodePing(42, 9);
  FrameDecoder decoder;
  Frame frame;
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    decoder.Feed({&bytes[i], 1});
    ASSERT_EQ(decoder.Next(&frame), Progress::kNeedMore) << "after byte " << i;
  }
  decoder.Feed({&bytes.back(), 1});
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  EXPECT_EQ(frame.type(), MessageType::kPing);
  EXPECT_EQ(frame.request_id(), 42u);
  Ping ping;
  ASSERT_TRUE(Decode(frame, &ping).ok());
  EXPECT_EQ(ping.nonce, 9u);
  EXPECT_EQ(decoder.Next(&frame), Progress::kNeedMore);
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoderTest, ManyFramesInOneReadComeOutInOrder) {
  std::vector<uint8_t> bytes;
  for (uint64_t i = 1; i <= 100; ++i) {
    const auto one = EncodePing(i, i * 10);
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  FrameDecoder decoder;
  auto space = decoder.WritableSpace(bytes.size());
  ASSERT_GE(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  decoder.CommitWritten(bytes.size());
  Frame frame;
  for (uint64_t i = 1; i <= 100; ++i) {
    ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
    Ping ping;
    ASSERT_TRUE(Decode(frame, &ping).ok());
    EXPECT_EQ(frame.request_id(), i);
    EXPECT_EQ(ping.nonce, i * 10);
  }
  EXPECT_EQ(decoder.Next(&frame), Progress::kNeedMore);
}

TEST(FrameDecoderTest, UnpaddedPayloadsAreRealignedBeforeReading) {
  // A peer that does not pad: a 4-byte-multiple payload leaves the next
  // frame's payload misaligned; UBSan would flag an in-place read.
  Encoder encoder;
  std::vector<uint8_t> padded;
  ASSERT_TRUE(encoder.Encode(1, Poll{.since = 5, .limit = 3}, &padded).ok());
  std::vector<uint8_t> bytes;
  const std::vector<uint8_t> odd_payload(padded.begin() + kFrameHeaderSize, padded.end());
  std::vector<uint8_t> payload = odd_payload;
  payload.resize(payload.size() + 3, 0);  // Trailing bytes FlatBuffers ignores.
  AppendRawFrame(MessageType::kPoll, 1, 0, payload, &bytes);
  AppendRawFrame(MessageType::kPoll, 2, 0, payload, &bytes);
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  for (uint64_t id = 1; id <= 2; ++id) {
    ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(frame.payload().data()) % 8, 0u);
    Poll poll;
    ASSERT_TRUE(Decode(frame, &poll).ok());
    EXPECT_EQ(poll.since, 5u);
    EXPECT_EQ(frame.request_id(), id);
  }
}

TEST(FrameDecoderTest, ReservedByteMustBeZero) {
  auto bytes = EncodePing(1, 1);
  bytes[7] = 1;
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kBadHeader);
}

TEST(FrameDecoderTest, OversizeIsRefusedFromTheHeaderAlone) {
  // Only the header arrives: the decoder must not wait for 2 MiB to refuse.
  FrameDecoder decoder;
  decoder.Feed(Header(2u << 20, static_cast<uint16_t>(MessageType::kPing), 0));
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFailed);
  EXPECT_EQ(decoder.error().code(), ErrorCode::kOversize);
  EXPECT_EQ(HttpCode(decoder.error().code()), 413);
  EXPECT_NE(decoder.error().message().find("2097152"), std::string::npos);
}

TEST(FrameDecoderTest, FrameLimitIsConfigurable) {
  std::vector<uint8_t> bytes;
  Encoder encoder;
  const std::string data(4096, 'x');
  ASSERT_TRUE(encoder.Encode(1, UploadChunk{.data = data}, &bytes).ok());
  EXPECT_EQ(FailureOf(bytes, {.max_payload = 1024}), ErrorCode::kOversize);
  EXPECT_EQ(FailureOf(bytes, {.max_payload = 8192}), ErrorCode::kOk);
}

TEST(FrameDecoderTest, UnknownTypesAreRefused) {
  EXPECT_EQ(FailureOf(Header(8, 0, 0)), ErrorCode::kUnknownType);
  EXPECT_EQ(FailureOf(Header(8, kMaxMessageType + 1, 0)), ErrorCode::kUnknownType);
}

TEST(FrameDecoderTest, UnknownFlagsAndDictionaryWithoutZstdAreRefused) {
  const uint16_t ping = static_cast<uint16_t>(MessageType::kPing);
  EXPECT_EQ(FailureOf(Header(8, ping, 0x04)), ErrorCode::kBadFlags);
  EXPECT_EQ(FailureOf(Header(8, ping, kFlagDictionary)), ErrorCode::kBadFlags);
}

TEST(FrameDecoderTest, GarbagePayloadFailsVerification) {
  std::vector<uint8_t> bytes;
  const std::vector<uint8_t> garbage(64, 0xff);
  AppendRawFrame(MessageType::kInfoPacket, 1, 0, garbage, &bytes);
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kVerifyFailed);
  bytes.clear();
  AppendRawFrame(MessageType::kPing, 1, 0, {}, &bytes);  // Empty payload.
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kVerifyFailed);
}

TEST(FrameDecoderTest, PayloadOfAnotherTypeFailsVerificationOfRequiredFields) {
  // An Ack payload read as UploadCommit lacks the required id.
  Encoder encoder;
  std::vector<uint8_t> ack;
  ASSERT_TRUE(encoder.Encode(1, Ack{.cursor = 3}, &ack).ok());
  std::vector<uint8_t> bytes;
  AppendRawFrame(MessageType::kUploadCommit, 1, 0,
                 {ack.data() + kFrameHeaderSize, ack.size() - kFrameHeaderSize}, &bytes);
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kVerifyFailed);
}

TEST(FrameDecoderTest, CorruptZstdIsADecompressionFailure) {
  std::vector<uint8_t> bytes;
  const std::vector<uint8_t> not_zstd(32, 0x11);
  AppendRawFrame(MessageType::kPing, 1, kFlagZstd, not_zstd, &bytes);
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kDecompressFailed);
}

// A compressed frame made by the encoder, for tests that then damage it.
std::vector<uint8_t> CompressedFrame(size_t data_size, uint32_t max_payload) {
  Encoder encoder({.max_payload = max_payload});
  const std::string data(data_size, 'a');
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(encoder.Encode(1, UploadChunk{.data = data}, &bytes, Compression::kAlways).ok());
  EXPECT_EQ(bytes[6], kFlagZstd | kFlagDictionary);
  return bytes;
}

TEST(FrameDecoderTest, ZstdFrameFollowedByTrailingBytesIsRefused) {
  std::vector<uint8_t> bytes = CompressedFrame(3000, kDefaultMaxPayload);
  std::vector<uint8_t> payload(bytes.begin() + kFrameHeaderSize, bytes.end());
  payload.resize(payload.size() + 4, 0);
  bytes.clear();
  AppendRawFrame(MessageType::kUploadChunk, 1, kFlagZstd | kFlagDictionary, payload, &bytes);
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kDecompressFailed);
}

TEST(FrameDecoderTest, DecompressionBombIsRefusedBeforeDecompressing) {
  // 2 MiB of one byte compress to a few hundred bytes: well under the frame
  // limit on the wire, far over it once inflated.
  const std::vector<uint8_t> bytes = CompressedFrame(2u << 20, 4u << 20);
  ASSERT_LT(bytes.size(), 4096u);
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kDecompressBomb);
  EXPECT_EQ(HttpCode(ErrorCode::kDecompressBomb), 413);
}

TEST(FrameDecoderTest, ZstdWithoutDeclaredContentSizeIsRefused) {
  // A streamed zstd frame need not declare its size; the decoder could not
  // bound it in advance. Magic, descriptor 0 (no content size), window
  // descriptor, then one empty raw block marked last.
  const std::vector<uint8_t> streamed = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00};
  std::vector<uint8_t> bytes;
  AppendRawFrame(MessageType::kPing, 1, kFlagZstd, streamed, &bytes);
  EXPECT_EQ(FailureOf(bytes), ErrorCode::kDecompressBomb);
}

TEST(FrameDecoderTest, FailureIsStickyBecauseFramingIsLost) {
  auto bytes = Header(8, 0, 0);
  const auto good = EncodePing(1, 1);
  bytes.insert(bytes.end(), good.begin(), good.end());
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFailed);
  EXPECT_TRUE(decoder.failed());
  EXPECT_EQ(decoder.Next(&frame), Progress::kFailed);
  EXPECT_EQ(decoder.error().ToString().rfind("unknown message type", 0), 0u);
}

TEST(FrameDecoderTest, BufferIsReusedAcrossReads) {
  FrameDecoder decoder;
  Frame frame;
  const auto bytes = EncodePing(1, 1);
  const uint8_t* first = nullptr;
  for (int i = 0; i < 1000; ++i) {
    auto space = decoder.WritableSpace(4096);
    if (first == nullptr) first = space.data();
    EXPECT_EQ(space.data(), first) << "the read buffer moved at iteration " << i;
    std::memcpy(space.data(), bytes.data(), bytes.size());
    decoder.CommitWritten(bytes.size());
    ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  }
}

}  // namespace
}  // namespace postbox::wire
