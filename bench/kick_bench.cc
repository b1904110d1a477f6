// Kick benchmarks (docs/benchmarks.md "Kicks"; issue 14), each against a
// baseline measured in the same run.
//
//   BM_KickStorm/driver:{counting,webhook}  100,000 entry puts to 10,000
//       mailboxes with a push registration and no session, through
//       Server::Write batches of 1,000 (each batch puts to 1,000 distinct
//       mailboxes; ten rounds), durable, then every kick delivered to the
//       driver: an in-process counting driver (the scheduler's own rate) or
//       the webhook driver (max_in_flight 8) against a fake gateway on
//       127.0.0.1. The store's clock (Options::clock) stands still while the
//       storm is written and then moves past the 2 s coalescing window, so
//       all 10,000 kicks fall due together however long the writes took
//       (with the real clock a storm written over more than the window makes
//       more kicks, one per mailbox per window). Baseline: the same writes to
//       another store with no kick driver. Counters: write_ratio = write time
//       with kicks / without (what the marking adds to the writer); kicks
//       (10,000: coalesced); kicks_per_s from the first kick delivered to the
//       last (sending, outcomes written back durably).
//   BM_WebhookDriver  20,000 kicks Sent straight to the webhook driver
//       (max_in_flight 8) against the fake; baseline: 8 threads each POSTing
//       the same bytes over one keep-alive socket in a blocking loop. ratio =
//       driver kicks/s / raw POSTs/s.
//
// Stores go in fresh folders on a disk-backed filesystem (bench_util.h).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "postbox/db.h"
#include "postbox/sync/kick.h"
#include "postbox/sync/server.h"

namespace {

using namespace postbox;
using Clock = std::chrono::steady_clock;

constexpr size_t kMailboxes = 10000;
constexpr size_t kChanges = 100000;
constexpr size_t kBatch = 1000;
constexpr auto kDelay = std::chrono::milliseconds(2000);

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A gateway that answers 200 to every POST, keep-alive, a thread per connection.
class FakeGateway {
 public:
  FakeGateway() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 128);
    acceptor_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) conns_.emplace_back([this, c] { Serve(c); });
      }
    });
  }
  ~FakeGateway() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : conns_) t.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  uint64_t requests() const { return requests_.load(); }
  Clock::time_point first() const { return first_; }

 private:
  void Serve(int c) {
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    static const std::string kReply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    std::string buf;
    char chunk[16384];
    while (!stop_) {
      size_t head;
      while ((head = buf.find("\r\n\r\n")) == std::string::npos) {
        pollfd p{c, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) {
          if (stop_) return (void)close(c);
          continue;
        }
        const ssize_t n = recv(c, chunk, sizeof(chunk), 0);
        if (n <= 0) return (void)close(c);
        buf.append(chunk, static_cast<size_t>(n));
      }
      const size_t cl = buf.find("Content-Length: ");
      const size_t length = std::stoul(buf.substr(cl + 16));
      while (buf.size() < head + 4 + length) {
        const ssize_t n = recv(c, chunk, sizeof(chunk), 0);
        if (n <= 0) return (void)close(c);
        buf.append(chunk, static_cast<size_t>(n));
      }
      buf.erase(0, head + 4 + length);
      if (requests_++ == 0) first_ = Clock::now();
      send(c, kReply.data(), kReply.size(), MSG_NOSIGNAL);
    }
    close(c);
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  Clock::time_point first_{};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
};

// Counts kicks and answers OK at once.
class CountingDriver : public sync::KickDriver {
 public:
  void Send(const sync::Kick&, std::function<void(sync::KickResult)> done) override {
    if (count++ == 0) first = Clock::now();
    done({});
  }
  std::atomic<uint64_t> count{0};
  Clock::time_point first{};
};

struct Store {
  bench::Folder folder{"kick"};
  std::unique_ptr<DB> db;
  std::vector<MailboxKey> mkeys;
  std::atomic<uint64_t> now_ms{1'000'000};
  Store() {
    Options o;
    o.clock = [this] { return now_ms.load(); };
    auto d = DB::Open(folder.path(), o);
    bench::Check(d.status(), "open");
    db = std::move(*d);
    for (size_t done = 0; done < kMailboxes; done += kBatch) {
      WriteBatch b;
      for (size_t i = 0; i < kBatch; ++i) b.CreateMailbox();
      bench::Check(db->Write(&b), "create");
      WriteBatch r;
      for (const auto& res : b.results()) {
        mkeys.push_back(res.credentials->mkey);
        r.RegisterPush(res.credentials->mkey, Platform::kAndroid, "token-" + mkeys.back().ToHex());
      }
      bench::Check(db->Write(&r), "register");
    }
  }
};

// Writes the storm through `server`; returns the time it took.
double WriteStorm(sync::Server* server, const std::vector<MailboxKey>& mkeys) {
  const auto start = Clock::now();
  for (size_t done = 0; done < kChanges; done += kBatch) {
    WriteBatch b;
    for (size_t i = 0; i < kBatch; ++i) {
      const MailboxKey& m = mkeys[(done + i) % mkeys.size()];
      b.PutEntry(m, "k" + std::to_string((done + i) / mkeys.size()), "value", 0);
    }
    bench::Check(server->Write(&b), "write");
  }
  return Seconds(start, Clock::now());
}

