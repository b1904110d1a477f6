// FaultProxy's relay (tests/support/fault_proxy.h): one libuv loop thread, two
// TCP handles per connection, and per direction a "lane" that cuts the byte
// stream into frames, judges each and writes what survives, holding frames
// behind a delay in a FIFO so a direction's order is kept.
#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include <atomic>
#include <cassert>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace postbox::testing {
namespace {

constexpr size_t kReadSize = 64 * 1024;
// A lane stops reading its source above kHighWater bytes waiting in the proxy
// (written but not yet taken by the kernel, or held by a delay) and resumes
// below kLowWater.
constexpr size_t kHighWater = 4u << 20;
constexpr size_t kLowWater = 1u << 20;
// A cut closes the connection once its prefix is written, or after this long
// if the receiver does not take it.
constexpr uint64_t kCutGraceMs = 1000;
constexpr uint32_t kFlipMinPayload = 4096;

// Whether `h` can be a frame: otherwise the proxy stops framing that stream.
bool Framable(const wire::FrameHeader& h) {
  const bool flags_ok = h.flags == 0 || h.flags == wire::kFlagZstd ||
                        h.flags == (wire::kFlagZstd | wire::kFlagDictionary);
  return wire::IsKnownMessageType(h.type) && flags_ok && h.reserved == 0 &&
         h.length <= wire::kMaxSupportedPayload;
}

Status UvError(const char* what, int rc) {
  return Status::Unavailable(std::string("fault proxy: ") + what + ": " + uv_err_name(rc) + " (" +
                             uv_strerror(rc) + ")");
}

struct AtomicDirectionStats {
  std::atomic<uint64_t> forwarded{0}, dropped{0}, duplicated{0}, delayed{0}, cut{0}, flipped{0},
      unframed{0};
  DirectionStats Load() const {
    return {forwarded.load(), dropped.load(), duplicated.load(), delayed.load(),
            cut.load(),       flipped.load(), unframed.load()};
  }
};

void Bump(std::atomic<uint64_t>& c, int64_t by = 1) {
  c.fetch_add(static_cast<uint64_t>(by), std::memory_order_relaxed);
}

}  // namespace

class FaultProxy::Loop {
 public:
  Loop(uint16_t upstream_port, const FaultPolicy& policy)
      : upstream_port_(upstream_port), policy_(policy), flips_left_(policy.flip_frames) {}

