// Issue 5, integration tests 1–4: statuses by push and by poll, convergence
// without acks and across a dropped connection, the vid1/vid2 case, and the
// session's refusals (401, 403, 426, update required).
#include <set>
#include <thread>

#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

// 1. The sender sees UPLOADED → DOWNLOADED → VIEWED by push while connected,
// and the final state by poll after being offline.
TEST_F(SyncTest, SenderSeesStatusesByPushThenByPollAfterOffline) {
  auto a = NewMailbox(), b = NewMailbox();
  PushLog a_log;
  auto ao = OptionsFor(a);
  ao.on_push = a_log.Callback();
  auto alice = Connected(ao);
  auto bob = Connected(OptionsFor(b));
  ASSERT_TRUE(alice && bob);

  const MessageId vid = Post(a, b);
  ASSERT_TRUE(a_log.WaitFor(
      [&](auto& p) { return LastOutgoingStatus(p, vid) == MessageStatus::kUploaded; }));
  auto s = bob->UpdateStatus(vid, MessageStatus::kDownloaded);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, (StatusUpdateResult{true, MessageStatus::kDownloaded}));
  ASSERT_TRUE(a_log.WaitFor(
      [&](auto& p) { return LastOutgoingStatus(p, vid) == MessageStatus::kDownloaded; }));
  ASSERT_TRUE(bob->UpdateStatus(vid, MessageStatus::kViewed).ok());
  ASSERT_TRUE(
      a_log.WaitFor([&](auto& p) { return LastOutgoingStatus(p, vid) == MessageStatus::kViewed; }));

  // The push is acked once on_push has returned; wait for that before leaving.
  const uint64_t pushed = a_log.packets().back().cursor;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (alice->acked_cursor() < pushed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  // Offline: a second video is sent, downloaded and viewed meanwhile.
  const uint64_t cursor = alice->acked_cursor();
  ASSERT_EQ(cursor, pushed);
  alice.reset();
  const MessageId vid2 = Post(a, b, "other-topic");
  ASSERT_TRUE(bob->UpdateStatus(vid2, MessageStatus::kDownloaded).ok());
  ASSERT_TRUE(bob->UpdateStatus(vid2, MessageStatus::kViewed).ok());

  auto again = Client::Create(OptionsFor(a));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Connect().ok());
  auto packet = (*again)->Poll(cursor);
  ASSERT_TRUE(packet.ok()) << packet.status().ToString();
  EXPECT_EQ(LastOutgoingStatus({*packet}, vid2), MessageStatus::kViewed);
  EXPECT_FALSE(LastOutgoingStatus({*packet}, vid).has_value()) << "vid was acked already";
}

