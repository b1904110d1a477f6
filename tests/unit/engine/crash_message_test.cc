// Crash: a child posts messages (and advances statuses) in a loop and is killed
// with SIGKILL; every acknowledged post must be readable or superseded by a
// later commit, and both feeds must agree with the messages. See crash_util.h.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "tests/unit/engine/crash_util.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

using test::crash::ChildRun;
using test::crash::RunChildAndKill;
using test::crash::WriteLine;

constexpr int kTopics = 5;

size_t BlobSize(uint64_t i) { return 500 + (i * 977) % 9000; }
uint32_t BlobSeed(uint64_t i) { return static_cast<uint32_t>(i * 2654435761u); }

// The child: a posts to b into kTopics slots; every third post, b advances the
// previous message. Reports "P id topic i" and "S id status" once acknowledged.
[[noreturn]] void PostWriter(const std::string& path, int fd, std::string a_hex, std::string b_hex,
                             uint64_t first) {
  Options o;  // kDurable: acknowledged means synced
  auto db = DB::Open(path, o);
  if (!db.ok()) _exit(3);
  MailboxKey a, b;
  if (a_hex.empty()) {
    auto ca = (*db)->CreateMailbox();
    auto cb = (*db)->CreateMailbox();
    if (!ca.ok() || !cb.ok()) _exit(4);
    a = ca->mkey;
    b = cb->mkey;
    if (!(*db)->Connect(a, b).ok()) _exit(5);
    WriteLine(fd, "M " + a.ToHex() + " " + b.ToHex());
  } else {
    auto pa = MailboxKey::FromHex(a_hex);
    auto pb = MailboxKey::FromHex(b_hex);
    if (!pa.ok() || !pb.ok()) _exit(6);
    a = *pa;
    b = *pb;
  }
  MessageId previous;
  bool have_previous = false;
  for (uint64_t i = first;; ++i) {
    const std::string bytes = test::Bytes(BlobSize(i), BlobSeed(i));
    PostRequest req;
    req.from = a;
    req.to = b;
    req.id = MessageId::Random();
    req.topic = "t" + std::to_string(i % kTopics);
    req.meta = "m" + std::to_string(i);
    req.bytes = bytes;
    auto posted = (*db)->PostMessage(req);
    if (!posted.ok()) _exit(7);
    WriteLine(fd, "P " + req.id.ToHex() + " " + req.topic + " " + std::to_string(i));
    if (i % 3 == 0 && have_previous) {
      const auto want = i % 2 == 0 ? MessageStatus::kViewed : MessageStatus::kDownloaded;
      auto s = (*db)->AdvanceStatus(b, previous, want);
      // The previous message may have been superseded just now (same slot).
      if (s.ok()) {
        WriteLine(fd, "S " + previous.ToHex() + " " + std::to_string(static_cast<int>(*s)));
      } else if (!s.status().Is(Code::kGone)) {
        _exit(8);
      }
    }
    previous = req.id;
    have_previous = true;
  }
}

struct PostAck {
  MessageId id;
  std::string topic;
  uint64_t i = 0;
  int status = 1;  // the highest status acknowledged for it
};

