// Issue 10, the server against hostile and careless clients: deadlines on
// Hello and on frames, replies that survive a malformed frame, replies paged to
// the frame limit, bounded memory, download-stream caps, ended sessions of
// deleted mailboxes, and connections by consent over the wire.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Waits until the server closes `c`, calling `each` every 50 ms meanwhile and
// discarding what arrives; true if it closed within `limit`.
bool ClosedWithin(RawConn& c, std::chrono::milliseconds limit,
                  const std::function<void()>& each = {}) {
  const auto deadline = Clock::now() + limit;
  uint8_t buf[65536];
  while (Clock::now() < deadline) {
    if (each) each();
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      const ssize_t n = recv(c.fd(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
  }
  return false;
}

// Every frame until the server closes the connection (or 5 s pass).
std::vector<std::pair<uint64_t, wire::AnyMessage>> ReadUntilClosed(RawConn& c) {
  std::vector<std::pair<uint64_t, wire::AnyMessage>> frames;
  uint64_t rid = 0;
  while (auto m = c.Read(&rid)) frames.emplace_back(rid, std::move(*m));
  return frames;
}

class HardeningTest : public SyncTest {
 protected:
  void SetUp() override {}  // each test starts the server with its own options
};

// A connection that never completes Hello is closed at hello_timeout, and
// Pings (which the server answers) do not keep it alive.
TEST_F(HardeningTest, HelloDeadlineClosesAConnectionThatOnlyPings) {
  ServerOptions so;
  so.hello_timeout = 300ms;
  StartServer(so);
  RawConn c(server_->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(1, wire::Ping{7}));
  auto pong = c.Read();
  ASSERT_TRUE(pong && std::holds_alternative<wire::Pong>(*pong))
      << "a Ping before Hello is answered";
  const auto start = Clock::now();
  EXPECT_TRUE(ClosedWithin(c, 5s, [&] { c.Send(2, wire::Ping{8}); }));
  EXPECT_GE(Clock::now() - start, 150ms) << "closed long before the deadline";
  EXPECT_GE(server_->stats().timeouts, 1u);
}

// Slowloris: connections trickling bytes held every slot of max_connections
// for ever. The Hello deadline and the frame deadline free the slots.
TEST_F(HardeningTest, TricklingConnectionsCannotHoldEverySlot) {
  ServerOptions so;
  so.max_connections = 4;
  so.hello_timeout = 400ms;
  so.frame_timeout = 400ms;
  StartServer(so);
  const auto a = NewMailbox();
  // Three trickle a Hello one byte at a time; one says Hello, then trickles a Poll.
  std::vector<uint8_t> hello;
  wire::Encoder enc;
  ASSERT_TRUE(enc.Encode(1, HelloFor(a), &hello).ok());
  std::vector<uint8_t> poll;
  ASSERT_TRUE(enc.Encode(2, wire::Poll{0, 0}, &poll).ok());
  std::vector<std::unique_ptr<RawConn>> trickle;
  for (int i = 0; i < 3; ++i) trickle.push_back(std::make_unique<RawConn>(server_->port()));
  auto authed = std::make_unique<RawConn>(server_->port());
  ASSERT_TRUE(authed->Send(1, HelloFor(a)));
  auto reply = authed->Read();
  ASSERT_TRUE(reply && std::holds_alternative<wire::HelloReply>(*reply));
  size_t sent = 0;
  auto drip = [&] {
    if (sent < hello.size()) {
      for (auto& t : trickle) t->SendBytes({hello[sent]});
    }
    if (sent < poll.size()) authed->SendBytes({poll[sent]});
    ++sent;
  };
  // All four slots are taken: a fifth connection is refused with 503.
  {
    RawConn refused(server_->port());
    auto e = refused.Read();
    ASSERT_TRUE(e && std::holds_alternative<wire::ErrorReply>(*e));
    EXPECT_EQ(std::get<wire::ErrorReply>(*e).code, 503);
  }
  for (auto& t : trickle) EXPECT_TRUE(ClosedWithin(*t, 5s, drip));
  EXPECT_TRUE(ClosedWithin(*authed, 5s, drip));
  // The server frees a slot when its close of the socket completes, which can
  // come just after the peer saw EOF (it failed once under load): wait for it.
  for (int i = 0; i < 500 && server_->stats().sessions != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_->stats().sessions, 0u);
  // The slots are free again: a well-behaved client is served.
  auto client = Connected(OptionsFor(a));
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Poll(0).ok());
}

// A valid put followed in the same write by garbage: the put commits, and its
// Ok arrives before the session closes (a retried version-0 put would
// otherwise apply twice).
TEST_F(HardeningTest, RequestsBeforeAMalformedFrameAreAnswered) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  RawConn c(server_->port());
  ASSERT_TRUE(c.Send(1, HelloFor(a)));
  ASSERT_TRUE(c.Read());
  std::vector<uint8_t> bytes;
  wire::Encoder enc;
  ASSERT_TRUE(enc.Encode(7, wire::EntryPut{"k", "v", 0}, &bytes).ok());
  const std::vector<uint8_t> garbage(16, 0xEE);  // reserved byte != 0, unknown type
  bytes.insert(bytes.end(), garbage.begin(), garbage.end());
  ASSERT_TRUE(c.SendBytes(bytes));
  bool ok_seen = false, error_seen = false;
  for (auto& [rid, m] : ReadUntilClosed(c)) {
    if (rid == 7 && std::holds_alternative<wire::Ok>(m)) {
      ok_seen = true;
      EXPECT_EQ(std::get<wire::Ok>(m).version, 1u);
    }
    // The garbage header is readable: its request id is all 0xEE bytes.
    if (auto* e = std::get_if<wire::ErrorReply>(&m); e && rid == 0xEEEEEEEEEEEEEEEEull) {
      error_seen = true;
      EXPECT_EQ(e->code, 400);
    }
  }
  EXPECT_TRUE(ok_seen) << "the committed put was not acknowledged";
  EXPECT_TRUE(error_seen);
  auto e = db_->GetEntry(a.mkey, "k");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->version, 1u);
}