// 2a. A client that ignores every push still converges by polling, and the
// server never pushes past the window to a client that does not ack.
TEST_F(SyncTest, ClientIgnoringPushesConvergesByPolling) {
  auto a = NewMailbox();
  PushLog log;
  auto o = OptionsFor(a);
  o.on_push = log.Callback();
  o.auto_ack = false;
  o.resume = false;
  auto c = Connected(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Poll(0).ok());  // tells the server our cursor: pushes start
  auto writer = Connected(OptionsFor(a));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(writer->PutEntry("k" + std::to_string(i), "v" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(log.WaitFor([](auto& p) { return !p.empty(); }));
  std::set<std::string> seen;
  uint64_t cursor = 0;
  for (int round = 0; round < 100; ++round) {
    auto p = c->Poll(cursor, 7);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    for (const auto& e : p->entries) seen.insert(e.key);
    cursor = p->cursor;
    if (!p->more) break;
  }
  EXPECT_EQ(seen.size(), 50u);
  // Window 1 and no acks: exactly one push, however many changes came.
  EXPECT_EQ(log.packets().size(), 1u);

  // An Ack opens the window again: the next change is pushed.
  ASSERT_TRUE(c->Ack(cursor).ok());
  EXPECT_EQ(c->acked_cursor(), cursor);
  ASSERT_TRUE(writer->PutEntry("after-ack", "v").ok());
  ASSERT_TRUE(log.WaitFor([](auto& p) {
    return p.size() == 2 && p[1].entries.size() == 1 && p[1].entries[0].key == "after-ack";
  }));
}

// 2b. A client that loses its connection mid-stream resumes from its acked
// cursor: every change arrives, none twice.
TEST_F(SyncTest, DroppedClientResumesWithNothingMissingOrRepeated) {
  auto a = NewMailbox();
  PushLog log;
  auto o = OptionsFor(a);
  o.on_push = log.Callback();
  auto c = Connected(o);
  auto writer = Connected(OptionsFor(a));
  ASSERT_TRUE(c && writer);
  constexpr int kN = 200;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(writer->PutEntry("key" + std::to_string(i), "v").ok());
    if (i == kN / 3 || i == 2 * kN / 3) c->DropConnection();
  }
  auto all_seen = [](const std::vector<InfoPacket>& ps) {
    std::set<std::string> keys;
    for (const auto& p : ps) {
      for (const auto& e : p.entries) keys.insert(e.key);
    }
    return keys.size() == kN;
  };
  ASSERT_TRUE(log.WaitFor(all_seen));
  std::multiset<std::string> delivered;
  for (const auto& p : log.packets()) {
    for (const auto& e : p.entries) delivered.insert(e.key);
  }
  for (int i = 0; i < kN; ++i) EXPECT_EQ(delivered.count("key" + std::to_string(i)), 1u) << i;
  EXPECT_GE(c->sessions_established(), 3u);
}

// 3. vid1 then vid2 in the same slot before B views vid1: B's late VIEWED for
// vid1 is 410 and vid2's status is untouched.
TEST_F(SyncTest, LateViewOfSupersededVideoIsGone) {
  auto a = NewMailbox(), b = NewMailbox();
  auto bob = Connected(OptionsFor(b));
  ASSERT_TRUE(bob);
  const MessageId vid1 = Post(a, b);
  const MessageId vid2 = Post(a, b);
  auto r = bob->UpdateStatus(vid1, MessageStatus::kViewed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kGone) << r.status().ToString();
  auto m = db_->GetMessage(b.mkey, vid2);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, MessageStatus::kUploaded);
  auto p = bob->Poll(0);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->incoming.size(), 1u);
  EXPECT_EQ(p->incoming[0].id, vid2);
}

// 4. Wrong secret → 401; another mailbox's data → 403; an old protocol → 426
// with the range; UPDATE_REQUIRED → the verdict, then the session ends.
TEST_F(SyncTest, WrongSecretIsUnauthenticated) {
  auto a = NewMailbox();
  auto o = OptionsFor(a);
  o.secret = "not-the-secret";
  auto c = Client::Create(o);
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Connect();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnauthenticated) << r.status().ToString();
  EXPECT_FALSE((*c)->connected());
  EXPECT_FALSE((*c)->Ping().ok());

  // An unknown mailbox gets the very same answer as a wrong secret, so a
  // Hello cannot tell which mkeys exist.
  auto refusal = [&](const MailboxCredentials& creds) {
    RawConn raw(server_->port());
    EXPECT_TRUE(raw.Send(5, HelloFor(creds)));
    auto reply = raw.Read();
    EXPECT_TRUE(reply && std::holds_alternative<wire::ErrorReply>(*reply));
    EXPECT_TRUE(raw.WaitClosed());
    if (!reply || !std::holds_alternative<wire::ErrorReply>(*reply)) return std::string();
    const auto& e = std::get<wire::ErrorReply>(*reply);
    return std::to_string(e.code) + " " + std::string(e.message);
  };
  MailboxCredentials wrong_secret{a.mkey, "not-the-secret"};
  MailboxCredentials stranger{MailboxKey::Random(), a.secret};
  const std::string e1 = refusal(wrong_secret), e2 = refusal(stranger);
  EXPECT_EQ(e1.substr(0, 4), "401 ");
  EXPECT_EQ(e1, e2);
}

TEST_F(SyncTest, OtherMailboxesDataIsForbidden) {
  auto a = NewMailbox(), b = NewMailbox(), eve = NewMailbox();
  const MessageId vid = Post(a, b);
  auto alice = Connected(OptionsFor(a));
  auto mallory = Connected(OptionsFor(eve));
  ASSERT_TRUE(alice && mallory);
  // Only the recipient advances a status; a stranger is refused as well.
  EXPECT_EQ(alice->UpdateStatus(vid, MessageStatus::kViewed).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(mallory->UpdateStatus(vid, MessageStatus::kViewed).status().code(),
            Code::kPermissionDenied);
  // Entries are per mailbox: another mailbox's key is simply not visible.
  ASSERT_TRUE(alice->PutEntry("secret", "x").ok());
  EXPECT_EQ(mallory->GetEntry("secret").status().code(), Code::kNotFound);
  auto m = db_->GetMessage(b.mkey, vid);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, MessageStatus::kUploaded);
}

