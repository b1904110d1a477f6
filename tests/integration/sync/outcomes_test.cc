// Issue 11, outcomes on the wire: Ok.applied says whether a merge changed the
// store (EntryPut, EntryDelete, StatusUpdate; the other writes are in effect),
// the C++ client passes it on, and an Ack of a cursor the session never sent
// is refused with 400 and changes nothing (wire/PROTOCOL.md §3).
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

class OutcomesTest : public SyncTest {
 protected:
  // Sends `m` as request `rid` and returns its reply's Ok (failing the test
  // on anything else).
  template <class M>
  wire::Ok OkFor(RawConn& c, uint64_t rid, const M& m) {
    EXPECT_TRUE(c.Send(rid, m));
    uint64_t got = 0;
    auto reply = c.Read(&got);
    EXPECT_TRUE(reply.has_value());
    EXPECT_EQ(got, rid);
    if (!reply || !std::holds_alternative<wire::Ok>(*reply)) {
      ADD_FAILURE() << "request " << rid << " was not answered Ok";
      return {};
    }
    return std::get<wire::Ok>(*reply);
  }

  // The next frame, which must be the Pong of a Ping sent now as `rid`: no
  // other reply came before it.
  void ExpectNothingBefore(RawConn& c, uint64_t rid) {
    ASSERT_TRUE(c.Send(rid, wire::Ping{rid}));
    uint64_t got = 0;
    auto reply = c.Read(&got);
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(std::holds_alternative<wire::Pong>(*reply)) << "a reply came before the Pong";
    EXPECT_EQ(got, rid);
  }
};

TEST_F(OutcomesTest, EntryPutAndDeleteSayWhetherTheyWonTheMerge) {
  const auto a = NewMailbox();
  auto c = SaidHello(server_->port(), a);
  wire::Ok ok = OkFor(*c, 2, wire::EntryPut{"k", "v5", 5});
  EXPECT_TRUE(ok.applied);
  EXPECT_EQ(ok.version, 5u);
  ok = OkFor(*c, 3, wire::EntryPut{"k", "v3", 3});  // older: the stored state wins
  EXPECT_FALSE(ok.applied);
  EXPECT_EQ(ok.version, 5u) << "a losing put carries the stored version";
  ok = OkFor(*c, 4, wire::EntryDelete{"k", 4});
  EXPECT_FALSE(ok.applied);
  EXPECT_EQ(ok.version, 5u);
  ok = OkFor(*c, 5, wire::EntryDelete{"k", 6});
  EXPECT_TRUE(ok.applied);
  EXPECT_EQ(ok.version, 6u);
  ok = OkFor(*c, 6, wire::EntryPut{"k", "again", 0});  // version 0: stored + 1
  EXPECT_TRUE(ok.applied);
  EXPECT_EQ(ok.version, 7u);
}

TEST_F(OutcomesTest, StatusUpdateSaysWhetherTheStatusRose) {
  const auto a = NewMailbox(), b = NewMailbox();
  const MessageId id = Post(a, b);
  auto c = SaidHello(server_->port(), b);
  wire::StatusUpdate su;
  std::memcpy(su.id.data(), id.bytes.data(), 16);
  su.status = wire::MessageStatus::kDownloaded;
  wire::Ok ok = OkFor(*c, 2, su);
  EXPECT_TRUE(ok.applied);
  EXPECT_EQ(ok.status, wire::MessageStatus::kDownloaded);
  ok = OkFor(*c, 3, su);  // already there
  EXPECT_FALSE(ok.applied);
  EXPECT_EQ(ok.status, wire::MessageStatus::kDownloaded);
  su.status = wire::MessageStatus::kUploaded;  // below the stored status
  ok = OkFor(*c, 4, su);
  EXPECT_FALSE(ok.applied);
  EXPECT_EQ(ok.status, wire::MessageStatus::kDownloaded);
  su.status = wire::MessageStatus::kViewed;
  ok = OkFor(*c, 5, su);
  EXPECT_TRUE(ok.applied);
  EXPECT_EQ(ok.status, wire::MessageStatus::kViewed);
}

// The writes without a merge answer applied = true once committed.
TEST_F(OutcomesTest, OtherWritesAnswerApplied) {
  const auto a = NewMailbox(), b = NewMailbox();
  auto c = SaidHello(server_->port(), a);
  wire::ConnectionAdd add;
  std::memcpy(add.peer.data(), b.mkey.bytes.data(), 16);
  EXPECT_TRUE(OkFor(*c, 2, add).applied);
  EXPECT_TRUE(OkFor(*c, 3, add).applied) << "idempotent: in effect";
  wire::ConnectionRemove remove;
  remove.peer = add.peer;
  EXPECT_TRUE(OkFor(*c, 4, remove).applied);
  EXPECT_TRUE(OkFor(*c, 5, wire::PushRegister{wire::Platform::kIos, "token"}).applied);
}

