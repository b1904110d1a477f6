// postbox-load: N connections against a running postbox-server on
// 127.0.0.1, each keeping --depth requests in flight (depth 1 is like
// redis-benchmark -P 1), for a fixed duration; prints ops/s, p50/p99/p99.9
// latency, errors and, for writes, how many ops shared each durable commit.
//
//   postbox-load --port P --data DIR --op put|poll|ping|status|push
//                [-c 64] [-d 5] [--depth 1] [--driver frames|client] [--server-pid PID]
//       sets up the workload in the store DIR (LMDB allows a second
//       process): one mailbox per connection, and for status/push the
//       messages to advance; then drives the server.
//   postbox-load --redis-port P --op put|status [-c 64] [-d 5] [--depth 1] [--server-pid PID]
//       the same logical operations as Redis functions (FCALL) against a
//       redis-server on 127.0.0.1: the like-for-like baseline (load/redis.cc).
//   postbox-load --port P --data DIR --op hostile [--idle 10000] [--sources 8]
//                [--slow-readers N] [--floods N] [--flood-op put|poll|ping] [-d 5]
//                [--server-pid PID]
//       idle sessions (the server's RSS per idle session), then slow readers,
//       request floods and a well-behaved poll probe (load/hostile.cc).
//   postbox-load --port P --op echo [-c 64] [-d 5] [--depth 1]
//       the same 64-byte Ping frames against the raw echo server (baseline).
//   postbox-load --serve-echo P
//       that raw libuv echo server: every byte read is written back.
//   postbox-load --raw-lmdb-txn DIR [--raw-seconds 3]
//       one put per durable LMDB transaction in a fresh environment under DIR
//       (the baseline for durable writes).
// bench/load/load.h describes the parts; docs/benchmarks.md the figures.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>

#include "load/load.h"

