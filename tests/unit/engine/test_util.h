// Shared helpers for the engine unit tests: a temp folder per test, an
// injectable clock, status assertions and a fixture that opens a real LMDB store.
#ifndef POSTBOX_TESTS_UNIT_ENGINE_TEST_UTIL_H_
#define POSTBOX_TESTS_UNIT_ENGINE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postbox/db.h"
#include "postbox/options.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/types.h"
#include "postbox/write_batch.h"

namespace postbox {

// Readable gtest output for the engine's value types (found by ADL).
inline void PrintTo(const Status& s, std::ostream* os) { *os << s.ToString(); }
template <typename Tag>
void PrintTo(const Id16<Tag>& id, std::ostream* os) {
  *os << id.ToHex();
}
inline void PrintTo(MessageStatus s, std::ostream* os) {
  *os << "MessageStatus(" << static_cast<int>(s) << ")";
}

namespace test {

// A fresh folder under the system temp dir; removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "postbox-unit-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// A clock the test moves by hand, so purging needs no sleeping. Copies share the time.
// Holds the store at `path` open (DB::Open with `options`) in a child process
// until destroyed: what another process's open store looks like to calls
// that need a store nobody has open. opened(): the child's open succeeded.
class OpenInAnotherProcess {
 public:
  OpenInAnotherProcess(const std::string& path, const Options& options) {
    if (pipe(ready_) != 0 || pipe(done_) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      auto db = DB::Open(path, options);
      char c = db.ok() ? 'y' : 'n';
      if (write(ready_[1], &c, 1) != 1) _exit(2);
      (void)read(done_[0], &c, 1);  // until the parent is done
      _exit(0);
    }
    char c = 0;
    opened_ = pid_ > 0 && read(ready_[0], &c, 1) == 1 && c == 'y';
  }
  ~OpenInAnotherProcess() {
    if (pid_ > 0) {
      (void)!write(done_[1], "x", 1);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    for (int fd : {ready_[0], ready_[1], done_[0], done_[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  OpenInAnotherProcess(const OpenInAnotherProcess&) = delete;
  OpenInAnotherProcess& operator=(const OpenInAnotherProcess&) = delete;
  bool opened() const { return opened_; }
  pid_t pid() const { return pid_; }

 private:
  int ready_[2] = {-1, -1}, done_[2] = {-1, -1};
  pid_t pid_ = -1;
  bool opened_ = false;
};

class FakeClock {
 public:
  static constexpr uint64_t kStartMs = 1'700'000'000'000;
  FakeClock() : now_(std::make_shared<std::atomic<uint64_t>>(kStartMs)) {}

  std::function<uint64_t()> AsFunction() const {
    auto now = now_;
    return [now] { return now->load(); };
  }
  uint64_t now() const { return now_->load(); }
  void Advance(std::chrono::milliseconds d) { now_->fetch_add(static_cast<uint64_t>(d.count())); }

 private:
  std::shared_ptr<std::atomic<uint64_t>> now_;
};

// Relaxed durability (the unit tests that are not about durability need no
// fsync per commit) and the fake clock.
inline Options TestOptions(const FakeClock& clock) {
  Options o;
  o.durability = Durability::kRelaxed;
  o.clock = clock.AsFunction();
  return o;
}

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

template <typename T>
::testing::AssertionResult IsOk(const T& r) {
  const Status& s = StatusOf(r);
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected OK, got " << s.ToString();
}

template <typename T>
::testing::AssertionResult HasCode(const T& r, Code code) {
  const Status& s = StatusOf(r);
  if (s.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << CodeName(code) << " ("
                                       << static_cast<int>(code) << "), got " << s.ToString();
}

// Returns the value of `r`; throws (gtest reports it as a failure of the test)
// when `r` holds an error. For fixture helpers that cannot use ASSERT_*.
template <typename T>
T Must(Result<T> r, std::string_view what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}
inline void Must(const Status& s, std::string_view what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.ToString());
}

// `n` pseudo-random bytes, the same for the same seed.
inline std::string Bytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// Every item of a packet as (seq), in the order the lists hold them.
inline std::vector<uint64_t> AllSeqs(const InfoPacket& p) {
  std::vector<uint64_t> seqs;
  for (const auto& m : p.incoming) seqs.push_back(m.seq);
  for (const auto& m : p.outgoing) seqs.push_back(m.seq);
  for (const auto& e : p.entries) seqs.push_back(e.seq);
  for (const auto& t : p.tombstones) seqs.push_back(t.seq);
  return seqs;
}

// True when every list of the packet is in strictly ascending seq and no seq
// appears twice across lists.
inline ::testing::AssertionResult SeqsWellFormed(const InfoPacket& p) {
  auto ascending = [](const auto& items) {
    for (size_t i = 1; i < items.size(); ++i) {
      if (items[i - 1].seq >= items[i].seq) return false;
    }
    return true;
  };
  if (!ascending(p.incoming)) return ::testing::AssertionFailure() << "incoming not ascending";
  if (!ascending(p.outgoing)) return ::testing::AssertionFailure() << "outgoing not ascending";
  if (!ascending(p.entries)) return ::testing::AssertionFailure() << "entries not ascending";
  if (!ascending(p.tombstones)) return ::testing::AssertionFailure() << "tombstones not ascending";
  std::vector<uint64_t> seqs = AllSeqs(p);
  std::sort(seqs.begin(), seqs.end());
  if (std::adjacent_find(seqs.begin(), seqs.end()) != seqs.end()) {
    return ::testing::AssertionFailure() << "a seq appears twice";
  }
  if (!seqs.empty() && seqs.front() == 0) return ::testing::AssertionFailure() << "seq 0 in feed";
  return ::testing::AssertionSuccess();
}

// A real store in a fresh temp folder, opened in SetUp with options_ (derived
// fixtures change options_ in their constructor), closed before the folder goes.
class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : options_(TestOptions(clock_)) {}

  void SetUp() override { Open(); }

  void Open() {
    auto r = DB::Open(path(), options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r).value();
  }
  void Close() { db_.reset(); }
  void Reopen() {
    Close();
    Open();
  }

  DB& db() { return *db_; }
  std::string path() const { return dir_.Sub("db"); }

  MailboxKey NewMailbox() { return Must(db_->CreateMailbox(), "CreateMailbox").mkey; }
  void Connect(const MailboxKey& a, const MailboxKey& b) { Must(db_->Connect(a, b), "Connect"); }

  // A request with a fresh random id; `bytes` is borrowed.
  static PostRequest Request(const MailboxKey& from, const MailboxKey& to, std::string topic,
                             std::string_view bytes, std::string meta = "meta") {
    PostRequest r;
    r.from = from;
    r.to = to;
    r.id = MessageId::Random();
    r.topic = std::move(topic);
    r.meta = std::move(meta);
    r.bytes = bytes;
    return r;
  }
  MessageInfo Post(const PostRequest& r) { return Must(db_->PostMessage(r), "PostMessage"); }

  uint64_t Seq(const MailboxKey& m) { return Must(db_->GetMailbox(m), "GetMailbox").seq; }
  InfoPacket Feed(const MailboxKey& m, uint64_t since = 0, size_t limit = 0) {
    return Must(db_->Changes(m, since, limit), "Changes");
  }
  StoreStats Stats() { return Must(db_->Stats(), "Stats"); }

  TempDir dir_;
  FakeClock clock_;
  Options options_;
  std::unique_ptr<DB> db_;
};

}  // namespace test
}  // namespace postbox

#define EXPECT_OK(expr) EXPECT_TRUE(::postbox::test::IsOk(expr))
#define ASSERT_OK(expr) ASSERT_TRUE(::postbox::test::IsOk(expr))
// EXPECT_CODE(db().GetEntry(m, "k"), kNotFound)
#define EXPECT_CODE(expr, code) EXPECT_TRUE(::postbox::test::HasCode(expr, ::postbox::Code::code))
#define ASSERT_CODE(expr, code) ASSERT_TRUE(::postbox::test::HasCode(expr, ::postbox::Code::code))

// ASSERT_OK_AND_ASSIGN(auto info, db().GetMailbox(m));
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  POSTBOX_TEST_ASSIGN_IMPL_(POSTBOX_STATUS_CONCAT_(postbox_test_result_, __LINE__), lhs, rexpr)
#define POSTBOX_TEST_ASSIGN_IMPL_(tmp, lhs, rexpr)                    \
  auto tmp = (rexpr);                                                 \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

#endif  // POSTBOX_TESTS_UNIT_ENGINE_TEST_UTIL_H_
