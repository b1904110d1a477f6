// How an upload keeps its bytes (KEY_LAYOUT.md, `blobs` and `upload_tail`):
// the bytes of an incomplete last piece are staged row by row and the piece
// is written once, when a chunk completes it; resent bytes are compared with
// staged ones too; every way an upload ends early (abort, digest mismatch,
// sweep, mailbox deletion) frees its pieces and staged rows at once; and the
// running hash in the record is what the commit checks. The tables are read
// with LMDB itself while the store is closed.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "postbox/db.h"
#include "postbox/write_batch.h"
#include "store/env.h"
#include "store/records.h"
#include "store/store.h"
#include "tests/unit/engine/lmdb_tables.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::BE64;
using test::kKiB;
using test::Table;

constexpr uint64_t kPiece = 256 * kKiB;

// The rows of one id in the two tables that hold an upload's bytes.
struct Rows {
  size_t pieces = 0;  // `blobs` keys of the id
  size_t staged = 0;  // `upload_tail` keys of the id
  bool operator==(const Rows&) const = default;
};

void PrintTo(const Rows& r, std::ostream* os) {
  *os << "{pieces " << r.pieces << ", staged " << r.staged << "}";
}

class UploadTailTest : public test::UploadFixture {
 protected:
  // The id's rows, read from the closed store, which is then reopened.
  Rows RowsOf(const MessageId& id) {
    Close();
    Rows r{Table(path(), "blobs", id.AsBytes()).size(),
           Table(path(), "upload_tail", id.AsBytes()).size()};
    Open();
    return r;
  }
  // Every row of the tables an upload writes, keyed by table.
  std::map<std::string, size_t> Counts() {
    Close();
    std::map<std::string, size_t> out;
    for (const char* t : {"blobs", "upload_tail", "uploads", "upload_ttl"}) {
      out[t] = Table(path(), t).size();
    }
    Open();
    return out;
  }

  // Begins `blob` (declared with `req`) and writes [0, to) in `chunk`-byte chunks.
  void Partial(const UploadRequest& req, const std::string& blob, uint64_t to, uint64_t chunk) {
    ASSERT_OK(db().BeginUpload(req));
    ASSERT_TRUE(WriteRange(req.id, blob, 0, to, chunk));
  }
};

TEST_F(UploadTailTest, SmallChunksAreStagedAndEachPieceIsWrittenOnce) {
  const std::string blob = test::Bytes(2 * kPiece + 5000, 1);
  const UploadRequest req = Declare(blob);
  constexpr uint64_t kChunk = 3000;  // no divisor of the piece size
  Partial(req, blob, 30 * kChunk, kChunk);
  EXPECT_EQ(RowsOf(req.id), (Rows{0, 30}));
  // One row per chunk, keyed by its offset, holding exactly its bytes.
  Close();
  const auto staged = Table(path(), "upload_tail", req.id.AsBytes());
  Open();
  uint64_t at = 0;
  for (const auto& [key, value] : staged) {
    EXPECT_EQ(key, std::string(req.id.AsBytes()) + BE64(at));
    EXPECT_TRUE(value == blob.substr(at, kChunk)) << at;
    at += value.size();
  }
  EXPECT_EQ(at, 30 * kChunk);

  // The chunk that crosses 256 KiB completes piece 0 (written whole, with its
  // XXH3-64) and stages its own remainder.
  const uint64_t crossing = kPiece / kChunk * kChunk;  // 261000: [261000, 264000)
  ASSERT_TRUE(WriteRange(req.id, blob, 30 * kChunk, crossing + kChunk, kChunk));
  EXPECT_EQ(RowsOf(req.id), (Rows{1, 1}));
  Close();
  const std::string piece0 = Table(path(), "blobs", req.id.AsBytes()).begin()->second;
  const auto tail = Table(path(), "upload_tail", req.id.AsBytes());
  Open();
  ASSERT_EQ(piece0.size(), kPiece + 8);
  EXPECT_TRUE(piece0.substr(0, kPiece) == blob.substr(0, kPiece));
  uint64_t trailer = 0;
  std::memcpy(&trailer, piece0.data() + kPiece, 8);
  EXPECT_EQ(trailer, XXH3_64bits(blob.data(), kPiece));
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail.begin()->first, std::string(req.id.AsBytes()) + BE64(kPiece));
  EXPECT_TRUE(tail.begin()->second == blob.substr(kPiece, crossing + kChunk - kPiece));

  // A chunk that ends exactly at a piece boundary completes piece 1 and
  // stages nothing; the last (short) piece goes straight to `blobs`, since
  // it ends the blob.
  ASSERT_TRUE(WriteRange(req.id, blob, crossing + kChunk, 2 * kPiece, kPiece));
  EXPECT_EQ(RowsOf(req.id), (Rows{2, 0}));
  ASSERT_TRUE(WriteRange(req.id, blob, 2 * kPiece, blob.size(), kPiece));
  EXPECT_EQ(RowsOf(req.id), (Rows{3, 0}));
  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().CommitUpload(a_, req.id));
  EXPECT_EQ(m.digest, test::ReferenceDigest(blob));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
  // A committed message has its pieces and no staged rows.
  EXPECT_EQ(RowsOf(req.id), (Rows{3, 0}));
  EXPECT_EQ(Counts()["upload_tail"], 0u);
}

