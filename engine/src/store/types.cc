#include "postbox/types.h"

#include <openssl/rand.h>
#include <xxhash.h>

#include <cctype>
#include <cstring>
#include <string>

namespace postbox {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

template <typename Tag>
Result<Id16<Tag>> Id16<Tag>::FromHex(std::string_view hex) {
  if (hex.size() != 32) {
    return Status::InvalidArgument("expected 32 hex characters, got " + std::to_string(hex.size()));
  }
  Id16 id;
  for (size_t i = 0; i < 16; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("expected hex characters 0-9a-f in '" + std::string(hex) +
                                     "'");
    }
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

template <typename Tag>
Result<Id16<Tag>> Id16<Tag>::FromBytes(std::string_view raw) {
  if (raw.size() != 16) {
    return Status::InvalidArgument("expected 16 bytes, got " + std::to_string(raw.size()));
  }
  Id16 id;
  std::memcpy(id.bytes.data(), raw.data(), 16);
  return id;
}

template <typename Tag>
Id16<Tag> Id16<Tag>::Random() {
  Id16 id;
  // RAND_bytes only fails when the system's entropy source is broken; a
  // predictable key would be a security hole, so that is fatal.
  if (RAND_bytes(id.bytes.data(), static_cast<int>(id.bytes.size())) != 1) std::abort();
  return id;
}

template <typename Tag>
std::string Id16<Tag>::ToHex() const {
  std::string out;
  out.reserve(32);
  AppendHex(&out);
  return out;
}

template <typename Tag>
void Id16<Tag>::AppendHex(std::string* out) const {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (const uint8_t b : bytes) {
    out->push_back(kDigits[b >> 4]);
    out->push_back(kDigits[b & 15]);
  }
}

template struct Id16<MailboxKeyTag>;
template struct Id16<MessageIdTag>;

Digest128 ComputeDigest128(std::string_view bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  Digest128 out;
  std::memcpy(out.data(), canon.digest, out.size());
  return out;
}

std::string_view MessageStatusName(MessageStatus s) {
  switch (s) {
    case MessageStatus::kUploaded:
      return "uploaded";
    case MessageStatus::kDownloaded:
      return "downloaded";
    case MessageStatus::kViewed:
      return "viewed";
  }
  return "invalid";
}

Result<MessageStatus> ParseMessageStatus(std::string_view name) {
  std::string n = Lower(name);
  if (n == "uploaded") return MessageStatus::kUploaded;
  if (n == "downloaded") return MessageStatus::kDownloaded;
  if (n == "viewed") return MessageStatus::kViewed;
  return Status::InvalidArgument("expected status uploaded|downloaded|viewed, got '" +
                                 std::string(name) + "'");
}

std::string_view PlatformName(Platform p) {
  switch (p) {
    case Platform::kNone:
      return "none";
    case Platform::kIos:
      return "ios";
    case Platform::kAndroid:
      return "android";
    case Platform::kWeb:
      return "web";
  }
  return "invalid";
}

Result<Platform> ParsePlatform(std::string_view name) {
  std::string n = Lower(name);
  if (n == "none") return Platform::kNone;
  if (n == "ios") return Platform::kIos;
  if (n == "android") return Platform::kAndroid;
  if (n == "web") return Platform::kWeb;
  return Status::InvalidArgument("expected platform none|ios|android|web, got '" +
                                 std::string(name) + "'");
}

}  // namespace postbox
