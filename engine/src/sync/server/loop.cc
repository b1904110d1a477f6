// The loop threads: listening socket, accepting, the wake-up that delivers
// other threads' work, the housekeeping tick, and the orderly end of a loop.
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "sync/server/server_impl.h"
#include "sync/server/session.h"
#include "sync/sigpipe.h"

namespace postbox::sync::internal {
namespace {

Status UvError(std::string_view what, int rc) {
  return Status::Unavailable(std::string(what) + ": " + uv_err_name(rc) + " (" + uv_strerror(rc) +
                             ")");
}

// Binds a listening socket with SO_REUSEPORT so every loop thread can own one
// on the same port and the kernel spreads connections over them.
Status OpenListener(Loop* loop, const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  int family = AF_INET;
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
      return Status::InvalidArgument("listen host '" + host +
                                     "' is not an IPv4 or IPv6 address literal");
    }
    family = AF_INET6;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return UvError("socket", uv_translate_sys_error(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int rc = uv_translate_sys_error(errno);
    close(fd);
    return UvError("bind " + host + ":" + std::to_string(port), rc);
  }
  uv_tcp_init(&loop->uv, &loop->listener);
  loop->listener.data = loop;
  if (int rc = uv_tcp_open(&loop->listener, fd); rc != 0) {
    close(fd);
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->listener), nullptr);
    return UvError("uv_tcp_open", rc);
  }
  auto on_connection = [](uv_stream_t* server, int status) {
    auto* l = static_cast<Loop*>(server->data);
    if (status < 0) {
      spdlog::warn("accept failed: {}", uv_strerror(status));
      return;
    }
    auto* s = new Session(l, l->next_session++);
    uv_tcp_init(&l->uv, s->tcp());
    ++l->open_sessions;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(s->tcp())) != 0) {
      s->Close();
      return;
    }
    s->Start(l->core->AdmitConnection());
  };
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&loop->listener), 1024, on_connection);
      rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->listener), nullptr);
    return UvError("listen on " + host + ":" + std::to_string(port), rc);
  }
  loop->listening = true;
  return Status::Ok();
}

std::vector<Session*> SessionsOf(Loop* loop) {
  std::vector<Session*> v;
  v.reserve(loop->sessions.size());
  for (auto& [id, s] : loop->sessions) v.push_back(s);
  return v;
}

void OnTick(uv_timer_t* t) {
  auto* loop = static_cast<Loop*>(t->data);
  const uint64_t now = uv_now(&loop->uv);
  // Sessions may close themselves while ticking; the pointers stay valid until
  // their close callbacks, which run after this one.
  for (Session* s : SessionsOf(loop)) s->Tick(now);
}

void OnGraceOver(uv_timer_t* t) {
  auto* loop = static_cast<Loop*>(t->data);
  for (Session* s : SessionsOf(loop)) s->Close();
  CloseLoopHandlesIfDone(loop);
}

}  // namespace

void CloseLoopHandlesIfDone(Loop* loop) {
  if (!loop->shutting_down || loop->handles_closed || loop->open_sessions != 0) return;
  loop->handles_closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->tick), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->grace), nullptr);
  if (loop->listening) {
    loop->listening = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->listener), nullptr);
  }
}

void OnWake(uv_async_t* handle) {
  auto* loop = static_cast<Loop*>(handle->data);
  POSTBOX_ASSERT_ON_LOOP(loop);
  std::vector<Completion> completions;
  std::vector<MailboxKey> changed;
  bool stop_accepting, shutdown;
  {
    std::lock_guard lock(loop->mu);
    completions.swap(loop->completions);
    changed.swap(loop->changed);
    stop_accepting = loop->stop_accepting;
    shutdown = loop->shutdown;
  }
  // Replies first, then pushes: a client sees its write acknowledged before
  // (or with) the push that carries it.
  for (const Completion& c : completions) {
    auto it = loop->sessions.find(c.session);
    if (it != loop->sessions.end()) it->second->OnCompletion(c);
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  for (const MailboxKey& k : changed) {
    auto it = loop->by_mailbox.find(k);
    if (it == loop->by_mailbox.end()) continue;
    auto sessions = it->second;  // a push may close a session and edit the list
    for (Session* s : sessions) s->OnMailboxChanged();
  }
  if ((stop_accepting || shutdown) && loop->listening) {
    loop->listening = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->listener), nullptr);
  }
  if (shutdown && !loop->shutting_down) {
    loop->shutting_down = true;
    for (Session* s : SessionsOf(loop)) s->Shutdown();
    uv_timer_start(&loop->grace, OnGraceOver,
                   static_cast<uint64_t>(loop->core->options().stop_grace.count()), 0);
    CloseLoopHandlesIfDone(loop);
  }
}

void ServerCore::RunLoop(Loop* loop, uint16_t port, std::promise<Status>* ready) {
  loop->thread_id = std::this_thread::get_id();
  BlockSigpipeOnThisThread();  // a reset client is a closed session, not a dead host
  uv_loop_init(&loop->uv);
  loop->wake.data = loop->tick.data = loop->grace.data = loop;
  uv_async_init(&loop->uv, &loop->wake, OnWake);
  uv_timer_init(&loop->uv, &loop->tick);
  uv_timer_init(&loop->uv, &loop->grace);
  Status s = OpenListener(loop, options_.host, port);
  if (!s.ok()) {
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->wake), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->tick), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&loop->grace), nullptr);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    uv_loop_close(&loop->uv);
    ready->set_value(std::move(s));
    return;
  }
  if (loop->index == 0) {
    sockaddr_storage addr{};
    int len = sizeof(addr);
    uv_tcp_getsockname(&loop->listener, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  // Housekeeping often enough to honour the shortest timeout within a quarter of it.
  const auto shortest =
      std::min({options_.idle_timeout, options_.pong_timeout, options_.max_session}).count();
  const uint64_t every = static_cast<uint64_t>(std::clamp<int64_t>(shortest / 4, 5, 1000));
  uv_timer_start(&loop->tick, OnTick, every, every);
  ready->set_value(Status::Ok());
  uv_run(&loop->uv, UV_RUN_DEFAULT);
  uv_loop_close(&loop->uv);
}

}  // namespace postbox::sync::internal
