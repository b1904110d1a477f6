// Issue 11, read-your-writes within a session: a request that reads the store
// waits for every write its session sent before it (wire/PROTOCOL.md
// "Read-your-writes"), across turns and EOF; other sessions' reads do not
// wait; ServerOptions::read_your_writes = false keeps reads immediate.
#include <sys/socket.h>

#include <map>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

// A reply that owns its bytes: RawConn::Read's message views its decoder's
// buffer, which the next Read reuses.
struct Reply {
  uint64_t rid = 0;
  wire::AnyMessage msg;
  std::shared_ptr<wire::FrameDecoder> bytes;  // what msg's views point into
};
using Replies = std::vector<Reply>;

Reply Own(uint64_t rid, const wire::AnyMessage& m) {
  std::vector<uint8_t> frame;
  wire::Encoder enc;
  std::visit([&](const auto& x) { EXPECT_TRUE(enc.Encode(rid, x, &frame).ok()); }, m);
  Reply r{rid, {}, std::make_shared<wire::FrameDecoder>()};
  r.bytes->Feed(frame);
  wire::Frame f;
  EXPECT_EQ(r.bytes->Next(&f), wire::FrameDecoder::Progress::kFrame);
  EXPECT_TRUE(wire::DecodeAny(f, &r.msg).ok());
  return r;
}

// Reads `n` frames (failing the test if fewer arrive within the timeout).
Replies ReadN(RawConn& c, size_t n) {
  Replies out;
  uint64_t rid = 0;
  while (out.size() < n) {
    auto m = c.Read(&rid);
    if (!m) {
      ADD_FAILURE() << "only " << out.size() << " of " << n << " replies arrived";
      break;
    }
    out.push_back(Own(rid, *m));
  }
  return out;
}

// The position of request `rid`'s reply in `r` (r.size() if absent).
size_t IndexOf(const Replies& r, uint64_t rid) {
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].rid == rid) return i;
  }
  return r.size();
}

// Appends the encoding of frame `m` with request id `rid` to `out`.
template <class M>
void Append(std::vector<uint8_t>* out, uint64_t rid, const M& m) {
  // Raw, as a session that declared no compression in its Hello must send.
  wire::Encoder enc(wire::EncoderOptions{.peer = wire::kNoCompression});
  ASSERT_TRUE(enc.Encode(rid, m, out).ok());
}

class ReadYourWritesTest : public SyncTest {
 protected:
  void SetUp() override {}  // each test starts the server with its own options

  std::unique_ptr<RawConn> Session(const MailboxCredentials& c) {
    return SaidHello(server_->port(), c);
  }

  // `n` puts of 64 KiB values with request ids from `first_rid`: writes that
  // keep the group commit busy, so that a read sent after them would overtake
  // them if nothing held it.
  static void AppendLoad(std::vector<uint8_t>* out, uint64_t first_rid, int n) {
    const std::string value(64 * 1024, 'x');
    for (int i = 0; i < n; ++i) {
      Append(out, first_rid + static_cast<uint64_t>(i),
             wire::EntryPut{"load" + std::to_string(i), value, 0});
    }
  }

  // Sends `load` puts (AppendLoad), then EntryPut{k, value} as request 2 and
  // EntryGet{k} as request 3 in one write.
  static void SendPutThenGet(RawConn& c, int load, std::string_view value) {
    std::vector<uint8_t> bytes;
    AppendLoad(&bytes, 100, load);
    Append(&bytes, 2, wire::EntryPut{"k", value, 0});
    Append(&bytes, 3, wire::EntryGet{"k"});
    ASSERT_TRUE(c.SendBytes(bytes));
  }
};

// The case: EntryPut then EntryGet of the same key, pipelined in one
// write behind other writes, answers the put's value, after the put's Ok.
TEST_F(ReadYourWritesTest, PipelinedPutThenGetSeesThePut) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  auto c = Session(a);
  SendPutThenGet(*c, 50, "the put's value");
  const Replies r = ReadN(*c, 52);
  const size_t put = IndexOf(r, 2), get = IndexOf(r, 3);
  ASSERT_LT(get, r.size());
  const auto* v = std::get_if<wire::EntryValue>(&r[get].msg);
  ASSERT_NE(v, nullptr) << "EntryGet after EntryPut did not find the key";
  EXPECT_EQ(v->entry.value, "the put's value");
  EXPECT_EQ(v->entry.version, 1u);
  EXPECT_LT(put, get) << "the read's reply overtook the write's";
}

