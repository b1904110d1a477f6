// Encoder and Decode: compression policy, buffer reuse, type checks, and
// forward compatibility with fields from a newer schema.
#include "postbox/wire/codec.h"

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace postbox::wire {
namespace {

using Progress = FrameDecoder::Progress;

Bytes16 Id(uint8_t seed) {
  Bytes16 id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return id;
}

// A plausible info packet: `n` incoming messages with typical meta.
InfoPacket Packet(int n, std::vector<std::string>* keep) {
  InfoPacket p;
  p.cursor = 1000;
  keep->reserve(n);
  for (int i = 0; i < n; ++i) {
    keep->push_back("{\"ct\":\"video/mp4\",\"dur\":" + std::to_string(1000 + i) + "}");
    p.incoming.push_back({.id = Id(static_cast<uint8_t>(i)),
                          .from = Id(1),
                          .to = Id(2),
                          .topic = "video",
                          .meta = keep->back(),
                          .length = 1u << 20,
                          .digest = Id(static_cast<uint8_t>(100 + i)),
                          .status = MessageStatus::kUploaded,
                          .created_ms = 1790000000000,
                          .seq = static_cast<uint64_t>(i + 1)});
  }
  return p;
}

template <class M>
M RoundTrip(const M& message, std::vector<uint8_t>* bytes, FrameDecoder* decoder) {
  decoder->Feed(*bytes);
  Frame frame;
  EXPECT_EQ(decoder->Next(&frame), Progress::kFrame) << decoder->error().ToString();
  M out;
  EXPECT_TRUE(Decode(frame, &out).ok());
  EXPECT_EQ(out, message);
  return out;
}

TEST(EncoderTest, SmallMessagesAreNeverCompressed) {
  Encoder encoder;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, Ack{.cursor = 5}, &bytes).ok());
  EXPECT_EQ(bytes[6], 0);
  EXPECT_EQ((bytes.size() - kFrameHeaderSize) % 8, 0u) << "raw payloads are padded to 8";
}

TEST(EncoderTest, LargeInfoPacketsAreCompressedWithTheDictionary) {
  std::vector<std::string> keep;
  const InfoPacket packet = Packet(40, &keep);
  Encoder raw({.compression = Compression::kNever});
  Encoder autoc;
  std::vector<uint8_t> plain, packed;
  ASSERT_TRUE(raw.Encode(1, packet, &plain).ok());
  ASSERT_TRUE(autoc.Encode(1, packet, &packed).ok());
  EXPECT_EQ(packed[6], kFlagZstd | kFlagDictionary);
  EXPECT_LT(packed.size() * 2, plain.size()) << "expected at least 2x on a typical packet";
  FrameDecoder decoder;
  RoundTrip(packet, &packed, &decoder);
}

TEST(EncoderTest, WithoutTheDictionaryOnlyZstdFlagIsSet) {
  std::vector<std::string> keep;
  const InfoPacket packet = Packet(40, &keep);
  Encoder encoder({.peer = {.zstd = true}});
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, packet, &bytes).ok());
  EXPECT_EQ(bytes[6], kFlagZstd);
  FrameDecoder decoder;
  RoundTrip(packet, &bytes, &decoder);
}

TEST(EncoderTest, BlobChunksAreCompressedOnlyWhenAsked) {
  const std::string compressible(64 * 1024, 'z');
  const UploadChunk chunk{.id = Id(1), .offset = 65536, .data = compressible};
  Encoder encoder;
  std::vector<uint8_t> automatic, forced;
  ASSERT_TRUE(encoder.Encode(1, chunk, &automatic).ok());
  ASSERT_TRUE(encoder.Encode(1, chunk, &forced, Compression::kAlways).ok());
  EXPECT_EQ(automatic[6], 0);
  EXPECT_NE(forced[6], 0);
  EXPECT_LT(forced.size(), 1024u);
  FrameDecoder decoder;
  RoundTrip(chunk, &forced, &decoder);
}

TEST(EncoderTest, IncompressibleDataIsSentRawEvenWhenForced) {
  std::string noise(4096, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  Encoder encoder;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, DownloadChunk{.data = noise}, &bytes, Compression::kAlways).ok());
  EXPECT_EQ(bytes[6], 0);
}

