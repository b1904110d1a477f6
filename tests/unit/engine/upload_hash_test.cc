// The upload's running XXH3-128 (engine/src/store/upload_hash.h): a state
// saved and restored at any point hashes on exactly like one that never left
// memory, so CommitUpload's finalized digest is XXH3_128bits of the blob. The
// split points cover the inside of the 256-byte buffer, the catch-up case of
// the digest (fewer than 64 bytes buffered after more than 256 went in),
// stripe (64 B) and block (1 KiB) boundaries, and long inputs.
#include "store/upload_hash.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using store::UploadHasher;
using test::ReferenceDigest;

// A hasher that has seen bytes[0, n), saved and restored into a fresh one.
::testing::AssertionResult RoundTrip(std::string_view bytes, UploadHasher* into) {
  UploadHasher first;
  first.Update(bytes);
  const std::string saved = first.Save();
  if (!into->Restore(saved, bytes.size())) {
    return ::testing::AssertionFailure() << "Restore refused a state of " << bytes.size();
  }
  return ::testing::AssertionSuccess();
}

TEST(UploadHashTest, EveryPrefixUpToThreeBlocksRestoresAndFinishes) {
  const std::string data = test::Bytes(3 * 1024 + 300, 1);
  const std::string_view all(data);
  for (size_t k = 0; k <= all.size(); ++k) {
    UploadHasher h;
    ASSERT_TRUE(RoundTrip(all.substr(0, k), &h)) << k;
    // The digest of the restored state itself (the catch-up case reads the
    // buffer's end, not only its first bufferedSize bytes).
    ASSERT_EQ(h.Digest(), ReferenceDigest(all.substr(0, k))) << "prefix " << k;
    h.Update(all.substr(k));
    ASSERT_EQ(h.Digest(), ReferenceDigest(all)) << "split at " << k;
  }
}

TEST(UploadHashTest, SplitsAroundBoundariesOfALongInput) {
  const std::string data = test::Bytes(300 * 1024 + 17, 2);
  const std::string_view all(data);
  const Digest128 want = ReferenceDigest(all);
  std::vector<size_t> splits;
  for (size_t base : {size_t{240}, size_t{256}, size_t{1024}, size_t{4096}, size_t{64 * 1024},
                      size_t{256 * 1024}}) {
    for (size_t d = 0; d < 3; ++d) splits.insert(splits.end(), {base - d, base + d, base + 64 + d});
  }
  for (size_t k : splits) {
    UploadHasher h;
    ASSERT_TRUE(RoundTrip(all.substr(0, k), &h)) << k;
    h.Update(all.substr(k));
    EXPECT_EQ(h.Digest(), want) << "split at " << k;
  }
}

TEST(UploadHashTest, SavedAfterEveryRandomChunkEqualsOneShot) {
  std::mt19937 rng(3);
  for (int round = 0; round < 20; ++round) {
    const std::string data = test::Bytes(rng() % (600 * 1024), 10 + round);
    const std::string_view all(data);
    std::string saved;  // as a chunk leaves it in the upload record
    for (size_t pos = 0; pos < all.size();) {
      const size_t n = std::min<size_t>(all.size() - pos, 1 + rng() % (rng() % 2 ? 300 : 70000));
      UploadHasher h;
      if (pos > 0) {
        ASSERT_TRUE(h.Restore(saved, pos)) << pos;
      }
      h.Update(all.substr(pos, n));
      saved = h.Save();
      pos += n;
    }
    UploadHasher last;
    ASSERT_EQ(last.Restore(saved, all.size()), !all.empty());
    EXPECT_EQ(last.Digest(), ReferenceDigest(all)) << "round " << round << ", " << all.size();
  }
}

TEST(UploadHashTest, RefusesStatesItCannotTrust) {
  const std::string data = test::Bytes(5000, 4);
  UploadHasher h;
  h.Update(data);
  const std::string saved = h.Save();
  UploadHasher r;
  EXPECT_FALSE(r.Restore("", 0));                                    // no state yet
  EXPECT_FALSE(r.Restore(saved, 4999));                              // about another length
  EXPECT_FALSE(r.Restore(saved.substr(0, saved.size() - 1), 5000));  // truncated
  std::string other_version = saved;
  other_version[0] ^= 1;  // XXH_VERSION_NUMBER, little-endian
  EXPECT_FALSE(r.Restore(other_version, 5000));
  std::string other_layout = saved;
  other_layout[4] ^= 1;  // sizeof(XXH3_state_t)
  EXPECT_FALSE(r.Restore(other_layout, 5000));
  // A refused restore leaves the hasher as new.
  EXPECT_EQ(r.Digest(), ReferenceDigest(""));
  EXPECT_TRUE(r.Restore(saved, 5000));
  EXPECT_EQ(r.Digest(), ReferenceDigest(data));
}

}  // namespace
}  // namespace postbox
