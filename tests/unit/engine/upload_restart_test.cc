// Uploads survive restarts: the committed offset is durable, so a client
// resumes from UploadOffset after the store was closed and reopened, or after
// the process writing it was killed with SIGKILL in the middle of a chunk.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "postbox/blob.h"
#include "postbox/db.h"
#include "tests/unit/engine/test_util.h"
#include "tests/unit/engine/upload_util.h"

namespace postbox {
namespace {

using test::kKiB;
using test::kMiB;

class UploadReopenTest : public test::UploadFixture {};

TEST_F(UploadReopenTest, ResumesAfterReopenBetweenChunks) {
  const std::string blob = test::Bytes(1 * kMiB + 123, 31);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  uint64_t off = 0;
  const uint64_t chunk = 96 * kKiB;  // not a divisor of the 256 KiB pieces
  while (off < blob.size()) {
    const uint64_t n = std::min<uint64_t>(chunk, blob.size() - off);
    ASSERT_OK_AND_ASSIGN(UploadState s, db().WriteChunk(a_, req.id, off, blob.substr(off, n)));
    ASSERT_EQ(s.offset, off + n);
    Reopen();
    // A restarted client asks where to go on, as it would after a disconnect.
    ASSERT_OK_AND_ASSIGN(UploadState asked, db().UploadOffset(a_, req.id));
    ASSERT_EQ(asked, s);
    ASSERT_OK_AND_ASSIGN(UploadState begun, db().BeginUpload(req));
    ASSERT_EQ(begun, s);
    off = asked.offset;
  }
  Reopen();
  ASSERT_OK(db().CommitUpload(a_, req.id));
  Reopen();
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
  ASSERT_OK_AND_ASSIGN(UploadState done, db().UploadOffset(a_, req.id));
  EXPECT_TRUE(done.committed);
}

TEST_F(UploadReopenTest, DurableModeKeepsEveryAcknowledgedChunk) {
  options_.durability = Durability::kDurable;
  Reopen();
  const std::string blob = test::Bytes(700 * kKiB, 32);
  const UploadRequest req = Declare(blob);
  ASSERT_OK(db().BeginUpload(req));
  ASSERT_TRUE(WriteRange(req.id, blob, 0, 500 * kKiB, 250 * kKiB));
  Reopen();
  ASSERT_OK_AND_ASSIGN(UploadState s, db().UploadOffset(a_, req.id));
  EXPECT_EQ(s.offset, 500 * kKiB);
  // A resend of what the store already holds, then the rest.
  ASSERT_TRUE(WriteRange(req.id, blob, 250 * kKiB, blob.size(), 250 * kKiB));
  ASSERT_OK(db().CommitUpload(a_, req.id));
  ASSERT_OK_AND_ASSIGN(std::string got, db().ReadBlob(b_, req.id));
  EXPECT_TRUE(got == blob);
}

// ---- SIGKILL in the middle of an upload ----

constexpr uint64_t kCrashBlobSize = 16 * kMiB;
constexpr uint64_t kCrashChunk = 64 * kKiB;
constexpr uint32_t kCrashSeed = 33;

// The child's side: opens the store (durable), sets up the mailboxes and the
// upload if `setup`, reports "ready <a> <b> <id>", then writes from the
// committed offset on and reports "ack <offset>" after each acknowledged
// chunk. Never returns; exits nonzero on any error and waits to be killed
// once the upload is complete.
[[noreturn]] void UploadChild(int fd, const std::string& path, const std::string& setup_line) {
  auto report = [fd](const std::string& line) {
    const std::string s = line + "\n";
    if (write(fd, s.data(), s.size()) != static_cast<ssize_t>(s.size())) _exit(20);
  };
  Options o;
  o.durability = Durability::kDurable;
  auto opened = DB::Open(path, o);
  if (!opened.ok()) _exit(21);
  DB& db = **opened;
  const std::string blob = test::Bytes(kCrashBlobSize, kCrashSeed);
  UploadRequest req;
  req.topic = "video";
  req.meta = "mp4";
  req.length = blob.size();
  req.digest = test::ReferenceDigest(blob);
  if (setup_line.empty()) {
    auto a = db.CreateMailbox();
    auto b = db.CreateMailbox();
    if (!a.ok() || !b.ok()) _exit(22);
    if (!db.Connect(a->mkey, b->mkey).ok()) _exit(23);
    req.from = a->mkey;
    req.to = b->mkey;
    req.id = MessageId::Random();
  } else {
    std::istringstream in(setup_line);
    std::string a, b, id;
    in >> a >> b >> id;
    auto from = MailboxKey::FromHex(a);
    auto to = MailboxKey::FromHex(b);
    auto mid = MessageId::FromHex(id);
    if (!from.ok() || !to.ok() || !mid.ok()) _exit(26);
    req.from = *from;
    req.to = *to;
    req.id = *mid;
  }
  auto state = db.BeginUpload(req);
  if (!state.ok()) _exit(24);
  report("ready " + req.from.ToHex() + " " + req.to.ToHex() + " " + req.id.ToHex() + " " +
         std::to_string(state->offset));
  uint64_t off = state->offset;
  while (off < blob.size()) {
    const uint64_t n = std::min(kCrashChunk, blob.size() - off);
    auto s = db.WriteChunk(req.from, req.id, off, std::string_view(blob).substr(off, n));
    if (!s.ok() || s->offset != off + n) _exit(25);
    off = s->offset;
    report("ack " + std::to_string(off));
  }
  for (;;) pause();
}

struct KillRun {
  std::string ready;      // "<a> <b> <id>"
  uint64_t start = 0;     // the offset the child resumed from
  uint64_t last_ack = 0;  // the last offset the child reported as acknowledged
  size_t acks_at_kill = 0;
  bool killed = false;
  std::string error;
};

// Parses the complete lines of `buf` from `*parsed` on into `run`; returns how
// many acks they held.
size_t ParseLines(const std::string& buf, size_t* parsed, KillRun* run) {
  size_t acks = 0;
  for (size_t nl; (nl = buf.find('\n', *parsed)) != std::string::npos; *parsed = nl + 1) {
    std::istringstream line(buf.substr(*parsed, nl - *parsed));
    std::string word;
    line >> word;
    if (word == "ready") {
      std::string a, b, id;
      line >> a >> b >> id >> run->start;
      run->ready = a + " " + b + " " + id;
    } else if (word == "ack") {
      line >> run->last_ack;
      ++acks;
    }
  }
  return acks;
}

// Forks an UploadChild, lets it acknowledge `kill_after_acks` chunks, then
// SIGKILLs it without warning (it is normally in the middle of its next chunk),
// reaps it and collects every line it completed before it died. No store may
// be open in this process.
KillRun ForkUploadAndKill(const std::string& path, const std::string& setup_line,
                          size_t kill_after_acks) {
  KillRun run;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    run.error = "pipe2 failed";
    return run;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    run.error = "fork failed";
    close(fds[0]);
    close(fds[1]);
    return run;
  }
  if (pid == 0) {
    close(fds[0]);
    UploadChild(fds[1], path, setup_line);
  }
  close(fds[1]);
  std::string buf;
  size_t parsed = 0;
  size_t acks = 0;
  char tmp[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acks < kill_after_acks && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = read(fds[0], tmp, sizeof tmp);
    if (n == 0) break;  // the child died on its own
    if (n < 0) continue;
    buf.append(tmp, static_cast<size_t>(n));
    acks += ParseLines(buf, &parsed, &run);
  }
  run.acks_at_kill = acks;
  kill(pid, SIGKILL);
  // Its death closes the write end: drain what it reported before it died.
  for (;;) {
    const ssize_t n = read(fds[0], tmp, sizeof tmp);
    if (n > 0) {
      buf.append(tmp, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ParseLines(buf, &parsed, &run);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!run.killed) {
    run.error = WIFEXITED(status) ? "child exited with " + std::to_string(WEXITSTATUS(status))
                                  : "child died of signal " + std::to_string(WTERMSIG(status));
  }
  return run;
}

TEST(UploadCrashTest, SigkillMidUploadResumesFromAcknowledgedOffset) {
  test::TempDir dir;
  const std::string path = dir.Sub("db");
  const std::string blob = test::Bytes(kCrashBlobSize, kCrashSeed);
  std::mt19937 rng(std::random_device{}());
  std::string ready;
  uint64_t last_ack = 0;
  // Three rounds: each child resumes where the store says and is killed again.
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const size_t kill_after = 3 + rng() % 20;
    // No store is open in this process while the child runs.
    KillRun run = ForkUploadAndKill(path, ready, kill_after);
    ASSERT_TRUE(run.killed) << run.error;
    ASSERT_FALSE(run.ready.empty()) << "the child never got ready";
    ASSERT_GE(run.acks_at_kill, kill_after) << "the child stopped acknowledging";
    ASSERT_LT(run.last_ack, blob.size()) << "the kill came after the upload was complete";
    // It resumed exactly where the previous child was known to be, or further.
    EXPECT_GE(run.start, last_ack);
    ready = run.ready;
    last_ack = run.last_ack;

    std::istringstream in(ready);
    std::string a_hex, b_hex, id_hex;
    in >> a_hex >> b_hex >> id_hex;
    const MailboxKey a = MailboxKey::FromHex(a_hex).value();
    const MessageId id = MessageId::FromHex(id_hex).value();
    Options o;
    o.durability = Durability::kDurable;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, DB::Open(path, o));
    ASSERT_OK_AND_ASSIGN(UploadState s, db->UploadOffset(a, id));
    EXPECT_FALSE(s.committed);
    EXPECT_EQ(s.length, blob.size());
    // Everything acknowledged survived; at most the one chunk the child
    // committed but had not yet reported when the kill hit is extra.
    EXPECT_GE(s.offset, run.last_ack);
    EXPECT_LE(s.offset, run.last_ack + kCrashChunk);
    EXPECT_EQ(s.offset % kCrashChunk, 0u) << "a half-written chunk became visible";
    // The store itself is intact (the reopen replayed nothing half-done).
    EXPECT_CODE(db->GetMessage(a, id), kNotFound);
  }