  ~Loop() {
    if (thread_.joinable()) {
      RunOnLoop([this] { Shutdown(); });
      thread_.join();
    } else if (initialized_) {
      // Start failed half-way: close what was opened, let the callbacks run.
      uv_walk(
          &uv_,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
          },
          nullptr);
      uv_run(&uv_, UV_RUN_DEFAULT);
    }
    if (initialized_) uv_loop_close(&uv_);
  }

  // Binds and listens on the calling thread, then starts the loop thread.
  Status Start(uint16_t* port) {
    if (int rc = uv_loop_init(&uv_); rc != 0) return UvError("uv_loop_init", rc);
    initialized_ = true;
    uv_tcp_init(&uv_, &listener_);
    listener_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0); rc != 0) {
      return UvError("bind 127.0.0.1:0", rc);
    }
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, OnConnection);
        rc != 0) {
      return UvError("listen", rc);
    }
    int len = sizeof(addr);
    if (int rc = uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        rc != 0) {
      return UvError("getsockname", rc);
    }
    *port = ntohs(addr.sin_port);
    uv_ip4_addr("127.0.0.1", upstream_port_, &upstream_);
    if (int rc = uv_async_init(&uv_, &wake_, OnWake); rc != 0) return UvError("uv_async_init", rc);
    wake_.data = this;
    thread_ = std::thread([this] {
      // A write to a peer that reset raises SIGPIPE in the writing thread;
      // blocked here, the write fails with EPIPE and the connection closes.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      uv_run(&uv_, UV_RUN_DEFAULT);
    });
    loop_thread_ = thread_.get_id();
    return Status::Ok();
  }

  // Runs `fn` on the loop thread and returns once it has run.
  void RunOnLoop(std::function<void()> fn) {
    assert(std::this_thread::get_id() != loop_thread_ && "would deadlock on the loop thread");
    // The task owns the promise: set_value may still touch it after the
    // waiting caller has returned.
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    {
      std::lock_guard lock(mu_);
      tasks_.push_back([&fn, done] {
        fn();
        done->set_value();
      });
    }
    uv_async_send(&wake_);
    finished.wait();
  }

  // ---- loop thread only (every method below) ----
  void SetPolicy(const FaultPolicy& p) {
    policy_ = p;
    flips_left_ = p.flip_frames;
  }
  const FaultPolicy& policy() const { return policy_; }
  void CutAll();
  void Pause(bool paused, PauseMode mode);

  struct Counters {
    std::atomic<uint64_t> accepted{0}, open{0}, refused{0}, upstream_failed{0}, connections_cut{0};
    AtomicDirectionStats dir[2];
  };
  Counters counters;

 private:
  struct Conn;
  struct Held {
    std::vector<uint8_t> bytes;
    uint64_t not_before = 0;  // uv_now() ms
    bool cut = false;         // close the connection once these bytes are written
  };
  // One direction of one connection.
  struct Lane {
    Conn* conn = nullptr;
    Direction dir = Direction::kToServer;
    uv_tcp_t* from = nullptr;
    uv_tcp_t* to = nullptr;
    uv_timer_t timer;          // releases held frames; the grace period of a cut
    std::vector<uint8_t> in;   // read, not yet a whole frame
    std::vector<uint8_t> out;  // to write at the end of this turn
    std::deque<Held> held;     // behind a delay, in order
    size_t held_bytes = 0;
    size_t queued = 0;   // bytes in uv_write requests not yet done
    bool framed = true;  // false: framing lost, bytes pass through
    bool reading = false;
    bool eof = false;  // `from` ended its stream
    bool shutdown_sent = false;
    bool shutdown_done = false;
    bool cut_pending = false;  // close once `queued` reaches 0
    uv_shutdown_t shutdown_req;
    std::optional<FaultDecider> decider;
  };
  struct Conn {
    Loop* loop = nullptr;
    uv_tcp_t client, server;
    uv_connect_t connect_req;
    Lane lanes[2];  // indexed by Direction
    int handles = 4;
    bool relaying = false;  // upstream connected
    bool cutting = false;   // a cut frame stopped both reads
    bool closing = false;
  };
  struct WriteReq {
    uv_write_t req;
    std::vector<uint8_t> data;
    Lane* lane;
  };

  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_; }
  uint64_t Now() { return uv_now(&uv_); }

  static void OnWake(uv_async_t* a);
  static void OnConnection(uv_stream_t* listener, int status);
  static void OnConnected(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static void OnClosed(uv_handle_t* h);

  void Shutdown();
  void AcceptOne();
  void Close(Conn* c);
  void Process(Lane& lane);
  void Emit(Lane& lane, const uint8_t* p, size_t n, uint64_t not_before, bool cut);
  void Flush(Lane& lane);
  void Write(Lane& lane, std::vector<uint8_t> data);
  void StartCut(Lane& lane);
  void ReleaseHeld(Lane& lane);
  void UpdateReading(Lane& lane);
  void MaybeHalfClose(Lane& lane);
  Lane& LaneOf(uv_stream_t* s) {
    Conn* c = static_cast<Conn*>(s->data);
    return s == reinterpret_cast<uv_stream_t*>(&c->client) ? c->lanes[0] : c->lanes[1];
  }
  AtomicDirectionStats& Stats(const Lane& l) { return counters.dir[static_cast<int>(l.dir)]; }

  const uint16_t upstream_port_;
  sockaddr_in upstream_{};
  uv_loop_t uv_;
  uv_tcp_t listener_;
  uv_async_t wake_;
  bool initialized_ = false;
  std::thread thread_;
  std::thread::id loop_thread_;

  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;  // guarded by mu_

  // Loop thread state.
  FaultPolicy policy_;
  uint32_t flips_left_;
  uint64_t next_index_ = 0;
  bool paused_ = false;
  PauseMode pause_mode_ = PauseMode::kRefuse;
  bool stalled_ = false;  // a connection waits in libuv, not accepted (kStall)
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  uint8_t read_buf_[kReadSize];
};

