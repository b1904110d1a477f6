// The saved form of XXH3-128's streaming state. xxHash is compiled into this
// file (XXH_INLINE_ALL), so the fields set here by name and the code that
// reads them come from the same header, whatever libxxhash the process links:
// the tag (XXH_VERSION_NUMBER, sizeof(XXH3_state_t)) names that header.
#include "store/upload_hash.h"

#include <cstring>
#include <new>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "store/codec.h"

namespace postbox::store {
namespace {

static_assert(alignof(XXH3_state_t) <= 64, "UploadHasher's storage is 64-byte aligned");

// The fields saved, in order. They are everything XXH3_128bits_update and
// _digest read besides what XXH3_128bits_reset sets (the default secret, its
// limit, stripes per block, seed 0, no external secret):
//   acc[8]          the accumulators;
//   buffer[256]     all of it, not only buffer[0, bufferedSize): once more
//                   than 256 bytes went in, the digest of a state holding
//                   fewer than 64 buffered bytes reads the last stripe from
//                   the buffer's end (XXH3_digest_long's catch-up);
//   bufferedSize    bytes waiting in the buffer;
//   nbStripesSoFar  stripes consumed in the current block;
//   totalLen        bytes seen.
constexpr size_t kBufferBytes = XXH3_INTERNALBUFFER_SIZE;
constexpr size_t kSavedBytes = 4 + 4 + 8 * 8 + kBufferBytes + 4 + 8 + 8;

uint32_t LayoutTag() { return static_cast<uint32_t>(sizeof(XXH3_state_t)); }

}  // namespace

static XXH3_state_t* State(unsigned char* storage) {
  return std::launder(reinterpret_cast<XXH3_state_t*>(storage));
}
static const XXH3_state_t* State(const unsigned char* storage) {
  return std::launder(reinterpret_cast<const XXH3_state_t*>(storage));
}

UploadHasher::UploadHasher() {
  static_assert(sizeof(XXH3_state_t) <= kStateBytes, "raise UploadHasher::kStateBytes");
  new (state_) XXH3_state_t;
  Reset();
}

void UploadHasher::Reset() { XXH3_128bits_reset(State(state_)); }

void UploadHasher::Update(std::string_view bytes) {
  XXH3_128bits_update(State(state_), bytes.data(), bytes.size());
}

Digest128 UploadHasher::Digest() const {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(State(state_)));
  Digest128 d;
  std::memcpy(d.data(), canon.digest, d.size());
  return d;
}

std::string UploadHasher::Save() const {
  const XXH3_state_t& s = *State(state_);
  std::string out;
  out.reserve(kSavedBytes);
  RecordWriter w(&out);
  w.U32(XXH_VERSION_NUMBER).U32(LayoutTag());
  for (XXH64_hash_t a : s.acc) w.U64(a);
  w.Fixed({reinterpret_cast<const char*>(s.buffer), kBufferBytes})
      .U32(s.bufferedSize)
      .U64(s.nbStripesSoFar)
      .U64(s.totalLen);
  return out;
}

bool UploadHasher::Restore(std::string_view saved, uint64_t length) {
  Reset();
  RecordReader r(saved);
  const uint32_t version = r.U32();
  const uint32_t layout = r.U32();
  if (!r.ok() || version != XXH_VERSION_NUMBER || layout != LayoutTag()) return false;
  XXH3_state_t& s = *State(state_);
  XXH64_hash_t acc[8];
  for (XXH64_hash_t& a : acc) a = r.U64();
  const std::string_view buffer = r.Fixed(kBufferBytes);
  const uint32_t buffered = r.U32();
  const uint64_t stripes = r.U64();
  const uint64_t total = r.U64();
  // A state this build saved always passes these; anything else (a damaged
  // record) is rebuilt rather than trusted, since bufferedSize indexes the
  // buffer. Past the first byte something is always buffered.
  if (!r.ok() || !r.done() || total != length || buffered > kBufferBytes ||
      (total == 0) != (buffered == 0) || (total <= kBufferBytes && buffered != total) ||
      stripes >= s.nbStripesPerBlock) {
    return false;
  }
  std::memcpy(s.acc, acc, sizeof acc);
  std::memcpy(s.buffer, buffer.data(), kBufferBytes);
  s.bufferedSize = buffered;
  s.nbStripesSoFar = static_cast<size_t>(stripes);
  s.totalLen = total;
  return true;
}

}  // namespace postbox::store