TEST_F(OutcomesTest, ClientReportsApplied) {
  const auto a = NewMailbox(), b = NewMailbox();
  const MessageId id = Post(a, b);
  auto ca = Connected(OptionsFor(a));
  auto cb = Connected(OptionsFor(b));
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(cb, nullptr);
  auto put = ca->PutEntry("k", "v", 9);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(*put, (EntryPutResult{true, 9}));
  put = ca->PutEntry("k", "old", 2);
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(*put, (EntryPutResult{false, 9}));
  auto del = ca->DeleteEntry("k", 1);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, (EntryPutResult{false, 9}));
  auto st = cb->UpdateStatus(id, MessageStatus::kViewed);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(*st, (StatusUpdateResult{true, MessageStatus::kViewed}));
  st = cb->UpdateStatus(id, MessageStatus::kDownloaded);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, (StatusUpdateResult{false, MessageStatus::kViewed}));
}

// An Ack of a cursor from the future is refused with its request id, and the
// push window stays where it was: a change after it is still pushed.
TEST_F(OutcomesTest, AckOfAFutureCursorIs400AndChangesNothing) {
  const auto a = NewMailbox(), b = NewMailbox();
  auto c = SaidHello(server_->port(), b);
  ASSERT_TRUE(c->Send(2, wire::Poll{0, 0}));
  uint64_t rid = 0;
  auto packet = c->Read(&rid);
  ASSERT_TRUE(packet && std::holds_alternative<wire::InfoPacket>(*packet));
  const uint64_t cursor = std::get<wire::InfoPacket>(*packet).cursor;
  ASSERT_TRUE(c->Send(3, wire::Ack{cursor + 1000}));
  auto e = c->Read(&rid);
  ASSERT_TRUE(e && std::holds_alternative<wire::ErrorReply>(*e));
  EXPECT_EQ(std::get<wire::ErrorReply>(*e).code, 400);
  EXPECT_EQ(rid, 3u);
  ExpectNothingBefore(*c, 4);  // the session goes on
  // Had the Ack been taken, pushes would continue after cursor + 1000.
  const MessageId id = Post(a, b);
  auto push = c->Read(&rid);
  ASSERT_TRUE(push && std::holds_alternative<wire::InfoPacket>(*push)) << "no push after the Ack";
  EXPECT_EQ(rid, 0u);
  const auto& incoming = std::get<wire::InfoPacket>(*push).incoming;
  ASSERT_EQ(incoming.size(), 1u);
  EXPECT_EQ(std::memcmp(incoming[0].id.data(), id.bytes.data(), 16), 0);
}

// Only cursors the session sent can be acked: a cursor between the last one
// polled and an outstanding push is refused; the push's own cursor and the
// polled one are taken without a reply.
TEST_F(OutcomesTest, AckOfACursorNeverPushedIs400AndValidAcksGetNoReply) {
  const auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  auto c = SaidHello(server_->port(), b);
  ASSERT_TRUE(c->Send(2, wire::Poll{0, 0}));
  uint64_t rid = 0;
  auto packet = c->Read(&rid);
  ASSERT_TRUE(packet && std::holds_alternative<wire::InfoPacket>(*packet));
  const uint64_t polled = std::get<wire::InfoPacket>(*packet).cursor;
  ASSERT_TRUE(c->Send(3, wire::Ack{polled}));  // valid: a polled cursor
  ExpectNothingBefore(*c, 4);
  // Two changes in one commit: one push whose cursor is two past the poll's.
  WriteBatch batch;
  batch.PutEntry(b.mkey, "x", "1", 0);
  batch.PutEntry(b.mkey, "y", "2", 0);
  ASSERT_TRUE(server_->Write(&batch).ok());
  auto push = c->Read(&rid);
  ASSERT_TRUE(push && std::holds_alternative<wire::InfoPacket>(*push));
  ASSERT_EQ(rid, 0u);
  const uint64_t pushed = std::get<wire::InfoPacket>(*push).cursor;
  ASSERT_GT(pushed, polled + 1);
  ASSERT_TRUE(c->Send(5, wire::Ack{pushed - 1}));
  auto e = c->Read(&rid);
  ASSERT_TRUE(e && std::holds_alternative<wire::ErrorReply>(*e));
  EXPECT_EQ(std::get<wire::ErrorReply>(*e).code, 400);
  EXPECT_EQ(rid, 5u);
  ASSERT_TRUE(c->Send(6, wire::Ack{pushed}));
  ExpectNothingBefore(*c, 7);
  ASSERT_TRUE(c->Send(8, wire::Ack{polled}));  // at or below the last acked: fine
  ExpectNothingBefore(*c, 9);
}

// The client refuses to send an Ack the server would refuse.
TEST_F(OutcomesTest, ClientSendsNoAckTheServerWouldRefuse) {
  const auto a = NewMailbox();
  auto ca = Connected(OptionsFor(a));
  ASSERT_NE(ca, nullptr);
  auto p = ca->Poll(0);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(ca->Ack(p->cursor).ok());
  EXPECT_EQ(ca->Ack(p->cursor + 1000).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace postbox::sync::testing