void FaultProxy::Loop::OnWake(uv_async_t* a) {
  Loop* self = static_cast<Loop*>(a->data);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(self->mu_);
    tasks.swap(self->tasks_);
  }
  for (auto& t : tasks) t();
}

void FaultProxy::Loop::Shutdown() {
  assert(OnLoopThread());
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  for (auto& [c, owned] : conns_) Close(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
}

void FaultProxy::Loop::CutAll() {
  assert(OnLoopThread());
  for (auto& [c, owned] : conns_) {
    if (!c->closing) Bump(counters.connections_cut);
    Close(c);
  }
}

void FaultProxy::Loop::Pause(bool paused, PauseMode mode) {
  assert(OnLoopThread());
  paused_ = paused;
  pause_mode_ = mode;
  if (stalled_ && !(paused_ && pause_mode_ == PauseMode::kStall)) {
    stalled_ = false;
    AcceptOne();
  }
}

void FaultProxy::Loop::OnConnection(uv_stream_t* listener, int status) {
  Loop* self = static_cast<Loop*>(listener->data);
  if (status < 0) return;
  if (self->paused_ && self->pause_mode_ == PauseMode::kStall) {
    // Not accepting makes libuv stop watching the listener until uv_accept.
    self->stalled_ = true;
    return;
  }
  self->AcceptOne();
}

void FaultProxy::Loop::AcceptOne() {
  auto* listener = reinterpret_cast<uv_stream_t*>(&listener_);
  if (paused_) {
    auto* t = new uv_tcp_t;
    uv_tcp_init(&uv_, t);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(t)) == 0) Bump(counters.refused);
    uv_close(reinterpret_cast<uv_handle_t*>(t),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return;
  }
  auto owned = std::make_unique<Conn>();
  Conn* c = owned.get();
  conns_.emplace(c, std::move(owned));
  Bump(counters.open);
  c->loop = this;
  const uint64_t index = next_index_++;
  for (uv_tcp_t* t : {&c->client, &c->server}) {
    uv_tcp_init(&uv_, t);
    t->data = c;
  }
  for (int d = 0; d < 2; ++d) {
    Lane& l = c->lanes[d];
    l.conn = c;
    l.dir = static_cast<Direction>(d);
    l.from = d == 0 ? &c->client : &c->server;
    l.to = d == 0 ? &c->server : &c->client;
    l.decider.emplace(policy_.seed, index, l.dir);
    uv_timer_init(&uv_, &l.timer);
    l.timer.data = &l;
  }
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->client)) != 0) {
    Close(c);
    return;
  }
  Bump(counters.accepted);
  uv_tcp_nodelay(&c->client, 1);
  uv_tcp_nodelay(&c->server, 1);
  c->connect_req.data = c;
  if (uv_tcp_connect(&c->connect_req, &c->server, reinterpret_cast<const sockaddr*>(&upstream_),
                     OnConnected) != 0) {
    Bump(counters.upstream_failed);
    Close(c);
  }
}

void FaultProxy::Loop::OnConnected(uv_connect_t* req, int status) {
  Conn* c = static_cast<Conn*>(req->data);
  if (c->closing) return;
  if (status < 0) {
    Bump(c->loop->counters.upstream_failed);
    c->loop->Close(c);
    return;
  }
  c->relaying = true;
  for (Lane& l : c->lanes) c->loop->UpdateReading(l);
}

