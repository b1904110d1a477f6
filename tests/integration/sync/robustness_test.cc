// Issue 5, integration tests 5 and 7: malformed frames get 400 (or 413) and
// the session ends while well-behaved clients carry on; a client that never
// reads is cut off while the others keep their latency. Plus the connection
// cap, ping/pong and graceful stop.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

uint16_t ErrorCodeOf(const std::optional<wire::AnyMessage>& m) {
  if (!m) return 0;
  auto* e = std::get_if<wire::ErrorReply>(&*m);
  return e ? e->code : 0;
}

std::vector<uint8_t> Header(uint32_t length, uint16_t type, uint8_t flags = 0) {
  std::vector<uint8_t> b(wire::kFrameHeaderSize);
  wire::WriteFrameHeader({length, type, flags, 0, 7}, b.data());
  return b;
}

TEST_F(SyncTest, BadFramesGetAnErrorAndCloseWhileOthersCarryOn) {
  auto a = NewMailbox();
  auto good = Connected(OptionsFor(a));
  ASSERT_TRUE(good);
  std::atomic<bool> stop{false};
  std::atomic<int> good_errors{0}, good_ops{0};
  std::thread well_behaved([&] {
    for (int i = 0; !stop; ++i) {
      if (!good->PutEntry("k", std::to_string(i)).ok()) ++good_errors;
      if (!good->GetEntry("k").ok()) ++good_errors;
      ++good_ops;
    }
  });

  // Garbage: an impossible header.
  {
    RawConn raw(server_->port());
    std::vector<uint8_t> junk(64, 0xAB);
    ASSERT_TRUE(raw.SendBytes(junk));
    EXPECT_EQ(ErrorCodeOf(raw.Read()), 400);
    EXPECT_TRUE(raw.WaitClosed());
  }
  // Oversize: a declared payload above the frame limit.
  {
    RawConn raw(server_->port());
    ASSERT_TRUE(raw.SendBytes(Header(64u << 20, 3)));
    EXPECT_EQ(ErrorCodeOf(raw.Read()), 413);
    EXPECT_TRUE(raw.WaitClosed());
  }
  // Truncated: a Poll frame whose payload is cut short of a valid FlatBuffer.
  {
    RawConn raw(server_->port());
    auto b = Header(8, static_cast<uint16_t>(wire::MessageType::kPoll));
    b.insert(b.end(), {4, 0, 0, 0, 0, 0, 0, 0});
    ASSERT_TRUE(raw.SendBytes(b));
    EXPECT_EQ(ErrorCodeOf(raw.Read()), 400);
    EXPECT_TRUE(raw.WaitClosed());
  }
  // An unknown message type, after a valid Hello.
  {
    RawConn raw(server_->port());
    ASSERT_TRUE(raw.Send(1, HelloFor(a)));
    ASSERT_TRUE(raw.Read().has_value());
    ASSERT_TRUE(raw.SendBytes(Header(0, 999)));
    EXPECT_EQ(ErrorCodeOf(raw.Read()), 400);
    EXPECT_TRUE(raw.WaitClosed());
  }
  // A request before Hello.
  {
    RawConn raw(server_->port());
    ASSERT_TRUE(raw.Send(5, wire::Poll{0, 0}));
    EXPECT_EQ(ErrorCodeOf(raw.Read()), 401);
    EXPECT_TRUE(raw.WaitClosed());
  }
  while (good_ops < 20) std::this_thread::yield();
  stop = true;
  well_behaved.join();
  EXPECT_EQ(good_errors, 0);
  auto e = db_->GetEntry(a.mkey, "k");
  EXPECT_TRUE(e.ok());
}

