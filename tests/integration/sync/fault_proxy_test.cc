// The fault-injecting relay (tests/support/fault_proxy.h) between real
// clients and the library server: each fault really happens and really
// fails something (a dropped push never arrives, a cut ends the session, a
// delay holds a Ping and keeps the stream's order, a duplicated request
// reaches the server twice), CutAll, Pause, SetPolicy back to a plain relay,
// pass-through after lost framing, many connections at once, and the seeded
// decision function's reproducibility.
#include "tests/support/fault_proxy.h"

#include <chrono>
#include <thread>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

using postbox::testing::Direction;
using postbox::testing::DirectionFaults;
using postbox::testing::FaultDecider;
using postbox::testing::FaultDecision;
using postbox::testing::FaultPolicy;
using postbox::testing::FaultProxy;
using postbox::testing::FaultProxyStats;
using Action = FaultDecision::Action;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Waits until `pred` holds; false after kWait.
template <class Pred>
bool WaitUntil(Pred pred) {
  const auto deadline = Clock::now() + kWait;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

wire::FrameHeader Header(wire::MessageType type, uint32_t length) {
  wire::FrameHeader h;
  h.type = static_cast<uint16_t>(type);
  h.length = length;
  return h;
}

TEST(FaultDeciderTest, SameSeedSameDecisionsAndRatesHold) {
  DirectionFaults f;
  f.drop = 0.2;
  f.duplicate = 0.2;
  f.cut = 0.1;
  f.delay = 0.3;
  f.delay_min = milliseconds(5);
  f.delay_max = milliseconds(50);
  auto run = [&](uint64_t seed, uint64_t index, Direction dir) {
    FaultDecider d(seed, index, dir);
    std::vector<FaultDecision> out;
    for (uint32_t i = 0; i < 10000; ++i) {
      out.push_back(d.Next(f, Header(wire::MessageType::kPing, 8 + i % 64)));
    }
    return out;
  };
  const auto a = run(7, 3, Direction::kToServer);
  EXPECT_EQ(a, run(7, 3, Direction::kToServer));
  EXPECT_NE(a, run(8, 3, Direction::kToServer));
  EXPECT_NE(a, run(7, 4, Direction::kToServer));
  EXPECT_NE(a, run(7, 3, Direction::kToClient));

  size_t counts[4] = {}, delayed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ++counts[static_cast<int>(a[i].action)];
    if (a[i].action == Action::kCut) {
      EXPECT_LT(a[i].cut_prefix, 16u + 8 + i % 64);
    }
    if (a[i].delay.count() > 0) {
      ++delayed;
      EXPECT_GE(a[i].delay, f.delay_min);
      EXPECT_LE(a[i].delay, f.delay_max);
    }
  }
  // 10000 draws: each share within a few points of its rate.
  EXPECT_NEAR(counts[static_cast<int>(Action::kDrop)] / 1e4, 0.2, 0.03);
  EXPECT_NEAR(counts[static_cast<int>(Action::kDuplicate)] / 1e4, 0.2, 0.03);
  EXPECT_NEAR(counts[static_cast<int>(Action::kCut)] / 1e4, 0.1, 0.03);
  EXPECT_NEAR(delayed / 1e4, 0.3, 0.03);

  // Rates 1 and 0 are certain.
  DirectionFaults all;
  all.drop = 1;
  FaultDecider d(1, 0, Direction::kToClient);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(d.Next(all, Header(wire::MessageType::kPing, 8)).action, Action::kDrop);
    EXPECT_EQ(d.Next(DirectionFaults{}, Header(wire::MessageType::kPing, 8)), FaultDecision{});
  }
}

TEST(FaultPolicyTest, BadPoliciesAreRefusedAndChangeNothing) {
  FaultPolicy p;
  p.to_server.drop = 1.5;
  EXPECT_TRUE(FaultProxy::Start(1, p).status().Is(Code::kInvalidArgument));
  p = {};
  p.to_client.drop = 0.6;
  p.to_client.cut = 0.6;
  EXPECT_TRUE(p.Validate().Is(Code::kInvalidArgument));
  p = {};
  p.to_client.delay_min = milliseconds(10);
  p.to_client.delay_max = milliseconds(5);
  EXPECT_TRUE(p.Validate().Is(Code::kInvalidArgument));

  auto proxy = FaultProxy::Start(1, FaultPolicy::Flip(wire::MessageType::kUploadChunk, 3));
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  EXPECT_TRUE((*proxy)->SetPolicy(p).Is(Code::kInvalidArgument));
  EXPECT_EQ((*proxy)->policy().flip_frames, 3u);
}

class FaultProxyTest : public SyncTest {
 protected:
  std::unique_ptr<FaultProxy> Proxy(const FaultPolicy& policy) {
    auto p = FaultProxy::Start(server_->port(), policy);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(*p) : nullptr;
  }
  // Options for `c` through `proxy`, without the catch-up poll (whose reply
  // is an InfoPacket too) unless a test wants it.
  ClientOptions Via(const FaultProxy& proxy, const MailboxCredentials& c) {
    ClientOptions o = OptionsFor(c);
    o.port = proxy.port();
    o.resume = false;
    return o;
  }
};