// A put and a delete, then a poll: the poll's packet holds both.
TEST_F(ReadYourWritesTest, PipelinedPutDeletePollSeesBoth) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  ASSERT_TRUE(db_->PutEntry(a.mkey, "old", "v", 0).ok());
  auto c = Session(a);
  std::vector<uint8_t> bytes;
  AppendLoad(&bytes, 100, 10);  // 640 KiB: the poll's packet holds it all
  Append(&bytes, 2, wire::EntryPut{"new", "n", 0});
  Append(&bytes, 3, wire::EntryDelete{"old", 0});
  Append(&bytes, 4, wire::Poll{0, 4096});
  ASSERT_TRUE(c->SendBytes(bytes));
  const Replies r = ReadN(*c, 13);
  const size_t poll = IndexOf(r, 4);
  ASSERT_LT(poll, r.size());
  const auto* p = std::get_if<wire::InfoPacket>(&r[poll].msg);
  ASSERT_NE(p, nullptr);
  bool put_seen = false, delete_seen = false;
  for (const auto& e : p->entries) put_seen |= e.key == "new" && e.value == "n";
  for (const auto& t : p->tombstones) delete_seen |= t.key == "old";
  EXPECT_TRUE(put_seen) << "the poll missed the pipelined put";
  EXPECT_TRUE(delete_seen) << "the poll missed the pipelined delete";
}

// Every kind of read waits: EntryList, ConnectionList, UploadQueryOffset and
// DownloadRequest answer after the writes sent before them.
TEST_F(ReadYourWritesTest, EveryReadWaitsForTheWritesBeforeIt) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  auto c = Session(a);
  const std::string blob = "a small blob";
  wire::UploadBegin begin;
  const MessageId id = MessageId::Random();
  std::memcpy(begin.id.data(), id.bytes.data(), 16);
  std::memcpy(begin.to.data(), b.mkey.bytes.data(), 16);
  begin.length = blob.size();
  begin.digest = ComputeDigest128(blob);
  std::vector<uint8_t> bytes;
  AppendLoad(&bytes, 100, 20);
  Append(&bytes, 2, wire::EntryPut{"list/k", "v", 0});
  Append(&bytes, 3, wire::EntryList{"list/", "", 0});
  const MailboxKey stranger = MailboxKey::Random();
  wire::ConnectionAdd add;
  std::memcpy(add.peer.data(), stranger.bytes.data(), 16);
  Append(&bytes, 4, add);
  Append(&bytes, 5, wire::ConnectionList{std::nullopt, 0, wire::ConnectionListKind::kRequested});
  Append(&bytes, 6, begin);
  Append(&bytes, 7, wire::UploadQueryOffset{begin.id});
  Append(&bytes, 8, wire::UploadChunk{begin.id, 0, blob});
  Append(&bytes, 9, wire::UploadCommit{begin.id});
  Append(&bytes, 10, wire::DownloadRequest{begin.id, 0, 0});
  ASSERT_TRUE(c->SendBytes(bytes));
  const Replies r = ReadN(*c, 29);
  auto reply = [&](uint64_t rid) -> const wire::AnyMessage* {
    const size_t i = IndexOf(r, rid);
    return i < r.size() ? &r[i].msg : nullptr;
  };
  const auto* list = std::get_if<wire::EntryListReply>(reply(3));
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->entries.size(), 1u);
  EXPECT_EQ(list->entries[0].key, "list/k");
  const auto* peers = std::get_if<wire::ConnectionListReply>(reply(5));
  ASSERT_NE(peers, nullptr);
  ASSERT_EQ(peers->peers.size(), 1u);
  EXPECT_EQ(std::memcmp(peers->peers[0].data(), stranger.bytes.data(), 16), 0);
  const auto* offset = std::get_if<wire::UploadOffset>(reply(7));
  ASSERT_NE(offset, nullptr) << "UploadQueryOffset did not see the UploadBegin before it";
  EXPECT_EQ(offset->length, blob.size());
  const auto* chunk = std::get_if<wire::DownloadChunk>(reply(10));
  ASSERT_NE(chunk, nullptr) << "DownloadRequest did not see the UploadCommit before it";
  EXPECT_EQ(chunk->data, blob);
}

