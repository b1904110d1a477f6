// Compression negotiation in the codec (wire/PROTOCOL.md "Compression
// negotiation"): the encoder sends only what the peer agreed to, the decoder
// accepts only that, malformed frames report their request id, and the
// embedded dictionary is the published file with the published hashes.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "postbox/wire/codec.h"

namespace postbox::wire {
namespace {

using Progress = FrameDecoder::Progress;

constexpr CompressionAgreement kZstdOnly{.zstd = true};
constexpr CompressionAgreement kDictionaryOnly{.dictionary = 1};
constexpr CompressionAgreement kBoth{.zstd = true, .dictionary = 1};

// An entry list of about 2 KiB that every compression shrinks by far more
// than an eighth, so kAuto compresses it whenever it may.
EntryListReply Compressible(std::vector<std::string>* keep) {
  EntryListReply r;
  keep->reserve(20);
  for (int i = 0; i < 20; ++i) {
    keep->push_back("{\"theme\":\"dark\",\"lang\":\"en\",\"n\":" + std::to_string(i) + "}");
    r.entries.push_back({.key = "settings/app", .value = keep->back(), .version = 1, .seq = 1});
  }
  return r;
}

uint8_t FlagsOf(const std::vector<uint8_t>& frame) { return frame.at(6); }

std::vector<uint8_t> EncodeWith(const CompressionAgreement& peer, Compression mode,
                                uint64_t rid = 5) {
  std::vector<std::string> keep;
  Encoder encoder({.peer = peer});
  std::vector<uint8_t> out;
  EXPECT_TRUE(encoder.Encode(rid, Compressible(&keep), &out, mode).ok());
  return out;
}

// Feeds `bytes` to a decoder that accepts `accept` and returns how its first
// frame ends.
Progress DecodeFirst(const std::vector<uint8_t>& bytes, const CompressionAgreement& accept,
                     FrameDecoder* decoder = nullptr) {
  FrameDecoder local(DecoderOptions{.accept = accept});
  FrameDecoder* d = decoder != nullptr ? decoder : &local;
  d->Feed(bytes);
  Frame frame;
  return d->Next(&frame);
}

TEST(NegotiationTest, EncoderSendsRawToAPeerThatDeclaredNothing) {
  for (Compression mode : {Compression::kAuto, Compression::kAlways}) {
    EXPECT_EQ(FlagsOf(EncodeWith(kNoCompression, mode)), 0) << static_cast<int>(mode);
  }
}

TEST(NegotiationTest, EncoderUsesPlainZstdWithoutAnAgreedDictionary) {
  for (Compression mode : {Compression::kAuto, Compression::kAlways}) {
    EXPECT_EQ(FlagsOf(EncodeWith(kZstdOnly, mode)), kFlagZstd) << static_cast<int>(mode);
  }
}

TEST(NegotiationTest, EncoderUsesTheAgreedDictionary) {
  EXPECT_EQ(FlagsOf(EncodeWith(kBoth, Compression::kAuto)), kFlagZstd | kFlagDictionary);
  EXPECT_EQ(FlagsOf(EncodeWith(kDictionaryOnly, Compression::kAuto)), kFlagZstd | kFlagDictionary);
  EXPECT_EQ(FlagsOf(EncodeWith(kBoth, Compression::kNever)), 0);
}

TEST(NegotiationTest, PerCallAgreementOverridesTheEncodersDefault) {
  std::vector<std::string> keep;
  const EntryListReply reply = Compressible(&keep);
  Encoder encoder({.peer = kBoth});
  std::vector<uint8_t> raw, plain, dict;
  ASSERT_TRUE(encoder.Encode(1, reply, &raw, kNoCompression).ok());
  ASSERT_TRUE(encoder.Encode(1, reply, &plain, kZstdOnly).ok());
  ASSERT_TRUE(encoder.Encode(1, reply, &dict).ok());
  EXPECT_EQ(FlagsOf(raw), 0);
  EXPECT_EQ(FlagsOf(plain), kFlagZstd);
  EXPECT_EQ(FlagsOf(dict), kFlagZstd | kFlagDictionary);
  encoder.set_peer(kNoCompression);
  std::vector<uint8_t> after;
  ASSERT_TRUE(encoder.Encode(1, reply, &after).ok());
  EXPECT_EQ(FlagsOf(after), 0);
}

TEST(NegotiationTest, EncoderRefusesADictionaryThisBuildDoesNotHave) {
  std::vector<std::string> keep;
  Encoder encoder({.peer = {.dictionary = kLatestDictionary + 1}});
  std::vector<uint8_t> out;
  EXPECT_EQ(encoder.Encode(1, Compressible(&keep), &out).code(), ErrorCode::kInternal);
  EXPECT_TRUE(out.empty());
}

TEST(NegotiationTest, DecoderAcceptsOnlyWhatWasAgreed) {
  const auto raw = EncodeWith(kNoCompression, Compression::kAuto);
  const auto plain = EncodeWith(kZstdOnly, Compression::kAuto);
  const auto dict = EncodeWith(kBoth, Compression::kAuto);
  ASSERT_EQ(FlagsOf(plain), kFlagZstd);
  ASSERT_EQ(FlagsOf(dict), kFlagZstd | kFlagDictionary);
  struct Case {
    CompressionAgreement accept;
    bool raw, plain, dict;
  };
  for (const Case& c :
       {Case{kNoCompression, true, false, false}, Case{kZstdOnly, true, true, false},
        Case{kDictionaryOnly, true, false, true}, Case{kBoth, true, true, true}}) {
    SCOPED_TRACE(std::to_string(c.accept.zstd) + "/" + std::to_string(c.accept.dictionary));
    EXPECT_EQ(DecodeFirst(raw, c.accept), c.raw ? Progress::kFrame : Progress::kFailed);
    EXPECT_EQ(DecodeFirst(plain, c.accept), c.plain ? Progress::kFrame : Progress::kFailed);
    EXPECT_EQ(DecodeFirst(dict, c.accept), c.dict ? Progress::kFrame : Progress::kFailed);
  }
}

TEST(NegotiationTest, AnUnagreedFrameFailsWithBadFlagsAndItsRequestId) {
  FrameDecoder decoder(DecoderOptions{.accept = kNoCompression});
  ASSERT_EQ(DecodeFirst(EncodeWith(kBoth, Compression::kAuto, 0xC0FFEE), kNoCompression, &decoder),
            Progress::kFailed);
  EXPECT_EQ(decoder.error().code(), ErrorCode::kBadFlags);
  EXPECT_EQ(HttpCode(decoder.error().code()), 400);
  EXPECT_EQ(decoder.error_request_id(), 0xC0FFEEu);
}

TEST(NegotiationTest, SetAcceptWidensTheNextFramesOnly) {
  // A raw Hello, then a compressed frame already in the same buffer: the
  // server widens the decoder between the two.
  std::vector<uint8_t> bytes;
  Encoder raw({.peer = kNoCompression});
  ASSERT_TRUE(raw.Encode(1, Hello{}, &bytes).ok());
  const auto dict = EncodeWith(kBoth, Compression::kAuto);
  bytes.insert(bytes.end(), dict.begin(), dict.end());
  FrameDecoder decoder(DecoderOptions{.accept = kNoCompression});
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  EXPECT_EQ(frame.type(), MessageType::kHello);
  decoder.set_accept(kBoth);
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame) << decoder.error().ToString();
  EXPECT_EQ(frame.flags(), kFlagZstd | kFlagDictionary);
  EntryListReply back;
  ASSERT_TRUE(Decode(frame, &back).ok());
  EXPECT_EQ(back.entries.size(), 20u);
}

// Every refusal after the header was read names that frame's request id.
TEST(NegotiationTest, EveryMalformedFrameReportsItsRequestId) {
  auto header = [](uint32_t length, uint16_t type, uint8_t flags, uint8_t reserved) {
    std::vector<uint8_t> out(kFrameHeaderSize);
    WriteFrameHeader({length, type, flags, reserved, 0x1122334455667788ull}, out.data());
    return out;
  };
  std::vector<uint8_t> bad_payload = header(8, static_cast<uint16_t>(MessageType::kPoll), 0, 0);
  bad_payload.resize(bad_payload.size() + 8, 0xFF);
  std::vector<uint8_t> bad_zstd = header(8, static_cast<uint16_t>(MessageType::kPoll), 1, 0);
  bad_zstd.resize(bad_zstd.size() + 8, 0x00);
  const std::vector<std::pair<std::vector<uint8_t>, ErrorCode>> cases = {
      {header(0, 26, 0, 1), ErrorCode::kBadHeader},
      {header(1u << 30, 26, 0, 0), ErrorCode::kOversize},
      {header(0, 999, 0, 0), ErrorCode::kUnknownType},
      {header(0, 26, 0x80, 0), ErrorCode::kBadFlags},
      {bad_payload, ErrorCode::kVerifyFailed},
      {bad_zstd, ErrorCode::kDecompressFailed},
  };
  for (const auto& [bytes, code] : cases) {
    FrameDecoder decoder;
    decoder.Feed(bytes);
    Frame frame;
    ASSERT_EQ(decoder.Next(&frame), Progress::kFailed) << static_cast<int>(code);
    EXPECT_EQ(decoder.error().code(), code);
    EXPECT_EQ(decoder.error_request_id(), 0x1122334455667788ull) << static_cast<int>(code);
  }
}

TEST(NegotiationTest, PendingRequestIdNeedsTheWholeHeader) {
  std::vector<uint8_t> bytes;
  Encoder encoder;
  ASSERT_TRUE(encoder.Encode(77, Ping{1}, &bytes).ok());
  FrameDecoder decoder;
  Frame frame;
  decoder.Feed({bytes.data(), kFrameHeaderSize - 1});
  ASSERT_EQ(decoder.Next(&frame), Progress::kNeedMore);
  EXPECT_FALSE(decoder.pending_request_id().has_value());
  decoder.Feed({bytes.data() + kFrameHeaderSize - 1, 1});
  ASSERT_EQ(decoder.Next(&frame), Progress::kNeedMore);
  EXPECT_EQ(decoder.pending_request_id(), 77u);
}

TEST(NegotiationTest, TheServerChoosesTheHighestDictionaryBothHave) {
  EXPECT_EQ(ChooseDictionary({}), 0u);
  const std::vector<uint32_t> one = {1}, unknown = {0, 9}, mixed = {9, 1, 0};
  EXPECT_EQ(ChooseDictionary(one), 1u);
  EXPECT_EQ(ChooseDictionary(unknown), 0u);
  EXPECT_EQ(ChooseDictionary(mixed), 1u);
  EXPECT_TRUE(DictionaryBytes(0).empty());
  EXPECT_TRUE(DictionaryBytes(kLatestDictionary + 1).empty());
}

TEST(NegotiationTest, HelloFieldsRoundTrip) {
  Hello hello;
  hello.accept_zstd = true;
  hello.zstd_dictionaries = {1, 3};
  HelloReply reply;
  reply.zstd = true;
  reply.zstd_dictionary = 1;
  Encoder encoder;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(encoder.Encode(1, hello, &bytes).ok());
  ASSERT_TRUE(encoder.Encode(2, reply, &bytes).ok());
  FrameDecoder decoder;
  decoder.Feed(bytes);
  Frame frame;
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  Hello hello_back;
  ASSERT_TRUE(Decode(frame, &hello_back).ok());
  EXPECT_EQ(hello_back, hello);
  ASSERT_EQ(decoder.Next(&frame), Progress::kFrame);
  HelloReply reply_back;
  ASSERT_TRUE(Decode(frame, &reply_back).ok());
  EXPECT_EQ(reply_back, reply);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The row of dictionary 1 in PROTOCOL.md's table, or "" if missing.
std::string ProtocolRow(uint32_t id) {
  std::istringstream doc(ReadFile(POSTBOX_SOURCE_DIR "/wire/PROTOCOL.md"));
  const std::string prefix = "| " + std::to_string(id) + " | `wire/dictionaries/";
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

TEST(NegotiationTest, EmbeddedDictionaryIsThePublishedFileWithThePublishedHash) {
  const std::span<const uint8_t> embedded = DictionaryBytes(1);
  const std::string file = ReadFile(POSTBOX_SOURCE_DIR "/wire/dictionaries/1.zdict");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(std::string(embedded.begin(), embedded.end()), file);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016" PRIx64, XXH3_64bits(embedded.data(), embedded.size()));
  const std::string row = ProtocolRow(1);
  ASSERT_FALSE(row.empty()) << "PROTOCOL.md has no row for dictionary 1";
  EXPECT_NE(row.find("`" + std::string(hex) + "`"), std::string::npos)
      << "XXH3-64 " << hex << " is not in PROTOCOL.md's row: " << row;
}

}  // namespace
}  // namespace postbox::wire
