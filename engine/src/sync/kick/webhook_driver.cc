// The `webhook` kick driver: HTTP/1.1 POSTs over keep-alive connections,
// one blocking socket per worker thread (max_in_flight of them) with poll()
// deadlines, responses parsed by http-parser. Blocking sockets on a small
// pool, not a libuv loop: a kick is one short request, the pool is small and
// bounded, and a deadline per request is a poll() timeout; no handle or
// cross-thread wake-up machinery is needed, and the code stays obvious.
#include <fcntl.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "postbox/sync/kick.h"
#include "sync/kick/kick_util.h"

namespace postbox::sync {
namespace {

using Clock = std::chrono::steady_clock;

struct Url {
  std::string host;         // without brackets
  std::string port = "80";  // service for getaddrinfo
  std::string path;         // from the first '/', query included
  std::string host_header;  // as the URL wrote it
};

Result<Url> ParseUrl(const std::string& url) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("webhook url '" + url + "': " + why +
                                   " (expected http://HOST[:PORT]/PATH)");
  };
  if (url.rfind("https://", 0) == 0) {
    return bad(
        "https is not supported by the built-in webhook driver; run a TLS-terminating proxy "
        "on localhost and point the driver at it over http");
  }
  if (url.rfind("http://", 0) != 0) return bad("not an http URL");
  const std::string rest = url.substr(7);
  const size_t slash = rest.find('/');
  Url u;
  u.host_header = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = u.host_header;
  if (authority.empty() || authority.find('@') != std::string::npos) return bad("bad host");
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed IPv6 literal");
    u.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') return bad("junk after the IPv6 literal");
    if (!authority.empty()) u.port = authority.substr(1);
  } else {
    const size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) u.port = authority.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(u.port.data(), u.port.data() + u.port.size(), port);
  if (u.host.empty() || ec != std::errc() || end != u.port.data() + u.port.size() || port == 0 ||
      port > 65535) {
    return bad("bad host or port");
  }
  for (char c : u.path) {
    if (c == ' ' || c == '\r' || c == '\n') return bad("the path has a space or line break");
  }
  return u;
}

// What http-parser tells about one response.
struct Response {
  std::string field, value, retry_after;
  bool in_value = false;
  bool complete = false;
  void EndHeader() {
    if (strcasecmp(field.c_str(), "Retry-After") == 0) retry_after = value;
    field.clear();
    value.clear();
    in_value = false;
  }
};

int OnField(http_parser* p, const char* at, size_t n) {
  auto* r = static_cast<Response*>(p->data);
  if (r->in_value) r->EndHeader();
  r->field.append(at, n);
  return 0;
}
int OnValue(http_parser* p, const char* at, size_t n) {
  auto* r = static_cast<Response*>(p->data);
  r->in_value = true;
  r->value.append(at, n);
  return 0;
}
int OnHeadersComplete(http_parser* p) {
  auto* r = static_cast<Response*>(p->data);
  if (r->in_value) r->EndHeader();
  return 0;
}
int OnMessageComplete(http_parser* p) {
  static_cast<Response*>(p->data)->complete = true;
  return 0;
}

class WebhookKickDriver final : public KickDriver {
 public:
  WebhookKickDriver(const WebhookOptions& options, Url url)
      : options_(options), url_(std::move(url)) {
    http_parser_settings_init(&settings_);
    settings_.on_header_field = OnField;
    settings_.on_header_value = OnValue;
    settings_.on_headers_complete = OnHeadersComplete;
    settings_.on_message_complete = OnMessageComplete;
    for (size_t i = 0; i < options_.max_in_flight; ++i) {
      workers_.emplace_back([this] { Work(); });
    }
  }
  ~WebhookKickDriver() override { Stop(); }

