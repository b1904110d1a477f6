// --op hostile: a server under hostile load keeps answering a well-behaved
// client, and its memory per idle session. Two phases on one libuv loop:
//   1. `idle` authenticated idle sessions are opened (at most `ramp` connects
//      and Hellos in flight, each socket bound to one of the source addresses
//      127.0.0.2, 127.0.0.3, ... so tens of thousands of connections do not run
//      out of ephemeral ports); they answer the server's Pings and nothing
//      else. Once all have said Hello and a second has passed, the server's RSS
//      is read again: (RSS now - RSS before) / sessions is the memory per idle
//      session.
//   2. For cfg.duration seconds, with the idle sessions still open: slow
//      readers (Hello, then Polls of a ~770 KB mailbox written as fast as the
//      socket takes them, never reading a byte), request floods (Hello, then
//      requests written as fast as the socket takes them, replies read and
//      counted) and one well-behaved client: a postbox::sync::Client on its
//      own thread (so this loop's work does not delay it) that polls every
//      probe_interval_ms and measures each round trip. A slow reader or flood
//      the server cuts off reconnects at once, so the pressure stays on. The
//      server's RSS is sampled every 100 ms (its peak is reported).
// One result line; exit status 0 only if every probe call completed without
// error and every idle session opened and stayed open.
#include <netinet/in.h>
#include <signal.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "load/load.h"
#include "postbox/wire/codec.h"
#include "postbox/wire/frame.h"

namespace postbox::load {
namespace {

using wire::AnyMessage;

constexpr uint64_t kHelloId = 1000000000;
// Requests per write of a slow reader or flood.
constexpr unsigned kRequestsPerWrite = 64;

enum class Kind { kIdle, kSlow, kFlood };
enum class Phase { kOpeningIdle, kSettling, kLoad, kDraining };

struct Hostile;

struct HConn {
  Hostile* h = nullptr;
  Kind kind = Kind::kIdle;
  size_t index = 0;  // into Workload::creds and the source addresses
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  std::unique_ptr<wire::FrameDecoder> decoder;
  std::vector<uint8_t> out;
  bool ready = false;    // Hello answered
  bool writing = false;  // a slow reader's or flood's batch is being written
  uint64_t seq = 0;
};

struct Hostile {
  const Config* cfg = nullptr;
  const Workload* work = nullptr;
  uv_loop_t loop{};
  uv_timer_t tick{}, phase_timer{};
  Phase phase = Phase::kOpeningIdle;
  wire::Encoder encoder;
  char read_buf[65536];
  std::vector<std::unique_ptr<HConn>> conns;
  std::vector<sockaddr_in> sources;
  sockaddr_in server{};
  std::unique_ptr<Probe> probe;

  size_t next_idle = 0, pending = 0, idle_ready = 0, idle_failed = 0, idle_closed = 0;
  uint64_t idle_begin_ns = 0, idle_end_ns = 0, load_begin_ns = 0, load_end_ns = 0;
  long rss_before = -1, anon_before = -1, rss_idle = -1, anon_idle = -1;
  long rss_peak = -1, anon_peak = -1;
  uint64_t slow_cut = 0, flood_cut = 0, flood_replies = 0, flood_errors = 0;
};

// A field of /proc/<pid>/status in KiB; -1 if unreadable.
long StatusKiB(int pid, const char* field) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::strtol(line.c_str() + n + 1, nullptr, 10);
  }
  return -1;
}

void SampleRss(Hostile* h) {
  h->rss_peak = std::max(h->rss_peak, StatusKiB(h->cfg->server_pid, "VmRSS"));
  h->anon_peak = std::max(h->anon_peak, StatusKiB(h->cfg->server_pid, "RssAnon"));
}

void Connect(HConn* c);
void Lost(HConn* c);
void OpenIdle(Hostile* h);
void StartLoad(Hostile* h);

// Ends the run: stops the loop (main closes every handle afterwards).
void Finish(Hostile* h) { uv_stop(&h->loop); }

void Flush(HConn* c) {
  if (!c->out.empty()) (void)WriteBytes(reinterpret_cast<uv_stream_t*>(&c->tcp), &c->out);
}