TEST(EncoderTest, PayloadAboveTheLimitIsRefusedAndOutputUntouched) {
  Encoder encoder({.max_payload = 1024});
  const std::string data(2048, 'q');
  std::vector<uint8_t> bytes = {1, 2, 3};
  const Error err = encoder.Encode(1, UploadChunk{.data = data}, &bytes);
  EXPECT_EQ(err.code(), ErrorCode::kEncodeTooLarge);
  EXPECT_EQ(HttpCode(err.code()), 413);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{1, 2, 3}));
}

// A receiver refuses a compressed frame whose decompressed size is over its
// limit (a bomb), so the sender must bound the size before compression: a
// highly compressible payload over the limit is refused, not sent small.
TEST(EncoderTest, CompressiblePayloadOverTheLimitIsRefusedBeforeCompression) {
  Encoder encoder({.max_payload = 4096, .compression = Compression::kAlways});
  EntryListReply reply;
  const std::string value(600, 'v');
  for (int i = 0; i < 20; ++i) reply.entries.push_back(Entry{.key = "k", .value = value});
  std::vector<uint8_t> bytes;
  const Error err = encoder.Encode(1, reply, &bytes);
  EXPECT_EQ(err.code(), ErrorCode::kEncodeTooLarge) << err.ToString();
  EXPECT_TRUE(bytes.empty());
  // Whatever the encoder does send, a decoder with the same limit accepts.
  reply.entries.resize(4);
  ASSERT_TRUE(encoder.Encode(1, reply, &bytes).ok());
  FrameDecoder decoder({.max_payload = 4096});
  decoder.Feed(bytes);
  Frame frame;
  EXPECT_EQ(decoder.Next(&frame), Progress::kFrame) << decoder.error().ToString();
}

TEST(EncoderTest, FramesAppendSoOneWriteCanCarrySeveral) {
  Encoder encoder;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, Ping{.nonce = 1}, &bytes).ok());
  ASSERT_TRUE(encoder.Encode(2, Pong{.nonce = 1}, &bytes).ok());
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  EXPECT_EQ(frame.type(), MessageType::kPing);
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  EXPECT_EQ(frame.type(), MessageType::kPong);
  EXPECT_EQ(frame.request_id(), 2u);
}

TEST(EncoderTest, ReusedOutputBufferDoesNotReallocate) {
  std::vector<std::string> keep;
  const InfoPacket packet = Packet(10, &keep);
  Encoder encoder;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, packet, &bytes).ok());
  bytes.clear();
  ASSERT_TRUE(encoder.Encode(1, packet, &bytes).ok());
  const uint8_t* data = bytes.data();
  for (int i = 0; i < 100; ++i) {
    bytes.clear();
    ASSERT_TRUE(encoder.Encode(i, packet, &bytes).ok());
    ASSERT_EQ(bytes.data(), data);
  }
}

TEST(DecodeTest, WrongTypeIsATypeMismatch) {
  Encoder encoder;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, Ping{.nonce = 1}, &bytes).ok());
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  Pong pong{.nonce = 77};
  const Error err = Decode(frame, &pong);
  EXPECT_EQ(err.code(), ErrorCode::kTypeMismatch);
  EXPECT_EQ(err.message(), "expected a Pong frame, got Ping");
  EXPECT_EQ(pong.nonce, 77u);
}

TEST(DecodeTest, DefaultFrameHasNoPayloadToRead) {
  Ping ping;
  EXPECT_EQ(Decode(Frame(), &ping).code(), ErrorCode::kVerifyFailed);
}

TEST(DecodeTest, DecodeAnyPicksTheAlternativeOfTheFrameType) {
  Encoder encoder;
  std::vector<uint8_t> bytes;
  const ErrorReply reply{.code = 426, .message = "upgrade", .min_version = 1, .max_version = 1};
  ASSERT_TRUE(encoder.Encode(9, reply, &bytes).ok());
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  AnyMessage any;
  ASSERT_TRUE(DecodeAny(frame, &any).ok());
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(any));
  EXPECT_EQ(std::get<ErrorReply>(any), reply);
}

