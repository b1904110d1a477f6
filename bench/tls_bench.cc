// What TLS costs (issue 15; docs/benchmarks.md "TLS"): each figure is TLS
// against plain TCP measured in the same run, on 127.0.0.1, the sides
// interleaved unit by unit (alternating which goes first) so a neighbour's
// build lands on both alike.
//
//   BM_PollRoundTrip_TlsVsPlain   one postbox::sync::Client, one request in
//       flight: Poll -> reply, 25 blocks of 200 a side, each block on a new
//       client and session (connecting not timed); an in-process
//       postbox::sync::Server per side (2 loop threads each).
//       ratio = TLS polls/s / plain (goal >= 0.7)
//   BM_BlobDownload_TlsVsPlain    one client downloads a 64 MiB blob to
//       memory (Client::Download, verified), 6 times a side (a new client
//       each time, connecting not timed), in-process
//       servers. ratio = TLS MB/s / plain (goal >= 0.5)
//   BM_Handshake_TlsVsPlain       new connection + full TLS 1.3 handshake (no
//       resumption; chain and name verified) + Hello + close, 4 threads of
//       the bench's own raw client for 2 s per unit (3 units a side),
//       in-process servers; against plain connect + Hello + close. Report only.
//   BM_IdleSessionMemory_TlsVsPlain  postbox-server as a child process, plain
//       and then TLS (same flags otherwise): 10,000 sessions that each
//       completed Hello, opened by one epoll loop of the bench's raw client
//       (at most 64 being set up at a time), then left idle for 3 s (the
//       server's --idle-timeout is 10m: no pings); (VmRSS with them - VmRSS
//       before) / 10,000 from /proc/<pid>/status. Goal: TLS <= 16 KiB.
//
// The certificate is a self-signed P-256 ECDSA one made with the openssl
// command line for 127.0.0.1 (the clients verify chain and name); the key
// exchange is OpenSSL's default (X25519). postbox-server is
// $POSTBOX_SERVER_BIN, else the one built beside this bench.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/summary_reporter.h"
#include "bench/tls/raw_client.h"
#include "postbox/db.h"
#include "postbox/sync/client.h"
#include "postbox/sync/server.h"

namespace postbox::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlobBytes = size_t{64} << 20;
// Small units, many of them: each side meets the same neighbours' load.
constexpr int kPollsPerUnit = 200;
constexpr int kPollUnits = 25;
constexpr int kDownloadUnits = 6;
constexpr int kHandshakeThreads = 4;
constexpr double kHandshakeSeconds = 2.0;
constexpr size_t kSessions = 10000;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- Certificates ----

struct Certs {
  Folder folder{"tls-certs"};
  std::string cert = folder.path() + "/cert.pem";
  std::string key = folder.path() + "/key.pem";
  Certs() {
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
        "-addext basicConstraints=critical,CA:FALSE -keyout '" +
        key + "' -out '" + cert + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) Fail("making the certificate with openssl failed");
  }
};

const Certs& TheCerts() {
  static const Certs certs;
  return certs;
}

// ---- In-process servers: one store and server per side ----

struct Side {
  bool tls;
  Folder folder{"tls"};
  std::unique_ptr<DB> db;
  MailboxCredentials alice, bob;
  MessageId blob_id = MessageId::Random();
  std::unique_ptr<sync::Server> server;

