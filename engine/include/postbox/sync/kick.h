// Kick drivers (SPEC §6, docs/notifications.md): how the sync server tells an
// offline mailbox's push registration that the mailbox changed. The server's
// scheduler decides when (coalescing, retries, persistence across restarts);
// a driver only delivers one kick. A host server may supply its own driver;
// two are built in: `log` (JSON lines to a file) and `webhook` (an HTTP POST
// of JSON to a gateway, e.g. one that talks to APNs or FCM).
//
// Thread-safety: a KickDriver's methods may be called from any thread; the
// built-in drivers are thread-safe.
#ifndef POSTBOX_SYNC_KICK_H_
#define POSTBOX_SYNC_KICK_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/types.h"

namespace postbox::sync {

// One kick to deliver.
struct Kick {
  MailboxKey mkey;
  PushRegistration registration;  // platform is never kNone
  // Stable for one pending kick across retries and restarts
  // ("<mkey hex>-<since as 16 hex digits>"): a gateway drops repeats with it.
  // Delivery is at least once.
  std::string dedup_id;
  // The JSON object of docs/notifications.md ("Payloads"), e.g.
  // {"type":"message_received","from":"<hex>","id":"<hex>","count":1}.
  std::string payload_json;
  uint32_t attempt = 1;  // 1 for the first send, 2 for the first retry, ...
};

// A driver's answer about one kick.
struct KickResult {
  // OK: delivered. Unavailable or BackOff: a transient failure, retried by the
  // scheduler with exponential backoff and jitter, no sooner than
  // `retry_after`. Any other code: permanent (the gateway refused the token or
  // the request); the kick is dropped, counted and logged.
  Status status;
  std::chrono::milliseconds retry_after{0};
};

class KickDriver {
 public:
  virtual ~KickDriver();

  // Delivers `kick` and calls `done` exactly once, on any thread (also inside
  // Send itself, e.g. when a bounded queue is full), when it knows the outcome.
  // Must not block for long: the scheduler calls it for every due kick.
  virtual void Send(const Kick& kick, std::function<void(KickResult)> done) = 0;

  // Called by the server when it stops: ends the driver's threads. Sends still
  // in progress may be abandoned (their `done` may never run); the scheduler
  // keeps their kicks pending in the store and sends them after a restart.
  virtual void Stop() {}

  // Reopens files the driver writes (the log driver's, after logrotate moved
  // it: postbox-server calls this on SIGHUP). OK by default; the error of
  // opening the file otherwise (the old file is kept then).
  virtual Status Reopen() { return Status::Ok(); }
};

// The `log` driver: appends one JSON object per line to `path` (created with
// mode 0640 if missing), {"time":"2026-01-02T03:04:05.678Z","mkey":"<hex>",
// "platform":"ios","token":"...","dedup_id":"...","attempt":1,"payload":{...}}.
// With `fsync` each line is fdatasync'ed before the kick counts as delivered.
// A failed write is Unavailable (retried). Unavailable if the file cannot be
// opened.
struct LogKickOptions {
  std::string path;
  bool fsync = false;
};
Result<std::unique_ptr<KickDriver>> MakeLogKickDriver(const LogKickOptions& options);

// The `webhook` driver: POSTs {"mkey":"<hex>","platform":"ios|android|web",
// "token":"...","dedup_id":"...","attempt":N,"payload":{...}} to `url` with
// Content-Type: application/json and Idempotency-Key: <dedup_id>, over
// keep-alive connections. 2xx: delivered. 429 and 503: transient, honouring
// Retry-After (seconds or an HTTP-date); other 5xx, connection errors and
// timeouts: transient; other 4xx: permanent.
struct WebhookOptions {
  // http://HOST[:PORT]/PATH (HOST a name or an IPv4 / [IPv6] literal; port 80
  // by default). https is refused (InvalidArgument): put a TLS-terminating
  // proxy on localhost in front of a remote gateway.
  std::string url;
  // From connecting to the whole response, per request.
  std::chrono::milliseconds timeout{10000};
  // Requests in progress at once (one connection and one worker thread each).
  size_t max_in_flight = 4;
  // Kicks waiting for a worker; past it Send answers BackOff at once (the
  // scheduler retries later), so memory stays bounded whatever the gateway does.
  size_t queue_limit = 1024;
  // Extra request headers (e.g. {"Authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> headers;
};
// InvalidArgument for a URL that is not http://HOST[:PORT]/PATH, an https URL,
// zero max_in_flight or queue_limit, a non-positive timeout, or a header name
// or value with CR, LF or (in the name) ':'.
Result<std::unique_ptr<KickDriver>> MakeWebhookKickDriver(const WebhookOptions& options);

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_KICK_H_