TEST(DecodeTest, ChunkDigestIsXxh3Of64Bits) {
  // XXH3_64bits("") with seed 0, the published test vector.
  EXPECT_EQ(ChunkDigest(""), 0x2D06800538D394C2ull);
  DownloadChunk chunk{.data = "hello"};
  chunk.xxh3_64 = ChunkDigest(chunk.data);
  EXPECT_TRUE(VerifyChunkDigest(chunk));
  chunk.data = "hellp";
  EXPECT_FALSE(VerifyChunkDigest(chunk));
}

TEST(EvolutionTest, FrameWithFieldsFromANewerSchemaStillDecodes) {
  // A newer peer's Hello: the first six fields plus two appended after the
  // last one this build knows (a ulong in slot 8 and a string in slot 9),
  // built without the generated code, as an older build would receive it.
  struct Raw16 {
    uint8_t v[16];
  };
  flatbuffers::FlatBufferBuilder fbb;
  const auto secret = fbb.CreateString("s3cret");
  const auto app = fbb.CreateString("9.9.9");
  const auto future_text = fbb.CreateString("a field this build does not know");
  Raw16 mkey;
  for (int i = 0; i < 16; ++i) mkey.v[i] = static_cast<uint8_t>(i);
  const auto start = fbb.StartTable();
  auto slot = [](int i) { return static_cast<flatbuffers::voffset_t>(4 + 2 * i); };
  fbb.AddElement<uint64_t>(slot(8), 0x1122334455667788ull, 0);
  fbb.AddOffset(slot(9), future_text);
  fbb.AddElement<uint32_t>(slot(0), 7, 0);
  fbb.AddStruct(slot(1), &mkey);
  fbb.AddOffset(slot(2), secret);
  fbb.AddElement<uint8_t>(slot(3), 2, 0);
  fbb.AddOffset(slot(4), app);
  fbb.AddElement<uint32_t>(slot(5), 3, 0);
  fbb.Finish(flatbuffers::Offset<void>(fbb.EndTable(start)));

  std::vector<uint8_t> bytes;
  AppendRawFrame(MessageType::kHello, 5, 0, {fbb.GetBufferPointer(), fbb.GetSize()}, &bytes);
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame) << decoder.error().ToString();
  Hello hello;
  ASSERT_TRUE(Decode(frame, &hello).ok());
  EXPECT_EQ(hello.protocol_version, 7u);
  EXPECT_EQ(hello.mkey[15], 15);
  EXPECT_EQ(hello.secret, "s3cret");
  EXPECT_EQ(hello.platform, Platform::kAndroid);
  EXPECT_EQ(hello.app_version, "9.9.9");
  EXPECT_EQ(hello.schema_version, 3u);
}

TEST(EvolutionTest, UnknownEnumValuesPassThrough) {
  Encoder encoder;
  std::vector<uint8_t> bytes;
  HelloReply reply;
  reply.verdict = static_cast<Verdict>(9);
  ASSERT_TRUE(encoder.Encode(1, reply, &bytes).ok());
  FrameDecoder decoder;
  EXPECT_EQ(RoundTrip(reply, &bytes, &decoder).verdict, static_cast<Verdict>(9));
}

TEST(ErrorTest, NamesAndCodes) {
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kOversize), "oversize");
  EXPECT_EQ(HttpCode(ErrorCode::kVerifyFailed), 400);
  EXPECT_EQ(HttpCode(ErrorCode::kInternal), 500);
  EXPECT_EQ(HttpCode(ErrorCode::kOk), 0);
  EXPECT_EQ(Error().ToString(), "ok");
  EXPECT_STREQ(MessageTypeName(MessageType::kInfoPacket), "InfoPacket");
  EXPECT_STREQ(MessageTypeName(static_cast<MessageType>(999)), "?");
  EXPECT_FALSE(IsKnownMessageType(0));
  EXPECT_TRUE(IsKnownMessageType(kMaxMessageType));
}

}  // namespace
}  // namespace postbox::wire
