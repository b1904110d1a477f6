// The input format of fuzz/session_fuzzer.cc and the fixture it runs against,
// shared with the seed generator (fuzz/session/make_corpus.cc) so that both
// agree on every byte. Header-only, standard library only.
//
// An input is
//   byte 0   mode: the kMode* bits below (missing bytes read as 0)
//   byte 1   write size: the stream is sent in writes of this many bytes
//            (0: no cut by size)
//   bytes 2… the byte stream for the server, with markers: kCut ("@cut") is
//            removed and ends a write there, so an input can cut a header
//            from its payload; a token (kTokenPrefix + a name, see Token())
//            is replaced by the fixture value it names; with kModeFramed,
//            kFrame ("@frm") starts a frame whose length the harness fills in.
// Tokens exist because every input runs against a fresh fixture (new random
// mailbox keys, message ids and secrets, which a checked-in corpus cannot
// hold): "@pbx:self......." becomes the 16 bytes of the session's own mailbox
// key, "@pbx:secret:self..." (43 bytes, as long as a real secret) its secret.
// Tokens inside compressed payloads are not replaced.
#ifndef POSTBOX_FUZZ_SESSION_INPUT_H_
#define POSTBOX_FUZZ_SESSION_INPUT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postbox::fuzz {

// Mode bits (byte 0).
// The harness sends a valid Hello as `self` (with the real secret) before the
// stream, so that the stream reaches post-Hello dispatch.
inline constexpr uint8_t kModeHello = 0x01;
// If the stream ends on a frame boundary, the harness appends an EntryPut with
// request id kSentinelRequestId and waits for its reply (or the close) before
// closing its side: the replies of the stream's writes then arrive too. Without
// it, the write side closes right after the stream, racing the server.
inline constexpr uint8_t kModeLinger = 0x02;
// A short pause after each write (at most kMaxPacedWrites of them), so the
// server reads each write separately instead of several at once.
inline constexpr uint8_t kModePace = 0x04;
// End with a TCP reset (SO_LINGER 0) instead of shutdown(SHUT_WR).
inline constexpr uint8_t kModeReset = 0x08;
// The harness writes frame lengths: each kFrame marker ("@frm") is followed by
// a frame without its 4-byte length field (type, flags, reserved, request id,
// payload), and the harness puts in front of it the length of what follows up
// to the next marker. Bytes inserted into or cut from a payload then keep the
// framing intact, so mutations reach far more requests.
inline constexpr uint8_t kModeFramed = 0x10;

inline constexpr size_t kMaxPacedWrites = 32;
inline constexpr std::string_view kCut = "@cut";
inline constexpr std::string_view kFrame = "@frm";
inline constexpr std::string_view kTokenPrefix = "@pbx:";
inline constexpr uint64_t kSentinelRequestId = 0x5e5e5e5e5e5e5e5eull;
inline constexpr std::string_view kSentinelKey = "~harness-sentinel";

// What a token names. Mailboxes: self (the session's), peer (connected to
// self), stranger (connected to peer only). Messages, all seen from self: in
// (peer → self, a kInBlobSize blob), out (self → peer), foreign (peer →
// stranger: self is no party), gone (superseded: 410), empty (peer → self, a
// 0-byte blob). Uploads: upload (self → peer, kUploadCommitted of
// kUploadSize bytes stored), upload-in (peer → self: self may not write it).
// fresh0 and fresh1 are ids nobody has used.
enum class Ref : uint8_t {
  kSelf,
  kPeer,
  kStranger,
  kIn,
  kOut,
  kForeign,
  kGone,
  kEmpty,
  kUpload,
  kUploadIn,
  kFresh0,
  kFresh1,
  kSecretSelf,
  kSecretPeer,
};
inline constexpr size_t kRefCount = 14;
inline constexpr std::array<std::string_view, kRefCount> kRefNames = {
    "self",  "peer",   "stranger",  "in",     "out",    "foreign",     "gone",
    "empty", "upload", "upload-in", "fresh0", "fresh1", "secret:self", "secret:peer"};

inline constexpr size_t kIdTokenSize = 16;      // a mailbox key or message id
inline constexpr size_t kSecretTokenSize = 43;  // base64url of 32 bytes

inline bool IsSecret(Ref r) { return r == Ref::kSecretSelf || r == Ref::kSecretPeer; }

// The token for `r`: the prefix, the name, '.' up to the value's length.
inline std::string Token(Ref r) {
  std::string t = std::string(kTokenPrefix) + std::string(kRefNames[static_cast<size_t>(r)]);
  t.resize(IsSecret(r) ? kSecretTokenSize : kIdTokenSize, '.');
  return t;
}

// ---- The fixture's contents (the same in every run) ----
inline constexpr size_t kInBlobSize = 10000;  // more than two stored pieces
inline constexpr size_t kOutBlobSize = 100;
inline constexpr size_t kUploadSize = 6000;
inline constexpr size_t kUploadCommitted = 2500;
inline constexpr size_t kUploadInSize = 5000;
inline constexpr size_t kUploadInCommitted = 1000;
inline constexpr std::string_view kUploadTopic = "up";
inline constexpr std::string_view kUploadMeta = "{\"ct\":\"video/mp4\"}";
inline constexpr size_t kBigEntries = 4;       // "big/0" … "big/3"
inline constexpr size_t kBigEntrySize = 4000;  // incompressible
inline constexpr size_t kMaxChunkSize = 4096;  // the store's max_chunk_size (small seeds)
inline constexpr size_t kMaxValueSize = 8192;  // the store's max_value_size
inline constexpr uint32_t kMaxFramePayload = 64 * 1024;

// `n` bytes that depend only on `seed` (xorshift), so blobs and their
// digests are the same in the fixture and in the generator's seeds.
inline std::string PatternBytes(uint32_t seed, size_t n) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x >> 24);
  }
  return s;
}
inline constexpr uint32_t kInSeed = 1, kOutSeed = 2, kUploadSeed = 3, kUploadInSeed = 4,
                          kBigSeed = 5;

}  // namespace postbox::fuzz

#endif  // POSTBOX_FUZZ_SESSION_INPUT_H_
