// The replica's local store on its own (engine/src/sync/replica/mirror.h):
// packets apply only in sequence, reset snapshots rebuild the mirror, the
// outbox's effects are visible at once and roll back, and what the app sees is
// the synced state merged with the pending writes.
#include "sync/replica/mirror.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace postbox::sync::replica {
namespace {

class TempFolder {
 public:
  TempFolder() {
    std::random_device rd;
    path_ = (std::filesystem::temp_directory_path() /
             ("postbox-mirror-test-" + std::to_string(getpid()) + "-" + std::to_string(rd())))
                .string();
  }
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

MessageInfo Msg(const MailboxKey& from, const MailboxKey& to, uint64_t seq,
                MessageStatus status = MessageStatus::kUploaded) {
  MessageInfo m;
  m.id = MessageId::Random();
  m.from = from;
  m.to = to;
  m.topic = "video";
  m.length = 10;
  m.status = status;
  m.created_ms = 1000 + seq;
  m.seq = seq;
  return m;
}

class MirrorTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    mirror_.reset();
    auto m = Mirror::Open(dir_.path(), self_, Durability::kRelaxed, uint64_t{64} << 20);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    mirror_ = std::move(*m);
  }
  ApplyResult Apply(const InfoPacket& p, ReplicaChange* change = nullptr) {
    auto r = mirror_->Apply(p, DownloadPolicy{}, change, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ApplyResult::kNotContiguous;
  }
  std::vector<ReplicaMessage> Inbox() {
    auto r = mirror_->Messages(true, std::nullopt, 0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<ReplicaMessage>{};
  }
  OutboxItem Enqueue(OutboxItem item, ReplicaChange* change = nullptr) {
    auto r = mirror_->Enqueue(std::move(item), change);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : OutboxItem{};
  }

  TempFolder dir_;
  MailboxKey self_ = MailboxKey::Random();
  MailboxKey peer_ = MailboxKey::Random();
  std::unique_ptr<Mirror> mirror_;
};

TEST_F(MirrorTest, PacketsApplyOnlyWhenTheyFollowTheCursor) {
  InfoPacket p1;
  p1.since = 0;
  p1.cursor = 2;
  p1.incoming = {Msg(peer_, self_, 1)};
  p1.entries = {EntryInfo{"k", "v1", 1, 2}};
  ReplicaChange change;
  EXPECT_EQ(Apply(p1, &change), ApplyResult::kApplied);
  EXPECT_EQ(change.messages.size(), 1u);
  EXPECT_EQ(change.entries, std::vector<std::string>{"k"});
  EXPECT_EQ(*mirror_->Cursor(), 2u);

  // The same packet again (a repeated push) and one after a lost push: skipped.
  EXPECT_EQ(Apply(p1), ApplyResult::kNotContiguous);
  InfoPacket p3;
  p3.since = 5;
  p3.cursor = 6;
  p3.entries = {EntryInfo{"k", "v6", 6, 6}};
  EXPECT_EQ(Apply(p3), ApplyResult::kNotContiguous);
  EXPECT_EQ(mirror_->Entry("k")->value().value, "v1");
  EXPECT_EQ(*mirror_->Cursor(), 2u);

  InfoPacket p2;
  p2.since = 2;
  p2.cursor = 6;
  p2.entries = {EntryInfo{"k", "v6", 6, 6}};
  EXPECT_EQ(Apply(p2), ApplyResult::kApplied);
  EXPECT_EQ(mirror_->Entry("k")->value().value, "v6");
  EXPECT_EQ(*mirror_->Cursor(), 6u);
}

TEST_F(MirrorTest, StateAndCursorSurviveReopening) {
  InfoPacket p;
  p.cursor = 3;
  p.incoming = {Msg(peer_, self_, 3, MessageStatus::kDownloaded)};
  ASSERT_EQ(Apply(p), ApplyResult::kApplied);
  Reopen();
  EXPECT_EQ(*mirror_->Cursor(), 3u);
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].info.status, MessageStatus::kDownloaded);
  EXPECT_TRUE(inbox[0].incoming);
}