// 7. A client that sends requests and never reads stops being read once its
// unsent output reaches a quarter of max_outbound_bytes (so it holds bounded
// memory), and is closed when it misses the pong deadline; a normal client's
// round trips stay fast meanwhile.
TEST_F(SyncTest, NeverReadingClientIsCutOffOthersKeepLatency) {
  ServerOptions so;
  so.max_frame_payload = 64 * 1024;
  so.max_outbound_bytes = 256 * 1024;
  so.idle_timeout = std::chrono::milliseconds(300);
  so.pong_timeout = std::chrono::milliseconds(300);
  Options o;
  o.max_value_size = 60000;
  o.max_chunk_size = 32 * 1024;
  server_->Stop();  // SetUp's server and store had the default limits
  server_.reset();
  db_.reset();
  // The store remembers its limits (docs/operations.md): change the one asked for.
  ASSERT_TRUE(DB::ChangeSettings(dir_.path().string(), o, SettingSet{Setting::kMaxValueSize}).ok());
  StartServer(so, o);
  auto a = NewMailbox();
  // Random bytes, so that zstd cannot shrink the replies.
  std::string big(60000, '\0');
  std::mt19937_64 rng(42);
  for (auto& ch : big) ch = static_cast<char>(rng());
  ASSERT_TRUE(db_->PutEntry(a.mkey, "big", big).ok());
  auto good = Connected(OptionsFor(a));
  ASSERT_TRUE(good);

  RawConn hog(server_->port());
  int small = 4096;
  setsockopt(hog.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  ASSERT_TRUE(hog.Send(1, HelloFor(a)));
  // Each reply is 60 KB; the kernel buffers a few MB at most, then the
  // server's queue grows past its cap and it cuts the connection.
  std::thread flood([&] {
    for (uint64_t i = 2; i < 2000; ++i) {
      if (!hog.Send(i, wire::EntryGet{"big"})) break;
    }
  });
  std::vector<double> rtt_ms;
  for (int i = 0; i < 50; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(good->Ping().ok());
    rtt_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // Unread output is bounded by the pause (64 KiB here) plus one read's
  // replies, never the 2000 × 60 KB the hog asked for.
  EXPECT_LT(server_->stats().buffered_bytes, so.max_outbound_bytes + (1u << 20));
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (server_->stats().sessions_cut + server_->stats().timeouts == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a counter
  }
  EXPECT_EQ(server_->stats().sessions_cut + server_->stats().timeouts, 1u);
  shutdown(hog.fd(), SHUT_RDWR);  // the flood's blocked send ends
  flood.join();
  std::sort(rtt_ms.begin(), rtt_ms.end());
  EXPECT_LT(rtt_ms[rtt_ms.size() * 9 / 10], 250.0) << "p90 ping latency (ms)";
  EXPECT_TRUE(good->Ping().ok());
}

TEST_F(SyncTest, ConnectionsPastTheCapAreRefusedCleanly) {
  ServerOptions so;
  so.max_connections = 2;
  StartServer(so);
  auto a = NewMailbox();
  auto c1 = Connected(OptionsFor(a));
  auto c2 = Connected(OptionsFor(a));
  ASSERT_TRUE(c1 && c2);
  RawConn third(server_->port());
  EXPECT_EQ(ErrorCodeOf(third.Read()), 503);
  EXPECT_TRUE(third.WaitClosed());
  EXPECT_EQ(server_->stats().connections_refused, 1u);
  EXPECT_TRUE(c1->Ping().ok());
}

TEST_F(SyncTest, SilentSessionIsPingedThenClosedWithoutPong) {
  ServerOptions so;
  so.idle_timeout = std::chrono::milliseconds(50);
  // Generous, so that a loaded CI machine's client still pongs in time.
  so.pong_timeout = std::chrono::milliseconds(250);
  StartServer(so);
  auto a = NewMailbox();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send(1, HelloFor(a)));
  ASSERT_TRUE(std::holds_alternative<wire::HelloReply>(*raw.Read()));
  auto ping = raw.Read();
  ASSERT_TRUE(ping && std::holds_alternative<wire::Ping>(*ping));
  EXPECT_TRUE(raw.WaitClosed());  // no pong: closed

  // The client library answers pings, so its session survives idleness.
  auto c = Connected(OptionsFor(a));
  ASSERT_TRUE(c);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // many idle periods
  EXPECT_TRUE(c->connected());
  EXPECT_EQ(c->sessions_established(), 1u);
}

TEST_F(SyncTest, SessionPastItsLifetimeIsToldThenClosed) {
  ServerOptions so;
  so.max_session = std::chrono::milliseconds(100);
  StartServer(so);
  auto a = NewMailbox();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send(1, HelloFor(a)));
  ASSERT_TRUE(std::holds_alternative<wire::HelloReply>(*raw.Read()));
  uint64_t rid = 1;
  auto m = raw.Read(&rid);  // arrives after ~100 ms without any request
  EXPECT_EQ(ErrorCodeOf(m), 503);
  EXPECT_EQ(rid, 0u);
  EXPECT_TRUE(raw.WaitClosed());
}

TEST_F(SyncTest, StopAnswersQueuedWritesAndTellsSessionsShuttingDown) {
  auto a = NewMailbox();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send(1, HelloFor(a)));
  ASSERT_TRUE(raw.Read().has_value());
  for (uint64_t i = 2; i < 50; ++i) {
    ASSERT_TRUE(raw.Send(i, wire::EntryPut{"k" + std::to_string(i), "v", 0}));
  }
  server_->Stop();
  // Every write the server took is answered before the 503; afterwards the
  // store holds exactly the ones answered Ok.
  std::set<std::string> acked;
  bool saw_shutdown = false;
  uint64_t rid = 0;
  while (auto m = raw.Read(&rid)) {
    if (std::holds_alternative<wire::Ok>(*m)) acked.insert("k" + std::to_string(rid));
    if (rid == 0 && ErrorCodeOf(m) == 503) saw_shutdown = true;
  }
  EXPECT_TRUE(saw_shutdown);
  for (const auto& k : acked) EXPECT_TRUE(db_->GetEntry(a.mkey, k).ok()) << k;
}

}  // namespace
}  // namespace postbox::sync::testing