namespace {

using postbox::load::Config;
using postbox::load::FloodOp;
using postbox::load::HostileOptions;
using postbox::load::Op;
using postbox::load::Outcome;
using postbox::load::Window;

int Report(const Config& cfg, const std::string& driver, Outcome& o, const Window& w) {
  if (!w.ended()) {
    std::fprintf(stderr, "the run ended before its measured window began%s\n",
                 o.supply_ran_out ? " (the status supply ran out in the warm-up)" : "");
    return 1;
  }
  auto& l = o.latencies_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) -> double {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))] / 1000.0;
  };
  const double secs = w.seconds();
  std::printf(
      "op=%s driver=%s connections=%u depth=%u seconds=%.2f ops=%zu ops_per_sec=%.0f "
      "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f errors=%lu",
      cfg.op_name.c_str(), driver.c_str(), cfg.connections, cfg.depth, secs, l.size(),
      static_cast<double>(l.size()) / secs, pct(0.5), pct(0.99), pct(0.999),
      static_cast<unsigned long>(o.errors));
  if (cfg.op == Op::kPutGet) {
    std::printf(" stale_reads=%lu", static_cast<unsigned long>(o.stale_reads));
  }
  if (cfg.op == Op::kStatus) {
    std::printf(" not_rises=%lu supply_ran_out=%d", static_cast<unsigned long>(o.not_rises),
                o.supply_ran_out ? 1 : 0);
  }
  if (w.commits() >= 0 && (cfg.op == Op::kPut || cfg.op == Op::kStatus)) {
    std::printf(
        " commits=%ld ops_per_commit=%.1f", static_cast<long>(w.commits()),
        w.commits() > 0 ? static_cast<double>(l.size()) / static_cast<double>(w.commits()) : 0.0);
  }
  if (w.server_cpu() >= 0) std::printf(" server_cpu=%.2f", w.server_cpu());
  if (w.server_written() >= 0 && !l.empty()) {
    std::printf(" server_written_mb=%.0f written_kb_per_op=%.1f", w.server_written() / 1e6,
                w.server_written() / 1e3 / static_cast<double>(l.size()));
  }
  std::printf(" load_cpu=%.2f\n", w.load_cpu());
  std::fflush(stdout);
  if (o.supply_ran_out) {
    std::fprintf(stderr,
                 "warning: a connection used up its messages after %.2f s of the %.2f s window: "
                 "the figure covers that shorter window; raise --expect-rate\n",
                 secs, cfg.duration);
  }
  return o.errors == 0 && o.not_rises == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"postbox-load: load generator for postbox-server"};
  Config cfg;
  uint16_t echo_port = 0;
  std::string driver = "frames", raw_dir;
  double raw_seconds = 3;
  app.add_option("--port", cfg.port, "server port on 127.0.0.1");
  app.add_option("--data", cfg.data, "the server's store folder (the workload is set up in it)");
  app.add_option("--op", cfg.op_name,
                 "put | poll | ping | echo | push (status update -> "
                 "sender's push latency) | status (durable status rises) | hostile (idle "
                 "sessions, slow readers, floods and a probe) | putget (EntryPut then EntryGet "
                 "of the same key, pipelined: one op ends at the get's reply)")
      ->check(
          CLI::IsMember({"put", "poll", "ping", "echo", "push", "status", "hostile", "putget"}));
  app.add_option("-c,--connections", cfg.connections, "connections")->check(CLI::PositiveNumber);
  app.add_option("--depth", cfg.depth, "requests in flight per connection (push: always 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--driver", driver,
                 "frames: raw frames, all connections on one loop | client: one "
                 "postbox::sync::Client per connection (put, status)")
      ->check(CLI::IsMember({"frames", "client"}));
  app.add_option("-d,--duration", cfg.duration, "measured seconds");
  app.add_option("--warmup", cfg.warmup, "seconds before measuring");
  app.add_option("--expect-rate", cfg.expect_rate,
                 "status: total ops/s to size the messages for (twice the rises expected)");
  app.add_option("--senders", cfg.senders, "status: senders posting to each connection's mailbox")
      ->check(CLI::PositiveNumber);
  app.add_option("--server-pid", cfg.server_pid,
                 "report this process's CPU use and bytes written over the window");
  app.add_option("--redis-port", cfg.redis_port,
                 "put, status: run against redis-server on this port of 127.0.0.1 instead");
  HostileOptions& h = cfg.hostile;
  std::string flood_op = "put";
  app.add_option("--idle", h.idle, "hostile: authenticated idle sessions");
  app.add_option("--sources", h.sources,
                 "hostile: source addresses 127.0.0.2... the sessions bind to (0: none)")
      ->check(CLI::Range(0, 250));
  app.add_option("--slow-readers", h.slow_readers, "hostile: sessions that poll and never read");
  app.add_option("--floods", h.floods, "hostile: sessions writing requests as fast as they can");
  app.add_option("--flood-op", flood_op, "hostile: what a flood sends")
      ->check(CLI::IsMember({"put", "poll", "ping"}));
  app.add_option("--probe-interval-ms", h.probe_interval_ms,
                 "hostile: the well-behaved client polls this often")
      ->check(CLI::PositiveNumber);
  app.add_option("--ramp", h.ramp, "hostile: connects and Hellos in flight while opening")
      ->check(CLI::PositiveNumber);
  app.add_option("--serve-echo", echo_port, "run the raw libuv echo server on this port");
  app.add_option("--raw-lmdb-txn", raw_dir, "measure one put per durable LMDB txn under DIR");
  app.add_option("--raw-seconds", raw_seconds, "seconds of the raw LMDB baseline");
  CLI11_PARSE(app, argc, argv);
  if (echo_port != 0) return postbox::load::ServeEcho(echo_port);
  if (!raw_dir.empty()) return postbox::load::RawLmdbTxn(raw_dir, raw_seconds);

  cfg.op = cfg.op_name == "put"       ? Op::kPut
           : cfg.op_name == "poll"    ? Op::kPoll
           : cfg.op_name == "ping"    ? Op::kPing
           : cfg.op_name == "push"    ? Op::kPush
           : cfg.op_name == "status"  ? Op::kStatus
           : cfg.op_name == "hostile" ? Op::kHostile
           : cfg.op_name == "putget"  ? Op::kPutGet
                                      : Op::kEcho;
  if (cfg.op == Op::kPush) cfg.depth = 1;
  if (driver == "client" && cfg.op != Op::kPut && cfg.op != Op::kStatus) {
    std::fprintf(stderr, "--driver client runs put and status only\n");
    return 2;
  }
  if (cfg.redis_port != 0) {
    if (cfg.op != Op::kPut && cfg.op != Op::kStatus) {
      std::fprintf(stderr, "--redis-port runs put and status only\n");
      return 2;
    }
    Window window(std::string(), cfg.server_pid);
    Outcome o = postbox::load::RunRedis(cfg, &window);
    return Report(cfg, "redis", o, window);
  }
  if (cfg.op == Op::kHostile) {
    h.flood_op = flood_op == "put"    ? FloodOp::kPut
                 : flood_op == "poll" ? FloodOp::kPoll
                                      : FloodOp::kPing;
    cfg.connections = h.idle + h.slow_readers + h.floods + 1;
  }
  auto work = postbox::load::SetUp(cfg);  // closes its DB handle before the window opens one
  if (!work) {
    std::fprintf(stderr, "setup: %s\n", work.error().ToString().c_str());
    return 1;
  }
  if (cfg.op == Op::kHostile) return postbox::load::RunHostile(cfg, *work);
  Window window(cfg.op == Op::kEcho ? std::string() : cfg.data, cfg.server_pid);
  Outcome o = driver == "client" ? postbox::load::RunClients(cfg, *work, &window)
                                 : postbox::load::RunFrames(cfg, *work, &window);
  return Report(cfg, driver, o, window);
}