TEST_F(MirrorTest, AMirrorOfAnotherMailboxIsRefused) {
  mirror_.reset();
  auto other = Mirror::Open(dir_.path(), MailboxKey::Random(), Durability::kRelaxed, 64 << 20);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kConflict);
}

TEST_F(MirrorTest, StatusesNeverGoBackwardsThroughDeltas) {
  MessageInfo m = Msg(peer_, self_, 1, MessageStatus::kViewed);
  InfoPacket p1;
  p1.cursor = 1;
  p1.incoming = {m};
  ASSERT_EQ(Apply(p1), ApplyResult::kApplied);
  m.status = MessageStatus::kDownloaded;  // an older state, as a stale relay might send
  InfoPacket p2;
  p2.since = 1;
  p2.cursor = 2;
  p2.incoming = {m};
  ASSERT_EQ(Apply(p2), ApplyResult::kApplied);
  EXPECT_EQ(Inbox()[0].info.status, MessageStatus::kViewed);
}

TEST_F(MirrorTest, AResetSnapshotOverSeveralPagesRemovesWhatItDoesNotName) {
  MessageInfo keep = Msg(peer_, self_, 1), drop = Msg(peer_, self_, 2);
  InfoPacket p;
  p.cursor = 4;
  p.incoming = {keep, drop};
  p.entries = {EntryInfo{"keep", "a", 1, 3}, EntryInfo{"drop", "b", 1, 4}};
  ASSERT_EQ(Apply(p), ApplyResult::kApplied);

  // Page 1 of a snapshot names `keep` only; page 2 names the entry "keep".
  InfoPacket s1;
  s1.reset = true;
  s1.more = true;
  s1.cursor = kSnapshotCursorBit | 1;
  s1.incoming = {keep};
  ASSERT_EQ(Apply(s1), ApplyResult::kApplied);
  EXPECT_EQ(Inbox().size(), 2u) << "nothing is removed before the snapshot ends";
  InfoPacket s2;
  s2.since = kSnapshotCursorBit | 1;
  s2.cursor = 9;
  s2.entries = {EntryInfo{"keep", "a", 1, 9}};
  ReplicaChange change;
  ASSERT_EQ(Apply(s2, &change), ApplyResult::kApplied);
  EXPECT_TRUE(change.reset);
  auto inbox = Inbox();
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].info.id, keep.id);
  EXPECT_EQ(change.messages_removed, std::vector<MessageId>{drop.id});
  EXPECT_TRUE(mirror_->Entry("keep")->has_value());
  EXPECT_FALSE(mirror_->Entry("drop")->has_value());
  EXPECT_EQ(change.entries_removed, std::vector<std::string>{"drop"});
}

TEST_F(MirrorTest, TombstonesRemoveMessagesAndHideEntries) {
  MessageInfo m = Msg(peer_, self_, 1);
  InfoPacket p;
  p.cursor = 2;
  p.incoming = {m};
  p.entries = {EntryInfo{"k", "v", 3, 2}};
  ASSERT_EQ(Apply(p), ApplyResult::kApplied);
  InfoPacket t;
  t.since = 2;
  t.cursor = 4;
  t.tombstones = {Tombstone{TombstoneKind::kMessage, std::string(m.id.AsBytes()), 0, 3},
                  Tombstone{TombstoneKind::kEntry, "k", 4, 4}};
  ReplicaChange change;
  ASSERT_EQ(Apply(t, &change), ApplyResult::kApplied);
  EXPECT_TRUE(Inbox().empty());
  EXPECT_FALSE(mirror_->Entry("k")->has_value());
  EXPECT_EQ(change.messages_removed, std::vector<MessageId>{m.id});
  // The tombstone's version counts: a put resolved now lands above it.
  OutboxItem put;
  put.kind = OutboxKind::kPutEntry;
  put.key = "k";
  put.value = "again";
  EXPECT_EQ(Enqueue(put).version, 5u);
}

