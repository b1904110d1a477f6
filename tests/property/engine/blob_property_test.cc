// Properties of resumable uploads (SPEC §4), on a real store:
//  - for any blob and any sequence of chunk writes the protocol allows (random
//    sizes, resends and overlaps of stored bytes, writes refused for a gap, a
//    mismatch or running past the end, restarts of the store in between), the
//    committed blob is the original and its digest check passes;
//  - a corrupted byte anywhere, sent in a chunk that is accepted because it
//    extends the stored bytes, is always caught at commit (422) and nothing of
//    the upload is kept.
// The client side is modelled by one number, the committed offset, which the
// store's answers must match after every step.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <stdlib.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "postbox/options.h"
#include "postbox/types.h"

namespace postbox {
namespace {

constexpr uint64_t kKiB = 1024;

Digest128 ReferenceDigest(std::string_view bytes) {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(bytes.data(), bytes.size()));
  Digest128 d;
  std::memcpy(d.data(), canon.digest, d.size());
  return d;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::string out(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t v = gen();
    std::memcpy(&out[i], &v, 8);
  }
  for (const uint64_t v = gen(); i < n; ++i) out[i] = static_cast<char>(v >> (8 * (i % 8)));
  return out;
}

// A store in a fresh temp folder with a connected sender and recipient; it can
// be closed and reopened (a restart of the server) at any point.
class Store {
 public:
  explicit Store(size_t max_chunk) {
    // Durability is not the point here and each restart syncs the store: use
    // memory-backed /dev/shm where there is one, so fsync costs nothing.
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    std::string tmpl = (base / "postbox-blobprop-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    dir_ = tmpl;
    options_.durability = Durability::kRelaxed;
    options_.max_chunk_size = max_chunk;
    Open();
    auto a = db_->CreateMailbox();
    auto b = db_->CreateMailbox();
    if (!a.ok() || !b.ok()) throw std::runtime_error("CreateMailbox failed");
    a_ = a->mkey;
    b_ = b->mkey;
    if (!db_->Connect(a_, b_).ok()) throw std::runtime_error("Connect failed");
  }
  ~Store() {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  void Restart() {
    db_.reset();
    Open();
  }
  DB& db() { return *db_; }
  const MailboxKey& a() const { return a_; }
  const MailboxKey& b() const { return b_; }

 private:
  void Open() {
    auto r = DB::Open(dir_ + "/db", options_);
    if (!r.ok()) throw std::runtime_error("DB::Open: " + r.status().ToString());
    db_ = std::move(r).value();
  }
  std::string dir_;
  Options options_;
  std::unique_ptr<DB> db_;
  MailboxKey a_, b_;
};

enum class Step { kForward, kResend, kRestart, kGap, kMismatch, kPastEnd };

rc::Gen<Step> StepGen() {
  return rc::gen::weightedElement<Step>({{10, Step::kForward},
                                         {3, Step::kResend},
                                         {1, Step::kRestart},
                                         {1, Step::kGap},
                                         {1, Step::kMismatch},
                                         {1, Step::kPastEnd}});
}

// Drives one upload of `sent` (what the client sends: the blob, or a
// corrupted copy of it) through random steps until every byte is stored,
// checking each answer against the committed offset the model predicts.
void RunUpload(Store& s, const UploadRequest& req, std::string_view sent) {
  const uint64_t size = sent.size();
  const uint64_t max_chunk = s.db().options().max_chunk_size;
  uint64_t committed = 0;
  auto expect_offset = [&](const Result<UploadState>& r) {
    RC_ASSERT(r.ok());
    RC_ASSERT(r->offset == committed);
    RC_ASSERT(r->length == size);
    RC_ASSERT(!r->committed);
  };
  for (int steps = 0; committed < size; ++steps) {
    RC_ASSERT(steps < 20000);
    const Step step = *StepGen();
    switch (step) {
      case Step::kForward: {
        const uint64_t n =
            *rc::gen::inRange<uint64_t>(1, std::min(max_chunk, size - committed) + 1);
        auto r = s.db().WriteChunk(req.from, req.id, committed, sent.substr(committed, n));
        committed += n;
        expect_offset(r);
        break;
      }
      case Step::kResend: {
        // Starts at or before the committed offset; may run past it.
        const uint64_t off = *rc::gen::inRange<uint64_t>(0, committed + 1);
        const uint64_t n = *rc::gen::inRange<uint64_t>(0, std::min(max_chunk, size - off) + 1);
        auto r = s.db().WriteChunk(req.from, req.id, off, sent.substr(off, n));
        committed = std::max(committed, off + n);
        expect_offset(r);
        break;
      }
      case Step::kRestart: {
        s.Restart();
        // A reconnecting client begins again and asks where to go on.
        expect_offset(s.db().BeginUpload(req));
        expect_offset(s.db().UploadOffset(req.from, req.id));
        break;
      }
      case Step::kGap: {
        const uint64_t off = *rc::gen::inRange<uint64_t>(committed + 1, size + 1);
        const uint64_t n = *rc::gen::inRange<uint64_t>(0, std::min(max_chunk, size - off) + 1);
        auto r = s.db().WriteChunk(req.from, req.id, off, sent.substr(off, n));
        RC_ASSERT(r.status().Is(Code::kConflict));
        break;
      }
      case Step::kMismatch: {
        if (committed == 0) break;
        const uint64_t off = *rc::gen::inRange<uint64_t>(0, committed);
        const uint64_t n = *rc::gen::inRange<uint64_t>(1, std::min(max_chunk, size - off) + 1);
        std::string bad(sent.substr(off, n));
        const uint64_t at = *rc::gen::inRange<uint64_t>(off, std::min(committed, off + n));
        bad[at - off] = static_cast<char>(bad[at - off] ^ *rc::gen::inRange(1, 256));
        auto r = s.db().WriteChunk(req.from, req.id, off, bad);
        RC_ASSERT(r.status().Is(Code::kConflict));
        break;
      }
      case Step::kPastEnd: {
        const uint64_t off = *rc::gen::inRange<uint64_t>(0, committed + 1);
        const uint64_t n = size - off + *rc::gen::inRange<uint64_t>(1, 64);
        if (n > max_chunk) break;  // refused for its size already; not this case
        auto r = s.db().WriteChunk(req.from, req.id, off, std::string(n, 'x'));
        RC_ASSERT(r.status().Is(Code::kTooLarge));
        break;
      }
    }
    // Every few steps the store's own account must agree with the model.
    if (steps % 8 == 0) expect_offset(s.db().UploadOffset(req.from, req.id));
  }
}

size_t MaxChunk() { return *rc::gen::element<size_t>(4 * kKiB, 16 * kKiB, 64 * kKiB, 256 * kKiB); }

uint64_t BlobSize() {
  return *rc::gen::weightedOneOf<uint64_t>({{1, rc::gen::just<uint64_t>(0)},
                                            {3, rc::gen::inRange<uint64_t>(1, 8 * kKiB)},
                                            {4, rc::gen::inRange<uint64_t>(1, 1024 * kKiB + 100)}});
}

UploadRequest Declare(const Store& s, std::string_view blob) {
  UploadRequest req;
  req.from = s.a();
  req.to = s.b();
  req.id = MessageId::Random();
  req.topic = "prop";
  req.meta = "m";
  req.length = blob.size();
  req.digest = ReferenceDigest(blob);
  return req;
}

RC_GTEST_PROP(BlobUploadProperty, AnyChunkSequenceCommitsTheOriginal, ()) {
  const uint64_t size = BlobSize();
  const std::string blob = RandomBytes(size, *rc::gen::arbitrary<uint32_t>());
  Store s(MaxChunk());
  const UploadRequest req = Declare(s, blob);
  auto begun = s.db().BeginUpload(req);
  RC_ASSERT(begun.ok());
  RC_ASSERT(begun->offset == 0u);

  RunUpload(s, req, blob);
  if (*rc::gen::inRange(0, 4) == 0) s.Restart();

  auto m = s.db().CommitUpload(req.from, req.id);
  RC_ASSERT(m.ok());
  RC_ASSERT(m->length == size);
  RC_ASSERT(m->digest == ReferenceDigest(blob));
  auto got = s.db().ReadBlob(req.to, req.id);
  RC_ASSERT(got.ok());
  RC_ASSERT(*got == blob);
  // The download path's per-chunk hashes agree with the bytes.
  auto view = s.db().ViewBlob(req.to, req.id);
  RC_ASSERT(view.ok());
  uint64_t pos = 0;
  for (const BlobChunk& c : (*view)->chunks()) {
    RC_ASSERT(c.offset == pos);
    RC_ASSERT(c.xxh3_64 == XXH3_64bits(blob.data() + pos, c.bytes.size()));
    pos += c.bytes.size();
  }
  RC_ASSERT(pos == size);
}

RC_GTEST_PROP(BlobUploadProperty, CorruptedByteIsAlwaysCaughtAtCommit, ()) {
  const uint64_t size = std::max<uint64_t>(BlobSize(), 1);
  const std::string blob = RandomBytes(size, *rc::gen::arbitrary<uint32_t>());
  const uint64_t at = *rc::gen::inRange<uint64_t>(0, size);
  std::string corrupted = blob;
  corrupted[at] = static_cast<char>(corrupted[at] ^ *rc::gen::inRange(1, 256));
  Store s(MaxChunk());
  const UploadRequest req = Declare(s, blob);  // declares the original's digest
  RC_ASSERT(s.db().BeginUpload(req).ok());

  // The client sends the corrupted copy throughout (its resends agree with
  // what it sent before, so they are accepted).
  RunUpload(s, req, corrupted);
  // Once stored, the bad byte cannot be repaired by a resend of the original.
  const uint64_t max_chunk = s.db().options().max_chunk_size;
  const uint64_t off = at - std::min<uint64_t>(at, *rc::gen::inRange<uint64_t>(0, max_chunk));
  const uint64_t n = std::min<uint64_t>(max_chunk, size - off);
  RC_ASSERT(s.db()
                .WriteChunk(req.from, req.id, off, std::string_view(blob).substr(off, n))
                .status()
                .Is(Code::kConflict));
  if (*rc::gen::inRange(0, 4) == 0) s.Restart();

  auto m = s.db().CommitUpload(req.from, req.id);
  RC_ASSERT(m.status().Is(Code::kDigestMismatch));
  // Nothing of the upload is kept.
  RC_ASSERT(s.db().UploadOffset(req.from, req.id).status().Is(Code::kNotFound));
  RC_ASSERT(s.db().GetMessage(req.to, req.id).status().Is(Code::kNotFound));
  auto stats = s.db().Stats();
  RC_ASSERT(stats.ok());
  RC_ASSERT(stats->blob_chunks == 0u);
  RC_ASSERT(stats->messages == 0u);
}

}  // namespace
}  // namespace postbox
