// The HTTP listener's interface for route authors (library code only, not
// API): the request a handler gets, the response it gives, the one-shot
// HttpRespond that carries it back to the connection from any thread, and how
// a handler is installed on a Server. The listener itself (HTTP/1.1 on the
// server's loop threads, limits, /healthz) is described in docs/http.md.
//
// Thread-safety: HttpRequest and HttpResponse are plain values. HttpRespond
// may be invoked from any thread, once; it is not safe to invoke one object
// from two threads at once. An HttpHandler's Handle runs on the server's loop
// threads, concurrently when there are several.
#ifndef POSTBOX_SYNC_HTTP_HTTP_H_
#define POSTBOX_SYNC_HTTP_HTTP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postbox/db.h"
#include "postbox/result.h"
#include "postbox/sync/server.h"

namespace postbox::sync::http {

// One request, complete (head and body) and within every limit of
// ServerOptions. Strings hold the bytes as received: nothing is
// percent-decoded.
struct HttpRequest {
  std::string method;  // as sent, upper case: "GET", "POST", "PUT", ...
  std::string target;  // the request-target as sent: "/m/abc?x=1"
  std::string path;    // target up to '?' or '#' ("*" for OPTIONS *; the path of an absolute URI)
  std::string query;   // after '?' up to '#', without the '?'; empty if none
  // Header fields in arrival order, names lower-cased, values with the
  // surrounding blanks removed. A field sent several times appears once per
  // time it was sent, in order (never merged); Header() returns the first.
  // Content-Length, Transfer-Encoding and Expect were already acted on by the
  // listener and are kept for the record. Chunked trailers are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // de-chunked; at most http_max_body_bytes
  uint16_t http_major = 1;
  uint16_t http_minor = 1;
  // Whether the connection stays open after the response: HTTP/1.1 without
  // "Connection: close", or HTTP/1.0 with "Connection: keep-alive". The
  // listener decides; the response cannot change it.
  bool keep_alive = true;

  // The value of the first field named `name` (compared case-insensitively),
  // or nullptr. Valid while the request lives and its headers are unchanged.
  const std::string* Header(std::string_view name) const;
};

// A response. The listener adds Date and Content-Length (and Connection when
// it closes, or keeps an HTTP/1.0 connection open) and ignores those if the
// handler set them, as well as Transfer-Encoding. Header names that are not
// HTTP tokens are dropped; control characters in values (CR, LF, NUL...)
// become spaces, so nothing a handler copies from a request can split the
// response.
struct HttpResponse {
  uint16_t status = 200;  // 200..599; anything else is sent as 500
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};  // not sent for HEAD requests, 204 and 304

  // A response with a Content-Type and a body.
  static HttpResponse Text(uint16_t status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // {"error": message} as application/json (message is JSON-escaped).
  static HttpResponse JsonError(uint16_t status, std::string_view message);
  // 405 {"error": "method not allowed"} with `Allow: <allow>`.
  static HttpResponse MethodNotAllowed(std::string_view allow);
};

// The reason phrase of a status ("Created" for 201), or "Unknown".
std::string_view ReasonPhrase(uint16_t status);

struct HttpInbox;

// Carries a handler's response back to its connection. Move-only; invoke it
// once, from any thread (typically the writer thread once a commit is
// durable): the response is handed to the connection's loop thread, which
// sends it in request order. If the connection (or the server) is gone by
// then, nothing happens. An HttpRespond destroyed without having been invoked
// (a handler that dropped it) answers 500, so a connection never waits for
// ever. A second invocation, or one of a moved-from object, does nothing.
class HttpRespond {
 public:
  HttpRespond() = default;
  HttpRespond(std::shared_ptr<HttpInbox> inbox, uint64_t connection, uint64_t sequence)
      : inbox_(std::move(inbox)), connection_(connection), sequence_(sequence) {}
  HttpRespond(HttpRespond&& other) noexcept = default;
  HttpRespond& operator=(HttpRespond&& other) noexcept;
  HttpRespond(const HttpRespond&) = delete;
  HttpRespond& operator=(const HttpRespond&) = delete;
  ~HttpRespond();

  void operator()(HttpResponse response);
  // True until invoked (or moved from).
  explicit operator bool() const { return inbox_ != nullptr; }

 private:
  std::shared_ptr<HttpInbox> inbox_;
  uint64_t connection_ = 0;
  uint64_t sequence_ = 0;
};

// Whoever owns the routes implements this. Handle runs on a loop thread for
// each complete request (never for /healthz, which the listener answers);
// it must not block: a response that needs the writer is answered later
// through `respond`. The connection reads nothing more until it is answered
// (pipelined requests wait, so responses keep request order). An exception
// escaping Handle is logged and answered 500.
class HttpHandler {
 public:
  virtual ~HttpHandler();
  virtual void Handle(HttpRequest request, HttpRespond respond) = 0;
};

// Starts a Server (as Server::Start) with `handler` already installed, so
// that no request can reach the listener before it.
Result<std::unique_ptr<Server>> StartServer(DB* db, const ServerOptions& options,
                                            std::shared_ptr<HttpHandler> handler);

// Replaces the handler of a running server (thread-safe). Requests already
// handed to the previous handler are still answered through their respond.
// nullptr: every request (but /healthz) gets 404 {"error":"not found"}.
void SetHttpHandler(Server* server, std::shared_ptr<HttpHandler> handler);

}  // namespace postbox::sync::http

#endif  // POSTBOX_SYNC_HTTP_HTTP_H_
