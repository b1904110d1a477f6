// The replica and its durable outbox against a real server on 127.0.0.1
// (docs/replica.md): offline reads, writes that survive restarts, rollbacks,
// lost merges, cancelling, blobs, and the executor callbacks run on.
#include "postbox/sync/replica.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <set>
#include <thread>

#include "integration/replica/replica_test_util.h"
#include "integration/sync/sync_test_util.h"
#include "tests/support/fault_proxy.h"

namespace postbox::sync::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(ReplicaTest, TheInboxIsReadOfflineAfterARestart) {
  auto a = NewMailbox(), b = NewMailbox();
  const MessageId id = Post(a, b, "video");
  auto rb = Open(OptionsFor(b, "b"));
  ExpectSynced(rb.get());
  auto inbox = rb->Inbox();
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].info.id, id);
  EXPECT_EQ((*inbox)[0].info.from, a.mkey);
  const uint64_t cursor = rb->cursor();
  EXPECT_GT(cursor, 0u);
  rb.reset();

  server_->Stop();  // the app restarts with no network
  auto opts = OptionsFor(b, "b");
  auto offline = Open(opts);
  inbox = offline->Inbox();
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].info.id, id);
  EXPECT_EQ(offline->cursor(), cursor);
  EXPECT_FALSE(offline->state().connected);
}

TEST_F(ReplicaTest, ABatchOfWritesIsOneTransactionAndEachWriteGetsItsOwnResult) {
  auto a = NewMailbox(), b = NewMailbox();
  const MessageId id = Post(a, b, "video");
  Reports reports;
  auto rb = Open(OptionsFor(b, "b", &reports));
  ExpectSynced(rb.get());
  ReplicaBatch batch;
  batch.UpdateStatus(id, MessageStatus::kViewed);
  batch.UpdateStatus(MessageId::Random(), MessageStatus::kViewed);  // not in the replica
  batch.PutEntry("k", "one");
  batch.PutEntry("k", "two");  // resolved above the first, in the same transaction
  batch.PutEntry("", "no key");
  batch.UpdateStatus(id, static_cast<MessageStatus>(9));
  batch.DeleteEntry("gone");
  auto r = rb->Write(batch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 7u);
  EXPECT_TRUE((*r)[0].ok());
  EXPECT_EQ((*r)[1].status().code(), Code::kNotFound);
  EXPECT_TRUE((*r)[2].ok());
  EXPECT_TRUE((*r)[3].ok());
  EXPECT_EQ((*r)[4].status().code(), Code::kInvalidArgument);
  EXPECT_EQ((*r)[5].status().code(), Code::kInvalidArgument);
  EXPECT_TRUE((*r)[6].ok());
  EXPECT_LT(*(*r)[0], *(*r)[2]) << "item ids follow the batch's order";
  EXPECT_LT(*(*r)[2], *(*r)[3]);
  auto pending = rb->Pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->size(), 4u) << "only the valid writes are in the outbox";
  EXPECT_EQ(rb->GetEntry("k")->value, "two");
  EXPECT_EQ(rb->GetEntry("k")->version, 2u);
  EXPECT_EQ(rb->GetMessage(id)->info.status, MessageStatus::kViewed);
  ExpectSynced(rb.get());
  ASSERT_TRUE(reports.WaitOutcomes(4));
  for (const auto& o : reports.outcomes()) EXPECT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(db_->GetEntry(b.mkey, "k")->value, "two");
  EXPECT_EQ(db_->GetMessage(a.mkey, id)->status, MessageStatus::kViewed);
}