void FaultProxy::Loop::Close(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&c->client), reinterpret_cast<uv_handle_t*>(&c->server),
        reinterpret_cast<uv_handle_t*>(&c->lanes[0].timer),
        reinterpret_cast<uv_handle_t*>(&c->lanes[1].timer)}) {
    uv_close(h, OnClosed);
  }
}

void FaultProxy::Loop::OnClosed(uv_handle_t* h) {
  // Every handle of a Conn has the Conn or one of its lanes as data.
  Conn* c = h->type == UV_TIMER ? static_cast<Lane*>(h->data)->conn : static_cast<Conn*>(h->data);
  if (--c->handles > 0) return;
  Loop* self = c->loop;
  self->counters.open.fetch_sub(1, std::memory_order_relaxed);
  self->conns_.erase(c);
}

void FaultProxy::Loop::UpdateReading(Lane& lane) {
  Conn* c = lane.conn;
  if (c->closing || c->cutting || !c->relaying || lane.eof) return;
  const size_t waiting = lane.queued + lane.held_bytes;
  if (lane.reading && waiting > kHighWater) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(lane.from));
    lane.reading = false;
  } else if (!lane.reading && waiting < kLowWater) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(lane.from), OnAlloc, OnRead) != 0) {
      Close(c);
      return;
    }
    lane.reading = true;
  }
}

void FaultProxy::Loop::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // Reads are handled one at a time on the loop thread and copied out at once.
  Loop* self = static_cast<Conn*>(h->data)->loop;
  *buf = uv_buf_init(reinterpret_cast<char*>(self->read_buf_), kReadSize);
}

void FaultProxy::Loop::OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  Loop* self = static_cast<Conn*>(s->data)->loop;
  Lane& lane = self->LaneOf(s);
  if (n == 0 || lane.conn->closing) return;
  if (n == UV_EOF) {
    uv_read_stop(s);
    lane.reading = false;
    lane.eof = true;
    // A partial frame the sender left behind goes on as it is.
    if (!lane.in.empty() && !lane.conn->cutting) {
      self->Emit(lane, lane.in.data(), lane.in.size(), self->Now(), false);
      lane.in.clear();
      self->Flush(lane);
    }
    self->MaybeHalfClose(lane);
    return;
  }
  if (n < 0) {
    self->Close(lane.conn);
    return;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(buf->base);
  lane.in.insert(lane.in.end(), p, p + n);
  self->Process(lane);
  self->Flush(lane);
  self->UpdateReading(lane);
}

