// The HTTP listener's accepting and loop hooks. Accepting mirrors the sync
// listener (server/loop.cc): one SO_REUSEPORT socket per loop polled for
// readiness, accept4 ours so that running out of descriptors pauses
// accepting instead of spinning.
#include "sync/http/listener.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "sync/http/connection.h"
#include "sync/server/server_impl.h"

namespace postbox::sync::http {
namespace {

constexpr uint64_t kAcceptPauseMinMs = 50;
constexpr uint64_t kAcceptPauseMaxMs = 1000;
constexpr int kAcceptBurst = 64;

Status UvError(std::string_view what, int rc) {
  return Status::Unavailable(std::string(what) + ": " + uv_err_name(rc) + " (" + uv_strerror(rc) +
                             ")");
}

void OnAcceptable(uv_poll_t* poll, int status, int events);

void ResumeAccepting(uv_timer_t* t) {
  auto* hl = static_cast<HttpLoop*>(t->data);
  if (!hl->listening || !hl->accept_paused) return;
  hl->accept_paused = false;
  uv_poll_start(&hl->accept_poll, UV_READABLE, OnAcceptable);
}

void OnAcceptable(uv_poll_t* poll, int status, int) {
  auto* hl = static_cast<HttpLoop*>(poll->data);
  if (status < 0 || !hl->listening) return;
  for (int i = 0; i < kAcceptBurst; ++i) {
    const int fd = accept4(hl->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // The sync listener logs the same condition; here it only pauses.
        hl->loop->core->CountAcceptPause();
        hl->accept_backoff_ms =
            std::clamp(hl->accept_backoff_ms * 2, kAcceptPauseMinMs, kAcceptPauseMaxMs);
        hl->accept_paused = true;
        uv_poll_stop(&hl->accept_poll);
        uv_timer_start(&hl->accept_retry, ResumeAccepting, hl->accept_backoff_ms, 0);
        return;
      }
      continue;  // ECONNABORTED, EPROTO, EPERM: that connection only
    }
    hl->accept_backoff_ms = 0;
    auto* c = new HttpConnection(hl, hl->next_connection++);
    uv_tcp_init(&hl->loop->uv, c->tcp());
    ++hl->open;
    if (uv_tcp_open(c->tcp(), fd) != 0) {
      ::close(fd);
      c->Close();
      continue;
    }
    c->Start(hl->shared->Admit());
  }
}

void OnTick(uv_timer_t* t) {
  auto* hl = static_cast<HttpLoop*>(t->data);
  const uint64_t now = uv_now(&hl->loop->uv);
  std::vector<HttpConnection*> all;
  all.reserve(hl->connections.size());
  for (auto& [id, c] : hl->connections) all.push_back(c);
  // A connection closing here stays allocated until its close callback.
  for (HttpConnection* c : all) c->Tick(now);
}

std::vector<HttpConnection*> ConnectionsOf(HttpLoop* hl) {
  std::vector<HttpConnection*> v;
  v.reserve(hl->connections.size());
  for (auto& [id, c] : hl->connections) v.push_back(c);
  return v;
}

// Binds host:port with SO_REUSEPORT and listens; the descriptor, or an error
// naming the step that failed.
Result<int> BindListener(const std::string& host, uint16_t port) {
  sockaddr_storage addr{};
  int family = AF_INET;
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
      return Status::InvalidArgument("http_host '" + host +
                                     "' is not an IPv4 or IPv6 address literal");
    }
    family = AF_INET6;
  }
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return UvError("socket", uv_translate_sys_error(errno));
  int one = 1;
  const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  const char* step = nullptr;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    step = "setsockopt(SO_REUSEADDR, SO_REUSEPORT)";
  } else if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    step = "bind";
  } else if (listen(fd, 1024) != 0) {
    step = "listen";
  }
  if (step != nullptr) {
    const int rc = uv_translate_sys_error(errno);
    ::close(fd);
    return UvError(std::string("http listener ") + step + " " + host + ":" + std::to_string(port),
                   rc);
  }
  return fd;
}

void CloseListener(HttpLoop* hl) {
  if (!hl->listening) return;
  hl->listening = false;
  uv_timer_stop(&hl->accept_retry);
  uv_close(reinterpret_cast<uv_handle_t*>(&hl->accept_poll), [](uv_handle_t* h) {
    auto* l = static_cast<HttpLoop*>(h->data);
    ::close(l->listen_fd);  // the poll handle does not own the descriptor
    l->listen_fd = -1;
  });
}

}  // namespace

void HttpLoopDeleter::operator()(HttpLoop* p) const { delete p; }

HttpShared::HttpShared(const ServerOptions* options) : options_(options) {}

HttpLimits HttpShared::limits() const {
  return HttpLimits{.max_header_bytes = options_->http_max_header_bytes,
                    .max_headers = options_->http_max_headers,
                    .max_body_bytes = options_->http_max_body_bytes};
}

void HttpShared::SetHandler(std::shared_ptr<HttpHandler> handler) {
  std::lock_guard lock(handler_mu_);
  handler_ = std::move(handler);
}

