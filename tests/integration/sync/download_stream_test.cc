// Issue 6, the server's side of downloads spoken by hand (wire/PROTOCOL.md
// "Blob transfer"): a stream of chunks per request, each with its XXH3-64 and
// the blob's digest; a message superseded in the middle of a download answers
// 410 at the next chunk; empty ranges; bad offsets; a new request for the same
// id replaces the stream.
#include <xxhash.h>

#include <cstring>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

constexpr uint64_t kMiB = 1u << 20;

std::string Pattern(size_t n, uint8_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return s;
}

class DownloadStreamTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    a_ = NewMailbox();
    b_ = NewMailbox();
  }

  // Posts `bytes` from a to b through the server; returns its id.
  MessageId PostBytes(const std::string& bytes) { return Post(a_, b_, "video", bytes); }

  // A raw session of b, past Hello.
  std::unique_ptr<RawConn> RawB(int rcvbuf = 0) {
    auto raw = std::make_unique<RawConn>(server_->port(), rcvbuf);
    EXPECT_TRUE(raw->connected());
    EXPECT_TRUE(raw->Send(1, HelloFor(b_)));
    auto reply = raw->Read();
    EXPECT_TRUE(reply && std::holds_alternative<wire::HelloReply>(*reply));
    return raw;
  }

  static wire::DownloadRequest Request(const MessageId& id, uint64_t offset, uint64_t length) {
    wire::DownloadRequest r;
    std::memcpy(r.id.data(), id.bytes.data(), 16);
    r.offset = offset;
    r.length = length;
    return r;
  }

  MailboxCredentials a_, b_;
};

// Reads frames of request `rid` (skipping others) until an error or the chunk
// that reaches `end`; appends the verified data to *out. Returns the error
// code (0 if the stream completed).
uint16_t ReadStream(RawConn& raw, uint64_t rid, uint64_t offset, uint64_t end, std::string* out,
                    wire::Bytes16* digest = nullptr) {
  uint64_t next = offset;
  for (;;) {
    uint64_t got_rid = 0;
    auto m = raw.Read(&got_rid);
    if (!m) {
      ADD_FAILURE() << "the stream stopped without an end or an error at " << next;
      return 0;
    }
    if (got_rid != rid) continue;
    if (auto* e = std::get_if<wire::ErrorReply>(&*m)) return e->code;
    auto* c = std::get_if<wire::DownloadChunk>(&*m);
    if (c == nullptr) {
      ADD_FAILURE() << "unexpected reply in a download stream";
      return 0;
    }
    EXPECT_EQ(c->offset, next);
    EXPECT_TRUE(wire::VerifyChunkDigest(*c)) << "chunk at " << c->offset;
    EXPECT_LE(c->data.size(), 256u * 1024);
    EXPECT_TRUE(c->digest.has_value());
    if (digest && c->digest) *digest = *c->digest;
    out->append(c->data);
    next += c->data.size();
    if (next >= std::min(end, c->total_length)) return 0;
    if (c->data.empty()) {
      ADD_FAILURE() << "an empty chunk before the end";
      return 0;
    }
  }
}

TEST_F(DownloadStreamTest, StreamsARangeInVerifiedChunksWithTheBlobDigest) {
  const std::string blob = Pattern(3 * kMiB + 12345, 7);
  const MessageId id = PostBytes(blob);
  auto raw = RawB();
  // The whole blob.
  std::string got;
  wire::Bytes16 digest{};
  ASSERT_TRUE(raw->Send(5, Request(id, 0, 0)));
  EXPECT_EQ(ReadStream(*raw, 5, 0, UINT64_MAX, &got, &digest), 0);
  EXPECT_EQ(got, blob);
  const Digest128 want = ComputeDigest128(blob);
  EXPECT_EQ(std::memcmp(digest.data(), want.data(), 16), 0);
  // An unaligned middle range (a resumed download).
  got.clear();
  ASSERT_TRUE(raw->Send(6, Request(id, 300001, 700000)));
  EXPECT_EQ(ReadStream(*raw, 6, 300001, 1000001, &got), 0);
  EXPECT_EQ(got, blob.substr(300001, 700000));
}

