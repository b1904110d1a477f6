// Event log benchmarks (docs/operations.md "Cost"; issue 16), each against a
// baseline measured in the same run.
//
//   BM_EventLogStatusChanged  200,000 status_changed events Recorded from one
//       thread in bursts of 2,048 (what the writer hands over after a group
//       commit of 2,048 rises), then Flush: the log's own thread formats and
//       appends them. The queue holds all of them (queue_limit 200,000), so
//       lines_per_s is the rate the thread sustains (the server's default
//       limit, 65,536, drops what a thread behind by that many would not take).
//       Baseline: the same bytes (the lines the log wrote, read back) appended
//       to a fresh file in 64 KiB writes by one thread. ratio = log time / raw
//       time (how many times the plain append the log costs).
//   BM_EventJsonStatusChanged  formatting one status_changed line
//       (EventJson), no file: the per-line CPU of the log's thread.
//
// Files go in fresh folders on a disk-backed filesystem (bench_util.h).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench_util.h"
#include "postbox/sync/events.h"

namespace {

using namespace postbox;
using namespace postbox::sync;
using Clock = std::chrono::steady_clock;

constexpr size_t kEvents = 200000;
constexpr size_t kBurst = 2048;

Event StatusEvent(uint64_t i) {
  StatusChangedEvent e;
  for (size_t b = 0; b < 8; ++b) {
    e.id.bytes[b] = static_cast<uint8_t>(i >> (8 * b));
    e.by.bytes[b] = static_cast<uint8_t>((i * 7919) >> (8 * b));
  }
  e.status = MessageStatus::kDownloaded;
  return Event{.time = std::chrono::system_clock::now(), .data = e};
}

void BM_EventJsonStatusChanged(benchmark::State& state) {
  const Event e = StatusEvent(42);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string line = EventJson(e);
    bytes += line.size();
    benchmark::DoNotOptimize(line);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EventJsonStatusChanged);

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void BM_EventLogStatusChanged(benchmark::State& state) {
  double log_s = 0, raw_s = 0;
  uint64_t bytes = 0, written = 0;
  for (auto _ : state) {
    bench::Folder dir("eventlog");
    const std::string path = dir.path() + "/events.log";
    EventLogOptions o{.path = path, .max_bytes = 0, .queue_limit = kEvents};
    auto log = bench::Unwrap(OpenEventLog(o), "OpenEventLog");
    const auto t0 = Clock::now();
    for (size_t i = 0; i < kEvents; i += kBurst) {
      for (size_t j = i; j < i + kBurst && j < kEvents; ++j) log->Record(StatusEvent(j));
    }
    log->Flush();
    log_s += Seconds(t0, Clock::now());
    if (log->stats().dropped != 0) bench::Fail("the event log dropped events");
    written += log->stats().written;
    log.reset();

    // Baseline: the same bytes appended in 64 KiB writes.
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string content = ss.str();
    bytes += content.size();
    const int fd = ::open((dir.path() + "/raw.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (fd < 0) bench::Fail("open raw.log");
    const auto t1 = Clock::now();
    for (size_t off = 0; off < content.size(); off += 64 * 1024) {
      const size_t n = std::min<size_t>(64 * 1024, content.size() - off);
      if (::write(fd, content.data() + off, n) != static_cast<ssize_t>(n)) bench::Fail("write");
    }
    raw_s += Seconds(t1, Clock::now());
    ::close(fd);
  }
  state.counters["lines_per_s"] = static_cast<double>(written) / log_s;
  state.counters["bytes_per_line"] = static_cast<double>(bytes) / static_cast<double>(written);
  state.counters["ratio"] = log_s / raw_s;
}
BENCHMARK(BM_EventLogStatusChanged)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
