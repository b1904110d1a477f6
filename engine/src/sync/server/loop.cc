// The loop threads: the listening socket and accepting, the wake-up that
// delivers other threads' work, the housekeeping tick, and the orderly end of
// a loop.
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "sync/http/listener.h"  // the HTTP listener's loop hooks
#include "sync/server/server_impl.h"
#include "sync/server/session.h"
#include "sync/sigpipe.h"

namespace postbox::sync::internal {
namespace {

Status UvError(std::string_view what, int rc) {
  return Status::Unavailable(std::string(what) + ": " + uv_err_name(rc) + " (" + uv_strerror(rc) +
                             ")");
}

// Accepting pauses this long when descriptors run out, doubling while they
// stay out, up to the maximum; it resumes as soon as an accept succeeds.
constexpr uint64_t kAcceptPauseMinMs = 50;
constexpr uint64_t kAcceptPauseMaxMs = 1000;
// At most one log line per this many ms about failing accepts.
constexpr uint64_t kAcceptLogEveryMs = 10000;
// Connections taken per readiness event, so one loop's flood cannot starve
// its sessions.
constexpr int kAcceptBurst = 64;

void OnAcceptable(uv_poll_t* poll, int status, int events);

void ResumeAccepting(uv_timer_t* t) {
  auto* loop = static_cast<Loop*>(t->data);
  if (!loop->listening || !loop->accept_paused) return;
  loop->accept_paused = false;
  uv_poll_start(&loop->accept_poll, UV_READABLE, OnAcceptable);
}

// Out of descriptors (EMFILE, ENFILE) or kernel memory: the pending
// connection stays in the backlog and the socket stays readable, so accepting
// again at once would spin. Pause, and log once per kAcceptLogEveryMs.
void PauseAccepting(Loop* loop, int err) {
  loop->core->CountAcceptPause();
  const uint64_t now = uv_now(&loop->uv);
  ++loop->accept_failures_unlogged;
  if (loop->accept_last_log_ms == 0 || now - loop->accept_last_log_ms >= kAcceptLogEveryMs) {
    spdlog::warn(
        "accept failed: {} ({} time(s) since the last report); pausing accepts, sessions "
        "continue; raise the file descriptor limit (ulimit -n) or lower --max-connections",
        std::strerror(err), loop->accept_failures_unlogged);
    loop->accept_last_log_ms = now;
    loop->accept_failures_unlogged = 0;
  }
  loop->accept_backoff_ms =
      std::clamp(loop->accept_backoff_ms * 2, kAcceptPauseMinMs, kAcceptPauseMaxMs);
  loop->accept_paused = true;
  uv_poll_stop(&loop->accept_poll);
  uv_timer_start(&loop->accept_retry, ResumeAccepting, loop->accept_backoff_ms, 0);
}

void OnAcceptable(uv_poll_t* poll, int status, int) {
  auto* loop = static_cast<Loop*>(poll->data);
  if (status < 0 || !loop->listening) return;
  for (int i = 0; i < kAcceptBurst; ++i) {
    const int fd = accept4(loop->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        PauseAccepting(loop, err);
        return;
      }
      // ECONNABORTED, EPROTO, EPERM (a firewall), ...: that connection only.
      continue;
    }
    loop->accept_backoff_ms = 0;
    auto* s = new Session(loop, loop->core->NextSessionId());
    uv_tcp_init(&loop->uv, s->tcp());
    ++loop->open_sessions;
    if (uv_tcp_open(s->tcp(), fd) != 0) {
      ::close(fd);
      s->Close();
      continue;
    }
    s->Start(loop->core->AdmitConnection());
  }
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
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    const int rc = uv_translate_sys_error(errno);
    ::close(fd);
    return UvError("setsockopt(SO_REUSEADDR, SO_REUSEPORT)", rc);
  }
  const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    const int rc = uv_translate_sys_error(errno);
    ::close(fd);
    return UvError("bind " + host + ":" + std::to_string(port), rc);
  }
  if (listen(fd, 1024) != 0) {
    const int rc = uv_translate_sys_error(errno);
    ::close(fd);
    return UvError("listen on " + host + ":" + std::to_string(port), rc);
  }
  if (int rc = uv_poll_init_socket(&loop->uv, &loop->accept_poll, fd); rc != 0) {
    ::close(fd);
    return UvError("uv_poll_init_socket", rc);
  }
  loop->accept_poll.data = loop;
  loop->listen_fd = fd;
  loop->listening = true;
  if (int rc = uv_poll_start(&loop->accept_poll, UV_READABLE, OnAcceptable); rc != 0) {
    return UvError("uv_poll_start", rc);  // the caller closes the handles
  }
  return Status::Ok();
}