  Side(bool tls_on, const std::string& blob) : tls(tls_on) {
    Options o;
    o.durability = Durability::kRelaxed;
    db = Unwrap(DB::Open(folder.path(), o), "DB::Open");
    alice = Unwrap(db->CreateMailbox(), "CreateMailbox");
    bob = Unwrap(db->CreateMailbox(), "CreateMailbox");
    Check(db->Connect(alice.mkey, bob.mkey), "Connect");
    Unwrap(db->PostMessage({alice.mkey, bob.mkey, blob_id, "video", "", blob}), "PostMessage");
    sync::ServerOptions so;
    so.port = 0;
    so.threads = 2;
    if (tls) {
      sync::TlsServerOptions t;
      t.cert_file = TheCerts().cert;
      t.key_file = TheCerts().key;
      so.tls = t;
    }
    server = Unwrap(sync::Server::Start(db.get(), so), "Server::Start");
  }
  ~Side() {
    if (server) server->Stop();
  }
  std::unique_ptr<sync::Client> Connect(const MailboxCredentials& who) const {
    sync::ClientOptions o;
    o.port = server->port();
    o.mkey = who.mkey;
    o.secret = who.secret;
    o.request_timeout = std::chrono::seconds(30);
    if (tls) {
      o.tls.enabled = true;
      o.tls.ca_file = TheCerts().cert;
    }
    auto c = Unwrap(sync::Client::Create(o), "Client::Create");
    Unwrap(c->Connect(), tls ? "Connect (TLS)" : "Connect (plain)");
    return c;
  }
};

struct InProcess {
  std::string blob = RandomBlob(kBlobBytes);
  Side plain{false, blob};
  Side tls{true, blob};
};

// Made by the first benchmark that needs it, released at the end of main.
std::unique_ptr<InProcess> g_fixture;
InProcess& Fixture() {
  if (!g_fixture) g_fixture = std::make_unique<InProcess>();
  return *g_fixture;
}

