// Value types: ids in hex, the XXH3-128 digest, status and platform names, the
// entry merge order of merge.h.
#include "postbox/types.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "postbox/merge.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

TEST(IdTest, HexRoundTrip) {
  const std::string hex = "00112233445566778899aabbccddeeff";
  ASSERT_OK_AND_ASSIGN(MailboxKey k, MailboxKey::FromHex(hex));
  EXPECT_EQ(k.bytes[0], 0x00);
  EXPECT_EQ(k.bytes[1], 0x11);
  EXPECT_EQ(k.bytes[15], 0xff);
  EXPECT_EQ(k.ToHex(), hex);

  const MessageId random = MessageId::Random();
  const std::string random_hex = random.ToHex();
  ASSERT_EQ(random_hex.size(), 32u);
  for (char c : random_hex) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << random_hex;
  }
  ASSERT_OK_AND_ASSIGN(MessageId back, MessageId::FromHex(random_hex));
  EXPECT_EQ(back, random);
}

TEST(IdTest, UpperCaseHexParsesToSameBytes) {
  ASSERT_OK_AND_ASSIGN(MailboxKey lower, MailboxKey::FromHex("abcdef0123456789abcdef0123456789"));
  ASSERT_OK_AND_ASSIGN(MailboxKey upper, MailboxKey::FromHex("ABCDEF0123456789ABCDEF0123456789"));
  EXPECT_EQ(lower, upper);
  EXPECT_EQ(upper.ToHex(), "abcdef0123456789abcdef0123456789");
}

TEST(IdTest, BadHexIsInvalidArgument) {
  EXPECT_CODE(MailboxKey::FromHex(""), kInvalidArgument);
  EXPECT_CODE(MailboxKey::FromHex("00112233445566778899aabbccddeef"), kInvalidArgument);  // 31
  EXPECT_CODE(MailboxKey::FromHex("00112233445566778899aabbccddeeff0"), kInvalidArgument);
  EXPECT_CODE(MailboxKey::FromHex("00112233445566778899aabbccddeefg"), kInvalidArgument);
  EXPECT_CODE(MailboxKey::FromHex("0011223344556677 899aabbccddeeff"), kInvalidArgument);
  EXPECT_CODE(MessageId::FromHex("0x112233445566778899aabbccddeeff"), kInvalidArgument);
  EXPECT_CODE(MessageId::FromHex(std::string(64, 'a')), kInvalidArgument);
}

TEST(IdTest, FromBytesNeedsExactlySixteen) {
  const std::string raw("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff", 16);
  ASSERT_OK_AND_ASSIGN(MessageId id, MessageId::FromBytes(raw));
  EXPECT_EQ(id.AsBytes(), raw);
  EXPECT_EQ(id.ToHex(), "000102030405060708090a0b0c0d0eff");
  EXPECT_CODE(MessageId::FromBytes(raw.substr(0, 15)), kInvalidArgument);
  EXPECT_CODE(MessageId::FromBytes(raw + "x"), kInvalidArgument);
  EXPECT_CODE(MessageId::FromBytes(""), kInvalidArgument);
}

TEST(IdTest, RandomIdsDifferAndOrderIsBytewise) {
  std::set<MailboxKey> seen;
  for (int i = 0; i < 100; ++i) seen.insert(MailboxKey::Random());
  EXPECT_EQ(seen.size(), 100u);
  ASSERT_OK_AND_ASSIGN(MailboxKey a, MailboxKey::FromHex("00ff0000000000000000000000000000"));
  ASSERT_OK_AND_ASSIGN(MailboxKey b, MailboxKey::FromHex("01000000000000000000000000000000"));
  EXPECT_LT(a, b);
  EXPECT_LT(a.ToHex(), b.ToHex());  // hex order is byte order
}