// Stops accepting for good: the poll handle and the listening socket.
void CloseListener(Loop* loop) {
  if (!loop->listening) return;
  loop->listening = false;
  uv_timer_stop(&loop->accept_retry);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->accept_poll), [](uv_handle_t* h) {
    auto* l = static_cast<Loop*>(h->data);
    ::close(l->listen_fd);  // the poll handle does not own the descriptor
    l->listen_fd = -1;
  });
}

std::vector<Session*> SessionsOf(Loop* loop) {
  std::vector<Session*> v;
  v.reserve(loop->sessions.size());
  for (auto& [id, s] : loop->sessions) v.push_back(s);
  return v;
}

// Ends the sessions of mailboxes that no longer exist. Runs when the writer
// saw a deletion, and on ticks when the store's deletion count moved (a
// deletion by another process, such as postbox-admin on the same folder).
void EndSessionsOfDeletedMailboxes(Loop* loop) {
  std::vector<Session*> doomed;
  for (const auto& [mkey, sessions] : loop->by_mailbox) {
    auto m = loop->core->db()->GetMailbox(mkey);
    if (!m && m.error().Is(Code::kNotFound)) {
      doomed.insert(doomed.end(), sessions.begin(), sessions.end());
    }
  }
  for (Session* s : doomed) s->OnMailboxDeleted();
}

void CheckDeletions(Loop* loop) {
  auto stats = loop->core->db()->Stats();
  if (!stats || stats->mailbox_deletions == loop->mailbox_deletions) return;
  loop->mailbox_deletions = stats->mailbox_deletions;
  EndSessionsOfDeletedMailboxes(loop);
}

void OnTick(uv_timer_t* t) {
  auto* loop = static_cast<Loop*>(t->data);
  const uint64_t now = uv_now(&loop->uv);
  // Sessions may close themselves while ticking; the pointers stay valid until
  // their close callbacks, which run after this one.
  for (Session* s : SessionsOf(loop)) s->Tick(now);
  if (!loop->by_mailbox.empty()) CheckDeletions(loop);
  if (loop->index == 0) loop->core->TickHealth(now);
}

void OnGraceOver(uv_timer_t* t) {
  auto* loop = static_cast<Loop*>(t->data);
  for (Session* s : SessionsOf(loop)) s->Close();
  http::HttpCloseConnections(loop);  // HTTP listener
  CloseLoopHandlesIfDone(loop);
}

void CloseTimersAndWake(Loop* loop) {
  http::HttpCloseHandles(loop);  // HTTP listener: first, so no respond wakes a closing handle
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->wake), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->tick), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->grace), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->accept_retry), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->turn_check), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&loop->turn_resume), nullptr);
}

void OnResumeTurns(uv_idle_t* h) {
  auto* loop = static_cast<Loop*>(h->data);
  uv_idle_stop(h);
  std::vector<uint64_t> yielded;
  yielded.swap(loop->yielded);
  for (uint64_t id : yielded) {
    auto it = loop->sessions.find(id);
    if (it != loop->sessions.end()) it->second->TakeTurn();
  }
}

}  // namespace