TEST_F(ReplicaTest, AnOfflineStatusRaiseSurvivesARestartAndReachesTheSender) {
  auto a = NewMailbox(), b = NewMailbox();
  const MessageId id = Post(a, b);
  {
    auto rb = Open(OptionsFor(b, "b"));
    ExpectSynced(rb.get());
  }
  server_->Stop();
  Reports reports;
  {
    auto rb = Open(OptionsFor(b, "b", &reports));
    auto item = rb->UpdateStatus(id, MessageStatus::kViewed);
    ASSERT_TRUE(item.ok()) << item.status().ToString();
    auto m = rb->GetMessage(id);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->info.status, MessageStatus::kViewed) << "the raise shows at once";
    EXPECT_TRUE(m->pending);
    auto pending = rb->Pending();
    ASSERT_EQ(pending->size(), 1u);
    EXPECT_EQ((*pending)[0].kind, OutboxKind::kStatus);
  }  // the app quits before it ever reached the server
  StartServer(ServerOptions{});
  auto rb = Open(OptionsFor(b, "b", &reports));
  ExpectSynced(rb.get());
  ASSERT_TRUE(reports.WaitOutcomes(1));
  EXPECT_TRUE(reports.outcomes()[0].status.ok());
  EXPECT_EQ(db_->GetMessage(a.mkey, id)->status, MessageStatus::kViewed);
  EXPECT_FALSE(rb->GetMessage(id)->pending);
  EXPECT_TRUE(rb->Pending()->empty());

  // The sender's replica sees VIEWED through the feed.
  auto ra = Open(OptionsFor(a, "a"));
  ExpectSynced(ra.get());
  auto sent = ra->Sent();
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_EQ((*sent)[0].info.status, MessageStatus::kViewed);
}

TEST_F(ReplicaTest, APostWritesOverTheBlobFileACrashLeftWithoutItsItem) {
  auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  auto ra = Open(OptionsFor(a, "a"));
  ExpectSynced(ra.get());
  // A crash between writing the outbox copy and storing its item leaves the
  // file alone; the same id posted again (a relay forwarding after a restart)
  // must not be refused as in use.
  const MessageId id = MessageId::Random();
  std::filesystem::create_directories(apps_.path() / "a" / "outbox");
  std::ofstream(apps_.path() / "a" / "outbox" / (id.ToHex() + ".blob")) << "half a blob";
  auto posted = ra->Post(b.mkey, "the whole blob", "video", "", id);
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  ExpectSynced(ra.get());
  EXPECT_EQ(*db_->ReadBlob(b.mkey, id), "the whole blob");
  EXPECT_EQ(ra->Post(b.mkey, "again", "video", "", id).status().code(), Code::kConflict)
      << "an id the replica holds is in use";
}

TEST_F(ReplicaTest, APostToAMailboxNotConnectedFailsAndIsRolledBack) {
  auto a = NewMailbox(), c = NewMailbox();
  Reports reports;
  auto ra = Open(OptionsFor(a, "a", &reports));
  auto id = ra->Post(c.mkey, "bytes of a video", "video");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(ra->Sent()->size(), 1u) << "optimistic until the server answers";
  ASSERT_TRUE(reports.WaitOutcomes(1));
  auto o = reports.outcomes()[0];
  EXPECT_EQ(o.status.code(), Code::kPermissionDenied) << o.status.ToString();
  EXPECT_EQ(o.item.kind, OutboxKind::kPost);
  EXPECT_TRUE(ra->Sent()->empty());
  EXPECT_TRUE(ra->Pending()->empty());
  EXPECT_FALSE(std::filesystem::exists(o.item.path)) << "the replica's copy of the blob is gone";
  EXPECT_EQ(db_->GetMessage(a.mkey, *id).status().code(), Code::kNotFound);
}

TEST_F(ReplicaTest, AConnectionMadeOfflineGoesFirstThenThePostThatNeedsIt) {
  auto a = NewMailbox(), b = NewMailbox();
  ASSERT_EQ(*db_->RequestConnection(b.mkey, a.mkey), ConnectionState::kRequested);
  Reports reports;
  auto opts = OptionsFor(a, "a", &reports);
  opts.start = false;  // offline: both writes wait in the outbox
  auto ra = Open(opts);
  ASSERT_TRUE(ra->AddConnection(b.mkey).ok());
  auto id = ra->Post(b.mkey, "hello", "video");
  ASSERT_TRUE(id.ok());
  auto conns = ra->Connections();
  ASSERT_EQ(conns->size(), 1u);
  EXPECT_EQ((*conns)[0].second, ConnectionState::kRequested);
  ra->Start();
  ExpectSynced(ra.get());
  ASSERT_TRUE(reports.WaitOutcomes(2));
  for (const auto& o : reports.outcomes()) EXPECT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(reports.outcomes()[0].item.kind, OutboxKind::kAddConnection);
  EXPECT_EQ(db_->GetMessage(b.mkey, *id)->from, a.mkey);
  conns = ra->Connections();
  ASSERT_EQ(conns->size(), 1u);
  EXPECT_EQ((*conns)[0].second, ConnectionState::kConnected);
}