// CPU seconds this process has used, all threads (user + system).
double ProcessCpu() {
  rusage r;
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

// CPU seconds the calling thread has used.
double ThreadCpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// What Interleave measured: per side, the wall seconds of each unit and the
// process's CPU seconds (client and server threads) over all its units.
struct Measured {
  std::vector<double> wall[2];  // [tls]
  double cpu[2] = {0, 0};
};

// What one unit measured (its set-up, such as connecting, left out).
struct Sample {
  double wall = 0, cpu = 0;
};
template <class F>
void Time(F f, Sample* s) {
  const double cpu0 = ProcessCpu();
  const auto t0 = Clock::now();
  f();
  s->wall = Seconds(Clock::now() - t0);
  s->cpu = ProcessCpu() - cpu0;
}

// Runs unit(tls, &sample) for each side `units` times, alternating which goes
// first, after one unmeasured unit a side (first-touch page faults, buffers
// growing, caches).
template <class F>
void Interleave(int units, F unit, Measured* m) {
  Sample warm;
  unit(false, &warm);
  unit(true, &warm);
  for (int i = 0; i < units; ++i) {
    for (int k = 0; k < 2; ++k) {
      const bool tls_now = (i + k) % 2 == 1;
      Sample s;
      unit(tls_now, &s);
      m->wall[tls_now].push_back(s.wall);
      m->cpu[tls_now] += s.cpu;
    }
  }
}

// Counters: tls_<unit> and plain_<unit> (`per_unit` things per unit of
// work, per second), ratio (TLS throughput / plain over all units),
// ratio_median (from the median units), cpu_ratio (plain CPU per unit / TLS
// CPU per unit: what the ratio would be if CPU were the only limit), target.
void ReportRatio(benchmark::State& state, const Measured& m, double per_unit, const char* unit_name,
                 double target) {
  double total[2] = {0, 0};
  for (int tls = 0; tls < 2; ++tls) {
    for (double x : m.wall[tls]) total[tls] += x;
  }
  const double n = static_cast<double>(m.wall[1].size());
  state.counters[std::string("tls_") + unit_name] = per_unit * n / total[1];
  state.counters[std::string("plain_") + unit_name] = per_unit * n / total[0];
  state.counters["ratio"] = total[0] / total[1];
  state.counters["ratio_median"] = Median(m.wall[0]) / Median(m.wall[1]);
  state.counters["cpu_ratio"] = m.cpu[0] / m.cpu[1];
  state.counters["tls_cpu_per_unit"] = m.cpu[1] / n;
  state.counters["plain_cpu_per_unit"] = m.cpu[0] / n;
  state.counters["target"] = target;
}

// Each unit has a client and session of its own: which CPUs the client's,
// the bench's and the server loop's threads land on decides a round trip's
// cost (a wakeup across vCPUs costs more than one on the same), and a
// placement would otherwise stay with one side for the whole benchmark.
void BM_PollRoundTrip_TlsVsPlain(benchmark::State& state) {
  InProcess& f = Fixture();
  Measured m;
  for (auto _ : state) {
    Interleave(
        kPollUnits,
        [&](bool tls_now, Sample* s) {
          const Side& side = tls_now ? f.tls : f.plain;
          auto c = side.Connect(side.alice);
          const uint64_t since = Unwrap(c->Poll(0), "Poll").cursor;
          Time(
              [&] {
                for (int i = 0; i < kPollsPerUnit; ++i) Unwrap(c->Poll(since), "Poll");
              },
              s);
        },
        &m);
  }
  ReportRatio(state, m, kPollsPerUnit, "per_s", 0.7);
  state.counters["tls_rtt_us"] = Median(m.wall[1]) / kPollsPerUnit * 1e6;
  state.counters["plain_rtt_us"] = Median(m.wall[0]) / kPollsPerUnit * 1e6;
  state.counters["tls_cpu_us"] = m.cpu[1] / (kPollUnits * kPollsPerUnit) * 1e6;
  state.counters["plain_cpu_us"] = m.cpu[0] / (kPollUnits * kPollsPerUnit) * 1e6;
}

// A client and session per unit, as for the polls.
void BM_BlobDownload_TlsVsPlain(benchmark::State& state) {
  InProcess& f = Fixture();
  Measured m;
  for (auto _ : state) {
    Interleave(
        kDownloadUnits,
        [&](bool tls_now, Sample* s) {
          const Side& side = tls_now ? f.tls : f.plain;
          auto c = side.Connect(side.bob);
          std::string bytes;  // empty: Download starts at 0
          bytes.reserve(kBlobBytes);
          auto sink = sync::MemorySink(&bytes);
          Time([&] { Unwrap(c->Download(side.blob_id, sink.get()), "Download"); }, s);
          if (bytes.size() != kBlobBytes) Fail("a download came back short");
        },
        &m);
  }
  ReportRatio(state, m, static_cast<double>(kBlobBytes) / 1e6, "MBps", 0.5);
  // CPU (client and server) per MB moved.
  state.counters["tls_cpu_us"] = m.cpu[1] / (kDownloadUnits * kBlobBytes / 1e6) * 1e6;
  state.counters["plain_cpu_us"] = m.cpu[0] / (kDownloadUnits * kBlobBytes / 1e6) * 1e6;
}

void BM_Handshake_TlsVsPlain(benchmark::State& state) {
  InProcess& f = Fixture();
  const ClientContext none(""), verify(TheCerts().cert);
  const std::vector<uint8_t> plain_hello = HelloFrame(f.plain.alice);
  const std::vector<uint8_t> tls_hello = HelloFrame(f.tls.alice);
  std::atomic<uint64_t> source{0};
  std::vector<double> p, t;  // seconds per 1,000 sessions
  // CPU per session: the server's (the process's but the client threads')
  // and the clients'.
  double cpu_server[2] = {0, 0}, cpu_client[2] = {0, 0};
  uint64_t sessions[2] = {0, 0};
  for (auto _ : state) {
    for (int i = 0; i < 6; ++i) {
      const bool tls_now = ((i % 2) ^ ((i / 2) % 2)) == 1;  // P T, T P, P T
      std::atomic<uint64_t> done{0};
      std::atomic<bool> stop{false};
      std::mutex mu;
      std::string failure;
      double client_cpu = 0;
      std::vector<std::thread> threads;
      const double cpu0 = ProcessCpu();
      const auto t0 = Clock::now();
      for (int k = 0; k < kHandshakeThreads; ++k) {
        threads.emplace_back([&] {
          std::string error;
          const double c0 = ThreadCpu();
          while (!stop.load(std::memory_order_relaxed)) {
            const uint16_t port = tls_now ? f.tls.server->port() : f.plain.server->port();
            if (!HelloOnce(port, tls_now ? verify : none, tls_now ? tls_hello : plain_hello,
                           LoopbackSource(source.fetch_add(1), 0), &error)) {
              std::lock_guard lock(mu);
              failure = error;
              stop = true;
              break;
            }
            done.fetch_add(1, std::memory_order_relaxed);
          }
          const double used = ThreadCpu() - c0;
          std::lock_guard lock(mu);
          client_cpu += used;
        });
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(kHandshakeSeconds));
      stop = true;
      for (auto& th : threads) th.join();
      const double secs = Seconds(Clock::now() - t0);
      if (!failure.empty()) Fail("handshake bench: " + failure);
      (tls_now ? t : p).push_back(secs / static_cast<double>(done.load()) * 1000);
      cpu_server[tls_now] += ProcessCpu() - cpu0 - client_cpu;
      cpu_client[tls_now] += client_cpu;
      sessions[tls_now] += done.load();
    }
  }
  Measured m;
  m.wall[0] = p;
  m.wall[1] = t;
  m.cpu[0] = cpu_server[0] + cpu_client[0];
  m.cpu[1] = cpu_server[1] + cpu_client[1];
  ReportRatio(state, m, 1000, "per_s", 0);
  // Units here are time-bound, not count-bound: the CPU ratio is per session.
  state.counters["cpu_ratio"] =
      (m.cpu[0] / static_cast<double>(sessions[0])) / (m.cpu[1] / static_cast<double>(sessions[1]));
  for (int tls = 0; tls < 2; ++tls) {
    const double n = static_cast<double>(sessions[tls]);
    state.counters[tls ? "tls_server_cpu_us" : "plain_server_cpu_us"] = cpu_server[tls] / n * 1e6;
    state.counters[tls ? "tls_client_cpu_us" : "plain_client_cpu_us"] = cpu_client[tls] / n * 1e6;
  }
}

// ---- postbox-server as a child process, for the memory figure ----

std::string ServerBinary() {
  if (const char* env = std::getenv("POSTBOX_SERVER_BIN")) return env;
  return POSTBOX_SERVER_BIN_PATH;
}

class ServerProcess {
 public:
  ServerProcess(const std::string& data, bool tls) {
    std::vector<std::string> args = {
        ServerBinary(), "--listen",          "127.0.0.1:0", "--data",
        data,           "--threads",         "2",           "--log-level",
        "warn",         "--max-connections", "10100",       "--idle-timeout",
        "10m",          "--hello-timeout",   "60s"};
    if (tls) {
      args.insert(args.end(), {"--tls-cert", TheCerts().cert, "--tls-key", TheCerts().key,
                               "--tls-handshake-timeout", "60s"});
    }
    int out[2];
    if (pipe(out) != 0) Fail("pipe");
    pid_ = fork();
    if (pid_ < 0) Fail("fork");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      std::_Exit(127);
    }
    close(out[1]);
    // "postbox-server listening on 127.0.0.1:PORT" (+ " (TLS)").
    std::string line;
    char ch;
    while (read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    close(out[0]);
    const std::string prefix = "postbox-server listening on 127.0.0.1:";
    if (line.rfind(prefix, 0) != 0) Fail("postbox-server did not start: '" + line + "'");
    port_ = static_cast<uint16_t>(std::stoi(line.substr(prefix.size())));
    if (tls && line.find("(TLS)") == std::string::npos)
      Fail("postbox-server is not on TLS: " + line);
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
  }
  uint16_t port() const { return port_; }
  // VmRSS in bytes.
  double Rss() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    while (in >> key) {
      if (key == "VmRSS:") {
        double kib;
        in >> kib;
        return kib * 1024;
      }
      in.ignore(1 << 16, '\n');
    }
    Fail("no VmRSS for the server");
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Bytes per idle session: (RSS with kSessions - RSS before) / kSessions.
double SessionBytes(const std::string& data, const MailboxCredentials& who, bool tls,
                    benchmark::State& state) {
  ServerProcess server(data, tls);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double empty = server.Rss();
  const ClientContext ctx(tls ? TheCerts().cert : "");
  IdleSessions sessions(server.port(), ctx, HelloFrame(who));
  std::string error;
  if (!sessions.Open(kSessions, 64, 300, &error)) Fail("opening sessions: " + error);
  // Idle: what the server sends after Hello (TLS 1.3 session tickets) is
  // read, every buffer has gone quiet.
  if (sessions.Idle(3.0) != kSessions) Fail("sessions were closed while idle");
  const double with = server.Rss();
  state.counters[tls ? "tls_rss_empty_MiB" : "plain_rss_empty_MiB"] = empty / (1 << 20);
  state.counters[tls ? "tls_rss_MiB" : "plain_rss_MiB"] = with / (1 << 20);
  return (with - empty) / static_cast<double>(kSessions);
}

void BM_IdleSessionMemory_TlsVsPlain(benchmark::State& state) {
  Folder folder("tls-memory");
  const std::string data = folder.path() + "/store";
  MailboxCredentials who;
  {
    auto db = Unwrap(DB::Open(data, Options{}), "DB::Open");
    who = Unwrap(db->CreateMailbox(), "CreateMailbox");
  }
  for (auto _ : state) {
    const double plain = SessionBytes(data, who, false, state);
    const double tls = SessionBytes(data, who, true, state);
    state.counters["plain_KiB_session"] = plain / 1024;
    state.counters["tls_KiB_session"] = tls / 1024;
    state.counters["tls_extra_KiB_session"] = (tls - plain) / 1024;
    state.counters["target"] = 16;
  }
}

BENCHMARK(BM_PollRoundTrip_TlsVsPlain)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BlobDownload_TlsVsPlain)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Handshake_TlsVsPlain)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IdleSessionMemory_TlsVsPlain)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- Summary ----

