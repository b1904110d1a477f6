// Web Push latency (docs/benchmarks.md "Web Push"; issue 14): the time from
// an app server's POST to /push/<token> until the notification reaches a
// client of the mailbox that is connected, against the same mailbox's feed
// moved by a client's own entry put (the sync protocol's durable path) in the
// same run. One request at a time (light load), durable store, 127.0.0.1.
//
//   BM_PostToPush   POST (3 KiB, TTL 60, keep-alive) -> durable commit -> push
//                   to a second client's session, measured to its on_push
//   BM_PutToPush    a client's EntryPut of the same 3 KiB -> durable commit ->
//                   push to the second client (the baseline)
// Counters: p50_us, p99_us of each; post_vs_put_p99 = BM_PostToPush's p99 /
// BM_PutToPush's (printed by the second to run).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "bench/bench_util.h"
#include "postbox/db.h"
#include "postbox/push.h"
#include "postbox/sync/client.h"
#include "postbox/sync/server.h"

namespace postbox::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSamples = 2000;
const std::string kPayload(3072, 'x');

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One store, one server with the HTTP listener, an endpoint, and a client
// whose on_push signals each entry it sees.
struct Fixture {
  Folder folder{"webpush"};
  std::unique_ptr<DB> db;
  std::unique_ptr<sync::Server> server;
  MailboxCredentials mailbox;
  EndpointInfo endpoint;
  std::unique_ptr<sync::Client> watcher;  // the connected client that gets pushes
  std::unique_ptr<sync::Client> writer;   // the baseline's writing client
  std::mutex mu;
  std::condition_variable cv;
  uint64_t seen = 0;

  Fixture() {
    db = Unwrap(DB::Open(folder.path(), Options{}), "DB::Open");  // durable
    mailbox = Unwrap(db->CreateMailbox(), "CreateMailbox");
    endpoint = Unwrap(db->RegisterEndpoint(mailbox.mkey, "bench", ""), "RegisterEndpoint");
    sync::ServerOptions so;
    so.port = 0;
    so.http_port = 0;
    so.threads = 2;
    so.webpush_rate = 0;
    server = Unwrap(sync::Server::Start(db.get(), so), "Server::Start");
    watcher = Connect([this](const InfoPacket& p) {
      std::lock_guard lock(mu);
      seen += p.entries.size();
      cv.notify_all();
    });
    Unwrap(watcher->Poll(0), "Poll");
    writer = Connect(nullptr);
  }
  std::unique_ptr<sync::Client> Connect(std::function<void(const InfoPacket&)> on_push) {
    sync::ClientOptions o;
    o.host = "127.0.0.1";
    o.port = server->port();
    o.mkey = mailbox.mkey;
    o.secret = mailbox.secret;
    o.on_push = std::move(on_push);
    auto c = Unwrap(sync::Client::Create(o), "Client::Create");
    Unwrap(c->Connect(), "Connect");
    return c;
  }
  uint64_t Seen() {
    std::lock_guard lock(mu);
    return seen;
  }
  // Waits until the watcher has seen `n` entries in all.
  void WaitSeen(uint64_t n) {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen >= n; })) {
      Fail("no push within 10 s");
    }
  }
};

// A keep-alive HTTP/1.1 connection that sends one POST and reads its answer.
class HttpConn {
 public:
  explicit HttpConn(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Fail("connect");
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~HttpConn() { close(fd_); }
  // POSTs and returns the status once the whole response is read.
  int Post(const std::string& request) {
    for (size_t off = 0; off < request.size();) {
      const ssize_t n = send(fd_, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n <= 0) Fail("send");
      off += static_cast<size_t>(n);
    }
    std::string buf;
    char tmp[4096];
    for (;;) {
      const size_t end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        const size_t cl = buf.find("Content-Length: ");
        const size_t length = cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16));
        if (buf.size() >= end + 4 + length) return std::stoi(buf.substr(9, 3));
      }
      const ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) Fail("recv");
      buf.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

double g_post_p99 = 0;

void BM_PostToPush(benchmark::State& state) {
  Fixture f;
  HttpConn http(f.server->http_port());
  const std::string request = "POST /push/" + f.endpoint.token +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nTTL: 60\r\n"
                              "Content-Encoding: aes128gcm\r\nContent-Length: " +
                              std::to_string(kPayload.size()) + "\r\n\r\n" + kPayload;
  std::vector<double> us;
  for (auto _ : state) {
    us.clear();
    for (int i = 0; i < kSamples; ++i) {
      const uint64_t before = f.Seen();
      const auto t0 = Clock::now();
      if (http.Post(request) != 201) Fail("POST was not answered 201");
      f.WaitSeen(before + 1);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  }
  g_post_p99 = Percentile(us, 0.99);
  state.counters["p50_us"] = Percentile(us, 0.50);
  state.counters["p99_us"] = g_post_p99;
}

void BM_PutToPush(benchmark::State& state) {
  Fixture f;
  std::vector<double> us;
  uint64_t i = 0;
  for (auto _ : state) {
    us.clear();
    for (int s = 0; s < kSamples; ++s) {
      const uint64_t before = f.Seen();
      const auto t0 = Clock::now();
      Unwrap(f.writer->PutEntry("bench/" + std::to_string(i++), kPayload), "PutEntry");
      f.WaitSeen(before + 1);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  }
  const double p99 = Percentile(us, 0.99);
  state.counters["p50_us"] = Percentile(us, 0.50);
  state.counters["p99_us"] = p99;
  if (g_post_p99 > 0) state.counters["post_vs_put_p99"] = g_post_p99 / p99;
}

BENCHMARK(BM_PostToPush)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PutToPush)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace postbox::bench

BENCHMARK_MAIN();