void YieldTurn(Loop* loop, uint64_t session) {
  loop->yielded.push_back(session);
  // An active idle handle also keeps the next poll phase from blocking.
  uv_idle_start(&loop->turn_resume, OnResumeTurns);
}

void CloseLoopHandlesIfDone(Loop* loop) {
  if (!loop->shutting_down || loop->handles_closed || loop->open_sessions != 0) return;
  if (http::HttpOpenConnections(loop) != 0) return;  // HTTP listener
  loop->handles_closed = true;
  CloseTimersAndWake(loop);
  CloseListener(loop);
}

void OnWake(uv_async_t* handle) {
  auto* loop = static_cast<Loop*>(handle->data);
  POSTBOX_ASSERT_ON_LOOP(loop);
  std::vector<Completion> completions;
  std::vector<MailboxKey> changed;
  std::vector<std::function<void()>> tasks;
  bool stop_accepting, shutdown, check_deleted;
  {
    std::lock_guard lock(loop->mu);
    tasks.swap(loop->tasks);
    completions.swap(loop->completions);
    changed.swap(loop->changed);
    stop_accepting = loop->stop_accepting;
    shutdown = loop->shutdown;
    check_deleted = loop->check_deleted;
    loop->check_deleted = false;
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
  if (check_deleted) CheckDeletions(loop);
  for (auto& task : tasks) task();
  // ---- HTTP listener: handlers' responses; stopping ----
  http::HttpOnWake(loop);
  if (stop_accepting || shutdown) http::HttpStopAccepting(loop);
  if (shutdown && !loop->shutting_down) http::HttpShutdown(loop);
  // ---- end HTTP listener ----
  if (stop_accepting || shutdown) CloseListener(loop);
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
  if (int rc = uv_loop_init(&loop->uv); rc != 0) {
    ready->set_value(UvError("uv_loop_init", rc));
    return;
  }
  loop->wake.data = loop->tick.data = loop->grace.data = loop->accept_retry.data = loop;
  loop->turn_check.data = loop->turn_resume.data = loop;
  Status s;
  if (int rc = uv_async_init(&loop->uv, &loop->wake, OnWake); rc != 0) {
    s = UvError("uv_async_init", rc);
  }
  // Timer, check and idle initialisation cannot fail (libuv only zeroes the handle).
  uv_timer_init(&loop->uv, &loop->tick);
  uv_timer_init(&loop->uv, &loop->grace);
  uv_timer_init(&loop->uv, &loop->accept_retry);
  uv_check_init(&loop->uv, &loop->turn_check);
  uv_idle_init(&loop->uv, &loop->turn_resume);
  uv_check_start(&loop->turn_check, [](uv_check_t* h) { ++static_cast<Loop*>(h->data)->turn; });
  if (s.ok()) s = OpenListener(loop, options_.host, port);
  if (s.ok()) s = http::StartHttp(loop, http_.get());  // HTTP listener (when http_port ≥ 0)
  if (!s.ok()) {
    CloseTimersAndWake(loop);
    CloseListener(loop);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    uv_loop_close(&loop->uv);
    ready->set_value(std::move(s));
    return;
  }
  if (loop->index == 0) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    getsockname(loop->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  if (auto stats = db_->Stats(); stats) loop->mailbox_deletions = stats->mailbox_deletions;
  // Housekeeping often enough to honour the shortest timeout within a quarter of it.
  const auto shortest =
      std::min({options_.idle_timeout, options_.pong_timeout, options_.max_session,
                options_.hello_timeout, options_.frame_timeout,
                options_.tls ? options_.tls->handshake_timeout : options_.hello_timeout})
          .count();
  const uint64_t every = static_cast<uint64_t>(std::clamp<int64_t>(shortest / 4, 5, 1000));
  uv_timer_start(&loop->tick, OnTick, every, every);
  ready->set_value(Status::Ok());
  uv_run(&loop->uv, UV_RUN_DEFAULT);
  uv_loop_close(&loop->uv);
}

}  // namespace postbox::sync::internal