TEST_F(MirrorTest, PendingWritesShowAtOnceAndRollBackOnFailure) {
  MessageInfo m = Msg(peer_, self_, 1);
  InfoPacket p;
  p.cursor = 1;
  p.incoming = {m};
  ASSERT_EQ(Apply(p), ApplyResult::kApplied);

  OutboxItem raise;
  raise.kind = OutboxKind::kStatus;
  raise.message = m.id;
  raise.status = MessageStatus::kViewed;
  ReplicaChange change;
  OutboxItem stored = Enqueue(raise, &change);
  EXPECT_EQ(change.messages, std::vector<MessageId>{m.id});
  auto seen = *mirror_->Message(m.id);
  EXPECT_EQ(seen->info.status, MessageStatus::kViewed);
  EXPECT_TRUE(seen->pending);
  EXPECT_EQ(seen->synced_status, static_cast<uint8_t>(MessageStatus::kUploaded));
  EXPECT_EQ(mirror_->Pending()->size(), 1u);

  Answer denied;
  denied.status = Status::PermissionDenied("not the recipient");
  std::vector<Ended> ended;
  ASSERT_TRUE(mirror_->End({{stored.id, denied}}, {}, &change, &ended).ok());
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].outcome.status.code(), Code::kPermissionDenied);
  EXPECT_EQ((*mirror_->Message(m.id))->info.status, MessageStatus::kUploaded);
  EXPECT_TRUE(mirror_->Pending()->empty());

  OutboxItem put;
  put.kind = OutboxKind::kPutEntry;
  put.key = "k";
  put.value = "mine";
  OutboxItem p2 = Enqueue(put);
  EXPECT_EQ(p2.version, 1u);
  EXPECT_EQ(mirror_->Entry("k")->value().value, "mine");
  Answer cancelled;
  cancelled.status = Status::InvalidArgument("cancelled");
  cancelled.cancelled = true;
  ASSERT_TRUE(mirror_->End({{p2.id, cancelled}}, {}, &change, &ended).ok());
  EXPECT_FALSE(mirror_->Entry("k")->has_value());
  EXPECT_EQ(change.entries_removed, std::vector<std::string>{"k"});
}

TEST_F(MirrorTest, AcknowledgedWritesBecomeTheSyncedStateAndLostMergesAskForTheWinner) {
  OutboxItem put;
  put.kind = OutboxKind::kPutEntry;
  put.key = "k";
  put.value = "mine";
  OutboxItem stored = Enqueue(put);
  Answer won;
  won.version = stored.version;
  std::vector<Ended> ended;
  ASSERT_TRUE(mirror_->End({{stored.id, won}}, {}, nullptr, &ended).ok());
  EXPECT_FALSE(ended[0].fetch_entry);
  auto e = *mirror_->Entry("k");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->value, "mine");

  OutboxItem again = Enqueue(put);
  EXPECT_EQ(again.version, 2u);
  Answer lost;
  lost.applied = false;
  lost.version = 7;  // the server holds version 7, which this mirror never saw
  ASSERT_TRUE(mirror_->End({{again.id, lost}}, {}, nullptr, &ended).ok());
  EXPECT_TRUE(ended[0].fetch_entry);
  EXPECT_FALSE(ended[0].outcome.applied);
  ASSERT_TRUE(mirror_->MergeFetchedEntry(EntryInfo{"k", "theirs", 7, 12}, nullptr).ok());
  EXPECT_EQ(mirror_->Entry("k")->value().value, "theirs");
  EXPECT_EQ(mirror_->Entry("k")->value().version, 7u);
}

TEST_F(MirrorTest, APendingPostIsSentUntilTheFeedBringsTheServersCopy) {
  OutboxItem post;
  post.kind = OutboxKind::kPost;
  post.message = MessageId::Random();
  post.peer = peer_;
  post.key = "video";
  post.length = 5;
  OutboxItem stored = Enqueue(post);
  auto sent = mirror_->Messages(false, std::nullopt, 0);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_TRUE((*sent)[0].pending);
  EXPECT_EQ((*sent)[0].synced_status, 0u);
  EXPECT_EQ((*sent)[0].info.to, peer_);

  // A second post with the same id is refused before it reaches the server.
  auto dup = mirror_->Enqueue(post, nullptr);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Code::kConflict);

  ASSERT_TRUE(mirror_->End({{stored.id, Answer{}}}, {}, nullptr, nullptr).ok());
  sent = mirror_->Messages(false, std::nullopt, 0);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_FALSE((*sent)[0].pending);

  MessageInfo server = Msg(self_, peer_, 4, MessageStatus::kViewed);
  server.id = post.message;
  InfoPacket p;
  p.cursor = 4;
  p.outgoing = {server};
  ASSERT_EQ(Apply(p), ApplyResult::kApplied);
  sent = mirror_->Messages(false, std::nullopt, 0);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_EQ((*sent)[0].info.status, MessageStatus::kViewed);
  EXPECT_EQ((*sent)[0].info.created_ms, server.created_ms);
}