// A client that shuts down its sending side still gets its replies.
TEST_F(HardeningTest, RequestsBeforeEofAreAnswered) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  RawConn c(server_->port());
  ASSERT_TRUE(c.Send(1, HelloFor(a)));
  ASSERT_TRUE(c.Read());
  ASSERT_TRUE(c.Send(9, wire::EntryPut{"k", "v", 0}));
  shutdown(c.fd(), SHUT_WR);
  bool ok_seen = false;
  for (auto& [rid, m] : ReadUntilClosed(c))
    ok_seen |= rid == 9 && std::holds_alternative<wire::Ok>(m);
  EXPECT_TRUE(ok_seen);
}

// A client that writes a thousand requests at once gets them answered in
// order, a turn's worth (Session::kFramesPerTurn) per loop iteration: the
// server yields between turns (libuv would otherwise read up to 32 buffers of
// its socket and handle all of it before any other session on the loop), and
// another session's request is answered meanwhile.
TEST_F(HardeningTest, AFloodingSessionYieldsItsTurnAndLosesNothing) {
  ServerOptions so;
  so.threads = 1;  // both sessions on one loop
  StartServer(so);
  const auto a = NewMailbox(), b = NewMailbox();
  RawConn flood(server_->port()), other(server_->port());
  ASSERT_TRUE(flood.Send(1, HelloFor(a)) && flood.Read());
  ASSERT_TRUE(other.Send(1, HelloFor(b)) && other.Read());
  constexpr uint64_t kRequests = 1000;
  std::vector<uint8_t> burst;
  wire::Encoder enc;
  for (uint64_t i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(enc.Encode(100 + i, wire::Poll{0, 1}, &burst).ok());
  }
  ASSERT_TRUE(flood.SendBytes(burst));
  ASSERT_TRUE(other.Send(7, wire::Ping{42}));
  uint64_t rid = 0;
  auto pong = other.Read(&rid);
  ASSERT_TRUE(pong && std::holds_alternative<wire::Pong>(*pong));
  EXPECT_EQ(rid, 7u);
  for (uint64_t i = 0; i < kRequests; ++i) {
    auto m = flood.Read(&rid);
    ASSERT_TRUE(m && std::holds_alternative<wire::InfoPacket>(*m)) << "reply " << i;
    ASSERT_EQ(rid, 100 + i) << "replies in request order";
  }
  EXPECT_GE(server_->stats().turn_yields, 1u);
}