// Cuts lane.in into frames and judges each.
void FaultProxy::Loop::Process(Lane& lane) {
  AtomicDirectionStats& stats = Stats(lane);
  const DirectionFaults& faults = policy_.faults(lane.dir);
  const uint64_t now = Now();
  size_t off = 0;
  while (!lane.conn->cutting && !lane.conn->closing) {
    const size_t avail = lane.in.size() - off;
    if (!lane.framed) {
      if (avail > 0) Emit(lane, lane.in.data() + off, avail, now, false);
      off = lane.in.size();
      break;
    }
    if (avail < wire::kFrameHeaderSize) break;
    uint8_t* frame = lane.in.data() + off;
    const wire::FrameHeader h = wire::ReadFrameHeader(frame);
    if (!Framable(h)) {
      lane.framed = false;
      Bump(stats.unframed);
      continue;
    }
    const size_t size = wire::kFrameHeaderSize + h.length;
    if (avail < size) break;
    off += size;
    if (policy_.flip_type && h.type == static_cast<uint16_t>(*policy_.flip_type) &&
        h.length > kFlipMinPayload && flips_left_ > 0) {
      --flips_left_;
      frame[wire::kFrameHeaderSize + h.length / 2] ^= 0x5a;
      Bump(stats.flipped);
    }
    FaultDecision d;
    if (faults.Applies(h.type)) d = lane.decider->Next(faults, h);
    if (d.action == FaultDecision::Action::kDrop) d.delay = {};  // nothing to hold
    if (d.delay.count() > 0) Bump(stats.delayed);
    const uint64_t not_before = now + static_cast<uint64_t>(d.delay.count());
    switch (d.action) {
      case FaultDecision::Action::kForward:
        Emit(lane, frame, size, not_before, false);
        Bump(stats.forwarded);
        break;
      case FaultDecision::Action::kDrop:
        Bump(stats.dropped);
        break;
      case FaultDecision::Action::kDuplicate:
        Emit(lane, frame, size, not_before, false);
        Emit(lane, frame, size, not_before, false);
        Bump(stats.forwarded);
        Bump(stats.duplicated);
        break;
      case FaultDecision::Action::kCut:
        Bump(stats.cut);
        Bump(counters.connections_cut);
        // Nothing more is read from either side; what is buffered is lost.
        lane.conn->cutting = true;
        for (Lane& l : lane.conn->lanes) {
          if (l.reading) uv_read_stop(reinterpret_cast<uv_stream_t*>(l.from));
          l.reading = false;
        }
        Emit(lane, frame, d.cut_prefix, not_before, true);
        break;
    }
  }
  if (lane.conn->cutting) {
    lane.in.clear();
  } else {
    lane.in.erase(lane.in.begin(), lane.in.begin() + static_cast<ptrdiff_t>(off));
  }
}

// Sends bytes now (at the end of the turn) unless the lane is held or they
// must wait; then they queue behind what is held.
void FaultProxy::Loop::Emit(Lane& lane, const uint8_t* p, size_t n, uint64_t not_before, bool cut) {
  if (lane.held.empty() && not_before <= Now()) {
    lane.out.insert(lane.out.end(), p, p + n);
    if (cut) StartCut(lane);
    return;
  }
  lane.held.push_back({std::vector<uint8_t>(p, p + n), not_before, cut});
  lane.held_bytes += n;
  if (lane.held.size() == 1) {
    uv_timer_start(&lane.timer, OnTimer, not_before > Now() ? not_before - Now() : 0, 0);
  }
}

void FaultProxy::Loop::Flush(Lane& lane) {
  if (lane.out.empty() || lane.conn->closing) return;
  Write(lane, std::move(lane.out));
  lane.out = {};
}

void FaultProxy::Loop::Write(Lane& lane, std::vector<uint8_t> data) {
  auto* w = new WriteReq{{}, std::move(data), &lane};
  const uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()), w->data.size());
  w->req.data = w;
  lane.queued += w->data.size();
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(lane.to), &b, 1, OnWritten) != 0) {
    lane.queued -= w->data.size();
    delete w;
    Close(lane.conn);
  }
}

void FaultProxy::Loop::OnWritten(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Lane& lane = *w->lane;
  lane.queued -= w->data.size();
  delete w;
  Loop* self = lane.conn->loop;
  if (lane.conn->closing) return;
  if (status < 0 || (lane.cut_pending && lane.queued == 0)) {
    self->Close(lane.conn);
    return;
  }
  self->UpdateReading(lane);
}

// The cut frame's prefix is in lane.out: write it after all before it, then
// close the connection once the kernel has taken it (or after a grace period).
void FaultProxy::Loop::StartCut(Lane& lane) {
  Flush(lane);
  lane.held.clear();
  lane.held_bytes = 0;
  lane.cut_pending = true;
  if (lane.queued == 0) {
    Close(lane.conn);
    return;
  }
  uv_timer_start(
      &lane.timer,
      [](uv_timer_t* t) {
        Conn* c = static_cast<Lane*>(t->data)->conn;
        c->loop->Close(c);
      },
      kCutGraceMs, 0);
}