TEST_F(FaultProxyTest, DroppedPushesNeverArriveButPingWorksUntilThePolicyChanges) {
  auto a = NewMailbox(), b = NewMailbox();
  auto proxy = Proxy(FaultPolicy::None());
  ASSERT_TRUE(proxy);
  PushLog log;
  ClientOptions o = Via(*proxy, b);
  o.on_push = log.Callback();
  o.request_timeout = milliseconds(500);
  auto client = Connected(o);
  ASSERT_TRUE(client);
  // The server pushes once the session told it a cursor.
  ASSERT_TRUE(client->Poll(0).ok());

  FaultPolicy drop_info;
  drop_info.to_client.drop = 1.0;
  drop_info.to_client.types = {wire::MessageType::kInfoPacket};
  ASSERT_TRUE(proxy->SetPolicy(drop_info).ok());
  const MessageId id = Post(a, b);
  ASSERT_TRUE(WaitUntil([&] { return proxy->stats().to_client.dropped >= 1; }));
  EXPECT_TRUE(client->Ping().ok());
  EXPECT_TRUE(log.packets().empty());
  // A poll's reply is an InfoPacket as well: it never comes.
  EXPECT_FALSE(client->Poll(0).ok());

  ASSERT_TRUE(proxy->SetPolicy(FaultPolicy::None()).ok());
  ASSERT_TRUE(WaitUntil([&] { return client->connected(); }));
  auto packet = client->Poll(0);
  ASSERT_TRUE(packet.ok()) << packet.status().ToString();
  EXPECT_TRUE(std::any_of(packet->incoming.begin(), packet->incoming.end(),
                          [&](const auto& m) { return m.id == id; }));
}

TEST_F(FaultProxyTest, DuplicatedRequestsReachTheServerTwiceAndStatusStaysIdempotent) {
  auto a = NewMailbox(), b = NewMailbox();
  FaultPolicy policy;
  policy.to_server.duplicate = 1.0;
  policy.to_server.types = {wire::MessageType::kStatusUpdate};
  auto proxy = Proxy(policy);
  ASSERT_TRUE(proxy);
  auto client = Connected(Via(*proxy, b));
  ASSERT_TRUE(client);
  const MessageId id = Post(a, b);

  const FaultProxyStats before = proxy->stats();
  auto r = client->UpdateStatus(id, MessageStatus::kDownloaded);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->applied);
  const FaultProxyStats after = proxy->stats();
  EXPECT_EQ(after.to_server.duplicated - before.to_server.duplicated, 1u);
  // The second copy is answered too (the client ignores a reply it no longer
  // waits for); the session goes on.
  ASSERT_TRUE(WaitUntil(
      [&] { return proxy->stats().to_client.forwarded - before.to_client.forwarded >= 2; }));
  EXPECT_TRUE(client->Ping().ok());
  EXPECT_EQ(client->sessions_established(), 1u);
  auto again = client->UpdateStatus(id, MessageStatus::kDownloaded);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->applied);
}

TEST_F(FaultProxyTest, ACutFrameEndsTheSessionAndTheClientReconnects) {
  auto b = NewMailbox();
  FaultPolicy policy;
  policy.to_server.cut = 1.0;
  policy.to_server.types = {wire::MessageType::kPing};
  auto proxy = Proxy(policy);
  ASSERT_TRUE(proxy);
  auto client = Connected(Via(*proxy, b));
  ASSERT_TRUE(client);
  EXPECT_EQ(client->sessions_established(), 1u);

  const Status ping = client->Ping();
  EXPECT_TRUE(ping.Is(Code::kUnavailable)) << ping.ToString();
  EXPECT_EQ(proxy->stats().to_server.cut, 1u);
  EXPECT_EQ(proxy->stats().connections_cut, 1u);

  ASSERT_TRUE(proxy->SetPolicy(FaultPolicy::None()).ok());
  ASSERT_TRUE(WaitUntil([&] { return client->sessions_established() >= 2; }));
  ASSERT_TRUE(WaitUntil([&] { return client->connected(); }));
  EXPECT_TRUE(client->Ping().ok());
}