// XXH3-128 of known inputs, computed once with libxxhash's XXH3_128bits and
// XXH128_canonicalFromHash (big-endian, high half first).
TEST(DigestTest, MatchesXxh3_128OfKnownInput) {
  const Digest128 empty = {0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47, 0x98, 0xd8,
                           0x60, 0x01, 0xc3, 0x24, 0x46, 0x8d, 0x49, 0x7f};
  const Digest128 hello = {0x13, 0xde, 0x0a, 0xe7, 0x37, 0x04, 0xc0, 0x76,
                           0xc5, 0x87, 0xa9, 0x65, 0x8b, 0xf8, 0x2c, 0xac};
  const Digest128 fox = {0xdd, 0xd6, 0x50, 0x20, 0x5c, 0xa3, 0xe7, 0xfa,
                         0x24, 0xa1, 0xcc, 0x2e, 0x3a, 0x8a, 0x76, 0x51};
  EXPECT_EQ(ComputeDigest128(""), empty);
  EXPECT_EQ(ComputeDigest128("hello postbox"), hello);
  EXPECT_EQ(ComputeDigest128("The quick brown fox jumps over the lazy dog"), fox);
  EXPECT_NE(ComputeDigest128("hello postbox!"), hello);
}

TEST(NamesTest, MessageStatusNamesRoundTrip) {
  for (MessageStatus s :
       {MessageStatus::kUploaded, MessageStatus::kDownloaded, MessageStatus::kViewed}) {
    ASSERT_OK_AND_ASSIGN(MessageStatus back, ParseMessageStatus(MessageStatusName(s)));
    EXPECT_EQ(back, s);
  }
  ASSERT_OK_AND_ASSIGN(MessageStatus viewed, ParseMessageStatus("VIEWED"));
  EXPECT_EQ(viewed, MessageStatus::kViewed);
  ASSERT_OK_AND_ASSIGN(MessageStatus downloaded, ParseMessageStatus("Downloaded"));
  EXPECT_EQ(downloaded, MessageStatus::kDownloaded);
  ASSERT_OK_AND_ASSIGN(MessageStatus uploaded, ParseMessageStatus("uploaded"));
  EXPECT_EQ(uploaded, MessageStatus::kUploaded);
  EXPECT_CODE(ParseMessageStatus("seen"), kInvalidArgument);
  EXPECT_CODE(ParseMessageStatus(""), kInvalidArgument);
  EXPECT_EQ(static_cast<int>(MessageStatus::kUploaded), 1);
  EXPECT_EQ(static_cast<int>(MessageStatus::kViewed), 3);
}

TEST(NamesTest, PlatformNamesRoundTrip) {
  const std::pair<Platform, const char*> cases[] = {{Platform::kNone, "none"},
                                                    {Platform::kIos, "ios"},
                                                    {Platform::kAndroid, "android"},
                                                    {Platform::kWeb, "web"}};
  for (const auto& [platform, name] : cases) {
    ASSERT_OK_AND_ASSIGN(Platform parsed, ParsePlatform(name));
    EXPECT_EQ(parsed, platform);
    ASSERT_OK_AND_ASSIGN(Platform back, ParsePlatform(PlatformName(platform)));
    EXPECT_EQ(back, platform);
  }
  EXPECT_CODE(ParsePlatform("windows"), kInvalidArgument);
  EXPECT_CODE(ParsePlatform(""), kInvalidArgument);
}

TEST(MergeTest, EntryOrderIsVersionThenTombstoneThenBytes) {
  const EntryState v1{1, false, "zzz"};
  const EntryState v2a{2, false, "a"};
  const EntryState v2b{2, false, "b"};
  const EntryState v2del{2, true, ""};
  EXPECT_TRUE(EntryRanksAbove(v2a, v1));  // version first, whatever the bytes
  EXPECT_FALSE(EntryRanksAbove(v1, v2a));
  EXPECT_TRUE(EntryRanksAbove(v2b, v2a));
  EXPECT_TRUE(EntryRanksAbove(v2del, v2b));  // a delete beats a put of its version
  EXPECT_FALSE(EntryRanksAbove(v2b, v2del));
  EXPECT_FALSE(EntryRanksAbove(v2a, v2a));  // irreflexive: a replay never applies
  EXPECT_EQ(MergeEntry(v2a, v2b), v2b);
  EXPECT_EQ(MergeEntry(v2b, v2a), v2b);
  EXPECT_EQ(MergeEntry(v2del, v2b), v2del);
  EXPECT_EQ(MergeStatus(MessageStatus::kViewed, MessageStatus::kDownloaded),
            MessageStatus::kViewed);
  EXPECT_EQ(MergeStatus(MessageStatus::kUploaded, MessageStatus::kDownloaded),
            MessageStatus::kDownloaded);
}

}  // namespace
}  // namespace postbox
