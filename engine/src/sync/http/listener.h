// The HTTP listener on the server's loop threads (docs/http.md): the state it
// shares across loops (HttpShared: options, handler, counters, the
// connection cap), what each loop owns (HttpLoop: a listening socket bound
// with SO_REUSEPORT to the HTTP port, its connections, a timer, the inbox of
// responses), and the hooks the server's loop code calls. Loop-only except
// HttpShared, whose members are thread-safe.
#ifndef POSTBOX_SYNC_HTTP_LISTENER_H_
#define POSTBOX_SYNC_HTTP_LISTENER_H_

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "postbox/status.h"
#include "postbox/sync/server.h"
#include "sync/http/http.h"
#include "sync/http/message.h"
#include "sync/http/parser.h"

namespace postbox::sync::internal {
struct Loop;
}

namespace postbox::sync::http {

class HttpConnection;

class HttpShared {
 public:
  explicit HttpShared(const ServerOptions* options);

  const ServerOptions& options() const { return *options_; }
  bool enabled() const { return options_->http_port >= 0; }
  HttpLimits limits() const;

  void SetHandler(std::shared_ptr<HttpHandler> handler);
  // The handler for a request to `path`: the built-in routes for the paths
  // they claim, else the installed handler (null: 404).
  std::shared_ptr<HttpHandler> handler(std::string_view path) const;
  // Adds server's own routes (the Web Push endpoint, the admin API) for the
  // paths `claims` accepts; added before the listener starts and never
  // replaced: SetHandler installs the handler of every other path.
  void AddBuiltinRoutes(std::shared_ptr<HttpHandler> routes, bool (*claims)(std::string_view));

  // The port bound (loop 0 binds first; the others join it). 0 when off.
  std::atomic<uint16_t> port{0};
  // Server::Stop() has begun: /healthz answers 503.
  std::atomic<bool> stopping{false};

  // The connection cap: true if one more fits under http_max_connections.
  bool Admit();
  void Release() { connections_.fetch_sub(1, std::memory_order_relaxed); }

  void CountRequest() { requests_.fetch_add(1, std::memory_order_relaxed); }
  void CountResponse(uint16_t status);
  void CountTimeout() { timeouts_.fetch_add(1, std::memory_order_relaxed); }
  void CountRefusal() { refusals_.fetch_add(1, std::memory_order_relaxed); }
  void FillStats(ServerStats* s) const;

 private:
  const ServerOptions* options_;
  mutable std::mutex handler_mu_;
  std::shared_ptr<HttpHandler> handler_;
  struct Builtin {
    std::shared_ptr<HttpHandler> routes;
    bool (*claims)(std::string_view);
  };
  std::vector<Builtin> builtin_;
  std::atomic<uint64_t> connections_{0}, requests_{0}, r2xx_{0}, r4xx_{0}, r5xx_{0}, timeouts_{0},
      refusals_{0};
};

// What one loop thread owns of the listener.
struct HttpLoop {
  internal::Loop* loop = nullptr;
  HttpShared* shared = nullptr;
  int listen_fd = -1;
  uv_poll_t accept_poll{};
  uv_timer_t accept_retry{};
  uv_timer_t tick{};
  bool handles_open = false;  // accept_retry and tick are initialised
  bool listening = false;
  bool accept_paused = false;
  uint64_t accept_backoff_ms = 0;
  std::shared_ptr<HttpInbox> inbox = std::make_shared<HttpInbox>();
  uint64_t next_connection = 1;
  size_t open = 0;  // accepted and not yet freed (closing ones included)
  std::unordered_map<uint64_t, HttpConnection*> connections;
  bool shutting_down = false;
  int64_t date_second = -1;
  std::string date;

  // The Date header's value, recomputed once a second.
  std::string_view Date();
};

// ---- Hooks for the server's loop code (loop.cc, server.cc) ----
// Each does nothing on a loop without the listener (http_port < 0).

// On the loop's thread, before it runs: binds the HTTP port (loop 0 binds
// shared->options().http_port and publishes the port; the others join it).
Status StartHttp(internal::Loop* loop, HttpShared* shared);
// Responses handed over by other threads (the loop's wake-up).
void HttpOnWake(internal::Loop* loop);
// Server::Stop() step 1: no new connections.
void HttpStopAccepting(internal::Loop* loop);
// Step 3: idle connections close; a connection waiting for its handler gets
// the response (with Connection: close), then closes.
void HttpShutdown(internal::Loop* loop);
// stop_grace is over: every connection closes now.
void HttpCloseConnections(internal::Loop* loop);
// Connections not yet freed; the loop ends only at 0.
size_t HttpOpenConnections(const internal::Loop* loop);
// The loop ends: closes the listener and timers; HttpRespond calls made later
// do nothing.
void HttpCloseHandles(internal::Loop* loop);

}  // namespace postbox::sync::http

#endif  // POSTBOX_SYNC_HTTP_LISTENER_H_