TEST_F(UploadTailTest, WholePiecesOfALargeChunkGoStraightToBlobs) {
  const std::string blob = test::Bytes(3 * kPiece + 10, 2);
  const UploadRequest req = Declare(blob);
  Partial(req, blob, 100, 100);
  EXPECT_EQ(RowsOf(req.id), (Rows{0, 1}));
  // [100, 100 + 256 KiB): completes piece 0 and stages 100 bytes of piece 1.
  ASSERT_TRUE(WriteRange(req.id, blob, 100, 100 + kPiece, kPiece));
  EXPECT_EQ(RowsOf(req.id), (Rows{1, 1}));
  ASSERT_TRUE(WriteRange(req.id, blob, 100 + kPiece, 2 * kPiece + 100, kPiece));
  EXPECT_EQ(RowsOf(req.id), (Rows{2, 1}));
  ASSERT_TRUE(WriteRange(req.id, blob, 2 * kPiece + 100, blob.size(), kPiece));
  EXPECT_EQ(RowsOf(req.id), (Rows{4, 0}));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

TEST_F(UploadTailTest, ResentBytesAreComparedWithStagedBytesToo) {
  const std::string blob = test::Bytes(kPiece + 50000, 3);
  const std::string_view b(blob);
  const UploadRequest req = Declare(blob);
  Partial(req, blob, 100000, 10000);
  auto flipped = [&](uint64_t from, uint64_t n, uint64_t at) {
    std::string s(b.substr(from, n));
    s[at - from] ^= 0x01;
    return s;
  };
  // Inside the staged rows, across two of them, and over their end.
  EXPECT_CODE(db().WriteChunk(a_, req.id, 20000, flipped(20000, 10000, 25000)), kConflict);
  EXPECT_CODE(db().WriteChunk(a_, req.id, 25000, flipped(25000, 10000, 31000)), kConflict);
  EXPECT_CODE(db().WriteChunk(a_, req.id, 95000, flipped(95000, 10000, 99999)), kConflict);
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 100000u);
  ASSERT_OK_AND_ASSIGN(s, db().WriteChunk(a_, req.id, 25000, b.substr(25000, 10000)));
  EXPECT_EQ(s.offset, 100000u);
  // A resend that runs past the offset appends what is new.
  ASSERT_OK_AND_ASSIGN(s, db().WriteChunk(a_, req.id, 95000, b.substr(95000, 10000)));
  EXPECT_EQ(s.offset, 105000u);
  EXPECT_EQ(RowsOf(req.id), (Rows{0, 11}));

  // Across the boundary of a written piece and the staged bytes after it.
  ASSERT_TRUE(WriteRange(req.id, blob, 105000, kPiece + 1000, 10000));
  EXPECT_EQ(RowsOf(req.id), (Rows{1, 1}));
  EXPECT_CODE(db().WriteChunk(a_, req.id, kPiece - 500, flipped(kPiece - 500, 1000, kPiece - 1)),
              kConflict);
  EXPECT_CODE(db().WriteChunk(a_, req.id, kPiece - 500, flipped(kPiece - 500, 1000, kPiece + 1)),
              kConflict);
  ASSERT_OK_AND_ASSIGN(s, db().WriteChunk(a_, req.id, kPiece - 500, b.substr(kPiece - 500, 1000)));
  EXPECT_EQ(s.offset, kPiece + 1000);
  // A commit before the end is refused and changes nothing.
  EXPECT_CODE(db().CommitUpload(a_, req.id), kConflict);
  EXPECT_EQ(RowsOf(req.id), (Rows{1, 1}));
  ASSERT_TRUE(WriteRange(req.id, blob, kPiece + 1000, blob.size(), 7000));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

// ---- Every early end frees the bytes at once ----

class UploadEndTest : public UploadTailTest {
 protected:
  // An upload with one written piece and staged bytes after it; returns it.
  UploadRequest Started(const std::string& blob) {
    const UploadRequest req = Declare(blob);
    Partial(req, blob, kPiece + 7000, 5000);
    EXPECT_EQ(RowsOf(req.id), (Rows{1, 2}));
    return req;
  }
  const std::string blob_ = test::Bytes(2 * kPiece, 4);
};

TEST_F(UploadEndTest, AbortFreesPiecesAndStagedBytes) {
  const auto before = Counts();
  const UploadRequest req = Started(blob_);
  ASSERT_OK(db().AbortUpload(a_, req.id));
  EXPECT_EQ(RowsOf(req.id), (Rows{0, 0}));
  EXPECT_EQ(Counts(), before);
}

TEST_F(UploadEndTest, SweepFreesPiecesAndStagedBytes) {
  const auto before = Counts();
  const UploadRequest req = Started(blob_);
  clock_.Advance(options_.upload_ttl + std::chrono::milliseconds(1));
  ASSERT_OK_AND_ASSIGN(SweepResult swept, db().Sweep(clock_.now()));
  EXPECT_EQ(swept, (SweepResult{1, kPiece + 7000}));
  EXPECT_EQ(RowsOf(req.id), (Rows{0, 0}));
  EXPECT_EQ(Counts(), before);
}

TEST_F(UploadEndTest, DeletingEitherMailboxFreesPiecesAndStagedBytes) {
  const auto before = Counts();
  const UploadRequest from_a = Started(blob_);
  ASSERT_OK(db().DeleteMailbox(a_));
  EXPECT_EQ(RowsOf(from_a.id), (Rows{0, 0}));
  EXPECT_EQ(Counts(), before);
  // The recipient's side.
  a_ = NewMailbox();
  Connect(a_, b_);
  const UploadRequest to_b = Started(blob_);
  ASSERT_OK(db().DeleteMailbox(b_));
  EXPECT_EQ(RowsOf(to_b.id), (Rows{0, 0}));
  EXPECT_EQ(Counts(), before);
}

TEST_F(UploadEndTest, DigestMismatchFreesEverythingAndOtherOpsProceed) {
  const auto before = Counts();
  UploadRequest req = Declare(blob_);
  req.digest[3] ^= 1;
  Partial(req, blob_, blob_.size(), 90000);
  EXPECT_EQ(RowsOf(req.id), (Rows{2, 0}));
  WriteBatch batch;
  batch.PutEntry(a_, "before", "1", 0);
  batch.CommitUpload(a_, req.id);
  batch.PutEntry(a_, "after", "2", 0);
  ASSERT_OK(db().Write(&batch));
  EXPECT_OK(batch.results()[0].status);
  EXPECT_CODE(batch.results()[1].status, kDigestMismatch);
  EXPECT_OK(batch.results()[2].status);
  EXPECT_OK(db().GetEntry(a_, "before"));
  EXPECT_OK(db().GetEntry(a_, "after"));
  EXPECT_CODE(db().UploadOffset(a_, req.id), kNotFound);
  EXPECT_EQ(RowsOf(req.id), (Rows{0, 0}));
  EXPECT_EQ(Counts(), before);
  // The id is free again: the same declaration begins anew from 0.
  ASSERT_OK_AND_ASSIGN(UploadState s, db().BeginUpload(req));
  EXPECT_EQ(s.offset, 0u);
}

// Store::CommitUpload itself only validates: on a mismatch it returns
// DigestMismatch and the transaction holds no change (the discard is
// DB::Impl::ApplyOne's step). Committed here, the upload is still complete.
TEST_F(UploadEndTest, StoreCommitWritesNothingOnMismatch) {
  UploadRequest req = Declare(blob_);
  req.digest[0] ^= 1;
  Partial(req, blob_, blob_.size(), kPiece);
  Close();
  {
    ASSERT_OK_AND_ASSIGN(auto env, store::Env::Open(path(), options_));
    const store::Store st(options_);
    store::ChangedMailboxes changed;
    ASSERT_OK(env->Write([&](store::Txn& t) -> Status {
      store::WriteCtx w{t, clock_.now(), &changed};
      EXPECT_CODE(st.CommitUpload(w, a_, req.id), kDigestMismatch);
      return Status();
    }));
    EXPECT_TRUE(changed.empty());
  }
  Open();
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, blob_.size());
  EXPECT_EQ(RowsOf(req.id), (Rows{2, 0}));
}

