// The running XXH3-128 of an upload's bytes, kept in its upload record
// (KEY_LAYOUT.md, `uploads`) and advanced as chunks append, so committing an
// upload only finalizes the hash instead of reading the whole blob again
// inside the write transaction.
// Thread-safety: a plain value; one thread at a time.
#ifndef POSTBOX_STORE_UPLOAD_HASH_H_
#define POSTBOX_STORE_UPLOAD_HASH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "postbox/types.h"

namespace postbox::store {

class UploadHasher {
 public:
  // A hasher that has seen no bytes.
  UploadHasher();
  UploadHasher(const UploadHasher&) = delete;
  UploadHasher& operator=(const UploadHasher&) = delete;

  // Forgets every byte seen.
  void Reset();
  void Update(std::string_view bytes);
  // XXH3-128 (seed 0) of the bytes seen, in the canonical big-endian form of
  // ComputeDigest128. The hasher can go on taking bytes afterwards.
  Digest128 Digest() const;

  // The state as it is stored: the fields of XXH3_state_t that carry the
  // input seen so far, by name, behind a tag naming the xxHash build (version
  // and struct size). Never the raw struct: it holds a pointer and its
  // meaning belongs to one xxHash version.
  std::string Save() const;
  // Takes over a state Save() produced after `length` bytes. False, leaving
  // the hasher reset, when the state cannot be used: empty, from another
  // xxHash build (the tag differs), or not about `length` bytes. The caller
  // then hashes the bytes again.
  bool Restore(std::string_view saved, uint64_t length);

 private:
  // Room for an XXH3_state_t (576 bytes in xxHash 0.8.1; the .cc asserts it
  // fits), aligned as it requires, so no allocation per chunk.
  static constexpr size_t kStateBytes = 640;
  alignas(64) unsigned char state_[kStateBytes];
};

}  // namespace postbox::store

#endif  // POSTBOX_STORE_UPLOAD_HASH_H_