void VerifyPosts(DB& db, const MailboxKey& a, const MailboxKey& b,
                 const std::vector<PostAck>& acks) {
  ASSERT_OK_AND_ASSIGN(InfoPacket in, db.Changes(b, 0, 0));
  ASSERT_OK_AND_ASSIGN(InfoPacket out, db.Changes(a, 0, 0));
  EXPECT_TRUE(test::SeqsWellFormed(in));
  EXPECT_TRUE(test::SeqsWellFormed(out));
  EXPECT_FALSE(in.reset || in.more || out.reset || out.more);
  EXPECT_TRUE(in.outgoing.empty() && in.entries.empty());
  EXPECT_TRUE(out.incoming.empty() && out.entries.empty());
  EXPECT_EQ(in.cursor, test::Must(db.GetMailbox(b), "GetMailbox").seq);
  EXPECT_EQ(out.cursor, test::Must(db.GetMailbox(a), "GetMailbox").seq);

  // One live message per slot, the same in both feeds.
  std::map<std::string, MessageId> live_by_topic;
  std::set<MessageId> live;
  for (const MessageInfo& m : in.incoming) {
    EXPECT_EQ(m.from, a);
    EXPECT_TRUE(live_by_topic.emplace(m.topic, m.id).second) << "two live in slot " << m.topic;
    live.insert(m.id);
  }
  std::set<MessageId> live_out;
  for (const MessageInfo& m : out.outgoing) live_out.insert(m.id);
  EXPECT_EQ(live, live_out);
  std::set<std::string> gone_in, gone_out;
  for (const Tombstone& t : in.tombstones) gone_in.insert(t.key);
  for (const Tombstone& t : out.tombstones) gone_out.insert(t.key);
  EXPECT_EQ(gone_in, gone_out);

  std::map<std::string, size_t> last_ack_by_topic;
  for (size_t k = 0; k < acks.size(); ++k) {
    const PostAck& ack = acks[k];
    last_ack_by_topic[ack.topic] = k;
    Result<MessageInfo> got = db.GetMessage(b, ack.id);
    if (got.ok()) {
      EXPECT_TRUE(live.count(ack.id)) << ack.id.ToHex();
      const std::string bytes = test::Bytes(BlobSize(ack.i), BlobSeed(ack.i));
      EXPECT_EQ(got->topic, ack.topic);
      EXPECT_EQ(got->meta, "m" + std::to_string(ack.i));
      EXPECT_EQ(got->length, bytes.size());
      EXPECT_EQ(got->digest, ComputeDigest128(bytes));
      EXPECT_GE(static_cast<int>(got->status), ack.status) << ack.id.ToHex();
      ASSERT_OK_AND_ASSIGN(std::string blob, db.ReadBlob(b, ack.id));
      EXPECT_TRUE(blob == bytes) << ack.id.ToHex();
    } else {
      // Acknowledged then superseded by a later post: never simply lost.
      EXPECT_CODE(got, kGone);
      EXPECT_TRUE(gone_in.count(std::string(ack.id.AsBytes()))) << ack.id.ToHex();
    }
  }
  // The latest acknowledged post of each slot is live, unless a post the kill
  // cut off before its acknowledgement committed after it.
  std::set<MessageId> acked_ids;
  for (const PostAck& ack : acks) acked_ids.insert(ack.id);
  for (const auto& [topic, k] : last_ack_by_topic) {
    auto it = live_by_topic.find(topic);
    ASSERT_NE(it, live_by_topic.end()) << "slot " << topic << " lost its messages";
    if (it->second != acks[k].id) {
      EXPECT_FALSE(acked_ids.count(it->second)) << "an older post outlived a newer one";
    }
  }
  ASSERT_OK_AND_ASSIGN(StoreStats stats, db.Stats());
  EXPECT_EQ(stats.mailboxes, 2u);
  EXPECT_EQ(stats.messages, live.size());
  EXPECT_GE(stats.blob_chunks, live.size());
  EXPECT_EQ(stats.feed_records, in.size() + out.size());

  // The store takes new posts, which supersede as usual.
  const std::string bytes = "after the crash";
  PostRequest req;
  req.from = a;
  req.to = b;
  req.id = MessageId::Random();
  req.topic = "t0";
  req.bytes = bytes;
  ASSERT_OK(db.PostMessage(req));
  if (live_by_topic.count("t0")) {
    EXPECT_CODE(db.GetMessage(b, live_by_topic["t0"]), kGone);
  }
}

TEST(CrashTest, AcknowledgedPostsSurviveSigkill) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  std::string a_hex, b_hex;
  std::vector<PostAck> acks;
  std::map<std::string, size_t> by_hex;
  for (int round = 0; round < 2; ++round) {
    const uint64_t first = static_cast<uint64_t>(round) * 1'000'000 + 1;
    const ChildRun run =
        RunChildAndKill([&](int fd) { PostWriter(path, fd, a_hex, b_hex, first); });
    ASSERT_TRUE(run.killed) << run.error;
    size_t posts = 0;
    for (const std::vector<std::string>& f : run.lines) {
      if (f[0] == "M" && f.size() == 3) {
        a_hex = f[1];
        b_hex = f[2];
      } else if (f[0] == "P" && f.size() == 4) {
        by_hex[f[1]] = acks.size();
        acks.push_back(
            PostAck{test::Must(MessageId::FromHex(f[1]), "id"), f[2], std::stoull(f[3]), 1});
        ++posts;
      } else if (f[0] == "S" && f.size() == 3 && by_hex.count(f[1])) {
        PostAck& ack = acks[by_hex[f[1]]];
        ack.status = std::max(ack.status, std::stoi(f[2]));
      } else {
        ADD_FAILURE() << "unexpected line from the child: " << f[0];
      }
    }
    ASSERT_FALSE(a_hex.empty()) << "the child never reported its mailboxes";
    EXPECT_GE(posts, 10u) << "too few posts before the kill to test anything";

    Options o;
    o.durability = Durability::kRelaxed;
    auto db = DB::Open(path, o);
    ASSERT_OK(db) << "round " << round;
    const MailboxKey a = test::Must(MailboxKey::FromHex(a_hex), "a");
    const MailboxKey b = test::Must(MailboxKey::FromHex(b_hex), "b");
    ASSERT_NO_FATAL_FAILURE(VerifyPosts(**db, a, b, acks)) << "round " << round;
  }
}

}  // namespace
}  // namespace postbox