// ---- The running hash ----

// The hash state's bytes inside an encoded upload record: after from, to,
// created_ms, length, offset, digest (72 bytes), topic and meta (u16 length
// each) comes the state's u16 length; its first u32 is the xxHash version.
size_t HashStateAt(const std::string& record) {
  size_t at = 72;
  for (int field = 0; field < 2; ++field) {
    uint16_t n = 0;
    std::memcpy(&n, record.data() + at, 2);
    at += 2 + n;
  }
  return at + 2;
}

class UploadHashStateTest : public UploadTailTest {
 protected:
  // Begins `blob`, writes [0, to), and garbles the saved accumulators (and,
  // if `retag`, the version in the tag) of its record; the store is reopened.
  UploadRequest Garbled(const std::string& blob, uint64_t to, bool retag) {
    const UploadRequest req = Declare(blob);
    Partial(req, blob, to, 70000);
    Close();
    auto rec = Table(path(), "uploads", req.id.AsBytes());
    EXPECT_EQ(rec.size(), 1u);
    std::string value = rec.begin()->second;
    const size_t state = HashStateAt(value);
    EXPECT_LT(state + 16, value.size());
    if (retag) value[state] ^= 0x40;
    value[state + 8] ^= 0x01;  // acc[0]
    test::PutRow(path(), "uploads", req.id.AsBytes(), value);
    Open();
    return req;
  }
};

