// FaultProxy's set-up, accepting and closing of connections, and its public
// methods (tests/support/fault_proxy.h): one libuv loop thread; other threads
// hand it tasks through a uv_async_t and wait for them. The relay of each
// direction is in fault_relay.cc.
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>

#include <future>
#include <string>
#include <utility>

#include "tests/support/fault_proxy_loop.h"

namespace postbox::testing {
namespace {

Status UvError(const char* what, int rc) {
  return Status::Unavailable(std::string("fault proxy: ") + what + ": " + uv_err_name(rc) + " (" +
                             uv_strerror(rc) + ")");
}

}  // namespace

FaultProxy::Loop::~Loop() {
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

Status FaultProxy::Loop::Start(uint16_t* port) {
  if (int rc = uv_loop_init(&uv_); rc != 0) return UvError("uv_loop_init", rc);
  initialized_ = true;
  uv_tcp_init(&uv_, &listener_);
  listener_.data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0); rc != 0) {
    return UvError("bind 127.0.0.1:0", rc);
  }
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, OnConnection); rc != 0) {
    return UvError("listen", rc);
  }
  int len = sizeof(addr);
  if (int rc = uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len); rc != 0) {
    return UvError("getsockname", rc);
  }
  *port = ntohs(addr.sin_port);
  uv_ip4_addr("127.0.0.1", upstream_port_, &upstream_);
  if (int rc = uv_async_init(&uv_, &wake_, OnWake); rc != 0) return UvError("uv_async_init", rc);
  wake_.data = this;
  thread_ = std::thread([this] {
    loop_thread_ = std::this_thread::get_id();
    // A write to a peer that reset raises SIGPIPE in the writing thread;
    // blocked here, the write fails with EPIPE and the connection closes.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    uv_run(&uv_, UV_RUN_DEFAULT);
  });
  return Status::Ok();
}

void FaultProxy::Loop::RunOnLoop(std::function<void()> fn) {
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