TEST_F(ReplicaTest, AWriteThatLostItsMergeShowsTheWinner) {
  auto b = NewMailbox();
  Reports reports;
  auto opts = OptionsFor(b, "b", &reports);
  opts.start = false;
  auto rb = Open(opts);
  ASSERT_TRUE(rb->PutEntry("settings", "mine").ok());                 // resolved to version 1
  ASSERT_TRUE(db_->PutEntry(b.mkey, "settings", "theirs", 10).ok());  // another device
  EXPECT_EQ(rb->GetEntry("settings")->value, "mine");
  rb->Start();
  ExpectSynced(rb.get());
  ASSERT_TRUE(reports.WaitOutcomes(1));
  EXPECT_TRUE(reports.outcomes()[0].status.ok());
  EXPECT_FALSE(reports.outcomes()[0].applied);
  auto e = rb->GetEntry("settings");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value, "theirs");
  EXPECT_EQ(e->version, 10u);
}

TEST_F(ReplicaTest, ResendsAfterLostSessionsApplyOnce) {
  auto b = NewMailbox();
  Reports reports;
  auto rb = Open(OptionsFor(b, "b", &reports));
  ExpectSynced(rb.get());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(rb->PutEntry("k" + std::to_string(i % 5), "v" + std::to_string(i)).ok());
    if (i % 10 == 0) rb->DropConnection();
  }
  ExpectSynced(rb.get());
  ASSERT_TRUE(reports.WaitOutcomes(50));
  for (int k = 0; k < 5; ++k) {
    const std::string key = "k" + std::to_string(k);
    auto server = db_->GetEntry(b.mkey, key);
    ASSERT_TRUE(server.ok());
    EXPECT_EQ(server->value, "v" + std::to_string(45 + k));
    EXPECT_EQ(server->version, 10u) << "ten writes, each resolved once, none applied twice";
    EXPECT_EQ(rb->GetEntry(key)->value, server->value);
  }
}

TEST_F(ReplicaTest, PendingItemsCanBeListedAndCancelled) {
  auto b = NewMailbox();
  Reports reports;
  auto opts = OptionsFor(b, "b", &reports);
  opts.start = false;
  auto rb = Open(opts);
  auto keep = rb->PutEntry("keep", "1");
  auto drop = rb->PutEntry("drop", "2");
  ASSERT_TRUE(keep.ok() && drop.ok());
  auto pending = rb->Pending();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[1].key, "drop");
  ASSERT_TRUE(rb->Cancel(*drop).ok());
  EXPECT_EQ(rb->Cancel(*drop).code(), Code::kNotFound);
  EXPECT_EQ(rb->GetEntry("drop").status().code(), Code::kNotFound);
  ASSERT_TRUE(reports.WaitOutcomes(1));
  EXPECT_TRUE(reports.outcomes()[0].cancelled);
  rb->Start();
  ExpectSynced(rb.get());
  EXPECT_TRUE(db_->GetEntry(b.mkey, "keep").ok());
  EXPECT_EQ(db_->GetEntry(b.mkey, "drop").status().code(), Code::kNotFound);
}