void BM_KickStorm(benchmark::State& state) {
  const bool webhook = state.range(0) == 1;
  for (auto _ : state) {
    // Baseline: no driver.
    double base_s;
    {
      Store s;
      sync::ServerOptions so;
      so.port = 0;
      auto server = sync::Server::Start(s.db.get(), so);
      bench::Check(server.status(), "start");
      base_s = WriteStorm(server->get(), s.mkeys);
      (*server)->Stop();
    }
    Store s;
    FakeGateway gateway;
    auto counting = std::make_shared<CountingDriver>();
    std::shared_ptr<sync::KickDriver> driver = counting;
    if (webhook) {
      sync::WebhookOptions w;
      w.url = "http://127.0.0.1:" + std::to_string(gateway.port()) + "/kick";
      w.max_in_flight = 8;
      w.queue_limit = 4096;
      auto d = sync::MakeWebhookKickDriver(w);
      bench::Check(d.status(), "webhook");
      driver = std::move(*d);
    }
    sync::ServerOptions so;
    so.port = 0;
    so.kick_driver = driver;
    so.kick_delay = kDelay;
    auto server = sync::Server::Start(s.db.get(), so);
    bench::Check(server.status(), "start");
    const double write_s = WriteStorm(server->get(), s.mkeys);
    if ((*server)->stats().kicks_pending != kMailboxes) bench::Fail("kicks not all pending");
    s.now_ms += static_cast<uint64_t>(kDelay.count());  // the window closes: all are due
    const auto delivered = [&] { return webhook ? gateway.requests() : counting->count.load(); };
    const auto start = Clock::now();
    while (delivered() < kMailboxes || (*server)->stats().kicks_pending != 0) {
      if (Seconds(start, Clock::now()) > 120) bench::Fail("kicks did not all arrive in 120 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto end = Clock::now();
    const auto first = webhook ? gateway.first() : counting->first;
    state.SetIterationTime(Seconds(first, end));
    state.counters["write_s"] = write_s;
    state.counters["base_write_s"] = base_s;
    state.counters["write_ratio"] = write_s / base_s;
    state.counters["kicks"] = static_cast<double>(delivered());
    state.counters["kicks_per_s"] = (kMailboxes - 1) / std::max(Seconds(first, end), 1e-6);
    (*server)->Stop();
  }
}
BENCHMARK(BM_KickStorm)
    ->ArgName("driver:counting=0,webhook=1")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The same POST the driver makes, by hand, over one keep-alive socket.
double RawPosts(uint16_t port, size_t threads, size_t total) {
  const std::string body =
      "{\"mkey\":\"00112233445566778899aabbccddeeff\",\"platform\":\"android\",\"token\":\"t\","
      "\"dedup_id\":\"00112233445566778899aabbccddeeff-0000000000000001\",\"attempt\":1,"
      "\"payload\":{\"type\":\"changed\",\"count\":1}}";
  const std::string req =
      "POST /kick HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nIdempotency-Key: x\r\nConnection: keep-alive\r\n\r\n" +
      body;
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) bench::Fail("connect");
      char buf[512];
      for (size_t i = 0; i < total / threads; ++i) {
        send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        std::string got;
        while (got.find("\r\n\r\n") == std::string::npos) {
          const ssize_t n = recv(fd, buf, sizeof(buf), 0);
          if (n <= 0) bench::Fail("raw POST: connection lost");
          got.append(buf, static_cast<size_t>(n));
        }
      }
      close(fd);
    });
  }
  for (auto& t : pool) t.join();
  return Seconds(start, Clock::now());
}

void BM_WebhookDriver(benchmark::State& state) {
  constexpr size_t kKicks = 20000, kInFlight = 8;
  for (auto _ : state) {
    FakeGateway gateway;
    const double raw_s = RawPosts(gateway.port(), kInFlight, kKicks);
    sync::WebhookOptions w;
    w.url = "http://127.0.0.1:" + std::to_string(gateway.port()) + "/kick";
    w.max_in_flight = kInFlight;
    w.queue_limit = kKicks;
    auto d = sync::MakeWebhookKickDriver(w);
    bench::Check(d.status(), "webhook");
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0, failed = 0;
    const auto start = Clock::now();
    for (size_t i = 0; i < kKicks; ++i) {
      sync::Kick k;
      k.mkey = MailboxKey::Random();
      k.registration = {Platform::kAndroid, "t"};
      k.dedup_id = k.mkey.ToHex() + "-0000000000000001";
      k.payload_json = "{\"type\":\"changed\",\"count\":1}";
      (*d)->Send(k, [&](sync::KickResult r) {
        std::lock_guard lock(mu);
        ++done;
        if (!r.status.ok()) ++failed;
        cv.notify_all();
      });
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done == kKicks; });
    }
    const double driver_s = Seconds(start, Clock::now());
    (*d)->Stop();
    if (failed != 0) bench::Fail(std::to_string(failed) + " kicks failed");
    state.SetIterationTime(driver_s);
    state.counters["driver_per_s"] = kKicks / driver_s;
    state.counters["raw_per_s"] = kKicks / raw_s;
    state.counters["ratio"] = raw_s / driver_s;
  }
}
BENCHMARK(BM_WebhookDriver)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