void FaultProxy::Loop::OnTimer(uv_timer_t* t) {
  Lane& lane = *static_cast<Lane*>(t->data);
  lane.conn->loop->ReleaseHeld(lane);
}

void FaultProxy::Loop::ReleaseHeld(Lane& lane) {
  const uint64_t now = Now();
  while (!lane.held.empty() && lane.held.front().not_before <= now && !lane.conn->closing) {
    Held h = std::move(lane.held.front());
    lane.held.pop_front();
    lane.held_bytes -= h.bytes.size();
    lane.out.insert(lane.out.end(), h.bytes.begin(), h.bytes.end());
    if (h.cut) {
      StartCut(lane);
      return;
    }
  }
  Flush(lane);
  if (lane.conn->closing) return;
  if (!lane.held.empty()) {
    const uint64_t due = lane.held.front().not_before;
    uv_timer_start(&lane.timer, OnTimer, due > now ? due - now : 0, 0);
  }
  UpdateReading(lane);
  MaybeHalfClose(lane);
}

// After EOF from a lane's source and once its held frames are out, the
// destination gets EOF too; when both directions have ended, the connection
// closes.
void FaultProxy::Loop::MaybeHalfClose(Lane& lane) {
  if (!lane.eof || !lane.held.empty() || lane.shutdown_sent || lane.conn->cutting ||
      lane.conn->closing) {
    return;
  }
  lane.shutdown_sent = true;
  lane.shutdown_req.data = &lane;
  if (uv_shutdown(&lane.shutdown_req, reinterpret_cast<uv_stream_t*>(lane.to), OnShutdown) != 0) {
    Close(lane.conn);
  }
}

void FaultProxy::Loop::OnShutdown(uv_shutdown_t* req, int status) {
  Lane& lane = *static_cast<Lane*>(req->data);
  Conn* c = lane.conn;
  lane.shutdown_done = true;
  if (c->closing) return;
  if (status < 0 || (c->lanes[0].shutdown_done && c->lanes[1].shutdown_done)) c->loop->Close(c);
}

// ---- FaultProxy ----

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(uint16_t upstream_port,
                                                      const FaultPolicy& policy) {
  POSTBOX_RETURN_IF_ERROR(policy.Validate());
  auto loop = std::make_unique<Loop>(upstream_port, policy);
  uint16_t port = 0;
  POSTBOX_RETURN_IF_ERROR(loop->Start(&port));
  return std::unique_ptr<FaultProxy>(new FaultProxy(std::move(loop), port));
}

FaultProxy::FaultProxy(std::unique_ptr<Loop> loop, uint16_t port)
    : loop_(std::move(loop)), port_(port) {}

FaultProxy::~FaultProxy() = default;

Status FaultProxy::SetPolicy(const FaultPolicy& policy) {
  POSTBOX_RETURN_IF_ERROR(policy.Validate());
  loop_->RunOnLoop([&] { loop_->SetPolicy(policy); });
  return Status::Ok();
}

FaultPolicy FaultProxy::policy() const {
  FaultPolicy p;
  loop_->RunOnLoop([&] { p = loop_->policy(); });
  return p;
}

void FaultProxy::CutAll() {
  loop_->RunOnLoop([&] { loop_->CutAll(); });
}

void FaultProxy::Pause(bool paused, PauseMode mode) {
  loop_->RunOnLoop([&] { loop_->Pause(paused, mode); });
}

FaultProxyStats FaultProxy::stats() const {
  const Loop::Counters& c = loop_->counters;
  return {c.accepted.load(),        c.open.load(),   c.refused.load(), c.upstream_failed.load(),
          c.connections_cut.load(), c.dir[0].Load(), c.dir[1].Load()};
}

uint64_t FaultProxy::flipped() const {
  const Loop::Counters& c = loop_->counters;
  return c.dir[0].flipped.load() + c.dir[1].flipped.load();
}

}  // namespace postbox::testing