TEST_F(MirrorTest, OutcomesAreKeptUntilReportedAcrossReopening) {
  OutboxItem put;
  put.kind = OutboxKind::kPutEntry;
  put.key = "k";
  put.value = "v";
  OutboxItem stored = Enqueue(put);
  Answer gone;
  gone.status = Status::TooLarge("value over the server's limit");
  ASSERT_TRUE(mirror_->End({{stored.id, gone}}, {}, nullptr, nullptr).ok());
  Reopen();
  auto unreported = mirror_->Unreported();
  ASSERT_TRUE(unreported.ok()) << unreported.status().ToString();
  ASSERT_EQ(unreported->size(), 1u);
  EXPECT_EQ((*unreported)[0].item, stored);
  EXPECT_EQ((*unreported)[0].status.code(), Code::kTooLarge);
  EXPECT_EQ((*unreported)[0].status.message(), "value over the server's limit");
  ASSERT_TRUE(mirror_->Reported({stored.id}).ok());
  EXPECT_TRUE(mirror_->Unreported()->empty());

  // Forgetting can also ride along with the next End.
  OutboxItem next = Enqueue(put);
  ASSERT_TRUE(mirror_->End({{next.id, Answer{}}}, {}, nullptr, nullptr).ok());
  ASSERT_EQ(mirror_->Unreported()->size(), 1u);
  OutboxItem third = Enqueue(put);
  ASSERT_TRUE(mirror_->End({{third.id, Answer{}}}, {next.id}, nullptr, nullptr).ok());
  auto left = mirror_->Unreported();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].item.id, third.id);
}

TEST_F(MirrorTest, LocalChecksRefuseWhatTheServerWould) {
  OutboxItem raise;
  raise.kind = OutboxKind::kStatus;
  raise.message = MessageId::Random();
  raise.status = MessageStatus::kViewed;
  EXPECT_EQ(mirror_->Enqueue(raise, nullptr).status().code(), Code::kNotFound);

  OutboxItem post;
  post.kind = OutboxKind::kPost;
  post.message = MessageId::Random();
  post.peer = self_;
  EXPECT_EQ(mirror_->Enqueue(post, nullptr).status().code(), Code::kInvalidArgument);

  OutboxItem put;
  put.kind = OutboxKind::kPutEntry;
  put.key = std::string(300, 'k');
  EXPECT_EQ(mirror_->Enqueue(put, nullptr).status().code(), Code::kTooLarge);
  put.key = "";
  EXPECT_EQ(mirror_->Enqueue(put, nullptr).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(mirror_->Pending()->empty());
}

TEST_F(MirrorTest, ItemsSharingAKeyDependOnEachOther) {
  OutboxItem post;
  post.kind = OutboxKind::kPost;
  post.message = MessageId::Random();
  post.peer = peer_;
  OutboxItem connect;
  connect.kind = OutboxKind::kAddConnection;
  connect.peer = peer_;
  auto a = Mirror::DepKeys(post), b = Mirror::DepKeys(connect);
  EXPECT_NE(std::find(a.begin(), a.end(), b[0]), a.end()) << "a post waits for its connection";
  OutboxItem e1, e2;
  e1.kind = OutboxKind::kPutEntry;
  e1.key = "ab";
  e2.kind = OutboxKind::kDeleteEntry;
  e2.key = "abc";
  EXPECT_NE(Mirror::DepKeys(e1)[0], Mirror::DepKeys(e2)[0]);
  EXPECT_NE(Mirror::DepKeys(e2)[0].rfind(Mirror::DepKeys(e1)[0], 0), 0u)
      << "one key's dependency key is not a prefix of another's";
}

}  // namespace
}  // namespace postbox::sync::replica
