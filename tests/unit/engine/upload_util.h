// Helpers for the upload and blob tests: a fixture with a connected sender and
// recipient and an outsider, declarations whose digest is computed with
// xxHash directly (not through the engine), and chunked writers.
#ifndef POSTBOX_TESTS_UNIT_ENGINE_UPLOAD_UTIL_H_
#define POSTBOX_TESTS_UNIT_ENGINE_UPLOAD_UTIL_H_

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"

namespace postbox::test {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * 1024;

// XXH3-128 of `bytes` in canonical (big-endian) form, from libxxhash itself so
// the tests do not trust the engine's own ComputeDigest128.
inline Digest128 ReferenceDigest(std::string_view bytes) {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(bytes.data(), bytes.size()));
  Digest128 d;
  std::memcpy(d.data(), canon.digest, d.size());
  return d;
}

inline uint64_t ReferenceXxh64(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

// Sender a_ and recipient b_ are connected; c_ is a third mailbox connected to
// neither (an outsider to every message between a_ and b_).
class UploadFixture : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure()) return;
    a_ = NewMailbox();
    b_ = NewMailbox();
    c_ = NewMailbox();
    Connect(a_, b_);
  }

  // A declaration of `blob` from a_ to b_ with a fresh id and the right digest.
  UploadRequest Declare(std::string_view blob, std::string topic = "media",
                        std::string meta = "m") const {
    UploadRequest r;
    r.from = a_;
    r.to = b_;
    r.id = MessageId::Random();
    r.topic = std::move(topic);
    r.meta = std::move(meta);
    r.length = blob.size();
    r.digest = ReferenceDigest(blob);
    return r;
  }

  // Writes blob[from, to) as the sender in `chunk`-byte chunks; fails the
  // test (returns false) on the first error or unexpected offset.
  ::testing::AssertionResult WriteRange(const MessageId& id, std::string_view blob, uint64_t from,
                                        uint64_t to, uint64_t chunk) {
    for (uint64_t off = from; off < to;) {
      const uint64_t n = std::min(chunk, to - off);
      Result<UploadState> r = db().WriteChunk(a_, id, off, blob.substr(off, n));
      if (!r.ok()) {
        return ::testing::AssertionFailure()
               << "WriteChunk at " << off << ": " << r.status().ToString();
      }
      if (r->offset != off + n) {
        return ::testing::AssertionFailure() << "WriteChunk at " << off << " returned offset "
                                             << r->offset << ", want " << off + n;
      }
      off += n;
    }
    return ::testing::AssertionSuccess();
  }

  // Begins, writes everything and commits; returns the committed message.
  MessageInfo UploadWhole(const UploadRequest& req, std::string_view blob,
                          uint64_t chunk = 256 * kKiB) {
    Must(db().BeginUpload(req), "BeginUpload");
    EXPECT_TRUE(WriteRange(req.id, blob, 0, blob.size(), chunk));
    return Must(db().CommitUpload(req.from, req.id), "CommitUpload");
  }

  MailboxKey a_, b_, c_;
};

}  // namespace postbox::test

#endif  // POSTBOX_TESTS_UNIT_ENGINE_UPLOAD_UTIL_H_