TEST_F(UploadHashStateTest, CommitUsesTheSavedStateWithoutReadingTheBlob) {
  // Garbled accumulators under this build's tag are trusted: the commit
  // reads no byte of the blob, so it finds the digest "wrong".
  const std::string blob = test::Bytes(kPiece + 30000, 5);
  const UploadRequest req = Garbled(blob, 200000, /*retag=*/false);
  ASSERT_TRUE(WriteRange(req.id, blob, 200000, blob.size(), 70000));
  EXPECT_CODE(db().CommitUpload(a_, req.id), kDigestMismatch);
}

TEST_F(UploadHashStateTest, AStateFromAnotherXxhashBuildIsRebuiltFromTheStoredBytes) {
  const std::string blob = test::Bytes(kPiece + 30000, 6);
  const UploadRequest req = Garbled(blob, 200000, /*retag=*/true);
  ASSERT_TRUE(WriteRange(req.id, blob, 200000, blob.size(), 70000));
  ASSERT_OK_AND_ASSIGN(MessageInfo m, db().CommitUpload(a_, req.id));
  EXPECT_EQ(m.digest, test::ReferenceDigest(blob));
  // The same when the commit itself is what finds the foreign state.
  const std::string second = test::Bytes(3 * kPiece, 7);
  const UploadRequest req2 = Garbled(second, second.size(), /*retag=*/true);
  ASSERT_OK_AND_ASSIGN(MessageInfo m2, db().CommitUpload(a_, req2.id));
  EXPECT_EQ(m2.digest, test::ReferenceDigest(second));
}

}  // namespace
}  // namespace postbox