// Another session's reads do not wait for this session's writes: while A's
// writes are still being committed (A's held read not yet answered), B's read
// is answered.
TEST_F(ReadYourWritesTest, OtherSessionsReadsDoNotWait) {
  ServerOptions so;
  so.threads = 1;        // both sessions on one loop
  so.max_batch_ops = 1;  // one commit per write: A's writes take a while
  StartServer(so);
  const auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->PutEntry(b.mkey, "b", "bv", 0).ok());
  auto ca = Session(a), cb = Session(b);
  std::vector<uint8_t> bytes;
  constexpr int kLoad = 300;
  AppendLoad(&bytes, 100, kLoad);
  Append(&bytes, 2, wire::EntryGet{"load0"});
  ASSERT_TRUE(ca->SendBytes(bytes));
  const uint64_t before = server_->stats().committed_ops;
  ASSERT_TRUE(cb->Send(3, wire::EntryGet{"b"}));
  uint64_t rid = 0;
  auto m = cb->Read(&rid);
  // Read at once, so that A's commits are the ones not yet done.
  const uint64_t committed = server_->stats().committed_ops;
  ASSERT_TRUE(m && std::holds_alternative<wire::EntryValue>(*m));
  EXPECT_EQ(rid, 3u);
  EXPECT_LT(committed - before, static_cast<uint64_t>(kLoad))
      << "B's read was answered only after all of A's writes";
  // A's read is answered after all of its writes, with the first one's value.
  const Replies r = ReadN(*ca, kLoad + 1);
  ASSERT_EQ(IndexOf(r, 2), static_cast<size_t>(kLoad));
  EXPECT_TRUE(std::holds_alternative<wire::EntryValue>(r.back().msg));
}

// read_your_writes = false: reads are answered at once, so a pipelined get
// behind a busy writer overtakes the put before it (the old behaviour).
TEST_F(ReadYourWritesTest, OffAnswersReadsAtOnce) {
  ServerOptions so;
  so.read_your_writes = false;
  StartServer(so);
  const auto a = NewMailbox();
  auto c = Session(a);
  SendPutThenGet(*c, 200, "v");
  const Replies r = ReadN(*c, 202);
  const size_t put = IndexOf(r, 2), get = IndexOf(r, 3);
  ASSERT_LT(get, r.size());
  EXPECT_LT(get, put) << "the read waited although read_your_writes is off";
  const auto* e = std::get_if<wire::ErrorReply>(&r[get].msg);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, 404);
}

// Many put/get pairs in one write cross the turn budget
// (Session::kFramesPerTurn): each get sees its own put, and nothing is lost or
// reordered.
TEST_F(ReadYourWritesTest, HeldReadsAcrossTurnsKeepOrder) {
  ServerOptions so;
  so.threads = 1;
  StartServer(so);
  const auto a = NewMailbox();
  auto c = Session(a);
  std::vector<uint8_t> bytes;
  constexpr int kPairs = 150;
  // Pings first, so that a held read falls on a turn boundary too.
  for (int i = 0; i < 63; ++i) Append(&bytes, 1000 + i, wire::Ping{static_cast<uint64_t>(i)});
  for (int i = 0; i < kPairs; ++i) {
    const std::string key = "k" + std::to_string(i);
    Append(&bytes, 2 + 2 * i, wire::EntryPut{key, "v" + std::to_string(i), 0});
    Append(&bytes, 3 + 2 * i, wire::EntryGet{key});
  }
  ASSERT_TRUE(c->SendBytes(bytes));
  const Replies r = ReadN(*c, 63 + 2 * kPairs);
  for (int i = 0; i < kPairs; ++i) {
    const size_t get = IndexOf(r, 3 + 2 * i);
    ASSERT_LT(get, r.size());
    const auto* v = std::get_if<wire::EntryValue>(&r[get].msg);
    ASSERT_NE(v, nullptr) << "get " << i;
    EXPECT_EQ(v->entry.value, "v" + std::to_string(i));
    EXPECT_LT(IndexOf(r, 2 + 2 * i), get);
    if (i > 0) {
      EXPECT_LT(IndexOf(r, 1 + 2 * i), get) << "replies to reads out of order";
    }
  }
  EXPECT_GE(server_->stats().turn_yields, 1u);
}

// A client that shuts down its sending side right after put + get gets both
// replies, the get seeing the put, then the close.
TEST_F(ReadYourWritesTest, HeldReadIsAnsweredAfterEof) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  auto c = Session(a);
  SendPutThenGet(*c, 20, "v");
  shutdown(c->fd(), SHUT_WR);
  Replies r;
  uint64_t rid = 0;
  while (auto m = c->Read(&rid)) r.push_back(Own(rid, *m));
  ASSERT_EQ(r.size(), 22u);
  const size_t get = IndexOf(r, 3);
  ASSERT_LT(get, r.size());
  EXPECT_TRUE(std::holds_alternative<wire::EntryValue>(r[get].msg));
}

}  // namespace
}  // namespace postbox::sync::testing
