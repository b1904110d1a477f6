// EventLog: the built-in EventSink (postbox/sync/events.h). Record only
// queues (a mutex held for a push_back; RecordAll holds it once for many
// events); a thread of the log's own formats
// the events as JSON lines, appends them (log/line_file.h), rotates by size
// and takes over a file Reopen opened. So a slow or stuck disk costs the
// server's loops and writer nothing: the queue fills and events are dropped
// and counted instead.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "postbox/sync/events.h"
#include "sync/events/events_internal.h"
#include "sync/log/line_file.h"

namespace postbox::sync {

namespace {
// Lines are gathered into writes of about this many bytes.
constexpr size_t kWriteBytes = 64 * 1024;
// At most one warning about failed writes per this long.
constexpr auto kWarnEvery = std::chrono::seconds(10);
}  // namespace

struct EventLog::Impl {
  Impl(const EventLogOptions& o, log::LineFile f) : options(o), file(std::move(f)) {}

  const EventLogOptions options;

  std::mutex mu;
  std::condition_variable wake;     // the thread: work or stop
  std::condition_variable flushed;  // Flush: written_seq moved
  std::vector<Event> queue;         // guarded by mu
  uint64_t queued_seq = 0;          // guarded by mu: events accepted so far
  uint64_t written_seq = 0;         // guarded by mu: of those, written (or lost)
  uint64_t unreported_drops = 0;    // guarded by mu: dropped since the last events_dropped line
  std::optional<log::LineFile> reopened;  // guarded by mu: Reopen's file for the thread
  bool stop = false;                      // guarded by mu
  EventLogStats stats;                    // guarded by mu

  // The thread's own.
  log::LineFile file;
  std::string buffer;
  uint64_t buffer_lines = 0;
  EventLogStats counted;  // written, write_errors, rotations: into `stats` once per batch
  std::chrono::steady_clock::time_point last_warning{};
  uint64_t lost = 0;  // lines lost to write errors since the last warning
  std::thread thread;

  void Main();
  // Adds `line` (no newline) to the buffer, writing and rotating as needed.
  void Add(std::string line);
  // Writes the buffer; on failure its lines are counted as lost.
  void WriteBuffer();
  // Logs a failure, at most once per kWarnEvery (a full disk fails every
  // line); whether it did.
  bool Warn(const std::string& what);
};

void EventLog::Impl::Main() {
  std::vector<Event> batch;
  for (;;) {
    uint64_t drops = 0, seq = 0;
    std::optional<log::LineFile> fresh;
    {
      std::unique_lock lock(mu);
      wake.wait(lock, [&] { return stop || !queue.empty() || unreported_drops != 0 || reopened; });
      if (stop && queue.empty() && unreported_drops == 0 && !reopened) return;
      batch.swap(queue);
      drops = std::exchange(unreported_drops, 0);
      fresh.swap(reopened);
      seq = queued_seq;
    }
    if (fresh) file = std::move(*fresh);  // the old file closes here
    for (const Event& e : batch) Add(EventJson(e));
    batch.clear();
    // Dropped while the queue was full, that is after the events just
    // written and before any queued after them.
    if (drops != 0) {
      Add(internal::EventsDroppedJson(std::chrono::system_clock::now(), drops));
    }
    WriteBuffer();
    {
      std::lock_guard lock(mu);
      written_seq = seq;
      stats.written += std::exchange(counted.written, 0);
      stats.write_errors += std::exchange(counted.write_errors, 0);
      stats.rotations += std::exchange(counted.rotations, 0);
    }
    flushed.notify_all();
  }
}

void EventLog::Impl::Add(std::string line) {
  line.push_back('\n');
  const uint64_t max = options.max_bytes;
  if (max != 0 && file.size() + buffer.size() + line.size() > max &&
      file.size() + buffer.size() > 0) {
    WriteBuffer();
    if (Status s = file.Rotate(options.keep); !s.ok()) {
      Warn("rotating failed, lines go on to the current file: " + s.ToString());
    } else {
      ++counted.rotations;
    }
  }
  buffer += line;
  ++buffer_lines;
  ++counted.written;
  if (buffer.size() >= kWriteBytes) WriteBuffer();
}

void EventLog::Impl::WriteBuffer() {
  if (buffer.empty()) return;
  if (Status s = file.Append(buffer); !s.ok()) {
    counted.written -= buffer_lines;
    counted.write_errors += buffer_lines;
    lost += buffer_lines;
    if (Warn(std::to_string(lost) + " line(s) lost: " + s.ToString())) lost = 0;
  }
  buffer.clear();
  buffer_lines = 0;
}

bool EventLog::Impl::Warn(const std::string& what) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_warning < kWarnEvery) return false;
  spdlog::warn("event log {}: {}", options.path, what);
  last_warning = now;
  return true;
}

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventLog::~EventLog() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.notify_one();
  impl_->thread.join();
}

void EventLog::Record(Event event) {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.queue.size() >= d.options.queue_limit) {
      ++d.unreported_drops;
      ++d.stats.dropped;
      return;  // the thread is busy anyway: no need to wake it
    }
    d.queue.push_back(std::move(event));
    ++d.queued_seq;
  }
  d.wake.notify_one();
}

void EventLog::RecordAll(std::vector<Event>& events) {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    const size_t room = d.options.queue_limit - std::min(d.queue.size(), d.options.queue_limit);
    const size_t take = std::min(room, events.size());
    d.queue.insert(d.queue.end(), std::make_move_iterator(events.begin()),
                   std::make_move_iterator(events.begin() + static_cast<ptrdiff_t>(take)));
    d.queued_seq += take;
    d.unreported_drops += events.size() - take;
    d.stats.dropped += events.size() - take;
    if (take == 0) return;
  }
  d.wake.notify_one();
}

Status EventLog::Reopen() {
  // Opened here, not on the thread: the caller learns of an error at once,
  // and a thread stuck on the old file's disk does not hold the caller.
  POSTBOX_ASSIGN_OR_RETURN(log::LineFile file,
                           log::LineFile::Open("event log", impl_->options.path));
  {
    std::lock_guard lock(impl_->mu);
    impl_->reopened = std::move(file);
  }
  impl_->wake.notify_one();
  return Status::Ok();
}

void EventLog::Flush() {
  std::unique_lock lock(impl_->mu);
  const uint64_t target = impl_->queued_seq;
  impl_->flushed.wait(lock, [&] { return impl_->written_seq >= target; });
}

EventLogStats EventLog::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

Result<std::unique_ptr<EventLog>> OpenEventLog(const EventLogOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("the event log needs a file path");
  if (options.queue_limit == 0) {
    return Status::InvalidArgument("the event log's queue_limit must be at least 1");
  }
  POSTBOX_ASSIGN_OR_RETURN(log::LineFile file, log::LineFile::Open("event log", options.path));
  auto impl = std::make_unique<EventLog::Impl>(options, std::move(file));
  EventLog::Impl* d = impl.get();
  std::unique_ptr<EventLog> log(new EventLog(std::move(impl)));
  // The thread takes no process signals: a host waiting for them (sigwait in
  // postbox-server) must get them, whenever the log was opened.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  d->thread = std::thread([d] { d->Main(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return log;
}

}  // namespace postbox::sync