TEST_F(FaultProxyTest, ADelayHoldsTheStreamAndKeepsItsOrder) {
  auto b = NewMailbox();
  FaultPolicy policy;
  policy.to_server.delay = 1.0;
  policy.to_server.delay_min = milliseconds(300);
  policy.to_server.delay_max = milliseconds(300);
  policy.to_server.types = {wire::MessageType::kPing};
  auto proxy = Proxy(policy);
  ASSERT_TRUE(proxy);

  auto client = Connected(Via(*proxy, b));
  ASSERT_TRUE(client);
  const auto start = Clock::now();
  EXPECT_TRUE(client->Ping().ok());
  // uv_now() counts whole milliseconds: allow one or two.
  EXPECT_GE(Clock::now() - start, milliseconds(295));
  EXPECT_EQ(proxy->stats().to_server.delayed, 1u);

  // A frame behind a delayed one waits for it: the EntryGet's reply comes
  // after the Pong although only the Ping was held.
  auto conn = SaidHello(proxy->port(), b);
  ASSERT_TRUE(conn->Send(2, wire::Ping{1}));
  ASSERT_TRUE(conn->Send(3, wire::EntryGet{"k"}));
  std::vector<uint64_t> order;
  while (order.size() < 2) {
    uint64_t rid = 0;
    ASSERT_TRUE(conn->Read(&rid));
    if (rid != 0) order.push_back(rid);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{2, 3}));
}

TEST_F(FaultProxyTest, CutAllEndsEveryConnectionAndClientsComeBack) {
  auto b = NewMailbox(), c = NewMailbox();
  auto proxy = Proxy(FaultPolicy::None());
  ASSERT_TRUE(proxy);
  auto cb = Connected(Via(*proxy, b));
  auto cc = Connected(Via(*proxy, c));
  ASSERT_TRUE(cb && cc);
  EXPECT_EQ(proxy->stats().open, 2u);

  proxy->CutAll();
  EXPECT_EQ(proxy->stats().connections_cut, 2u);
  ASSERT_TRUE(WaitUntil([&] {
    return cb->sessions_established() >= 2 && cc->sessions_established() >= 2 && cb->connected() &&
           cc->connected();
  }));
  EXPECT_TRUE(cb->Ping().ok());
  EXPECT_TRUE(cc->Ping().ok());
  EXPECT_GE(proxy->stats().accepted, 4u);
}

TEST_F(FaultProxyTest, PauseRefusesOrStallsNewConnectionsOnly) {
  auto b = NewMailbox();
  auto proxy = Proxy(FaultPolicy::None());
  ASSERT_TRUE(proxy);
  auto open = Connected(Via(*proxy, b));
  ASSERT_TRUE(open);
  ClientOptions o = Via(*proxy, b);
  o.request_timeout = milliseconds(300);

  proxy->Pause(true, FaultProxy::PauseMode::kRefuse);
  auto refused = Client::Create(o);
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE((*refused)->Connect().ok());
  EXPECT_GE(proxy->stats().refused, 1u);
  EXPECT_TRUE(open->Ping().ok()) << "a pause leaves open connections alone";

  proxy->Pause(true, FaultProxy::PauseMode::kStall);
  const uint64_t accepted = proxy->stats().accepted;
  auto stalled = Client::Create(o);
  ASSERT_TRUE(stalled.ok());
  EXPECT_FALSE((*stalled)->Connect().ok());
  EXPECT_EQ(proxy->stats().accepted, accepted);

  proxy->Pause(false);
  auto later = Connected(Via(*proxy, b));
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->Ping().ok());
}

TEST_F(FaultProxyTest, LostFramingPassesBytesThroughUnjudged) {
  auto b = NewMailbox();
  FaultPolicy policy;
  policy.to_server.drop = 1.0;  // every frame the proxy can judge
  auto proxy = Proxy(policy);
  ASSERT_TRUE(proxy);
  RawConn conn(proxy->port());
  ASSERT_TRUE(conn.connected());
  // An unknown type: the proxy stops framing; the server still gets it and
  // answers with an Error.
  std::vector<uint8_t> bad(wire::kFrameHeaderSize);
  wire::WriteFrameHeader({.length = 0, .type = 0x7777, .request_id = 5}, bad.data());
  ASSERT_TRUE(conn.SendBytes(bad));
  auto reply = conn.Read();
  ASSERT_TRUE(reply);
  EXPECT_TRUE(std::holds_alternative<wire::ErrorReply>(*reply));
  EXPECT_EQ(proxy->stats().to_server.unframed, 1u);
  EXPECT_EQ(proxy->stats().to_server.dropped, 0u);
}

TEST_F(FaultProxyTest, RelaysManyConnectionsAtOnceAndClosesThemOnDestruction) {
  auto b = NewMailbox();
  auto proxy = Proxy(FaultPolicy::None());
  ASSERT_TRUE(proxy);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 64; ++i) conns.push_back(std::make_unique<RawConn>(proxy->port()));
  for (auto& c : conns) ASSERT_TRUE(c->Send(1, HelloFor(b)));
  for (auto& c : conns) {
    auto reply = c->Read();
    ASSERT_TRUE(reply && std::holds_alternative<wire::HelloReply>(*reply));
  }
  EXPECT_EQ(proxy->stats().open, 64u);
  proxy.reset();
  for (auto& c : conns) EXPECT_TRUE(c->WaitClosed());
}

}  // namespace
}  // namespace postbox::sync::testing