// Appends one request of the connection's kind to c->out.
void EncodeRequest(HConn* c) {
  Hostile* h = c->h;
  const uint64_t rid = ++c->seq;
  if (c->kind == Kind::kSlow) {
    (void)h->encoder.Encode(rid, wire::Poll{0, 0}, &c->out);
    return;
  }
  switch (h->cfg->hostile.flood_op) {
    case FloodOp::kPut:
      return EncodePut(&h->encoder, rid, &c->out);
    case FloodOp::kPoll:
      (void)h->encoder.Encode(rid, wire::Poll{0, 1}, &c->out);
      return;
    case FloodOp::kPing:
      (void)h->encoder.Encode(rid, wire::Ping{rid}, &c->out);
      return;
  }
}

// Slow readers and floods: the next batch of requests, once the previous
// batch has been taken by the socket (one write in flight per session, so a
// server that stops reading stops the session's writes too, and this process
// holds at most one batch per session). Called on each write's completion,
// after Hello and from the tick.
void Pump(HConn* c) {
  auto* s = reinterpret_cast<uv_stream_t*>(&c->tcp);
  if (c->h->phase != Phase::kLoad || !c->ready || c->writing ||
      uv_is_closing(reinterpret_cast<uv_handle_t*>(s)))
    return;
  for (unsigned i = 0; i < kRequestsPerWrite; ++i) EncodeRequest(c);
  c->writing = true;
  const int rc = WriteBytes(s, &c->out, [](uv_stream_t* stream, int status) {
    auto* conn = static_cast<HConn*>(stream->data);
    conn->writing = false;
    if (status == 0) return Pump(conn);
    // A slow reader learns that the server cut it off here (it reads nothing).
    if (status != UV_ECANCELED) Lost(conn);
  });
  if (rc != 0) c->writing = false;
}

void OnClosed(uv_handle_t* handle) {
  auto* c = static_cast<HConn*>(handle->data);
  Hostile* h = c->h;
  // A cut slow reader or flood comes back at once while the load runs.
  if (h->phase == Phase::kLoad && (c->kind == Kind::kSlow || c->kind == Kind::kFlood)) Connect(c);
}

// The server closed the connection (or it failed): counts it and closes ours.
void Lost(HConn* c) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&c->tcp);
  if (uv_is_closing(handle)) return;
  Hostile* h = c->h;
  switch (c->kind) {
    case Kind::kIdle:
      if (c->ready) {
        ++h->idle_closed;
      } else {
        ++h->idle_failed;
        --h->pending;
      }
      break;
    case Kind::kSlow:
      ++h->slow_cut;
      break;
    case Kind::kFlood:
      ++h->flood_cut;
      break;
  }
  uv_close(handle, OnClosed);
  if (c->kind == Kind::kIdle && !c->ready) OpenIdle(h);
}

void OnHelloReply(HConn* c, const AnyMessage& m) {
  Hostile* h = c->h;
  if (!std::holds_alternative<wire::HelloReply>(m)) return Lost(c);
  c->ready = true;
  switch (c->kind) {
    case Kind::kIdle:
      ++h->idle_ready;
      --h->pending;
      OpenIdle(h);
      return;
    case Kind::kSlow:
      // From now on nothing is read: the replies pile up at the server.
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
      return Pump(c);
    case Kind::kFlood:
      return Pump(c);
  }
}

void OnFrame(HConn* c, uint64_t rid, const AnyMessage& m) {
  Hostile* h = c->h;
  if (!c->ready) return OnHelloReply(c, m);
  if (const auto* ping = std::get_if<wire::Ping>(&m)) {
    // The server's idle ping: a live client answers it.
    (void)h->encoder.Encode(rid, wire::Pong{ping->nonce}, &c->out);
    return;
  }
  if (rid == 0) return;  // a push (a flood's own mailbox changes)
  if (c->kind == Kind::kFlood) {
    ++h->flood_replies;
    if (std::holds_alternative<wire::ErrorReply>(m)) ++h->flood_errors;
  }
}

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<HConn*>(s->data);
  if (n < 0) return Lost(c);
  c->decoder->Feed({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(n)});
  wire::Frame f;
  wire::FrameDecoder::Progress p;
  while ((p = c->decoder->Next(&f)) == wire::FrameDecoder::Progress::kFrame) {
    AnyMessage m;
    if (!wire::DecodeAny(f, &m).ok()) return Lost(c);
    OnFrame(c, f.request_id(), m);
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
  }
  if (p == wire::FrameDecoder::Progress::kFailed) return Lost(c);
  Flush(c);
}

void OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<HConn*>(req->data);
  if (status < 0) {
    if (status != UV_ECANCELED && c->kind != Kind::kIdle)
      std::fprintf(stderr, "connect: %s\n", uv_strerror(status));
    return Lost(c);
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* handle, size_t, uv_buf_t* b) {
        auto* cc = static_cast<HConn*>(handle->data);
        *b = uv_buf_init(cc->h->read_buf, sizeof(cc->h->read_buf));
      },
      OnRead);
  const MailboxCredentials& creds = c->h->work->creds[c->index];
  wire::Hello hello;
  std::memcpy(hello.mkey.data(), creds.mkey.bytes.data(), 16);
  hello.secret = creds.secret;
  (void)c->h->encoder.Encode(kHelloId, hello, &c->out);
  Flush(c);
}

// Opens (or reopens) a connection from its source address.
void Connect(HConn* c) {
  Hostile* h = c->h;
  c->ready = false;
  c->writing = false;
  c->seq = 0;
  c->out.clear();
  c->decoder = std::make_unique<wire::FrameDecoder>();
  uv_tcp_init_ex(&h->loop, &c->tcp, AF_INET);
  c->tcp.data = c->connect_req.data = c;
  if (!h->sources.empty()) {
    // The port is picked at connect(2), per (source, destination): without
    // IP_BIND_ADDRESS_NO_PORT bind(2) would reserve one per socket up front.
    uv_os_fd_t fd;
    const int one = 1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->tcp), &fd) == 0)
      (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    const sockaddr_in& src = h->sources[c->index % h->sources.size()];
    if (int rc = uv_tcp_bind(&c->tcp, reinterpret_cast<const sockaddr*>(&src), 0); rc != 0) {
      std::fprintf(stderr, "bind: %s\n", uv_strerror(rc));
      return Lost(c);
    }
  }
  uv_tcp_nodelay(&c->tcp, 1);
  const int rc = uv_tcp_connect(&c->connect_req, &c->tcp,
                                reinterpret_cast<const sockaddr*>(&h->server), OnConnect);
  if (rc != 0) {
    std::fprintf(stderr, "connect: %s\n", uv_strerror(rc));
    Lost(c);
  }
}

// Keeps `ramp` idle sessions connecting or saying Hello until all are open,
// then lets the server settle for a second before reading its RSS.
void OpenIdle(Hostile* h) {
  if (h->phase != Phase::kOpeningIdle) return;
  const size_t idle = h->cfg->hostile.idle;
  while (h->next_idle < idle && h->pending < h->cfg->hostile.ramp) {
    ++h->pending;
    Connect(h->conns[h->next_idle++].get());
  }
  if (h->idle_ready + h->idle_failed < idle) return;
  h->idle_end_ns = NowNs();
  h->phase = Phase::kSettling;
  std::printf("idle_sessions=%zu failed=%zu\n", h->idle_ready, h->idle_failed);
  std::fflush(stdout);
  uv_timer_start(
      &h->phase_timer,
      [](uv_timer_t* t) {
        auto* hh = static_cast<Hostile*>(t->data);
        hh->rss_idle = StatusKiB(hh->cfg->server_pid, "VmRSS");
        hh->anon_idle = StatusKiB(hh->cfg->server_pid, "RssAnon");
        StartLoad(hh);
      },
      1000, 0);
}

void StartLoad(Hostile* h) {
  // The probe says Hello before the load begins (this blocks the loop for a
  // round trip while the idle sessions are quiet).
  h->probe = std::make_unique<Probe>(*h->cfg, h->work->creds.back());
  h->phase = Phase::kLoad;
  h->load_begin_ns = NowNs();
  for (auto& c : h->conns) {
    if (c->kind != Kind::kIdle) Connect(c.get());
  }
  uv_timer_start(
      &h->phase_timer,
      [](uv_timer_t* t) {
        auto* hh = static_cast<Hostile*>(t->data);
        hh->phase = Phase::kDraining;
        hh->load_end_ns = NowNs();
        Finish(hh);
      },
      static_cast<uint64_t>(h->cfg->duration * 1000), 0);
}

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