  std::istringstream in(ready);
  std::string a_hex, b_hex, id_hex;
  in >> a_hex >> b_hex >> id_hex;
  const MailboxKey a = MailboxKey::FromHex(a_hex).value();
  const MailboxKey b = MailboxKey::FromHex(b_hex).value();
  const MessageId id = MessageId::FromHex(id_hex).value();
  Options o;
  o.durability = Durability::kDurable;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DB> db, DB::Open(path, o));
  ASSERT_OK_AND_ASSIGN(UploadState s, db->UploadOffset(a, id));
  // Resend the last acknowledged chunk (the client cannot know the kill spared
  // more), then the rest; the identical blob commits and its digest matches.
  uint64_t off = last_ack >= kCrashChunk ? last_ack - kCrashChunk : 0;
  while (off < blob.size()) {
    const uint64_t n = std::min(kCrashChunk, blob.size() - off);
    ASSERT_OK_AND_ASSIGN(UploadState w,
                         db->WriteChunk(a, id, off, std::string_view(blob).substr(off, n)));
    ASSERT_EQ(w.offset, std::max(s.offset, off + n));
    off += n;
  }
  ASSERT_OK_AND_ASSIGN(MessageInfo m, db->CommitUpload(a, id));
  EXPECT_EQ(m.length, blob.size());
  EXPECT_EQ(m.digest, test::ReferenceDigest(blob));
  ASSERT_OK_AND_ASSIGN(std::string got, db->ReadBlob(b, id));
  EXPECT_TRUE(got == blob);
}

}  // namespace
}  // namespace postbox