class SummaryReporter : public SummaryReporterBase {
 public:
  using SummaryReporterBase::SummaryReporterBase;

  void PrintSummary(std::FILE* out) const {
    std::fprintf(out,
                 "\nSummary: TLS against plain TCP in this run, 127.0.0.1 (ratio = TLS / plain "
                 "throughput; median = from median units; cpu = plain / TLS CPU per unit of work, "
                 "client and server)\n%-34s %16s %16s %7s %7s %7s %8s  %s\n",
                 "benchmark", "TLS", "plain", "ratio", "median", "cpu", "goal", "verdict");
    for (const Run& run : rows()) {
      const std::string name = run.run_name.function_name;
      if (run.error_occurred) {
        std::fprintf(out, "%-34s ERROR: %s\n", name.c_str(), run.error_message.c_str());
        continue;
      }
      auto c = [&](const std::string& key) {
        auto it = run.counters.find(key);
        return it == run.counters.end() ? 0.0 : it->second.value;
      };
      if (run.counters.count("tls_KiB_session") != 0) {
        char tls[32], plain[32], goal[16];
        std::snprintf(tls, sizeof(tls), "%.1f KiB", c("tls_KiB_session"));
        std::snprintf(plain, sizeof(plain), "%.1f KiB", c("plain_KiB_session"));
        std::snprintf(goal, sizeof(goal), "<=%.0f KiB", c("target"));
        std::fprintf(out, "%-34s %16s %16s %7s %7s %7s %8s  %s\n", name.c_str(), tls, plain, "", "",
                     "", goal, c("tls_KiB_session") <= c("target") ? "met" : "MISSED");
        std::fprintf(out,
                     "  (per idle session at %zu sessions; server VmRSS empty -> with them: "
                     "plain %.1f -> %.1f MiB, TLS %.1f -> %.1f MiB; TLS adds %.1f KiB)\n",
                     kSessions, c("plain_rss_empty_MiB"), c("plain_rss_MiB"),
                     c("tls_rss_empty_MiB"), c("tls_rss_MiB"), c("tls_extra_KiB_session"));
        continue;
      }
      const bool mbps = run.counters.count("tls_MBps") != 0;
      const char* unit = mbps ? "MBps" : "per_s";
      char tls[32], plain[32], goal[16] = "report";
      std::snprintf(tls, sizeof(tls), mbps ? "%.0f MB/s" : "%.0f /s",
                    c(std::string("tls_") + unit));
      std::snprintf(plain, sizeof(plain), mbps ? "%.0f MB/s" : "%.0f /s",
                    c(std::string("plain_") + unit));
      const double want = c("target");
      if (want > 0) std::snprintf(goal, sizeof(goal), ">=%.2f", want);
      const char* verdict = want == 0                   ? ""
                            : c("ratio") >= want        ? "met"
                            : c("ratio_median") >= want ? "MISSED (median met: rerun)"
                                                        : "MISSED";
      std::fprintf(out, "%-34s %16s %16s %7.2f %7.2f %7.2f %8s  %s\n", name.c_str(), tls, plain,
                   c("ratio"), c("ratio_median"), c("cpu_ratio"), goal, verdict);
      if (run.counters.count("tls_server_cpu_us") != 0) {
        std::fprintf(out,
                     "  (CPU per connection, server: TLS %.0f us, plain %.0f us; client: TLS %.0f "
                     "us, plain %.0f us)\n",
                     c("tls_server_cpu_us"), c("plain_server_cpu_us"), c("tls_client_cpu_us"),
                     c("plain_client_cpu_us"));
      }
      if (run.counters.count("tls_rtt_us") != 0) {
        std::fprintf(out,
                     "  (median round trip: TLS %.1f us, plain %.1f us; CPU per poll: TLS %.1f us, "
                     "plain %.1f us)\n",
                     c("tls_rtt_us"), c("plain_rtt_us"), c("tls_cpu_us"), c("plain_cpu_us"));
      } else if (mbps) {
        std::fprintf(out, "  (CPU per MB, client and server: TLS %.0f us, plain %.0f us)\n",
                     c("tls_cpu_us"), c("plain_cpu_us"));
      }
    }
  }
};

// Sessions need a descriptor each, on both ends: as many as the hard limit allows.
void RaiseFileLimit() {
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= r.rlim_max) return;
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
}

}  // namespace
}  // namespace postbox::bench

int main(int argc, char** argv) {
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=")) format = std::string(arg.substr(19));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  postbox::bench::RaiseFileLimit();
  signal(SIGPIPE, SIG_IGN);
  benchmark::AddCustomContext("postbox_bench_dir", postbox::bench::BenchRoot());
  benchmark::AddCustomContext("postbox_server", postbox::bench::ServerBinary());
  std::unique_ptr<benchmark::BenchmarkReporter> inner;
  if (format == "json") {
    inner = std::make_unique<benchmark::JSONReporter>();
  } else {
    inner = std::make_unique<benchmark::ConsoleReporter>(isatty(STDOUT_FILENO)
                                                             ? benchmark::ConsoleReporter::OO_Color
                                                             : benchmark::ConsoleReporter::OO_None);
  }
  postbox::bench::SummaryReporter reporter(std::move(inner));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary(format == "json" ? stderr : stdout);
  postbox::bench::g_fixture.reset();
  benchmark::Shutdown();
  return 0;
}