TEST_F(SyncTest, OldProtocolVersionGets426WithRange) {
  auto a = NewMailbox();
  auto o = OptionsFor(a);
  o.protocol_version = 0;
  auto c = Client::Create(o);
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Connect();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kProtocolUnsupported);
  EXPECT_NE(r.status().message().find("1..3"), std::string_view::npos) << r.status().ToString();

  // On the wire: Error 426 carries the range, then the server closes.
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.connected());
  auto h = HelloFor(a);
  h.protocol_version = 99;
  ASSERT_TRUE(raw.Send(1, h));
  auto reply = raw.Read();
  ASSERT_TRUE(reply.has_value());
  auto* e = std::get_if<wire::ErrorReply>(&*reply);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, 426);
  EXPECT_EQ(e->min_version, wire::kMinProtocolVersion);
  EXPECT_EQ(e->max_version, wire::kProtocolVersion);
  EXPECT_TRUE(raw.WaitClosed());
}

TEST_F(SyncTest, UpdateRequiredGetsVerdictThenClose) {
  ServerOptions so;
  so.compatibility[Platform::kIos] = {"2.0", "2.3", 0, "get 2.3 from the store"};
  StartServer(so);
  auto a = NewMailbox();
  auto o = OptionsFor(a);
  o.platform = Platform::kIos;
  o.app_version = "1.9.4";
  auto old_app = Client::Create(o);
  ASSERT_TRUE(old_app.ok());
  auto r = (*old_app)->Connect();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->verdict, Verdict::kUpdateRequired);
  EXPECT_EQ(r->detail, "get 2.3 from the store");
  EXPECT_FALSE((*old_app)->connected());

  o.app_version = "2.1";
  auto newer = Connected(o);
  ASSERT_TRUE(newer);
  EXPECT_TRUE(newer->Ping().ok());
  o.platform = Platform::kAndroid;  // no policy: current
  o.app_version = "0.1";
  auto android = Client::Create(o);
  ASSERT_TRUE(android.ok());
  auto v = (*android)->Connect();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->verdict, Verdict::kCurrent);

  RawConn raw(server_->port());
  auto h = HelloFor(a);
  h.platform = wire::Platform::kIos;
  h.app_version = "1.0";
  ASSERT_TRUE(raw.Send(1, h));
  auto reply = raw.Read();
  ASSERT_TRUE(reply.has_value());
  auto* hr = std::get_if<wire::HelloReply>(&*reply);
  ASSERT_NE(hr, nullptr);
  EXPECT_EQ(hr->verdict, wire::Verdict::kUpdateRequired);
  EXPECT_TRUE(raw.WaitClosed());
}

TEST(CompatibilityTest, VerdictsFollowThePolicy) {
  CompatibilityPolicy p{"2.0", "2.10", 3, ""};
  EXPECT_EQ(Evaluate(p, "2.10", 3), Verdict::kCurrent);
  EXPECT_EQ(Evaluate(p, "2.9", 3), Verdict::kUpdateOptional);
  EXPECT_EQ(Evaluate(p, "1.99", 3), Verdict::kUpdateRequired);
  EXPECT_EQ(Evaluate(p, "3.0", 2), Verdict::kUpdateSchemaRequired);
  EXPECT_EQ(Evaluate({}, "", 0), Verdict::kCurrent);
}

// Parts longer than any integer compare by their digits: parsed into 64 bits,
// 18446744073709551616 (2^64) would wrap to 0 and fall below 2.
TEST(CompatibilityTest, LongVersionPartsCompareWithoutOverflow) {
  CompatibilityPolicy p{"2.18446744073709551615", "18446744073709551616", 0, ""};
  EXPECT_EQ(Evaluate(p, "18446744073709551616", 0), Verdict::kCurrent);
  EXPECT_EQ(Evaluate(p, "99999999999999999999999999999", 0), Verdict::kCurrent);
  EXPECT_EQ(Evaluate(p, "2.18446744073709551616", 0), Verdict::kUpdateOptional);
  EXPECT_EQ(Evaluate(p, "2.018446744073709551615", 0), Verdict::kUpdateOptional);
  EXPECT_EQ(Evaluate(p, "2.18446744073709551614", 0), Verdict::kUpdateRequired);
  EXPECT_EQ(Evaluate(p, "2.9999999999999999999", 0), Verdict::kUpdateRequired);
}

}  // namespace
}  // namespace postbox::sync::testing