TEST_F(ReplicaTest, BlobsDownloadOnRequestAndByPolicy) {
  auto a = NewMailbox(), b = NewMailbox();
  const std::string bytes = RandomBytes(600 * 1024, 7);
  const MessageId clip = Post(a, b, "clip", bytes);
  const MessageId photo = Post(a, b, "photo", "small photo");
  auto opts = OptionsFor(b, "b");
  opts.download_policy.automatic = true;
  opts.download_policy.topics = {"photo"};
  auto rb = Open(opts);
  ExpectSynced(rb.get());
  auto wait_downloaded = [&](const MessageId& id) {
    for (int i = 0; i < 500; ++i) {
      auto blob = rb->Blob(id);
      if (blob.ok() && blob->state == BlobState::kDownloaded) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_downloaded(photo));
  EXPECT_EQ(*rb->ReadBlob(photo), "small photo");
  EXPECT_EQ(rb->Blob(clip).status().code(), Code::kNotFound) << "not by policy: a clip";
  ASSERT_TRUE(rb->RequestBlob(clip).ok());
  ASSERT_TRUE(wait_downloaded(clip));
  EXPECT_EQ(*rb->ReadBlob(clip), bytes);

  const std::string app_file = (apps_.path() / "clip-copy").string();
  ASSERT_TRUE(rb->RequestBlobTo(clip, app_file).ok());
  ASSERT_TRUE(wait_downloaded(clip));
  std::ifstream in(app_file, std::ios::binary);
  std::string copy((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(copy, bytes);
}

TEST_F(ReplicaTest, AReplacedMessageIsGoneAtOnceWithItsPartialBlob) {
  auto a = NewMailbox(), b = NewMailbox();
  const MessageId old_id = Post(a, b, "video", RandomBytes(4 << 20, 3));
  Reports reports;
  auto rb = Open(OptionsFor(b, "b", &reports));
  ExpectSynced(rb.get());
  ASSERT_TRUE(rb->RequestBlob(old_id).ok());
  const MessageId new_id = Post(a, b, "video", "the new one");  // supersedes old_id
  for (int i = 0; i < 500 && rb->GetMessage(old_id).ok(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(rb->GetMessage(old_id).status().code(), Code::kNotFound);
  EXPECT_TRUE(rb->GetMessage(new_id).ok());
  EXPECT_EQ(rb->Blob(old_id).status().code(), Code::kNotFound);
  ExpectSynced(rb.get());
  std::this_thread::sleep_for(100ms);  // a download that was running has ended Gone
  for (const auto& f : std::filesystem::directory_iterator(apps_.path() / "b" / "blobs")) {
    EXPECT_EQ(f.path().filename().string().find(old_id.ToHex()), std::string::npos)
        << f.path() << " is left of the replaced message";
  }
  bool told = false;
  for (const auto& c : reports.changes()) {
    for (const auto& id : c.messages_removed) told = told || id == old_id;
  }
  EXPECT_TRUE(told) << "the app was told the old message is gone";
}

TEST_F(ReplicaTest, CallbacksRunOnTheExecutorTheAppSupplies) {
  auto a = NewMailbox(), b = NewMailbox();
  std::mutex mu;
  std::deque<std::function<void()>> queue;
  std::atomic<int> posted{0};
  auto opts = OptionsFor(b, "b");
  opts.executor = [&](std::function<void()> fn) {
    std::lock_guard lock(mu);
    queue.push_back(std::move(fn));
    ++posted;
  };
  std::vector<std::thread::id> ran_on;
  std::vector<ReplicaChange> changes;
  opts.on_change = [&](const ReplicaChange& c) {
    ran_on.push_back(std::this_thread::get_id());
    changes.push_back(c);
  };
  auto rb = Open(opts);
  const MessageId id = Post(a, b);
  ExpectSynced(rb.get());
  ASSERT_GT(posted.load(), 0);
  EXPECT_TRUE(changes.empty()) << "nothing runs until the app's executor does";
  for (;;) {  // the app drains its queue on its own thread: this one
    std::function<void()> fn;
    {
      std::lock_guard lock(mu);
      if (queue.empty()) break;
      fn = std::move(queue.front());
      queue.pop_front();
    }
    fn();
  }
  ASSERT_FALSE(changes.empty());
  for (auto t : ran_on) EXPECT_EQ(t, std::this_thread::get_id());
  bool saw = false;
  for (const auto& c : changes) {
    for (const auto& m : c.messages) saw = saw || m == id;
  }
  EXPECT_TRUE(saw);
  rb.reset();
}

TEST_F(ReplicaTest, LostAndRepeatedPushesAreDetectedAndRepaired) {
  ServerOptions so;
  so.window = 16;  // pushes keep coming after one is lost: the gap shows in `since`
  StartServer(so);
  auto a = NewMailbox(), b = NewMailbox();
  auto proxy = postbox::testing::FaultProxy::Start(server_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  auto opts = OptionsFor(b, "b");
  opts.client.port = (*proxy)->port();
  opts.poll_interval = 200ms;  // the safety net when a lost push stalls the window
  auto rb = Open(opts);
  ExpectSynced(rb.get());

  // Half the server's info packets vanish and a third arrive twice.
  postbox::testing::FaultPolicy lossy;
  lossy.seed = 12;
  lossy.to_client.drop = 0.5;
  lossy.to_client.duplicate = 0.3;
  lossy.to_client.types = {wire::MessageType::kInfoPacket};
  ASSERT_TRUE((*proxy)->SetPolicy(lossy).ok());
  std::vector<MessageId> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(Post(a, b, "topic" + std::to_string(i)));
    ASSERT_TRUE(db_->PutEntry(b.mkey, "k" + std::to_string(i % 3), std::to_string(i)).ok());
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE((*proxy)->SetPolicy(postbox::testing::FaultPolicy::None()).ok());
  ExpectSynced(rb.get());

  const auto stats = (*proxy)->stats();
  EXPECT_GT(stats.to_client.dropped, 0u);
  EXPECT_GT(stats.to_client.duplicated, 0u);
  EXPECT_GT(rb->state().packets_skipped, 0u) << "repeats and gaps were seen and skipped";
  auto inbox = rb->Inbox();
  ASSERT_TRUE(inbox.ok());
  std::set<MessageId> have;
  for (const auto& m : *inbox) have.insert(m.info.id);
  EXPECT_EQ(have, std::set<MessageId>(ids.begin(), ids.end()));
  for (int k = 0; k < 3; ++k) {
    const std::string key = "k" + std::to_string(k);
    EXPECT_EQ(rb->GetEntry(key)->value, db_->GetEntry(b.mkey, key)->value);
  }
  rb.reset();
}

TEST_F(ReplicaTest, AnOutcomeTheAppNeverSawIsReportedAfterARestart) {
  auto b = NewMailbox();
  auto opts = OptionsFor(b, "b");
  std::atomic<int> queued{0};
  opts.executor = [&](std::function<void()>) { ++queued; };  // the app dies before running them
  opts.on_outbox = [](const OutboxOutcome&) { ADD_FAILURE() << "never runs"; };
  auto rb = Open(opts);
  auto id = rb->PutEntry("k", "v");
  ASSERT_TRUE(id.ok());
  for (int i = 0; i < 500 && !rb->Pending()->empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(rb->Pending()->empty());
  rb.reset();

  Reports reports;
  rb = Open(OptionsFor(b, "b", &reports));
  ASSERT_TRUE(reports.WaitOutcomes(1));
  EXPECT_EQ(reports.outcomes()[0].item.id, *id);
  EXPECT_TRUE(reports.outcomes()[0].status.ok());
  rb.reset();
  Reports none;
  rb = Open(OptionsFor(b, "b", &none));
  ExpectSynced(rb.get());
  EXPECT_TRUE(none.outcomes().empty()) << "reported once it ran";
}

TEST_F(ReplicaTest, ARestartInTheMiddleOfAnUploadResumesIt) {
  auto a = NewMailbox(), b = NewMailbox();
  ASSERT_TRUE(db_->Connect(a.mkey, b.mkey).ok());
  const std::string bytes = RandomBytes(3 << 20, 11);
  Reports reports;
  MessageId id;
  {
    auto ra = Open(OptionsFor(a, "a", &reports));
    auto posted = ra->Post(b.mkey, bytes, "video");
    ASSERT_TRUE(posted.ok());
    id = *posted;
    // Quit as soon as some of it is on the server.
    for (int i = 0; i < 500; ++i) {
      auto up = db_->UploadOffset(a.mkey, id);
      if (up.ok() && (up->offset > 0 || up->committed)) break;
      std::this_thread::sleep_for(2ms);
    }
  }
  auto ra = Open(OptionsFor(a, "a", &reports));
  ExpectSynced(ra.get());
  ASSERT_TRUE(reports.WaitOutcomes(1));
  EXPECT_TRUE(reports.outcomes().back().status.ok()) << reports.outcomes().back().status.ToString();
  EXPECT_EQ(*db_->ReadBlob(b.mkey, id), bytes);
  EXPECT_FALSE(ra->GetMessage(id)->pending);
}

}  // namespace
}  // namespace postbox::sync::testing
