// How responses travel and are written: the inbox through which HttpRespond
// reaches a loop thread, and the serialisation of a response with the
// headers the listener always adds. Internal to the listener.
#ifndef POSTBOX_SYNC_HTTP_MESSAGE_H_
#define POSTBOX_SYNC_HTTP_MESSAGE_H_

#include <uv.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sync/http/http.h"

namespace postbox::sync::http {

// A handler's answer on its way to the connection's loop.
struct HttpReply {
  uint64_t connection = 0;
  uint64_t sequence = 0;
  HttpResponse response;
};

// Shared by one loop and every HttpRespond it handed out, so that a respond
// outliving its loop (or the whole server) finds `wake` null and does
// nothing, instead of touching a freed loop.
struct HttpInbox {
  std::mutex mu;
  uv_async_t* wake = nullptr;  // the loop's wake-up; null once the loop ends (guarded by mu)
  std::vector<HttpReply> replies;

  // Queues `reply` and wakes the loop; drops it if the loop has ended.
  void Post(HttpReply reply);
  // The loop's side: takes everything queued.
  std::vector<HttpReply> Take();
  // The loop ends: later Posts are dropped.
  void Detach();
};

// How a response goes out on its connection.
struct ResponseFraming {
  bool head = false;               // answer to HEAD: headers only
  bool close = false;              // the connection closes after it: "Connection: close"
  bool http10_keep_alive = false;  // an HTTP/1.0 connection kept open: "Connection: keep-alive"
  std::string_view date;           // IMF-fixdate of now
};

// Appends the status line, the handler's headers (sanitised: see
// HttpResponse), Date, Content-Length (none for 1xx and 204), Connection as
// needed, and the body unless `framing.head` or the status forbids one.
// A status outside 200..599 is written as 500.
void AppendResponse(const HttpResponse& response, const ResponseFraming& framing, std::string* out);

// "Sun, 06 Nov 1994 08:49:37 GMT" for the given Unix time.
std::string FormatHttpDate(int64_t unix_seconds);

}  // namespace postbox::sync::http

#endif  // POSTBOX_SYNC_HTTP_MESSAGE_H_