int Report(const Hostile& h, const Probe& probe) {
  const HostileOptions& o = h.cfg->hostile;
  std::vector<uint32_t> l = probe.latencies_us;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) -> double {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))] / 1000.0;
  };
  std::printf("op=hostile idle=%u sources=%u idle_open=%zu idle_failed=%zu idle_open_s=%.2f",
              o.idle, o.sources, h.idle_ready, h.idle_failed,
              Ms(h.idle_end_ns - h.idle_begin_ns) / 1000);
  if (h.rss_before >= 0 && h.rss_idle >= 0 && o.idle > 0) {
    std::printf(
        " rss_before_kib=%ld rss_idle_kib=%ld rss_per_idle_session_b=%.0f "
        "anon_per_idle_session_b=%.0f",
        h.rss_before, h.rss_idle, static_cast<double>(h.rss_idle - h.rss_before) * 1024 / o.idle,
        static_cast<double>(h.anon_idle - h.anon_before) * 1024 / o.idle);
  }
  static constexpr const char* kFloodOps[] = {"put", "poll", "ping"};
  std::printf(
      " load_s=%.2f slow_readers=%u slow_cut=%lu floods=%u flood_op=%s flood_replies=%lu "
      "flood_errors=%lu flood_cut=%lu probe_calls=%lu probe_completed=%lu probe_errors=%lu "
      "probe_p50_ms=%.3f probe_p99_ms=%.3f probe_max_ms=%.3f idle_closed=%zu",
      Ms(h.load_end_ns - h.load_begin_ns) / 1000, o.slow_readers,
      static_cast<unsigned long>(h.slow_cut), o.floods, kFloodOps[static_cast<int>(o.flood_op)],
      static_cast<unsigned long>(h.flood_replies), static_cast<unsigned long>(h.flood_errors),
      static_cast<unsigned long>(h.flood_cut), static_cast<unsigned long>(probe.calls),
      static_cast<unsigned long>(probe.completed), static_cast<unsigned long>(probe.errors),
      pct(0.5), pct(0.99), l.empty() ? 0.0 : l.back() / 1000.0, h.idle_closed);
  if (h.rss_peak >= 0) {
    std::printf(" server_rss_peak_kib=%ld server_anon_peak_kib=%ld", h.rss_peak, h.anon_peak);
  }
  std::printf("\n");
  std::fflush(stdout);
  const bool ok = probe.calls > 0 && probe.completed == probe.calls && probe.errors == 0 &&
                  h.idle_failed == 0 && h.idle_closed == 0;
  if (!ok) std::fprintf(stderr, "hostile: a probe call or an idle session did not survive\n");
  return ok ? 0 : 1;
}

}  // namespace

int RunHostile(const Config& cfg, const Workload& work) {
  const HostileOptions& o = cfg.hostile;
  if (!RaiseFileLimit(work.creds.size() + 64)) return 2;
  // The server cuts slow readers off: a write to such a socket must fail with
  // EPIPE, not kill this process.
  signal(SIGPIPE, SIG_IGN);
  auto h = std::make_unique<Hostile>();
  h->cfg = &cfg;
  h->work = &work;
  uv_loop_init(&h->loop);
  uv_ip4_addr("127.0.0.1", cfg.port, &h->server);
  for (unsigned i = 0; i < o.sources; ++i) {
    sockaddr_in a;
    uv_ip4_addr(("127.0.0." + std::to_string(2 + i)).c_str(), 0, &a);
    h->sources.push_back(a);
  }
  // Sessions in Workload order: idle, slow readers, floods (the probe, last,
  // is the Probe's).
  auto add = [&](Kind kind, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      auto c = std::make_unique<HConn>();
      c->h = h.get();
      c->kind = kind;
      c->index = h->conns.size();
      h->conns.push_back(std::move(c));
    }
  };
  add(Kind::kIdle, o.idle);
  add(Kind::kSlow, o.slow_readers);
  add(Kind::kFlood, o.floods);
  for (uv_timer_t* t : {&h->tick, &h->phase_timer}) {
    uv_timer_init(&h->loop, t);
    t->data = h.get();
  }
  uv_timer_start(
      &h->tick,
      [](uv_timer_t* t) {
        auto* hh = static_cast<Hostile*>(t->data);
        SampleRss(hh);
        for (auto& c : hh->conns) {
          if (c->kind == Kind::kSlow || c->kind == Kind::kFlood) Pump(c.get());
        }
      },
      100, 100);
  h->rss_before = StatusKiB(cfg.server_pid, "VmRSS");
  h->anon_before = StatusKiB(cfg.server_pid, "RssAnon");
  h->idle_begin_ns = NowNs();
  OpenIdle(h.get());
  uv_run(&h->loop, UV_RUN_DEFAULT);
  SampleRss(h.get());
  // The probe's last call completes against a server still holding every
  // session (this loop no longer reads or writes them).
  int rc = 1;
  if (h->probe != nullptr) {
    h->probe->Stop();
    rc = Report(*h, *h->probe);
  } else {
    std::fprintf(stderr, "hostile: the load phase never started\n");
  }

  CloseLoop(&h->loop);
  return rc;
}

}  // namespace postbox::load
