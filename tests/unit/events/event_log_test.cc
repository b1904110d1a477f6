// The built-in event sink (OpenEventLog) on real files in a temp folder: one
// JSON line per event, rotation by size keeping N files (also as a property
// against a plain model of the files), reopening after the
// file was moved away (as logrotate does), and the bounded queue dropping and
// counting while its writer is stuck (on a FIFO nobody reads).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rapidcheck/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "postbox/sync/events.h"

namespace postbox::sync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("postbox-events-test-" + std::to_string(getpid()) + "-" +
                                         std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Event number `n`: a session_start whose session id is n, with `pad` bytes
// of app version (to size the lines).
Event Numbered(uint64_t n, size_t pad = 0) {
  SessionStartEvent e;
  e.session = n;
  e.mkey = MailboxKey::Random();
  e.app_version = std::string(pad, 'v');
  e.remote = "127.0.0.1:1";
  return Event{std::chrono::system_clock::now(), std::move(e)};
}

std::vector<json> ReadLines(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    out.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return out;
}

std::vector<uint64_t> Sessions(const std::vector<json>& lines) {
  std::vector<uint64_t> out;
  for (const json& j : lines) out.push_back(j.value("session", uint64_t{0}));
  return out;
}

TEST(EventLogTest, WritesOneJsonLinePerEventInOrder) {
  TempDir dir;
  const fs::path path = dir.path() / "events.jsonl";
  auto log = OpenEventLog({.path = path.string()});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  for (uint64_t i = 1; i <= 100; ++i) (*log)->Record(Numbered(i));
  (*log)->Flush();
  const auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 100u);
  for (uint64_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(lines[i].is_object());
    EXPECT_EQ(lines[i]["event"], "session_start");
    EXPECT_EQ(lines[i]["session"], i + 1);
  }
  EXPECT_EQ((*log)->stats().written, 100u);
  EXPECT_EQ((fs::status(path).permissions() & fs::perms::all),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST(EventLogTest, RefusesAnEmptyPathAndAnUnwritableOne) {
  EXPECT_TRUE(OpenEventLog({.path = ""}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(OpenEventLog({.path = "/nonexistent-dir/e.jsonl"}).status().Is(Code::kUnavailable));
}

TEST(EventLogTest, RotatesBySizeKeepingN) {
  TempDir dir;
  const fs::path path = dir.path() / "events.jsonl";
  constexpr uint64_t kMax = 2000;
  auto log = OpenEventLog({.path = path.string(), .max_bytes = kMax, .keep = 3});
  ASSERT_TRUE(log.ok());
  // Lines of about 300 bytes: six to a file, 200 events, many rotations.
  for (uint64_t i = 1; i <= 200; ++i) (*log)->Record(Numbered(i, 100));
  (*log)->Flush();
  EXPECT_GT((*log)->stats().rotations, 3u);
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(dir.path() / "events.jsonl.4"));  // keep 3
  // Oldest to newest: .3, .2, .1, the file; each under the bound, and together
  // the newest events without a gap, ending with the last.
  std::vector<uint64_t> all;
  for (const char* suffix : {".3", ".2", ".1", ""}) {
    const fs::path p = dir.path() / (std::string("events.jsonl") + suffix);
    ASSERT_TRUE(fs::exists(p)) << p;
    EXPECT_LE(fs::file_size(p), kMax) << p;
    EXPECT_GT(fs::file_size(p), 0u) << p;
    const auto s = Sessions(ReadLines(p));
    all.insert(all.end(), s.begin(), s.end());
  }
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back(), 200u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i], all[i - 1] + 1);
  EXPECT_GE(all.size(), 18u);  // three full files and the current one
}

TEST(EventLogTest, KeepZeroStartsTheFileOver) {
  TempDir dir;
  const fs::path path = dir.path() / "events.jsonl";
  auto log = OpenEventLog({.path = path.string(), .max_bytes = 1000, .keep = 0});
  ASSERT_TRUE(log.ok());
  for (uint64_t i = 1; i <= 50; ++i) (*log)->Record(Numbered(i, 100));
  (*log)->Flush();
  EXPECT_FALSE(fs::exists(dir.path() / "events.jsonl.1"));
  EXPECT_LE(fs::file_size(path), 1000u);
  EXPECT_EQ(Sessions(ReadLines(path)).back(), 50u);
}

TEST(EventLogTest, ReopenAfterLogrotateMovedTheFile) {
  TempDir dir;
  const fs::path path = dir.path() / "events.jsonl";
  const fs::path moved = dir.path() / "events.jsonl-20261203";
  auto log = OpenEventLog({.path = path.string(), .max_bytes = 0});
  ASSERT_TRUE(log.ok());
  for (uint64_t i = 1; i <= 10; ++i) (*log)->Record(Numbered(i));
  (*log)->Flush();
  fs::rename(path, moved);  // logrotate's move
  // Until the reopen, lines go on to the moved file: none is lost.
  for (uint64_t i = 11; i <= 20; ++i) (*log)->Record(Numbered(i));
  (*log)->Flush();
  EXPECT_FALSE(fs::exists(path));
  ASSERT_TRUE((*log)->Reopen().ok());  // postrotate's SIGHUP
  for (uint64_t i = 21; i <= 30; ++i) (*log)->Record(Numbered(i));
  (*log)->Flush();
  std::vector<uint64_t> old_part(20), new_part(10);
  std::iota(old_part.begin(), old_part.end(), 1);
  std::iota(new_part.begin(), new_part.end(), 21);
  EXPECT_EQ(Sessions(ReadLines(moved)), old_part);
  EXPECT_EQ(Sessions(ReadLines(path)), new_part);
}

TEST(EventLogTest, ReopenFailureKeepsTheOldFile) {
  TempDir dir;
  const fs::path sub = dir.path() / "sub";
  fs::create_directories(sub);
  const fs::path path = sub / "events.jsonl";
  auto log = OpenEventLog({.path = path.string(), .max_bytes = 0});
  ASSERT_TRUE(log.ok());
  fs::rename(sub, dir.path() / "gone");  // the folder itself is moved away
  EXPECT_TRUE((*log)->Reopen().Is(Code::kUnavailable));
  (*log)->Record(Numbered(1));
  (*log)->Flush();
  EXPECT_EQ(Sessions(ReadLines(dir.path() / "gone" / "events.jsonl")), std::vector<uint64_t>{1});
}

// A FIFO with a reader that does not read: the log's thread blocks in
// write(2) once the pipe is full, like a log on a stuck disk.
// The files the log should leave: the current one and path.1 … path.keep,
// each a list of session ids. A line that would take the current file past
// max_bytes (and the file is not empty) first rotates: path.keep goes,
// path.N becomes path.N+1, the current becomes path.1 (with keep 0 the
// current file starts over).
struct FilesModel {
  uint64_t max_bytes;
  uint32_t keep;
  std::vector<uint64_t> current;
  uint64_t current_bytes = 0;
  std::vector<std::vector<uint64_t>> rotated;  // [0] is path.1
  void Add(uint64_t session, uint64_t line_bytes) {
    if (max_bytes != 0 && current_bytes + line_bytes > max_bytes && current_bytes > 0) {
      if (keep > 0) rotated.insert(rotated.begin(), current);
      if (rotated.size() > keep) rotated.resize(keep);
      current.clear();
      current_bytes = 0;
    }
    current.push_back(session);
    current_bytes += line_bytes;
  }
};

RC_GTEST_PROP(EventLogProperty, FilesAgreeWithTheModel, ()) {
  const uint64_t max_bytes = *rc::gen::element<uint64_t>(0, 500, 1500, 4000);
  const uint32_t keep = *rc::gen::inRange<uint32_t>(0, 4);
  // Each step records one event with this much padding, then maybe flushes.
  const auto steps = *rc::gen::container<std::vector<std::pair<size_t, bool>>>(
      rc::gen::pair(rc::gen::inRange<size_t>(0, 700), rc::gen::arbitrary<bool>()));
  TempDir dir;
  const fs::path path = dir.path() / "events.jsonl";
  auto log = OpenEventLog({.path = path.string(), .max_bytes = max_bytes, .keep = keep});
  RC_ASSERT(log.ok());
  FilesModel model{.max_bytes = max_bytes, .keep = keep, .current = {}, .rotated = {}};
  uint64_t session = 0;
  for (const auto& [pad, flush] : steps) {
    Event e = Numbered(++session, pad);
    model.Add(session, EventJson(e).size() + 1);
    (*log)->Record(std::move(e));
    if (flush) (*log)->Flush();
  }
  (*log)->Flush();
  RC_ASSERT((*log)->stats().written == session);
  RC_ASSERT((*log)->stats().dropped == 0u);
  if (session > 0) RC_ASSERT(Sessions(ReadLines(path)) == model.current);
  for (uint32_t n = 1; n <= keep + 1; ++n) {
    const fs::path p = dir.path() / ("events.jsonl." + std::to_string(n));
    if (n <= model.rotated.size()) {
      RC_ASSERT(fs::exists(p));
      RC_ASSERT(Sessions(ReadLines(p)) == model.rotated[n - 1]);
    } else {
      RC_ASSERT(!fs::exists(p));
    }
  }
}

// Records 400 events of 4 KiB (far more than a pipe, the thread's buffer and
// a queue of 16 hold) into a log writing to a FIFO nobody reads yet, through
// `record` (given the events in order), then reads the FIFO: every event is
// written or dropped, every drop reported in an events_dropped line, and the
// lines written keep their order.
void CheckBlockedWriter(const std::function<void(EventLog&, std::vector<Event>&)>& record) {
  TempDir dir;
  const fs::path path = dir.path() / "events.fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  const int reader = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  constexpr size_t kQueue = 16;
  constexpr uint64_t kEvents = 400;
  auto log = OpenEventLog({.path = path.string(), .max_bytes = 0, .queue_limit = kQueue});
  // Closed before the log is destroyed, also when an assertion ends the test
  // early: the stuck write then fails (EPIPE) and the thread can end.
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{reader};
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::vector<Event> events;
  for (uint64_t i = 1; i <= kEvents; ++i) events.push_back(Numbered(i, 4096));
  const auto began = std::chrono::steady_clock::now();
  record(**log, events);
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, std::chrono::seconds(2)) << "Record waited for the writer";
  const uint64_t dropped = (*log)->stats().dropped;
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, kEvents);

  // Now read everything: the writer recovers and says how many it dropped.
  std::string text;
  std::vector<uint64_t> sessions;
  uint64_t reported = 0, drop_lines = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sessions.size() + reported < kEvents && std::chrono::steady_clock::now() < deadline) {
    pollfd p{reader, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[65536];
    const ssize_t n = read(reader, buf, sizeof(buf));
    if (n <= 0) continue;
    text.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = text.find('\n')) != std::string::npos; text.erase(0, nl + 1)) {
      const json j = json::parse(text.substr(0, nl), nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(j.is_object()) << text.substr(0, std::min<size_t>(nl, 200));
      if (j["event"] == "events_dropped") {
        reported += j["count"].get<uint64_t>();
        ++drop_lines;
      } else {
        sessions.push_back(j["session"].get<uint64_t>());
      }
    }
  }
  // Every event was either written or counted, and every drop reported.
  (*log)->Flush();  // the thread has written everything: its counts are published
  EXPECT_EQ(reported, dropped);
  EXPECT_EQ(sessions.size() + reported, kEvents);
  EXPECT_TRUE(std::is_sorted(sessions.begin(), sessions.end()));
  EXPECT_EQ((*log)->stats().dropped, dropped);
  EXPECT_EQ((*log)->stats().written, sessions.size() + drop_lines);
  log->reset();  // joins the thread (it has nothing left to write)
}

TEST(EventLogTest, BlockedWriterDropsAndCountsWithoutBlockingRecord) {
  CheckBlockedWriter([](EventLog& log, std::vector<Event>& events) {
    for (Event& e : events) log.Record(std::move(e));
  });
}

// RecordAll (the writer hands over a group commit's events at once) takes
// what fits the queue, in order, and drops and counts the rest.
TEST(EventLogTest, RecordAllTakesWhatFitsAndCountsTheRest) {
  CheckBlockedWriter([](EventLog& log, std::vector<Event>& events) {
    for (size_t i = 0; i < events.size(); i += 50) {
      std::vector<Event> some(std::make_move_iterator(events.begin() + i),
                              std::make_move_iterator(events.begin() + i + 50));
      log.RecordAll(some);
    }
  });
}

}  // namespace
}  // namespace postbox::sync