std::shared_ptr<HttpHandler> HttpShared::handler(std::string_view path) const {
  std::lock_guard lock(handler_mu_);
  for (const Builtin& b : builtin_) {
    if (b.claims(path)) return b.routes;
  }
  return handler_;
}

void HttpShared::AddBuiltinRoutes(std::shared_ptr<HttpHandler> routes,
                                  bool (*claims)(std::string_view)) {
  std::lock_guard lock(handler_mu_);
  builtin_.push_back(Builtin{std::move(routes), claims});
}

bool HttpShared::Admit() {
  if (connections_.fetch_add(1, std::memory_order_relaxed) >= options_->http_max_connections) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void HttpShared::CountResponse(uint16_t status) {
  if (status >= 200 && status < 300) r2xx_.fetch_add(1, std::memory_order_relaxed);
  if (status >= 400 && status < 500) r4xx_.fetch_add(1, std::memory_order_relaxed);
  if (status >= 500 && status < 600) r5xx_.fetch_add(1, std::memory_order_relaxed);
}

void HttpShared::FillStats(ServerStats* s) const {
  s->http_connections = connections_.load(std::memory_order_relaxed);
  s->http_requests = requests_.load(std::memory_order_relaxed);
  s->http_responses_2xx = r2xx_.load(std::memory_order_relaxed);
  s->http_responses_4xx = r4xx_.load(std::memory_order_relaxed);
  s->http_responses_5xx = r5xx_.load(std::memory_order_relaxed);
  s->http_timeouts = timeouts_.load(std::memory_order_relaxed);
  s->http_limit_refusals = refusals_.load(std::memory_order_relaxed);
}

std::string_view HttpLoop::Date() {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (now != date_second) {
    date_second = now;
    date = FormatHttpDate(now);
  }
  return date;
}

Status StartHttp(internal::Loop* loop, HttpShared* shared) {
  if (!shared->enabled()) return Status::Ok();
  std::unique_ptr<HttpLoop, HttpLoopDeleter> hl(new HttpLoop);
  hl->loop = loop;
  hl->shared = shared;
  hl->accept_retry.data = hl->tick.data = hl->accept_poll.data = hl.get();
  uv_timer_init(&loop->uv, &hl->accept_retry);
  uv_timer_init(&loop->uv, &hl->tick);
  hl->handles_open = true;
  {
    std::lock_guard lock(hl->inbox->mu);
    hl->inbox->wake = &loop->wake;
  }
  HttpLoop* h = hl.get();
  loop->http = std::move(hl);  // from here HttpCloseHandles closes what was opened
  const ServerOptions& o = shared->options();
  const uint16_t port = loop->index == 0 ? static_cast<uint16_t>(o.http_port) : shared->port.load();
  POSTBOX_ASSIGN_OR_RETURN(const int fd, BindListener(o.http_host, port));
  if (int rc = uv_poll_init_socket(&loop->uv, &h->accept_poll, fd); rc != 0) {
    ::close(fd);
    return UvError("uv_poll_init_socket", rc);
  }
  h->listen_fd = fd;
  h->listening = true;
  if (int rc = uv_poll_start(&h->accept_poll, UV_READABLE, OnAcceptable); rc != 0) {
    return UvError("uv_poll_start", rc);
  }
  if (loop->index == 0) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    shared->port =
        ntohs(addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  // Often enough to honour the shortest timeout within a quarter of it.
  const int64_t shortest =
      std::min({o.http_header_timeout, o.http_body_timeout, o.http_idle_timeout,
                o.http_tls ? o.http_tls->handshake_timeout : o.http_idle_timeout})
          .count();
  const uint64_t every = static_cast<uint64_t>(std::clamp<int64_t>(shortest / 4, 5, 1000));
  uv_timer_start(&h->tick, OnTick, every, every);
  return Status::Ok();
}

void HttpOnWake(internal::Loop* loop) {
  HttpLoop* hl = loop->http.get();
  if (hl == nullptr) return;
  for (HttpReply& r : hl->inbox->Take()) {
    auto it = hl->connections.find(r.connection);
    if (it != hl->connections.end()) it->second->OnReply(std::move(r));
  }
}

void HttpStopAccepting(internal::Loop* loop) {
  if (loop->http) CloseListener(loop->http.get());
}

void HttpShutdown(internal::Loop* loop) {
  HttpLoop* hl = loop->http.get();
  if (hl == nullptr || hl->shutting_down) return;
  hl->shutting_down = true;
  CloseListener(hl);
  for (HttpConnection* c : ConnectionsOf(hl)) c->Shutdown();
}

void HttpCloseConnections(internal::Loop* loop) {
  if (loop->http == nullptr) return;
  for (HttpConnection* c : ConnectionsOf(loop->http.get())) c->Close();
}

size_t HttpOpenConnections(const internal::Loop* loop) { return loop->http ? loop->http->open : 0; }

void HttpCloseHandles(internal::Loop* loop) {
  HttpLoop* hl = loop->http.get();
  if (hl == nullptr || !hl->handles_open) return;
  hl->handles_open = false;
  hl->inbox->Detach();
  CloseListener(hl);
  uv_close(reinterpret_cast<uv_handle_t*>(&hl->accept_retry), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&hl->tick), nullptr);
}

}  // namespace postbox::sync::http