  void Send(const Kick& kick, std::function<void(KickResult)> done) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_ && queue_.size() < options_.queue_limit) {
        queue_.push_back({kick, std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    // Full (or stopping): refused at once, retried by the scheduler later.
    done({Status(Code::kBackOff,
                 "webhook queue full (" + std::to_string(options_.queue_limit) + " kicks waiting)"),
          std::chrono::milliseconds(0)});
  }

  void Stop() override {
    std::deque<Item> left;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      left.swap(queue_);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    for (auto& item : left) {
      item.done({Status::Unavailable("webhook driver stopped"), std::chrono::milliseconds(0)});
    }
  }

 private:
  struct Item {
    Kick kick;
    std::function<void(KickResult)> done;
  };

  void Work() {
    int fd = -1;
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      KickResult r = Post(&fd, item.kick);
      item.done(std::move(r));
    }
    if (fd >= 0) ::close(fd);
  }

  // POSTs on the worker's connection (opened if needed); a reused connection
  // that the server closed meanwhile is retried once on a new one.
  KickResult Post(int* fd, const Kick& kick) {
    const Clock::time_point deadline = Clock::now() + options_.timeout;
    const std::string request = Request(kick);
    for (int round = 0;; ++round) {
      const bool reused = *fd >= 0;
      if (!reused) {
        Status s = Connect(fd, deadline);
        if (!s.ok()) return {std::move(s), std::chrono::milliseconds(0)};
      }
      bool stale = false;
      KickResult r = Exchange(*fd, request, deadline, &stale);
      if (stale && reused && round == 0) {
        Close(fd);
        continue;
      }
      if (!keep_alive_) Close(fd);  // false after any failure, or "Connection: close"
      return r;
    }
  }

  static void Close(int* fd) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }

  std::string Request(const Kick& kick) const {
    const std::string body = kick::KickJson(kick);
    std::string r =
        "POST " + url_.path + " HTTP/1.1\r\nHost: " + url_.host_header +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nIdempotency-Key: " + kick.dedup_id +
        "\r\nConnection: keep-alive\r\nUser-Agent: postbox-kick\r\n";
    for (const auto& [name, value] : options_.headers) r += name + ": " + value + "\r\n";
    r += "\r\n";
    r += body;
    return r;
  }

  // Waits for `events` on `fd` until `deadline`, in slices so Stop is noticed.
  // OK when ready; Unavailable on timeout or stop.
  Status Wait(int fd, short events, Clock::time_point deadline) {
    for (;;) {
      if (stopping_.load()) return Status::Unavailable("webhook driver stopped");
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return Status::Unavailable("webhook timed out after " +
                                   std::to_string(options_.timeout.count()) + " ms");
      }
      pollfd p{fd, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
      if (n > 0) return Status::Ok();
      if (n < 0 && errno != EINTR) {
        return Status::Unavailable(std::string("webhook poll: ") + std::strerror(errno));
      }
    }
  }

  Status Connect(int* fd, Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &list);
    if (rc != 0) {
      return Status::Unavailable("webhook: cannot resolve " + url_.host + ": " +
                                 ::gai_strerror(rc));
    }
    Status last = Status::Unavailable("webhook: no address for " + url_.host);
    for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
      const int s = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (s < 0) continue;
      int one = 1;
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (::connect(s, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
        last = Wait(s, POLLOUT, deadline);
        int err = 0;
        socklen_t len = sizeof(err);
        if (last.ok() && ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
          ::freeaddrinfo(list);
          *fd = s;
          return Status::Ok();
        }
        if (last.ok()) {
          last = Status::Unavailable("webhook: connect to " + url_.host_header + ": " +
                                     std::strerror(err));
        }
      } else {
        last = Status::Unavailable("webhook: connect to " + url_.host_header + ": " +
                                   std::strerror(errno));
      }
      ::close(s);
    }
    ::freeaddrinfo(list);
    return last;
  }

  // Writes the request and reads one response. `*stale`: the connection
  // failed before a byte of the response came (a keep-alive connection the
  // server had closed), so the request may be sent again.
  KickResult Exchange(int fd, const std::string& request, Clock::time_point deadline, bool* stale) {
    const auto fail = [](std::string what) {
      return KickResult{Status::Unavailable("webhook: " + what), std::chrono::milliseconds(0)};
    };
    keep_alive_ = false;
    for (size_t off = 0; off < request.size();) {
      const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (Status s = Wait(fd, POLLOUT, deadline); !s.ok()) return {s, {}};
        continue;
      }
      *stale = true;
      return fail(std::string("send: ") + std::strerror(errno));
    }
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    Response response;
    parser.data = &response;
    char buf[4096];
    size_t received = 0;
    while (!response.complete) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (Status s = Wait(fd, POLLIN, deadline); !s.ok()) return {s, {}};
        continue;
      }
      if (n <= 0) {
        *stale = received == 0;
        if (n == 0 && received != 0) http_parser_execute(&parser, &settings_, nullptr, 0);
        if (response.complete) break;
        return fail(n == 0 ? "connection closed before a whole response"
                           : std::string("recv: ") + std::strerror(errno));
      }
      received += static_cast<size_t>(n);
      const size_t used = http_parser_execute(&parser, &settings_, buf, static_cast<size_t>(n));
      if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || used != static_cast<size_t>(n)) {
        if (response.complete) break;  // bytes after the response: not ours to read
        return fail(std::string("malformed response: ") +
                    http_errno_description(HTTP_PARSER_ERRNO(&parser)));
      }
    }
    keep_alive_ = http_should_keep_alive(&parser) != 0;
    return kick::WebhookResult(static_cast<int>(parser.status_code), response.retry_after,
                               std::chrono::system_clock::now());
  }

  const WebhookOptions options_;
  const Url url_;
  http_parser_settings settings_{};
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  // Whether the last response allowed keeping the connection; per worker.
  static thread_local bool keep_alive_;
};

thread_local bool WebhookKickDriver::keep_alive_ = false;

bool ValidHeader(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == ':' || c == '\r' || c == '\n' || c == ' ' || c == '\t') return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n') return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<KickDriver>> MakeWebhookKickDriver(const WebhookOptions& options) {
  POSTBOX_ASSIGN_OR_RETURN(Url url, ParseUrl(options.url));
  if (options.max_in_flight == 0 || options.max_in_flight > 1024) {
    return Status::InvalidArgument("webhook max_in_flight must be between 1 and 1024");
  }
  if (options.queue_limit == 0) return Status::InvalidArgument("webhook queue_limit must be ≥ 1");
  if (options.timeout.count() <= 0) return Status::InvalidArgument("webhook timeout must be > 0");
  for (const auto& [name, value] : options.headers) {
    if (!ValidHeader(name, value)) {
      return Status::InvalidArgument("webhook header '" + name +
                                     "': a name without ':', spaces or line breaks and a value "
                                     "without line breaks expected");
    }
  }
  return std::unique_ptr<KickDriver>(new WebhookKickDriver(options, std::move(url)));
}

}  // namespace postbox::sync