TEST_F(DownloadStreamTest, EmptyRangesGetOneEmptyChunkAndOffsetsPastTheEnd400) {
  const std::string blob = Pattern(1000, 1);
  const MessageId id = PostBytes(blob);
  // From another sender: a's next message would supersede `id`.
  const MessageId empty = Post(NewMailbox(), b_, "", "");
  auto raw = RawB();
  for (auto [rid, mid, offset] : {std::tuple{7u, id, uint64_t{1000}}, {8u, empty, uint64_t{0}}}) {
    ASSERT_TRUE(raw->Send(rid, Request(mid, offset, 0)));
    uint64_t got_rid = 0;
    auto m = raw->Read(&got_rid);
    ASSERT_TRUE(m);
    EXPECT_EQ(got_rid, rid);
    auto* c = std::get_if<wire::DownloadChunk>(&*m);
    ASSERT_NE(c, nullptr) << "request " << rid << ": error " << std::get<wire::ErrorReply>(*m).code
                          << " " << std::get<wire::ErrorReply>(*m).message;
    EXPECT_EQ(c->offset, offset);
    EXPECT_TRUE(c->data.empty());
    EXPECT_TRUE(wire::VerifyChunkDigest(*c));
  }
  ASSERT_TRUE(raw->Send(9, Request(id, 1001, 0)));
  auto m = raw->Read();
  ASSERT_TRUE(m && std::holds_alternative<wire::ErrorReply>(*m));
  EXPECT_EQ(std::get<wire::ErrorReply>(*m).code, 400);
}

// The field bug at the wire level: the sender replaces the message while the
// recipient is in the middle of downloading it. The server holds at most a
// little output per session, so the rest of the stream is read after the
// replacement, and the next chunk is a 410 — not stale bytes, not a hang.
TEST_F(DownloadStreamTest, SupersededMidDownloadAnswers410AtTheNextChunk) {
  const std::string blob = Pattern(32 * kMiB, 3);
  const MessageId vid1 = PostBytes(blob);
  auto raw = RawB(/*rcvbuf=*/64 * 1024);
  ASSERT_TRUE(raw->Send(11, Request(vid1, 0, 0)));
  // Let the server fill the socket and stop at its high-water mark.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const MessageId vid2 = PostBytes(Pattern(1000, 9));
  std::string got;
  EXPECT_EQ(ReadStream(*raw, 11, 0, UINT64_MAX, &got), 410);
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), blob.size()) << "the whole superseded blob was streamed";
  EXPECT_EQ(got, blob.substr(0, got.size()));
  // And vid2 downloads.
  std::string v2;
  ASSERT_TRUE(raw->Send(12, Request(vid2, 0, 0)));
  EXPECT_EQ(ReadStream(*raw, 12, 0, UINT64_MAX, &v2), 0);
  EXPECT_EQ(v2, Pattern(1000, 9));
}

TEST_F(DownloadStreamTest, ANewRequestForTheSameIdReplacesTheStream) {
  const std::string blob = Pattern(16 * kMiB, 5);
  const MessageId id = PostBytes(blob);
  auto raw = RawB(/*rcvbuf=*/64 * 1024);
  ASSERT_TRUE(raw->Send(21, Request(id, 0, 0)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Cancel by asking for the empty range at the end: the old stream ends with
  // a 409 after what was already queued of it, and the cancel's one empty
  // chunk comes back.
  ASSERT_TRUE(raw->Send(22, Request(id, blob.size(), 0)));
  uint64_t old_bytes = 0;
  bool old_ended = false;
  for (;;) {
    uint64_t rid = 0;
    auto m = raw->Read(&rid);
    ASSERT_TRUE(m) << "no reply to the cancel";
    if (auto* e = std::get_if<wire::ErrorReply>(&*m)) {
      EXPECT_EQ(rid, 21u);
      EXPECT_EQ(e->code, 409);
      old_ended = true;
      continue;
    }
    auto* c = std::get_if<wire::DownloadChunk>(&*m);
    ASSERT_NE(c, nullptr);
    if (rid == 21) {
      EXPECT_FALSE(old_ended) << "a chunk of the replaced stream after its end";
      old_bytes += c->data.size();
    }
    if (rid == 22) {
      EXPECT_TRUE(c->data.empty());
      break;
    }
  }
  EXPECT_TRUE(old_ended) << "the replaced stream never ended";
  EXPECT_LT(old_bytes, blob.size() / 2);
  // A range of the same id afterwards is served as usual.
  std::string small;
  ASSERT_TRUE(raw->Send(23, Request(id, 100, 50)));
  EXPECT_EQ(ReadStream(*raw, 23, 100, 150, &small), 0);
  EXPECT_EQ(small, blob.substr(100, 50));
}

TEST_F(DownloadStreamTest, StrangersAndUnknownIdsAreRefused) {
  const MessageId id = PostBytes("secret video");
  auto stranger = NewMailbox();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send(1, HelloFor(stranger)));
  ASSERT_TRUE(raw.Read());
  ASSERT_TRUE(raw.Send(2, Request(id, 0, 0)));
  auto m = raw.Read();
  ASSERT_TRUE(m && std::holds_alternative<wire::ErrorReply>(*m));
  EXPECT_EQ(std::get<wire::ErrorReply>(*m).code, 403);
  ASSERT_TRUE(raw.Send(3, Request(MessageId::Random(), 0, 0)));
  m = raw.Read();
  ASSERT_TRUE(m && std::holds_alternative<wire::ErrorReply>(*m));
  EXPECT_EQ(std::get<wire::ErrorReply>(*m).code, 404);
}

}  // namespace
}  // namespace postbox::sync::testing