// 2,500 entries of 600 B: a poll of 2,048 items compresses under the frame
// limit but decompresses over it. The server pages by the uncompressed size.
TEST_F(HardeningTest, PollRepliesFitTheFrameLimitUncompressed) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  WriteBatch batch;
  const std::string value(600, 'x');  // compressible, as real JSON-ish values are
  for (int i = 0; i < 2500; ++i) batch.PutEntry(a.mkey, "key/" + std::to_string(i), value, 0);
  ASSERT_TRUE(server_->Write(&batch).ok());
  auto client = Connected(OptionsFor(a));
  ASSERT_NE(client, nullptr);
  size_t seen = 0;
  uint64_t cursor = 0;
  for (int pages = 0; pages < 100; ++pages) {
    auto p = client->Poll(cursor, 2048);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    seen += p->entries.size();
    cursor = p->cursor;
    if (!p->more) break;
  }
  EXPECT_EQ(seen, 2500u);
}

// 20 legal entries of 60 KB: the list is paged to what fits, with `more`.
TEST_F(HardeningTest, EntryListIsPagedToTheFrameLimit) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  WriteBatch batch;
  for (int i = 0; i < 20; ++i) {
    batch.PutEntry(a.mkey, "big/" + std::to_string(10 + i), RandomBytes(60'000, i), 0);
  }
  ASSERT_TRUE(server_->Write(&batch).ok());
  auto client = Connected(OptionsFor(a));
  ASSERT_NE(client, nullptr);
  std::vector<std::string> keys;
  std::string after;
  for (int pages = 0; pages < 50; ++pages) {
    auto page = client->ListEntries("big/", after);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LT(page->entries.size(), 20u) << "20 × 60 KB cannot fit one 1 MiB frame";
    for (const auto& e : page->entries) keys.push_back(e.key);
    if (!page->more) break;
    after = keys.back();
  }
  ASSERT_EQ(keys.size(), 20u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

// Past max_downloads streams, a DownloadRequest is 429 (and the others go on).
TEST_F(HardeningTest, DownloadStreamsPerSessionAreCapped) {
  ServerOptions so;
  so.max_downloads = 2;
  StartServer(so);
  const auto a = NewMailbox();
  const auto b = NewMailbox();
  std::vector<MessageId> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(Post(a, b, "t" + std::to_string(i), RandomBytes(4 << 20, i)));
  RawConn c(server_->port(), /*rcvbuf=*/64 * 1024);  // a slow reader keeps streams open
  ASSERT_TRUE(c.Send(1, HelloFor(b)));
  ASSERT_TRUE(c.Read());
  for (int i = 0; i < 3; ++i) {
    wire::DownloadRequest r;
    std::memcpy(r.id.data(), ids[i].bytes.data(), 16);
    ASSERT_TRUE(c.Send(100 + i, r));
  }
  std::optional<uint16_t> third;
  for (int frames = 0; frames < 200 && !third; ++frames) {
    uint64_t rid = 0;
    auto m = c.Read(&rid);
    ASSERT_TRUE(m);
    if (auto* e = std::get_if<wire::ErrorReply>(&*m)) {
      ASSERT_EQ(rid, 102u) << "only the third stream may be refused: " << e->message;
      third = e->code;
    }
  }
  EXPECT_EQ(third, 429);
}

// A client pipelining large puts cannot queue unbounded bytes at the writer:
// past max_inflight_bytes the server stops reading it, and every put is still
// answered.
TEST_F(HardeningTest, PipelinedWritesAreBoundedPerSession) {
  ServerOptions so;
  so.max_inflight_bytes = 1 << 20;
  so.max_inflight_ops = 32;
  StartServer(so);
  const auto a = NewMailbox();
  RawConn c(server_->port());
  ASSERT_TRUE(c.Send(1, HelloFor(a)));
  ASSERT_TRUE(c.Read());
  std::atomic<bool> done{false};
  std::atomic<uint64_t> peak{0};
  std::thread watch([&] {
    while (!done) {
      const uint64_t b = server_->stats().buffered_bytes;
      uint64_t p = peak.load();
      while (b > p && !peak.compare_exchange_weak(p, b)) {
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  const std::string value(60'000, 'v');
  constexpr int kPuts = 300;  // 18 MB of puts
  std::thread sender([&] {
    for (int i = 0; i < kPuts; ++i)
      c.Send(10 + i, wire::EntryPut{"p/" + std::to_string(i), value, 0});
  });
  int oks = 0;
  for (int i = 0; i < kPuts; ++i) {
    auto m = c.Read();
    if (!m) break;
    oks += std::holds_alternative<wire::Ok>(*m);
  }
  sender.join();
  done = true;
  watch.join();
  EXPECT_EQ(oks, kPuts);
  // One session: its queued writes (≤ 1 MiB + one frame), a partly read
  // socket buffer and its replies.
  EXPECT_LT(peak.load(), 4u << 20) << "queued " << peak.load() << " bytes for one session";
}

// Slow readers that pipeline requests and never read hold bounded memory, and
// a well-behaved client keeps its service.
TEST_F(HardeningTest, SlowReadersAreBoundedAndOthersKeepTheirService) {
  ServerOptions so;
  so.max_outbound_bytes = 512 * 1024;
  so.max_frame_payload = 64 * 1024;
  so.max_buffered_bytes = 1 << 20;
  Options o;
  o.max_value_size = 8 * 1024;
  o.max_chunk_size = 32 * 1024;  // every limit must fit the smaller frame
  StartServer(so, o);
  const auto a = NewMailbox();
  WriteBatch batch;
  for (int i = 0; i < 200; ++i)
    batch.PutEntry(a.mkey, "e/" + std::to_string(i), RandomBytes(4000, i), 0);
  ASSERT_TRUE(server_->Write(&batch).ok());
  std::vector<std::unique_ptr<RawConn>> slow;
  for (int s = 0; s < 8; ++s) {
    slow.push_back(std::make_unique<RawConn>(server_->port(), /*rcvbuf=*/4096));
    ASSERT_TRUE(slow.back()->Send(1, HelloFor(a)));
    ASSERT_TRUE(slow.back()->Read());
  }
  // Each asks for far more than max_outbound_bytes of replies, never reading.
  std::vector<std::thread> floods;
  std::atomic<bool> stop{false};
  // The floods end (and are joined) however the test ends: an ASSERT below
  // must fail the test, not terminate the process with threads joinable.
  struct StopFloods {
    std::atomic<bool>* stop;
    std::vector<std::unique_ptr<RawConn>>* slow;
    std::vector<std::thread>* floods;
    ~StopFloods() {
      *stop = true;
      for (auto& s : *slow) shutdown(s->fd(), SHUT_RDWR);
      for (auto& f : *floods) f.join();
    }
  } stop_floods{&stop, &slow, &floods};
  for (auto& s : slow) {
    floods.emplace_back([&, conn = s.get()] {
      for (int i = 0; i < 400 && !stop; ++i) {
        if (!conn->Send(100 + i, wire::Poll{0, 0})) break;  // blocks once the server stops reading
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  // Service, not speed: under a sanitizer on a loaded machine the first
  // Hello behind eight floods can take longer than the default 5 s.
  ClientOptions co = OptionsFor(a);
  co.request_timeout = std::chrono::seconds(30);
  auto client = Connected(co);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto p = client->Poll(0, 10);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
  }
  const uint64_t held = server_->stats().buffered_bytes;
  // Per slow reader: reading stops at a quarter of max_outbound_bytes (128 KiB)
  // plus the replies of the last read (bounded by a socket read's frames).
  EXPECT_LT(held, 8u * (512u << 10)) << "slow readers hold " << held << " bytes";
}

// A deleted mailbox's sessions end at once, whether the deletion went through
// the server or through another handle on the store (postbox-admin).
TEST_F(HardeningTest, DeletedMailboxesLoseTheirSessions) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  const auto b = NewMailbox();
  RawConn ca(server_->port()), cb(server_->port());
  ASSERT_TRUE(ca.Send(1, HelloFor(a)));
  ASSERT_TRUE(cb.Send(1, HelloFor(b)));
  ASSERT_TRUE(ca.Read());
  ASSERT_TRUE(cb.Read());
  WriteBatch del;
  del.DeleteMailbox(a.mkey);
  ASSERT_TRUE(server_->Write(&del).ok());
  auto e = ca.Read();
  ASSERT_TRUE(e && std::holds_alternative<wire::ErrorReply>(*e));
  EXPECT_EQ(std::get<wire::ErrorReply>(*e).code, 401);
  EXPECT_TRUE(ClosedWithin(ca, 3s));
  // Not through the server: noticed at the next housekeeping tick.
  ASSERT_TRUE(db_->DeleteMailbox(b.mkey).ok());
  EXPECT_TRUE(ClosedWithin(cb, 5s));
}

// SPEC §2 over the wire: a connection needs both sides, and nothing tells a
// client whether a mailbox it names exists.
TEST_F(HardeningTest, ConnectionsNeedConsentAndRevealNothing) {
  StartServer(ServerOptions{});
  const auto a = NewMailbox();
  const auto b = NewMailbox();
  const MailboxKey ghost = MailboxKey::Random();
  auto ca = Connected(OptionsFor(a));
  auto cb = Connected(OptionsFor(b));
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(cb, nullptr);
  auto to_b = ca->AddConnection(b.mkey);
  auto to_ghost = ca->AddConnection(ghost);
  ASSERT_TRUE(to_b.ok() && to_ghost.ok());
  EXPECT_EQ(*to_b, ConnectionState::kRequested);
  EXPECT_EQ(*to_ghost, ConnectionState::kRequested);
  // Posting needs the connection; an unknown recipient answers the same.
  const std::string blob = "bytes";
  auto upload = [&](const MailboxKey& to) {
    auto src = MemorySource(blob);
    UploadSpec spec;
    spec.to = to;
    spec.id = MessageId::Random();
    return ca->Upload(src.get(), spec);
  };
  EXPECT_EQ(upload(b.mkey).code(), Code::kPermissionDenied);
  EXPECT_EQ(upload(ghost).code(), Code::kPermissionDenied);
  auto incoming = cb->ListConnections(std::nullopt, 0, ConnectionListKind::kIncoming);
  ASSERT_TRUE(incoming.ok());
  EXPECT_EQ(incoming->peers, std::vector<MailboxKey>{a.mkey});
  auto accepted = cb->AddConnection(a.mkey);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(*accepted, ConnectionState::kConnected);
  EXPECT_TRUE(upload(b.mkey).ok());
  auto connected = ca->ListConnections();
  ASSERT_TRUE(connected.ok());
  EXPECT_EQ(connected->peers, std::vector<MailboxKey>{b.mkey});
  auto pending = ca->ListConnections(std::nullopt, 0, ConnectionListKind::kRequested);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->peers, std::vector<MailboxKey>{ghost});
  // Removing what does not exist, or naming a mailbox that does not exist, is Ok.
  EXPECT_TRUE(ca->RemoveConnection(MailboxKey::Random()).ok());
  EXPECT_TRUE(ca->RemoveConnection(ghost).ok());
}

// A configuration under which a maximal item cannot fit a frame is refused at
// start, instead of every reply carrying such an item failing with 500.
TEST_F(HardeningTest, ConfigurationsThatCannotFitAFrameAreRefused) {
  Options o;
  o.max_value_size = 2 << 20;
  auto db = DB::Open((dir_.path() / "big").string(), o);
  ASSERT_TRUE(db.ok());
  ServerOptions so;
  so.port = 0;
  auto s = Server::Start(db->get(), so);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("max_value_size"), std::string::npos)
      << s.status().ToString();
  // An output bound below two frames would cut every session that reads one.
  auto small = DB::Open((dir_.path() / "small").string(), Options{});
  ASSERT_TRUE(small.ok());
  so.max_outbound_bytes = 1 << 20;
  auto s2 = Server::Start(small->get(), so);
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.status().message().find("max_outbound_bytes"), std::string::npos);
}

}  // namespace
}  // namespace postbox::sync::testing

namespace postbox::sync::testing {
namespace {

// Nothing else ever called Sweep or PurgeTombstones: abandoned uploads and
// tombstones piled up for ever. The writer runs both in bounded batches.
TEST_F(HardeningTest, TheServerSweepsUploadsAndPurgesTombstonesItself) {
  ServerOptions so;
  so.maintenance_interval = 50ms;
  so.sweep_batch = 1;  // three uploads: the sweep must continue across commits
  Options o;
  o.upload_ttl = 300ms;
  o.tombstone_horizon = 300ms;
  StartServer(so, o);
  const auto a = NewMailbox();
  const auto b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  RawConn c(server_->port());
  ASSERT_TRUE(c.Send(1, HelloFor(a)));
  ASSERT_TRUE(c.Read());
  std::vector<wire::Bytes16> ids;
  for (int i = 0; i < 3; ++i) {
    wire::UploadBegin begin;
    const MessageId id = MessageId::Random();
    std::memcpy(begin.id.data(), id.bytes.data(), 16);
    std::memcpy(begin.to.data(), b.mkey.bytes.data(), 16);
    begin.length = 1000;
    ASSERT_TRUE(c.Send(10 + i, begin));
    auto reply = c.Read();
    ASSERT_TRUE(reply && std::holds_alternative<wire::UploadOffset>(*reply));
    ASSERT_TRUE(c.Send(20 + i, wire::UploadChunk{begin.id, 0, "0123456789"}));
    ASSERT_TRUE(c.Read());
    ids.push_back(begin.id);
  }
  ASSERT_TRUE(c.Send(30, wire::EntryPut{"gone", "soon", 0}));
  ASSERT_TRUE(c.Read());
  ASSERT_TRUE(c.Send(31, wire::EntryDelete{"gone", 0}));
  ASSERT_TRUE(c.Read());
  const auto deadline = Clock::now() + 10s;
  while ((server_->stats().uploads_swept < 3 || server_->stats().tombstones_purged < 1) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // polling counters
  }
  EXPECT_EQ(server_->stats().uploads_swept, 3u);
  EXPECT_GE(server_->stats().tombstones_purged, 1u);
  for (const auto& id : ids) {
    ASSERT_TRUE(c.Send(40, wire::UploadQueryOffset{id}));
    auto r = c.Read();
    ASSERT_TRUE(r && std::holds_alternative<wire::ErrorReply>(*r));
    EXPECT_EQ(std::get<wire::ErrorReply>(*r).code, 404);
  }
  auto stats = db_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->blob_chunks, 0u);
}

// Entry puts are deferred writes (docs/durability.md): once writes pause, the
// writer folds them into the tables itself, so the next post does not wait
// for the fold; with idle_checkpoint 0 they stay pending until such a write.
TEST_F(HardeningTest, TheWriterFoldsDeferredWritesWhenIdle) {
  for (const auto idle : {50ms, 0ms}) {
    ServerOptions so;
    so.idle_checkpoint = idle;
    so.maintenance_interval = 0ms;  // no other write
    StartServer(so);
    const auto a = NewMailbox();
    ASSERT_EQ(db_->pending_bytes(), 0u);
    RawConn c(server_->port());
    ASSERT_TRUE(c.Send(1, HelloFor(a)));
    ASSERT_TRUE(c.Read());
    ASSERT_TRUE(c.Send(2, wire::EntryPut{"k", "v", 0}));
    auto reply = c.Read();
    ASSERT_TRUE(reply && std::holds_alternative<wire::Ok>(*reply));
    const auto deadline = Clock::now() + 10s;
    while (idle.count() > 0 && db_->pending_bytes() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);  // polling the store
    }
    if (idle.count() > 0) {
      EXPECT_EQ(db_->pending_bytes(), 0u) << "not folded while idle";
    } else {
      std::this_thread::sleep_for(200ms);
      EXPECT_GT(db_->pending_bytes(), 0u) << "folded although idle_checkpoint is 0";
    }
    auto got = db_->GetEntry(a.mkey, "k");  // folded or not, the same answer
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->value, "v");
  }
}

}  // namespace
}  // namespace postbox::sync::testing
