// An HTTPS client for the push drivers (APNs, FCM): libcurl's multi interface
// on one thread of its own, HTTP/2 over TLS (ALPN) with every request
// multiplexed as a stream of one connection per host (CURLPIPE_MULTIPLEX with
// CURLOPT_PIPEWAIT), so a burst of kicks costs one TLS handshake. Requests are
// queued from any thread; answers come back on the client's thread.
//
// libcurl rather than nghttp2 and OpenSSL by hand: it is maintained, does
// HTTP/2 with nghttp2 underneath, certificate checking, connection reuse and
// per-request deadlines, and wakes its poll from other threads
// (curl_multi_wakeup), which is all a kick needs.
//
// Thread-safety: Submit and Stop may be called from any thread.
#ifndef POSTBOX_SYNC_KICK_HTTP_CLIENT_H_
#define POSTBOX_SYNC_KICK_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"

namespace postbox::sync::kick {

struct HttpRequest {
  std::string url;                   // https://HOST[:PORT]/PATH
  std::vector<std::string> headers;  // "name: value"
  std::string body;                  // sent as a POST
};

struct HttpResponse {
  // OK when an HTTP answer came (whatever its status); Unavailable for a
  // connection, TLS or timeout failure, or when the client stopped.
  Status transport;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  bool http2 = false;  // the answer came over HTTP/2

  // The value of header `name` (lowercase), empty if absent.
  std::string Header(std::string_view name) const;
};

struct HttpClientOptions {
  std::string name;     // for messages: "apns", "fcm"
  std::string ca_file;  // PEM CA bundle to trust; empty: the system's
  // From going on the wire (or waiting for the connection) to the whole
  // answer, per request.
  std::chrono::milliseconds timeout{10000};
  // Requests on the wire at once (HTTP/2 streams); later ones wait in the
  // client's queue.
  size_t max_in_flight = 100;
};

class HttpClient {
 public:
  // Starts the client's thread. InvalidArgument for zero max_in_flight or a
  // non-positive timeout, Internal if libcurl cannot start.
  static Result<std::unique_ptr<HttpClient>> Start(const HttpClientOptions& options);
  ~HttpClient();  // Stop()s

  // Queues `request`; `done` runs once with the answer, on the client's
  // thread (or inside Submit, with Unavailable, once the client stopped).
  // `done` may call Submit.
  void Submit(HttpRequest request, std::function<void(HttpResponse)> done);

  // Ends the thread: requests queued or in flight are answered Unavailable
  // ("stopped"), and later Submits at once. Idempotent.
  void Stop();

 private:
  struct State;
  explicit HttpClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace postbox::sync::kick

#endif  // POSTBOX_SYNC_KICK_HTTP_CLIENT_H_
